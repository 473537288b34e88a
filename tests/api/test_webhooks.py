"""Webhooks out (issue 20 part 4): signed events to a local receiver, retries,
one event per finished job, disabling, and no requests to private addresses."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest
from django.urls import reverse
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from api import outbound, webhooks
from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventStatus
from api.tasks import webhook_deliver_task, webhook_job_events_task
from generation import services
from generation.models import JobStatus
from generation.services import pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.MIRSAM_WEBHOOK_ALLOW_LOOPBACK = True
    settings.MIRSAM_WEBHOOK_ALLOW_HTTP = True
    settings.MIRSAM_WEBHOOK_RETRY_SECONDS = 0
    settings.MIRSAM_WEBHOOK_TIMEOUT_SECONDS = 5
    settings.MIRSAM_SITE_URL = "https://mirsam.example"


@pytest.fixture
def receiver():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def answering(*statuses: int):
    """A handler answering with ``statuses`` in turn (the last one ever after)."""
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        status = statuses[min(len(calls), len(statuses) - 1)]
        calls.append(request)
        return Response(json.dumps({"seen": len(calls)}), status=status, content_type="application/json")

    return handler, calls


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The verification docs/api.md shows a receiver, line for line."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def endpoint_for(user, server: HTTPServer, path: str = "/hook") -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(user=user, url=server.url_for(path), description="my tool")


def run_job(user, offer, capture, **params):
    with capture(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "a fox", "outputs": 1, **params})
    job.refresh_from_db()
    return job


# --- signing and delivering ------------------------------------------------------------


def test_a_test_event_is_signed_with_the_documented_scheme(alice, receiver, django_capture_on_commit_callbacks):
    handler, calls = answering(200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = endpoint_for(alice, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.webhook_ping(endpoint=endpoint)
    assert len(calls) == 1
    request = calls[0]
    body = request.get_data()
    assert verify(endpoint.secret, request.headers["Mirsam-Signature"], body)
    assert not verify("mwhsec_another", request.headers["Mirsam-Signature"], body)
    assert not verify(endpoint.secret, request.headers["Mirsam-Signature"], body + b" ")
    payload = json.loads(body)
    assert payload["id"] == f"evt_{event.pk}" == request.headers["Mirsam-Event-Id"]
    assert payload["type"] == "ping" == request.headers["Mirsam-Event-Type"]
    assert request.headers["Content-Type"] == "application/json"
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.SUCCEEDED
    delivery = event.deliveries.get()
    assert (delivery.status_code, delivery.succeeded, delivery.attempt) == (200, True, 1)
    assert delivery.latency_ms is not None and delivery.response_excerpt == '{"seen": 1}'


def test_a_stale_signature_is_refused_by_the_documented_check():
    body = b'{"id":"evt_1"}'
    old = int(time.time()) - 3600
    header = outbound.signature(secret="mwhsec_x", timestamp=old, body=body)
    assert not verify("mwhsec_x", header, body)
    assert verify("mwhsec_x", outbound.signature(secret="mwhsec_x", timestamp=int(time.time()), body=body), body)


def test_a_receiver_that_fails_twice_gets_three_deliveries_and_one_success(
    alice, demo_offer, receiver, django_capture_on_commit_callbacks
):
    handler, calls = answering(500, 500, 200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = endpoint_for(alice, receiver)
    job = run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert job.status == JobStatus.SUCCEEDED
    assert len(calls) == 3
    event = WebhookEvent.objects.get(endpoint=endpoint)
    assert (event.type, event.status, event.attempts, event.job_id) == ("job.succeeded", "succeeded", 3, job.pk)
    rows = list(event.deliveries.order_by("attempt").values_list("attempt", "status_code", "succeeded"))
    assert rows == [(1, 500, False), (2, 500, False), (3, 200, True)]
    # every attempt sent the same event, each signed afresh
    assert len({json.loads(c.get_data())["id"] for c in calls}) == 1
    assert all(verify(endpoint.secret, c.headers["Mirsam-Signature"], c.get_data()) for c in calls)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_the_event_carries_the_job_as_the_api_shows_it(alice, demo_offer, receiver, django_capture_on_commit_callbacks):
    handler, calls = answering(200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint_for(alice, receiver)
    job = run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    payload = json.loads(calls[0].get_data())
    assert set(payload) == {"id", "type", "created", "job"}
    assert payload["job"]["id"] == job.pk and payload["job"]["status"] == "succeeded"
    assert payload["job"]["credits"]["charged"] == job.charged_credits
    [output] = payload["job"]["outputs"]
    assert output["url"].startswith("https://mirsam.example/files/") and "token=" in output["url"]


def test_a_finished_job_is_announced_once_whatever_repeats(
    alice, demo_offer, receiver, django_capture_on_commit_callbacks
):
    handler, calls = answering(200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint_for(alice, receiver)
    job = run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert len(calls) == 1
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.job_try_finish(job_id=job.pk)  # finishing again: already final
        webhook_job_events_task.delay(job.pk)  # the events task delivered twice
        for event in WebhookEvent.objects.all():
            webhook_deliver_task.delay(event.pk)  # and the delivery message too
    assert len(calls) == 1
    assert WebhookEvent.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_a_failed_job_is_announced_as_failed(alice, demo_offer, receiver, settings, django_capture_on_commit_callbacks):
    settings.DEMO_FAILURE_RATE = 1.0
    handler, calls = answering(204)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint_for(alice, receiver)
    job = run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert job.status == JobStatus.FAILED
    assert [json.loads(c.get_data())["type"] for c in calls] == ["job.failed"]


def test_nothing_is_queued_or_sent_for_a_user_without_an_endpoint(
    alice, charlie, demo_offer, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[int] = []
    monkeypatch.setattr(webhook_job_events_task, "delay", lambda job_id: queued.append(job_id))
    endpoint_for(charlie, receiver)  # someone else's endpoint
    run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert queued == [] and WebhookEvent.objects.count() == 0


def test_an_endpoint_is_turned_off_after_repeated_failed_events_and_the_page_says_so(
    alice, alice_client, demo_offer, receiver, settings, django_capture_on_commit_callbacks
):
    settings.MIRSAM_WEBHOOK_MAX_ATTEMPTS = 2
    settings.MIRSAM_WEBHOOK_DISABLE_AFTER = 2
    handler, calls = answering(503)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = endpoint_for(alice, receiver)
    run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.is_active) == (1, True)
    run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert len(calls) == 4
    assert not endpoint.is_active and "503" in endpoint.disabled_reason
    assert list(WebhookEvent.objects.values_list("status", flat=True)) == ["failed", "failed"]
    # a third job sends nothing to an endpoint that is off
    run_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert len(calls) == 4
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert "turned off" in page and endpoint.disabled_reason in page
    detail = alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk])).content.decode()
    assert "Turn back on" in detail and "HTTP 503" in detail
    response = alice_client.post(reverse("api_webhook_enable", args=[endpoint.pk]))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and endpoint.disabled_reason == ""


def test_an_unreachable_receiver_is_recorded_with_its_error(alice, receiver, django_capture_on_commit_callbacks):
    endpoint = endpoint_for(alice, receiver)
    receiver.stop()  # nothing listens there now
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.webhook_ping(endpoint=endpoint)
    delivery = event.deliveries.get()
    assert delivery.status_code is None and not delivery.succeeded
    assert delivery.error == "Could not connect to the receiver."
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.FAILED
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0  # a test event does not count


def test_a_redirect_is_not_followed(alice, receiver, django_capture_on_commit_callbacks):
    receiver.expect_request("/hook").respond_with_response(Response(status=302, headers={"Location": "/elsewhere"}))
    receiver.expect_request("/elsewhere").respond_with_data("reached")
    endpoint = endpoint_for(alice, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.webhook_ping(endpoint=endpoint)
    assert [r.path for r, _response in receiver.log] == ["/hook"]
    assert event.deliveries.get().status_code == 302


def test_the_retry_waits_grow_and_are_bounded(settings):
    settings.MIRSAM_WEBHOOK_RETRY_SECONDS = 30
    assert [webhooks.retry_delay(n) for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]


# --- addresses (SSRF) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://192.168.1.20/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[2002:a00:1::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_private_and_local_addresses_are_refused_even_with_loopback_allowed(url):
    with pytest.raises(outbound.UnsafeAddress):
        outbound.url_check(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://localhost/hook", "http://[::ffff:127.0.0.1]/hook"],
)
def test_loopback_is_refused_unless_the_setting_allows_it(url, settings):
    outbound.url_check(url)  # allowed by the test setting
    settings.MIRSAM_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(outbound.UnsafeAddress, match="loopback"):
        outbound.url_check(url)


def test_plain_http_is_refused_unless_the_setting_allows_it(settings, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("93.184.215.14", 80))])
    settings.MIRSAM_WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(outbound.UnsafeAddress, match="https"):
        outbound.url_check("http://hooks.example/")
    outbound.url_check("https://hooks.example/")
    for bad in ("ftp://hooks.example/", "https://user:pw@hooks.example/", "https:///nohost", "not a url"):
        with pytest.raises(outbound.UnsafeAddress):
            outbound.url_check(bad)


def test_the_check_runs_on_the_resolved_addresses(monkeypatch):
    answers = {
        "public.example": ["93.184.215.14"],
        "inside.example": ["10.1.2.3"],
        "mixed.example": ["93.184.215.14", "192.168.0.7"],
        "metadata.example": ["169.254.169.254"],
    }

    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert outbound.url_check("https://public.example/hook")[2].compressed == "93.184.215.14"
    for host in ("inside.example", "mixed.example", "metadata.example"):
        with pytest.raises(outbound.UnsafeAddress, match="public addresses"):
            outbound.url_check(f"https://{host}/hook")


def test_the_connection_goes_to_the_checked_address_not_a_second_dns_answer(
    alice, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    """DNS rebinding: the name resolves to the receiver when checked, then to a
    private address. The POST still reaches the checked address, with the
    URL's name as its Host header."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    handler, calls = answering(200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = WebhookEndpoint.objects.create(
        user=alice, url=f"http://hooks.example:{receiver.port}/hook", secret="mwhsec_test"
    )
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.webhook_ping(endpoint=endpoint)
    assert len(calls) == 1 and calls[0].headers["Host"] == f"hooks.example:{receiver.port}"
    assert asked == ["hooks.example"]  # resolved once, by the check
    assert event.deliveries.get().succeeded
    # the next delivery resolves again and is refused before connecting
    with django_capture_on_commit_callbacks(execute=True):
        second = webhooks.webhook_ping(endpoint=endpoint)
    assert len(calls) == 1
    assert "10.9.9.9 is a private address" in second.deliveries.get().error


def test_a_url_that_became_private_is_refused_at_delivery(alice, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpoint.objects.create(user=alice, url="http://10.0.0.1/hook", secret="mwhsec_test")
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.webhook_ping(endpoint=endpoint)
    delivery = event.deliveries.get()
    assert delivery.status_code is None and "10.0.0.1 is a private address" in delivery.error


@pytest.fixture
def tls_receiver(tmp_path):
    """A receiver on 127.0.0.1 speaking TLS with a certificate for ``hooks.example`` only."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server, str(cert_file)
    server.clear()
    server.stop()


def test_tls_to_the_pinned_address_still_checks_the_names_certificate(
    alice, tls_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    server, cert_file = tls_receiver
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in ("hooks.example", "other.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(outbound, "VERIFY", cert_file)
    handler, calls = answering(200)
    server.expect_request("/hook", method="POST").respond_with_handler(handler)
    good = WebhookEndpoint.objects.create(user=alice, url=f"https://hooks.example:{server.port}/hook", secret="s")
    wrong = WebhookEndpoint.objects.create(user=alice, url=f"https://other.example:{server.port}/hook", secret="s")
    with django_capture_on_commit_callbacks(execute=True):
        first = webhooks.webhook_ping(endpoint=good)
        second = webhooks.webhook_ping(endpoint=wrong)
    assert first.deliveries.get().status_code == 200
    assert len(calls) == 1
    failed = second.deliveries.get()
    assert failed.status_code is None and failed.error == "Could not connect to the receiver."


# --- at once, on PostgreSQL --------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_events_made_and_sent_at_once_announce_a_job_once(postgres, receiver, monkeypatch):
    """Five workers run the events task for one job, then five deliver its
    event: one event, one delivery, one POST."""
    from credits.services import credits_grant
    from tests.factories import OfferFactory, UserFactory
    from tests.support.concurrency import at_once

    offer = OfferFactory(slug="test-demo", adapter="demo")
    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="fund", reason="test")
    job = services.job_submit(
        user=user, offer=offer, params={"prompt": "a fox", "outputs": 1}
    )  # eager: runs to its end
    job.refresh_from_db()
    assert job.is_final
    handler, calls = answering(200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = endpoint_for(user, receiver)  # made after the job ended: the events below are the test's
    monkeypatch.setattr(webhook_deliver_task, "delay", lambda *a, **k: None)  # delivered by hand below
    made = at_once(5, lambda n: webhooks.webhook_events_for_job(job_id=job.pk))
    assert sorted(len(m) for m in made) == [0, 0, 0, 0, 1]
    event = WebhookEvent.objects.get(endpoint=endpoint)
    outcomes = at_once(5, lambda n: webhooks.webhook_attempt(event_id=event.pk, attempt=1))
    assert sum(o.delivery is not None for o in outcomes) == 1
    assert len(calls) == 1 and WebhookDelivery.objects.count() == 1
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.SUCCEEDED


@pytest.fixture
def hook_worker(request, monkeypatch):
    """A real Celery worker (tests/conftest.py ``worker``) that may send to
    this computer and waits a second before a retry."""
    for name, value in {
        "MIRSAM_WEBHOOK_ALLOW_LOOPBACK": "true",
        "MIRSAM_WEBHOOK_ALLOW_HTTP": "true",
        "MIRSAM_WEBHOOK_RETRY_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    return request.getfixturevalue("worker")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_retries_after_the_countdown(receiver, hook_worker):
    """Not eager: the worker runs the job, sends its event, gets a 500, and
    sends it again after the backoff's wait (1 s here), which gets a 200."""
    from tests.factories import OfferFactory, UserFactory
    from tests.support.accounts import fund

    user = UserFactory()
    fund(user, 20)
    offer = OfferFactory(slug="worker-hook-demo", adapter="demo")
    handler, calls = answering(500, 200)
    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = endpoint_for(user, receiver)
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a fox", "outputs": 1})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not WebhookEvent.objects.filter(endpoint=endpoint, status="succeeded"):
        time.sleep(0.5)
    event = WebhookEvent.objects.get(endpoint=endpoint)
    assert (event.job_id, event.status, event.attempts) == (job.pk, "succeeded", 2)
    first, second = event.deliveries.order_by("attempt")
    assert (first.status_code, second.status_code) == (500, 200)
    assert (second.attempted_at - first.attempted_at).total_seconds() >= 1
    assert len(calls) == 2
