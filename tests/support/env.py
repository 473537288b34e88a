"""Where the tests run: the repository root, whether this is CI, and the rule
for tests that need a service (PostgreSQL, Redis, a worker, Chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (subprocesses run with it as their working directory)."""

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
"""True under ``CI=true`` (``.ci/run``): service tests must run there, never skip."""


def need(condition: bool, why: str) -> None:
    """Skip a service test where the service is missing, but fail under CI=true:
    CI must run the PostgreSQL / Redis / worker tests, never skip them."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


def broker_reachable(url: str) -> bool:
    """True when ``url`` is not Redis (the filesystem or memory broker is always
    there) or the Redis at ``url`` answers PING within 2 s."""
    if not url.startswith("redis"):
        return True
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False
