"""A sliding-window rate limiter shared by every worker, for provider calls.

kie.ai accepts at most 20 new generation requests per 10 seconds per account
and answers the excess with HTTP 429 without queueing it (``docs/kie.md``
§1 "Rate limits"). Several Celery workers on several hosts submit jobs, so the
count has to live outside any one process: in Redis. Before each create,
generate or extend call the kie adapter takes a *slot* here
(:func:`acquire_slot`); a burst then waits its turn instead of failing. Polls
take slots too, under a key of their own (``mirsam:kie:record:<account>``:
kie.ai's 10 recordInfo requests per second per key), with a short wait.

How a slot is counted: a sorted set per key (``mirsam:kie:create:<account>``)
holds one member per grant, scored with the grant time in microseconds of the
Redis server's clock (``TIME``, so the hosts' clocks do not matter). One Lua
script, atomic in Redis, drops members older than the window, grants when
fewer than ``limit`` remain, and otherwise answers how long until the oldest
one leaves the window. So in every interval of ``window`` seconds at most
``limit`` slots are granted, across all processes that share the Redis.

When no slot is free the caller sleeps until the next one (plus a little
jitter, so waiters do not wake in lockstep) and tries again, for at most
``max_wait`` seconds in all. If no slot comes in that time it raises
:class:`RateLimited` (a transient :class:`~providers.base.ProviderError`
carrying ``retry_after``): the submit task then re-queues the job for later
rather than holding a worker any longer (``generation.tasks``).

Settings: ``MIRSAM_REDIS_URL`` (empty → :class:`LocalLimiter`, which only
counts inside one process: right for the embedded default's single worker,
not for several), ``KIE_RATE_LIMIT`` (slots per window; 0 turns the limit
off), ``KIE_RATE_LIMIT_WINDOW_SECONDS``, ``KIE_RATE_LIMIT_MAX_WAIT_SECONDS``,
and for polls ``KIE_POLL_RATE_LIMIT``, ``KIE_POLL_RATE_LIMIT_WINDOW_SECONDS``,
``KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS`` (``providers.kie.client``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .base import ProviderError

log = logging.getLogger(__name__)

# Waiters wake up to this much later than the freed slot, at random.
JITTER_SECONDS = 0.05

RATE_LIMITED_MESSAGE = _("The provider is busy right now; your job will start in a moment.")
LIMITER_DOWN_MESSAGE = _("The provider could not be reached.")

# KEYS[1]: the sorted set. ARGV: limit, window (µs), a unique member.
# Returns {1, grant time µs} or {0, µs until the oldest grant leaves the window}.
_SLIDING_WINDOW_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return {1, now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


@dataclass(frozen=True)
class Grant:
    """A slot: ``granted_at`` in seconds on the limiter's clock (Redis
    ``TIME`` for :class:`RedisLimiter`, ``time.monotonic()`` for
    :class:`LocalLimiter`); ``waited`` = seconds spent waiting for it."""

    granted_at: float
    waited: float


class RateLimited(ProviderError):
    """No slot came within ``max_wait``; try again in ``retry_after`` seconds.
    Transient: nothing was sent to the provider."""

    def __init__(self, *, retry_after: float) -> None:
        super().__init__(RATE_LIMITED_MESSAGE, code="rate_limited", permanent=False)
        self.retry_after = retry_after


class LimiterUnavailable(ProviderError):
    """The shared limiter (Redis) did not answer. Transient."""

    def __init__(self) -> None:
        super().__init__(LIMITER_DOWN_MESSAGE, code="limiter_unavailable", permanent=False)


class Limiter(Protocol):
    def try_acquire(self, key: str, *, limit: int, window: float) -> tuple[bool, float]:
        """One attempt: ``(True, granted_at)`` or ``(False, seconds until a slot may be free)``."""
        ...


class RedisLimiter:
    """The limiter shared by every process that uses the same Redis ``url``."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._script = self.client.register_script(_SLIDING_WINDOW_LUA)

    def try_acquire(self, key: str, *, limit: int, window: float) -> tuple[bool, float]:
        window_us = max(1, int(window * 1_000_000))
        try:
            granted, value = self._script(keys=[key], args=[limit, window_us, uuid.uuid4().hex])
        except redis.RedisError as exc:
            raise LimiterUnavailable from exc
        return bool(granted), int(value) / 1_000_000


class LocalLimiter:
    """The same sliding window inside one process (threads share it). Used
    when there is no Redis: the embedded default runs one worker, so its
    count is the whole count there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, deque[float]] = {}

    def try_acquire(self, key: str, *, limit: int, window: float) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            grants = self._grants.setdefault(key, deque())
            while grants and grants[0] <= now - window:
                grants.popleft()
            if len(grants) < limit:
                grants.append(now)
                return True, now
            return False, grants[0] + window - now

    def reset(self) -> None:
        with self._lock:
            self._grants.clear()


def acquire(
    limiter: Limiter,
    key: str,
    *,
    limit: int,
    window: float,
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,  # a seam for tests
) -> Grant:
    """Take one of ``limit`` slots per ``window`` seconds under ``key``,
    sleeping while none is free. Raises :class:`RateLimited` as soon as it is
    clear no slot comes within ``max_wait`` seconds (in all), and
    :class:`LimiterUnavailable` when Redis does not answer."""
    started = time.monotonic()
    while True:
        granted, value = limiter.try_acquire(key, limit=limit, window=window)
        waited = time.monotonic() - started
        if granted:
            if waited > 0.5:
                log.info("rate limit %s: waited %.1f s for a slot", key, waited)
            return Grant(granted_at=value, waited=waited)
        pause = max(value, 0.001) + random.uniform(0, JITTER_SECONDS)  # jitter, not crypto
        if waited + pause > max_wait:
            log.warning("rate limit %s: no slot within %.0f s; retry in %.1f s", key, max_wait, pause)
            raise RateLimited(retry_after=pause)
        sleep(pause)


_local = LocalLimiter()
_redis: dict[str, RedisLimiter] = {}
_redis_lock = threading.Lock()


def get_limiter() -> Limiter:
    """The Redis limiter for ``MIRSAM_REDIS_URL`` (one client per URL and
    process; redis-py reconnects after a fork), else the in-process one."""
    url = getattr(settings, "MIRSAM_REDIS_URL", "")
    if not url:
        return _local
    with _redis_lock:
        limiter = _redis.get(url)
        if limiter is None:
            limiter = _redis[url] = RedisLimiter(url)
        return limiter


def reset_local() -> None:
    """Forget the in-process grants (tests)."""
    _local.reset()


def acquire_slot(key: str, *, limit: int, window: float, max_wait: float) -> Grant | None:
    """:func:`acquire` on :func:`get_limiter`; ``None`` (no wait) when ``limit`` ≤ 0."""
    if limit <= 0:
        return None
    return acquire(get_limiter(), key, limit=limit, window=window, max_wait=max_wait)
