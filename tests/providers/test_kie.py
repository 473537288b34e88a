"""The kie adapter against a local server speaking kie.ai's wire format (docs/kie.md §1, §2.1)."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from providers.base import ProviderError, TaskRequest, TaskState
from providers.kie import KieAdapter, callback_signature
from providers.models import ProviderCall
from providers.registry import get_adapter
from tests.support.kie import (
    CREATE,
    CREDIT,
    HMAC_KEY,
    KIE_KEY,
    PNG_PATH,
    RECORD,
    TASK_ID,
    callback_body,
    created,
    envelope,
    png_bytes,
    record,
    requests_to,
    serve_png,
    signed_headers,
)
from tests.support.providers import catalogue_options

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"


@pytest.fixture
def adapter(kie) -> KieAdapter:
    return KieAdapter()


@pytest.fixture
def request_() -> TaskRequest:
    return TaskRequest(
        job_id=7,
        index=0,
        provider_model="google/nano-banana",
        params={"prompt": "a red fox in the snow", "aspect_ratio": "16:9"},
        callback_url=CALLBACK_URL,
        options=catalogue_options("google/nano-banana"),
    )


@pytest.fixture
def calls():
    """This test's kie rows of the call log (the test database may hold rows
    committed by other suites, e.g. a real worker's)."""
    baseline = ProviderCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return lambda: ProviderCall.objects.filter(adapter="kie", id__gt=baseline).order_by("id")


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    return info.value


# --- configuration --------------------------------------------------------------


def test_the_registry_serves_the_kie_adapter_and_it_needs_a_key(settings):
    settings.KIE_API_KEY = ""
    adapter = get_adapter("kie")
    assert isinstance(adapter, KieAdapter)
    assert adapter.supports_callbacks is True
    assert adapter.is_configured() is False
    settings.KIE_API_KEY = KIE_KEY
    assert adapter.is_configured() is True


# --- a task that succeeds -------------------------------------------------------


def test_a_task_is_created_polled_and_its_image_downloaded(adapter, request_, kie):
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    png_url = serve_png(kie)
    kie.expect_request(RECORD, method="GET", query_string={"taskId": TASK_ID}).respond_with_json(
        envelope(record("success", urls=[png_url]))
    )

    task_id = adapter.submit(request_)
    result = adapter.fetch(task_id, request_)
    download = adapter.download(result.output_urls[0], request_, max_bytes=1_000_000)

    assert task_id == TASK_ID
    assert result.task_id == TASK_ID
    assert result.state == TaskState.SUCCEEDED
    assert result.output_urls == [png_url]
    assert download.content_type == "image/png"
    assert download.file.tell() == 0
    assert download.file.read() == png_bytes()
    assert download.size == len(png_bytes())
    (create_request,) = requests_to(kie, CREATE)
    assert create_request.get_json() == {
        "model": "google/nano-banana",
        "callBackUrl": CALLBACK_URL,
        "input": {"prompt": "a red fox in the snow", "aspect_ratio": "16:9", "output_format": "png"},
    }
    assert create_request.headers["Authorization"] == f"Bearer {KIE_KEY}"
    assert create_request.headers["Content-Type"] == "application/json"
    (record_request,) = requests_to(kie, RECORD)
    assert record_request.headers["Authorization"] == f"Bearer {KIE_KEY}"
    # The CDN is a third party: our key must not travel there.
    (cdn_request,) = requests_to(kie, PNG_PATH)
    assert "Authorization" not in cdn_request.headers


def test_no_callback_url_is_sent_when_the_pipeline_has_none(adapter, request_, kie):
    kie.expect_request(CREATE, method="POST").respond_with_json(created("task_2"))
    request = TaskRequest(job_id=1, index=0, provider_model="google/nano-banana", params={"prompt": "owl"})

    assert adapter.submit(request) == "task_2"
    (create_request,) = requests_to(kie, CREATE)
    assert create_request.get_json() == {"model": "google/nano-banana", "input": {"prompt": "owl"}}


@pytest.mark.parametrize("state", ["waiting", "queuing", "generating"])
def test_a_task_still_at_work_is_running(adapter, request_, kie, state):
    kie.expect_request(RECORD).respond_with_json(envelope(record(state)))

    result = adapter.fetch(TASK_ID, request_)

    assert result.state == TaskState.RUNNING
    assert result.output_urls == []


# --- errors ---------------------------------------------------------------------


def test_a_401_is_a_permanent_error_about_our_credentials(adapter, request_, kie):
    kie.expect_request(CREATE).respond_with_json({"code": 401, "msg": "You do not have access permissions"}, status=401)

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == ("401", True)
    assert str(error.message) == "The provider rejected our credentials."
    assert len(requests_to(kie, CREATE)) == 1  # a refusal is not retried


def test_a_402_is_a_permanent_error_about_provider_credits(adapter, request_, kie):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=402, msg="Credits insufficient"), status=402)

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == ("402", True)
    assert str(error.message) == "The provider account is out of credits; please try later."


def test_a_429_is_retried_and_the_second_answer_wins(adapter, request_, kie, calls):
    kie.expect_oneshot_request(CREATE).respond_with_json(envelope(None, code=429, msg="Too many requests"), status=429)
    kie.expect_request(CREATE).respond_with_json(created())

    assert adapter.submit(request_) == TASK_ID

    assert len(requests_to(kie, CREATE)) == 2
    create_calls = calls().filter(operation="create")
    assert [c.status_code for c in create_calls] == [429, 200]
    assert all(c.job_ref == 7 for c in create_calls)


def test_a_500_that_persists_is_transient_after_the_retries(adapter, request_, kie, settings, calls):
    kie.expect_request(RECORD).respond_with_json(envelope(None, code=500, msg="Server error"), status=500)

    error = raised(lambda: adapter.fetch(TASK_ID, request_))

    assert (error.code, error.permanent) == ("500", False)
    assert str(error.message)
    assert len(requests_to(kie, RECORD)) == 1 + settings.KIE_MAX_RETRIES
    assert {c.task_id for c in calls()} == {TASK_ID}


def test_a_501_in_the_body_of_an_http_200_is_a_permanent_failure(adapter, request_, kie):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=501, msg="Generation failed"), status=200)

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == ("501", True)
    assert "could not generate" in str(error.message)


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(400, True), (422, True), (433, True), (451, True), (455, False), (505, True), (404, True), (503, False)],
)
def test_each_kie_body_code_maps_to_a_readable_error(adapter, request_, kie, code, permanent):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=code, msg="nope"))

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == (str(code), permanent)
    assert str(error.message).startswith(("The provider", "This model", "Our provider"))


def test_a_failed_task_carries_kie_fail_code_and_message(adapter, request_, kie):
    kie.expect_request(RECORD).respond_with_json(
        envelope(record("fail", fail_code="400", fail_msg="Your prompt was flagged by the safety system."))
    )

    result = adapter.fetch(TASK_ID, request_)

    assert result.state == TaskState.FAILED
    assert result.error_code == "400"
    assert result.error_message == "The provider could not make this: Your prompt was flagged by the safety system."


def slow(seconds: float, body: dict):
    def handler(_request):
        time.sleep(seconds)
        return Response(json.dumps(body), content_type="application/json")

    return handler


def test_a_create_that_outlives_the_timeout_is_a_final_timeout_never_sent_twice(slow_kie, request_, settings, calls):
    settings.KIE_TIMEOUT_SECONDS = 0.3
    slow_kie.expect_request(CREATE).respond_with_handler(slow(0.6, created()))
    adapter = KieAdapter()

    started = time.monotonic()
    error = raised(lambda: adapter.submit(request_))

    # A POST that timed out may have created a (billed) task: it is not repeated,
    # neither by the HTTP seam nor by the pipeline's retries.
    assert (error.code, error.permanent) == ("timeout", True)
    assert time.monotonic() - started < 0.6
    (call,) = calls()
    assert call.status_code is None
    assert "Timeout" in call.error
    assert call.latency_ms >= 300


def test_a_poll_that_outlives_the_timeout_is_retried_then_transient(slow_kie, request_, settings, calls):
    settings.KIE_TIMEOUT_SECONDS = 0.3
    slow_kie.expect_request(RECORD).respond_with_handler(slow(0.6, envelope(record("generating"))))

    error = raised(lambda: KieAdapter().fetch(TASK_ID, request_))

    assert (error.code, error.permanent) == ("timeout", False)
    assert [(c.operation, c.status_code) for c in calls()] == [("fetch", None)] * (1 + settings.KIE_MAX_RETRIES)


def test_a_create_answer_that_is_not_json_is_a_permanent_bad_response(adapter, request_, kie):
    kie.expect_request(CREATE).respond_with_data("<html>upstream hiccup</html>", content_type="text/html")

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == ("bad_response", True)
    assert str(error.message) == "The provider sent an answer we could not read."


def test_a_create_answer_without_a_task_id_is_a_bad_response(adapter, request_, kie):
    kie.expect_request(CREATE).respond_with_json(envelope({"id": "x"}))

    assert raised(lambda: adapter.submit(request_)).code == "bad_response"


def test_a_poll_answer_that_is_not_json_is_worth_asking_again(adapter, request_, kie):
    kie.expect_request(RECORD).respond_with_data('{"code":200,"data":{"state":', content_type="application/json")

    error = raised(lambda: adapter.fetch(TASK_ID, request_))

    assert (error.code, error.permanent) == ("bad_response", False)


def test_a_success_whose_result_json_is_unreadable_is_a_permanent_bad_response(adapter, request_, kie):
    data = record("success") | {"resultJson": "{not json"}
    kie.expect_request(RECORD).respond_with_json(envelope(data))

    error = raised(lambda: adapter.fetch(TASK_ID, request_))

    assert (error.code, error.permanent) == ("bad_response", True)


def test_an_unreachable_provider_is_transient(adapter, request_, settings, calls):
    settings.KIE_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.KIE_API_KEY = KIE_KEY
    settings.KIE_MAX_RETRIES = 1

    error = raised(lambda: adapter.submit(request_))

    assert (error.code, error.permanent) == ("unreachable", False)
    assert [(c.operation, c.status_code) for c in calls()] == [("create", None), ("create", None)]


# --- downloads ------------------------------------------------------------------


def test_a_download_larger_than_allowed_is_refused_by_its_content_length(adapter, request_, kie):
    url = serve_png(kie, b"\x89PNG" + b"\0" * 5000)

    error = raised(lambda: adapter.download(url, request_, max_bytes=1000))

    assert (error.code, error.permanent) == ("too_large", True)
    assert str(error.message) == "The result file is too large."


def test_a_download_without_a_length_is_cut_off_once_it_passes_the_limit(adapter, request_, kie):
    def endless(_request):
        return Response((b"\0" * 1024 for _ in range(100)), content_type="image/png")  # chunked, no length

    kie.expect_request(PNG_PATH).respond_with_handler(endless)

    error = raised(lambda: adapter.download(kie.url_for(PNG_PATH), request_, max_bytes=10_000))

    assert (error.code, error.permanent) == ("too_large", True)


def test_a_download_that_is_not_an_image_is_refused(adapter, request_, kie):
    kie.expect_request(PNG_PATH).respond_with_data("<html>expired</html>", content_type="text/html")

    error = raised(lambda: adapter.download(kie.url_for(PNG_PATH), request_, max_bytes=1_000_000))

    assert (error.code, error.permanent) == ("bad_output", True)


def test_an_expired_download_url_is_a_permanent_failure(adapter, request_, kie):
    kie.expect_request(PNG_PATH).respond_with_data("gone", status=404)

    error = raised(lambda: adapter.download(kie.url_for(PNG_PATH), request_, max_bytes=1_000_000))

    assert (error.code, error.permanent) == ("404", True)


def test_only_http_urls_are_downloaded(adapter, request_, calls):
    error = raised(lambda: adapter.download("file:///etc/passwd", request_, max_bytes=1_000_000))

    assert error.code == "bad_output"
    assert not calls().exists()


# --- the call log ---------------------------------------------------------------


def test_every_call_is_logged_with_its_latency_and_without_the_key(adapter, request_, kie, calls):
    kie.expect_request(CREATE).respond_with_handler(slow(0.05, created()))
    png_url = serve_png(kie)
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[png_url])))
    kie.expect_request(CREDIT).respond_with_json(envelope(100))

    task_id = adapter.submit(request_)
    result = adapter.fetch(task_id, request_)
    adapter.download(result.output_urls[0], request_, max_bytes=1_000_000).file.close()
    adapter.credits_remaining()

    rows = list(calls())
    assert [(c.operation, c.method, c.status_code) for c in rows] == [
        ("create", "POST", 200),
        ("fetch", "GET", 200),
        ("download", "GET", 200),
        ("credit", "GET", 200),
    ]
    assert rows[0].latency_ms >= 50
    assert rows[1].task_id == TASK_ID
    assert TASK_ID in rows[0].response_body
    assert "a red fox in the snow" in rows[0].request_body
    for call in rows:
        assert call.adapter == "kie"
        assert call.job_ref == 7 or call.operation == "credit"
        for field in ProviderCall._meta.fields:
            assert KIE_KEY not in str(getattr(call, field.attname))


def test_a_key_echoed_back_by_the_provider_is_redacted_in_the_log(adapter, request_, kie, calls):
    kie.expect_request(CREATE).respond_with_json({"code": 401, "msg": f"key Bearer {KIE_KEY} is not valid"}, status=401)

    raised(lambda: adapter.submit(request_))

    (call,) = calls()
    assert KIE_KEY not in call.response_body
    assert "Bearer ***" in call.response_body


# --- account --------------------------------------------------------------------


def test_health_and_credits_come_from_the_credit_endpoint(adapter, kie):
    kie.expect_request(CREDIT, method="GET").respond_with_json(envelope(1234))

    assert adapter.credits_remaining() == 1234
    assert adapter.health() is True
    assert requests_to(kie, CREDIT)[0].headers["Authorization"] == f"Bearer {KIE_KEY}"


def test_health_is_false_when_the_key_is_refused(adapter, kie):
    kie.expect_request(CREDIT).respond_with_json({"code": 401, "msg": "You do not have access permissions"})

    assert adapter.health() is False


# --- callbacks ------------------------------------------------------------------


def test_a_correctly_signed_callback_is_accepted(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=["https://cdn.example/a.png"])

    adapter.verify_callback(body, signed_headers(body))  # no exception


def test_a_signature_made_with_another_key_is_rejected(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=["https://cdn.example/a.png"])

    error = raised(lambda: adapter.verify_callback(body, signed_headers(body, key="someone-else")))

    assert (error.code, error.permanent) == ("bad_signature", True)


def test_a_signature_for_another_body_is_rejected(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    headers = signed_headers(callback_body("success", task_id="task_other", urls=["https://cdn.example/a.png"]))
    body = callback_body("success", urls=["https://cdn.example/a.png"])

    assert raised(lambda: adapter.verify_callback(body, headers)).code == "bad_signature"


def test_a_stale_timestamp_is_rejected_even_when_correctly_signed(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=["https://cdn.example/a.png"])

    assert raised(lambda: adapter.verify_callback(body, signed_headers(body, age=301))).code == "bad_signature"
    adapter.verify_callback(body, signed_headers(body, age=290))  # inside the window


def test_a_callback_without_signature_headers_is_rejected_when_a_key_is_set(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("fail", fail_code="500", fail_msg="Internal server error")

    assert raised(lambda: adapter.verify_callback(body, {})).code == "bad_signature"


def test_the_snake_case_task_id_of_the_docs_sample_is_signed_too(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = json.dumps({"code": 200, "data": {"task_id": "task_snake", "state": "success"}}).encode()
    timestamp = str(int(time.time()))
    good = callback_signature(key=HMAC_KEY, task_id="task_snake", timestamp=timestamp)
    adapter.verify_callback(body, {"x-webhook-timestamp": timestamp, "x-webhook-signature": good})


def test_without_a_hmac_key_callbacks_are_not_checked(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = ""

    adapter.verify_callback(callback_body("success", urls=["https://cdn.example/a.png"]), {})


def test_a_success_callback_parses_to_its_result_urls(adapter):
    result = adapter.parse_callback(callback_body("success", urls=["https://cdn.example/a.png"]))

    assert (result.task_id, result.state, result.output_urls) == (
        TASK_ID,
        TaskState.SUCCEEDED,
        ["https://cdn.example/a.png"],
    )


def test_a_fail_callback_parses_to_a_failure_with_kie_reason(adapter):
    result = adapter.parse_callback(callback_body("fail", fail_code="500", fail_msg="Internal server error"))

    assert result.state == TaskState.FAILED
    assert result.error_code == "500"
    assert result.error_message == "The provider could not make this: Internal server error"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"code": 200}',
        b'{"code": 200, "data": {"taskId": "t1", "state": "exploded"}}',
        b'{"code": 200, "data": {"state": "success", "resultJson": "{\\"resultUrls\\": [\\"https://x/a.png\\"]}"}}',
        b'{"code": 200, "data": {"taskId": "t1", "state": "success", "resultJson": null}}',
    ],
)
def test_a_malformed_callback_is_refused(adapter, body):
    error = raised(lambda: adapter.parse_callback(body))

    assert (error.code, error.permanent) == ("bad_callback", True)


@pytest.mark.parametrize(
    ("fields", "billed"),
    [
        ({"creditsConsumed": 12}, 12),
        ({"consumeCredits": "7"}, 7),  # older examples name it so, as a string
        ({"creditsConsumed": 0}, 0),  # a failed task costs nothing
        ({}, None),
        ({"creditsConsumed": -3}, None),
        ({"creditsConsumed": True}, None),
    ],
)
def test_a_market_record_says_what_kie_billed(fields, billed):
    from providers.kie import task_result

    data = {"taskId": "t1", "state": "success", "resultJson": '{"resultUrls": ["https://x.test/a.png"]}', **fields}
    result = task_result(data)
    assert result.billed_credits == billed
    assert type(result).from_dict(result.as_dict()) == result  # survives the trip through a Celery message
