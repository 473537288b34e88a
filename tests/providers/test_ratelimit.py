"""providers.ratelimit: the sliding window shared through Redis, its
in-process fallback, and the kie adapter taking a slot before each create."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings as django_settings

from providers import ratelimit
from providers.base import TaskRequest
from providers.kie import RATE_LIMIT_KEY, KieAdapter
from providers.ratelimit import LocalLimiter, RateLimited, RedisLimiter, acquire
from tests.support.env import ROOT, need
from tests.support.kie import CREATE, created, requests_to

# Read before tests/conftest.py blanks it for every test: the Redis the
# deployment would share (CI: the broker's), else the local default one.
REDIS_URL = django_settings.MIRSAM_REDIS_URL or "redis://127.0.0.1:6379/0"


def in_any_window(times: list[float], window: float) -> int:
    """The most grants inside any half-open interval [t, t + window)."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times))


@pytest.fixture
def redis_key():
    """A key of this test's own on the real Redis (deleted afterwards)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        reachable = bool(client.ping())
    except redis.RedisError:
        reachable = False
    need(reachable, f"Redis at {REDIS_URL} is not reachable")
    key = f"mirsam-test:{uuid.uuid4().hex}:kie:create"
    yield key
    client.delete(key)
    client.close()


# A worker in miniature: its own process and Django, taking slots through the
# limiter the settings choose (MIRSAM_REDIS_URL → RedisLimiter).
WORKER_SCRIPT = """
import json, sys, time
import django
django.setup()
from providers.ratelimit import RedisLimiter, acquire_slot, get_limiter
key, count, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
assert isinstance(get_limiter(), RedisLimiter)
time.sleep(max(0.0, start_at - time.time()))
grants = [acquire_slot(key, limit=20, window=2.0, max_wait=30.0) for _ in range(count)]
print(json.dumps([[g.granted_at, g.waited] for g in grants]))
"""


def test_the_shared_rate_limiter_holds_the_kie_limit_across_two_workers(redis_key, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MIRSAM_REDIS_URL": REDIS_URL,
        "MIRSAM_VAR_DIR": str(tmp_path),
    }
    start_at = time.time() + 8  # both processes are set up by then (a loaded machine takes seconds) and start together
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, redis_key, "15", str(start_at)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    grants = []
    for proc in workers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        grants += json.loads(out.strip().splitlines()[-1])

    times = [granted_at for granted_at, _waited in grants]
    assert len(times) == 30  # every slot was granted: they waited, none failed
    assert in_any_window(times, 2.0) == 20  # the limit was reached and never passed
    times.sort()
    assert times[20] >= times[0] + 2.0  # the 21st waited for the first to leave the window
    assert max(waited for _t, waited in grants) > 1.0  # whoever came late slept for a slot


def test_redis_limiter_answers_how_long_until_the_next_slot(redis_key):
    limiter = RedisLimiter(REDIS_URL)
    assert limiter.try_acquire(redis_key, limit=2, window=5.0)[0]
    assert limiter.try_acquire(redis_key, limit=2, window=5.0)[0]
    granted, wait = limiter.try_acquire(redis_key, limit=2, window=5.0)
    assert not granted
    assert 4.0 < wait <= 5.0


def test_an_unreachable_redis_is_a_transient_provider_error():
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(ratelimit.LimiterUnavailable) as caught:
        acquire(limiter, "k", limit=1, window=1.0, max_wait=1.0)
    assert not caught.value.permanent


# --- the in-process fallback --------------------------------------------------------


def test_the_in_process_limiter_holds_its_window_across_threads():
    limiter = LocalLimiter()
    grants = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            grant = acquire(limiter, "k", limit=5, window=0.5, max_wait=10.0)
            with lock:
                grants.append(grant)

    threads = [threading.Thread(target=take, args=(4,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    times = [g.granted_at for g in grants]
    assert len(times) == 16
    assert in_any_window(times, 0.5) == 5
    assert sorted(times)[15] - sorted(times)[0] >= 1.5  # 16 grants need three more windows


def test_no_slot_within_the_wait_bound_raises_rate_limited_at_once():
    limiter = LocalLimiter()
    acquire(limiter, "k", limit=1, window=10.0, max_wait=1.0)
    slept = []
    with pytest.raises(RateLimited) as caught:
        acquire(limiter, "k", limit=1, window=10.0, max_wait=1.0, sleep=slept.append)
    assert slept == []  # it does not sit out a wait it knows is too long
    assert caught.value.code == "rate_limited"
    assert not caught.value.permanent
    assert 9.0 < caught.value.retry_after <= 10.1


def test_keys_are_counted_apart():
    limiter = LocalLimiter()
    assert limiter.try_acquire("a", limit=1, window=10.0)[0]
    assert limiter.try_acquire("b", limit=1, window=10.0)[0]
    assert not limiter.try_acquire("a", limit=1, window=10.0)[0]


def test_the_limiter_follows_the_settings(settings):
    assert isinstance(ratelimit.get_limiter(), LocalLimiter)  # no MIRSAM_REDIS_URL
    settings.MIRSAM_REDIS_URL = "redis://127.0.0.1:6379/0"
    assert isinstance(ratelimit.get_limiter(), RedisLimiter)
    assert ratelimit.acquire_slot("k", limit=0, window=1.0, max_wait=0) is None  # 0 = off


# --- the kie adapter takes a slot per create ------------------------------------------


@pytest.mark.django_db
def test_kie_waits_for_a_slot_before_each_create_and_not_for_nothing(kie, settings):
    settings.KIE_RATE_LIMIT = 1
    settings.KIE_RATE_LIMIT_WINDOW_SECONDS = 60.0
    settings.KIE_RATE_LIMIT_MAX_WAIT_SECONDS = 0.5
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    request = TaskRequest(job_id=7, index=0, provider_model="google/nano-banana", params={"prompt": "a red fox"})
    adapter = KieAdapter()

    assert adapter.submit(request)
    with pytest.raises(RateLimited):
        adapter.submit(request)
    assert len(requests_to(kie, CREATE)) == 1  # the refused one never reached kie.ai


def test_kie_counts_per_account(settings):
    settings.KIE_RATE_LIMIT = 1
    settings.KIE_RATE_LIMIT_WINDOW_SECONDS = 60.0
    settings.KIE_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    settings.KIE_API_KEY = "key-one"
    KieAdapter().client.create_slot()
    settings.KIE_API_KEY = "key-two"
    KieAdapter().client.create_slot()  # another account has its own slots
    with pytest.raises(RateLimited):
        KieAdapter().client.create_slot()
    assert RATE_LIMIT_KEY == "mirsam:kie:create"
