"""generation.tasks' polls: sent when the model's schedule says
(generation.polling), and put off, not failed, when kie.ai's poll limit has
no slot (docs/kie.md §1 Rate limits)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from generation import services, tasks
from generation.models import JobStatus
from tests.factories import OfferFactory
from tests.support.kie import CREATE, RECORD, created, envelope, kie_configure, record, requests_to, serve_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def kie(settings, httpserver):
    return kie_configure(settings, httpserver)


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """The polls the tasks send, kept instead of run: each ``{"args", "kwargs", "countdown"}``."""
    messages: list[dict[str, Any]] = []

    def keep(args, kwargs=None, countdown=None, queue=None, **_options):
        messages.append({"args": args, "kwargs": kwargs or {}, "countdown": countdown, "queue": queue})

    monkeypatch.setattr(tasks.poll_job_task, "apply_async", keep)
    return messages


def deliver(message: dict[str, Any]) -> None:
    tasks.poll_job_task(*message["args"], **message["kwargs"])


def test_a_poll_without_a_slot_comes_back_soon_asking_nothing_and_the_job_still_finishes(
    kie, settings, alice, sent, django_capture_on_commit_callbacks
):
    settings.MIRSAM_POLL_SCHEDULE = []  # the fitted schedule
    settings.MIRSAM_POLL_MAX_ATTEMPTS = 60
    settings.KIE_POLL_RATE_LIMIT = 1  # one record request per 2 s (room for a slow machine)
    settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS = 2.0
    settings.KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    offer = OfferFactory(adapter="kie", provider_model="google/nano-banana", typical_seconds=20)
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_oneshot_request(RECORD).respond_with_json(envelope(record("generating")))
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[serve_png(kie)])))

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=offer, params={"prompt": "a red fox"})

    (first,) = sent
    assert first["args"] == (job.pk, 0)
    assert first["countdown"] == pytest.approx(5, abs=0.5)  # 0.25 × the seeded 20 s, not 3 s
    assert first["queue"] == "images"

    deliver(first)  # takes the second's slot: still generating
    assert len(sent) == 2
    assert sent[1]["args"] == (job.pk, 1)
    assert sent[1]["countdown"] >= settings.MIRSAM_POLL_FLOOR_SECONDS

    deliver(sent[1])  # in the same window: no slot
    assert len(requests_to(kie, RECORD)) == 1  # it asked kie.ai nothing
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING  # nothing failed
    assert len(sent) == 3
    again = sent[2]
    assert again["args"] == (job.pk, 1)  # the same attempt: a put-off poll spends none
    assert again["kwargs"] == sent[1]["kwargs"]  # its chain and language
    assert 0 < again["countdown"] <= 4.1  # soon: once the window frees a slot, plus up to a window of jitter

    time.sleep(2.05)
    deliver(again)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert len(requests_to(kie, RECORD)) == 2
    assert len(sent) == 3  # a finished job is polled no more


def test_polls_stop_at_the_attempt_limit_for_the_sweeper_to_end(
    kie, settings, alice, sent, django_capture_on_commit_callbacks
):
    settings.MIRSAM_POLL_SCHEDULE = []
    settings.MIRSAM_POLL_MAX_ATTEMPTS = 2
    offer = OfferFactory(adapter="kie", provider_model="google/nano-banana", typical_seconds=20)
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    with django_capture_on_commit_callbacks(execute=True):
        services.job_submit(user=alice, offer=offer, params={"prompt": "a red fox"})

    deliver(sent[0])
    deliver(sent[1])

    assert len(sent) == 2  # attempts 0 and 1; a third would pass MIRSAM_POLL_MAX_ATTEMPTS
    assert len(requests_to(kie, RECORD)) == 2
