"""Request ids, job ids in logs, JSON log lines, Sentry and e-mail configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from celery.signals import task_postrun, task_prerun

from config.observability import ContextFilter, JsonFormatter, TextFormatter, job_id_of_task, job_id_var
from generation import services
from tests.support.env import ROOT


class Capture(logging.Handler):
    """Keeps the records, after our ContextFilter has run, like the console handler."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_request_gets_a_new_id_in_the_response_header(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_a_safe_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.19:abc"})
    assert response["X-Request-ID"] == "lb-7f3a.19:abc"


@pytest.mark.parametrize("bad", ["has space", "a" * 129, "semi;colon", 'quote"', "é"])
def test_an_unsafe_incoming_request_id_is_replaced(client, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert response["X-Request-ID"] != bad and len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_logs_during_a_request_carry_its_id(client, captured):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404
    not_found = [r for r in captured if r.name == "django.request"]
    assert not_found and not_found[0].request_id == "req-42"
    logging.getLogger("after").warning("outside a request")
    assert captured[-1].request_id is None


def test_the_json_formatter_writes_one_object_per_line_with_the_ids():
    formatter = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("mirsam.test").makeRecord(
            "mirsam.test", logging.ERROR, __file__, 1, "job %s failed", (7,), sys.exc_info(), extra={"provider": "kie"}
        )
    record.request_id, record.job_id = "r1", 7
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "mirsam.test" and entry["message"] == "job 7 failed"
    assert (entry["request_id"], entry["job_id"], entry["provider"]) == ("r1", 7, "kie")
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_the_text_formatter_shows_ids_only_when_set():
    formatter = TextFormatter()
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hi", "request_id": None, "job_id": 3})
    assert formatter.format(record).endswith("x [job_id=3]: hi")
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hi", "request_id": None, "job_id": None})
    assert formatter.format(record).endswith("x: hi")


def test_only_generation_tasks_taking_a_job_id_set_the_job_id():
    from generation.tasks import complete_task_task, poll_job_task, submit_job_task, sweep_stuck_jobs_task

    assert job_id_of_task(submit_job_task, (12,), {}) == 12
    assert job_id_of_task(poll_job_task, (), {"job_id": 13, "attempt": 2}) == 13
    assert job_id_of_task(complete_task_task, (5, {}), {}) is None  # a provider task id, not a job id
    assert job_id_of_task(sweep_stuck_jobs_task, (), {}) is None


def test_the_celery_signals_set_and_clear_the_job_id(captured):
    from generation.tasks import submit_job_task

    task_prerun.send(sender=submit_job_task, task_id="t-1", task=submit_job_task, args=(42,), kwargs={})
    logging.getLogger("generation.services").info("inside the task")
    task_postrun.send(
        sender=submit_job_task, task_id="t-1", task=submit_job_task, args=(42,), kwargs={}, retval=None, state="SUCCESS"
    )
    logging.getLogger("generation.services").info("after the task")
    assert [r.job_id for r in captured[-2:]] == [42, None]
    assert job_id_var.get() is None


@pytest.mark.django_db
def test_a_real_pipeline_task_logs_with_its_job_id(
    captured, alice, demo_offer, monkeypatch, django_capture_on_commit_callbacks
):
    original = services.job_dispatch

    def dispatch(*, job_id):
        logging.getLogger("generation.services").info("dispatching")
        return original(job_id=job_id)

    monkeypatch.setattr(services, "job_dispatch", dispatch)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "sunrise", "outputs": 1})
    records = [r for r in captured if r.getMessage() == "dispatching"]
    assert records and records[0].job_id == job.pk
    assert job_id_var.get() is None


def _settings_in_subprocess(env: dict[str, str], expression: str) -> str:
    """Evaluate ``expression`` after django.setup() in a fresh process with ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "SENTRY_"))}
    code = f"import django; django.setup(); from django.conf import settings; print(repr(({expression})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_sentry_starts_only_with_a_dsn():
    expression = "__import__('sentry_sdk').get_client().is_active()"
    assert _settings_in_subprocess({}, expression) == "False"
    # A DSN on the discard port: initialising sends nothing.
    assert _settings_in_subprocess({"SENTRY_DSN": "http://public@127.0.0.1:9/1"}, expression) == "True"


def test_email_is_the_console_unless_an_anymail_esp_is_named():
    expression = "settings.EMAIL_BACKEND, getattr(settings, 'ANYMAIL', None)"
    assert _settings_in_subprocess({}, expression) == "('django.core.mail.backends.console.EmailBackend', None)"
    configured = _settings_in_subprocess(
        {"ANYMAIL_ESP": "postmark", "ANYMAIL_API_KEY": "pm-token", "ANYMAIL_POSTMARK_MESSAGE_STREAM": "outbound"},
        expression,
    )
    assert configured == (
        "('anymail.backends.postmark.EmailBackend', "
        "{'POSTMARK_MESSAGE_STREAM': 'outbound', 'POSTMARK_SERVER_TOKEN': 'pm-token'})"
    )


def test_an_unknown_anymail_esp_refuses_to_start():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "ANYMAIL_ESP": "nosuchmail"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "ANYMAIL_ESP" in result.stderr


def test_mail_goes_through_anymail_to_the_esp_api(httpserver):
    """Mailgun's API stood in by a local server: the real anymail backend posts the message there."""
    httpserver.expect_request("/v3/mirsam.local/messages", method="POST").respond_with_json(
        {"id": "<20260101.1@mirsam.local>", "message": "Queued. Thank you."}
    )
    env = {
        "ANYMAIL_ESP": "mailgun",
        "ANYMAIL_API_KEY": "key-test",
        "ANYMAIL_MAILGUN_API_URL": httpserver.url_for("/v3"),
    }
    sent = _settings_in_subprocess(
        env, "__import__('django.core.mail').core.mail.send_mail('Hi', 'Body', None, ['a@example.com'])"
    )
    assert sent == "1"
    (request, _response), *_ = httpserver.log
    assert request.form["to"] == "a@example.com" and request.form["subject"] == "Hi"
    assert request.authorization.password == "key-test"
