"""The kie adapter's polls: costTime read in the right unit (docs/kie.md §2.1,
§4) and kie.ai's 10 record requests per second per key held across every
worker by the shared limiter (§1 Rate limits, providers.ratelimit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
from django.conf import settings as django_settings

from providers.base import TaskRequest
from providers.kie import POLL_RATE_LIMIT_KEY, RATE_LIMIT_KEY, KieAdapter
from providers.kie.client import account
from providers.kie.family import COST_TIME_CALLBACK, COST_TIME_RECORD, cost_seconds
from providers.ratelimit import RateLimited
from tests.support.env import ROOT, need
from tests.support.kie import CREATE, RECORD, TASK_ID, callback_body, created, envelope, record, requests_to

REDIS_URL = django_settings.MIRSAM_REDIS_URL or "redis://127.0.0.1:6379/0"

REQUEST = TaskRequest(job_id=7, index=0, provider_model="google/nano-banana", params={"prompt": "a red fox"})


def in_any_window(times: list[float], window: float) -> int:
    """The most grants inside any half-open interval [t, t + window)."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times))


# --- costTime -------------------------------------------------------------------------


def test_a_records_costtime_is_milliseconds_and_a_callbacks_seconds(kie):
    kie.expect_request(RECORD).respond_with_json(
        envelope(record("success", urls=["https://cdn/x.png"], cost_time=15000))
    )
    assert KieAdapter().fetch(TASK_ID, REQUEST).cost_seconds == 15.0

    result = KieAdapter().parse_callback(callback_body("success", urls=["https://cdn/x.png"], cost_time=12))
    assert result.cost_seconds == 12.0
    assert type(result).from_dict(result.as_dict()) == result  # it travels to the callback task intact


def test_a_failed_or_running_record_carries_its_costtime_too_or_none(kie):
    kie.expect_oneshot_request(RECORD).respond_with_json(envelope(record("fail", fail_code="500", cost_time=4200)))
    kie.expect_oneshot_request(RECORD).respond_with_json(envelope(record("generating", cost_time=None)))
    assert KieAdapter().fetch(TASK_ID, REQUEST).cost_seconds == 4.2
    assert KieAdapter().fetch(TASK_ID, REQUEST).cost_seconds is None


@pytest.mark.parametrize(
    ("value", "unit", "seconds"),
    [
        (15000, COST_TIME_RECORD, 15.0),
        ("15000", COST_TIME_RECORD, 15.0),
        (12, COST_TIME_CALLBACK, 12.0),
        (12.5, COST_TIME_CALLBACK, 12.5),
        (None, COST_TIME_RECORD, None),
        (0, COST_TIME_RECORD, None),
        (-3, COST_TIME_CALLBACK, None),
        (True, COST_TIME_CALLBACK, None),
        ("soon", COST_TIME_RECORD, None),
        (15000, COST_TIME_CALLBACK, 15000.0),
        (90_000_000, COST_TIME_CALLBACK, None),  # over a day: a unit mix-up, not a run time
    ],
)
def test_costtime_becomes_seconds_or_none(value, unit, seconds):
    assert cost_seconds({"costTime": value}, unit=unit) == seconds


def test_a_record_without_costtime_has_none():
    assert cost_seconds({}, unit=COST_TIME_RECORD) is None


# --- the poll limiter -----------------------------------------------------------------


@pytest.mark.django_db
def test_each_fetch_takes_a_poll_slot_and_a_refused_one_asks_kie_nothing(kie, settings):
    settings.KIE_POLL_RATE_LIMIT = 2
    settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS = 60.0
    settings.KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS = 0.5
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    adapter = KieAdapter()

    adapter.fetch(TASK_ID, REQUEST)
    adapter.fetch(TASK_ID, REQUEST)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        adapter.fetch(TASK_ID, REQUEST)

    assert time.monotonic() - started < 0.5  # it does not sit out a wait it knows is too long
    assert not caught.value.permanent
    assert 59 < caught.value.retry_after <= 60.1
    assert len(requests_to(kie, RECORD)) == 2
    assert adapter.submit(REQUEST)  # creates count in a key of their own


@pytest.mark.django_db
def test_a_poll_limit_of_zero_is_off(kie, settings):
    settings.KIE_POLL_RATE_LIMIT = 0
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    adapter = KieAdapter()
    assert adapter.client.poll_slot() is None
    for _ in range(25):
        adapter.fetch(TASK_ID, REQUEST)
    assert len(requests_to(kie, RECORD)) == 25


def test_the_poll_limit_is_counted_per_key_apart_from_creates(settings):
    settings.KIE_POLL_RATE_LIMIT = 1
    settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS = 60.0
    settings.KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    settings.KIE_API_KEY = "key-one"
    client = KieAdapter().client
    client.poll_slot()
    client.create_slot()  # the create limit is another count
    settings.KIE_API_KEY = "key-two"
    client.poll_slot()
    with pytest.raises(RateLimited):
        client.poll_slot()
    assert (RATE_LIMIT_KEY, POLL_RATE_LIMIT_KEY) == ("mirsam:kie:create", "mirsam:kie:record")


# A worker in miniature: its own process and Django, polling through the kie
# client with the default settings (10 per second) and a shared Redis. A poll
# refused a slot comes back after retry_after, as poll_job_task sends it again.
POLLER_SCRIPT = """
import json, sys, time
import django
django.setup()
from django.conf import settings
from providers.kie import KieAdapter
from providers.ratelimit import RateLimited, RedisLimiter, get_limiter
count, start_at = int(sys.argv[1]), float(sys.argv[2])
assert isinstance(get_limiter(), RedisLimiter)
assert (settings.KIE_POLL_RATE_LIMIT, settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS) == (10, 1.0)
client = KieAdapter().client
time.sleep(max(0.0, start_at - time.time()))
grants, refused = [], 0
while len(grants) < count:
    try:
        grants.append(client.poll_slot())
    except RateLimited as exc:
        refused += 1
        time.sleep(exc.retry_after)
print(json.dumps({"grants": [[g.granted_at, g.waited] for g in grants], "refused": refused}))
"""


def test_two_workers_polling_at_once_get_at_most_ten_record_slots_per_second(tmp_path, settings):
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        reachable = bool(client.ping())
    except redis.RedisError:
        reachable = False
    need(reachable, f"Redis at {REDIS_URL} is not reachable")
    api_key = f"test-{uuid.uuid4().hex}"  # a key of this test's own, so its count starts at zero
    settings.KIE_API_KEY = api_key
    key = f"{POLL_RATE_LIMIT_KEY}:{account()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MIRSAM_REDIS_URL": REDIS_URL,
        "MIRSAM_VAR_DIR": str(tmp_path),
        "KIE_API_KEY": api_key,
    }
    for name in ("KIE_POLL_RATE_LIMIT", "KIE_POLL_RATE_LIMIT_WINDOW_SECONDS", "KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS"):
        env.pop(name, None)
    start_at = time.time() + 3
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", POLLER_SCRIPT, "15", str(start_at)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        grants, refused = [], 0
        for proc in workers:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            answer = json.loads(out.strip().splitlines()[-1])
            grants += answer["grants"]
            refused += answer["refused"]
    finally:
        client.delete(key)
        client.close()

    times = [granted_at for granted_at, _waited in grants]
    assert len(times) == 30
    assert in_any_window(times, 1.0) == 10  # the limit was reached and never passed
    times.sort()
    assert times[10] >= times[0] + 1.0  # the 11th waited for the first to leave the window
    assert times[20] >= times[0] + 2.0
    assert refused or max(waited for _t, waited in grants) > 0.5  # whoever came late waited
