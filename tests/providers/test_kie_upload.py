"""User files reach kie.ai through its file-upload API (docs/kie.md §1 File upload)
before the task that names them is created (§2.1, §2.2, §2.3)."""

from __future__ import annotations

import pytest

from providers.base import TaskRequest
from providers.kie import KieAdapter
from providers.kie import uploads as kie_uploads
from tests.support.kie import (
    CREATE,
    KIE_KEY,
    RUNWAY_GENERATE,
    RUNWAY_TASK_ID,
    UPLOAD,
    VEO_EXTEND,
    VEO_GENERATE,
    VEO_TASK_ID,
    created,
    envelope,
    own_server,
    png_bytes,
    requests_to,
    uploaded,
)
from tests.support.providers import catalogue_options, input_file, raised

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"
FIRST_URL = "https://tempfile.redpandaai.co/kieai/mirsam/7/0-0-first.png"
LAST_URL = "https://tempfile.redpandaai.co/kieai/mirsam/7/0-1-last.png"


@pytest.fixture
def adapter(kie) -> KieAdapter:
    return KieAdapter()


def task(provider_model: str, *inputs, **params) -> TaskRequest:
    return TaskRequest(
        job_id=7,
        index=0,
        provider_model=provider_model,
        params={"prompt": "make it move", **params},
        callback_url=CALLBACK_URL,
        inputs=tuple(inputs),
        options=catalogue_options(provider_model),
    )


def answer_uploads(server, *urls: str) -> None:
    """The upload host answers each upload, in order, with the next URL."""
    for url in urls:
        server.expect_oneshot_request(UPLOAD, method="POST").respond_with_json(uploaded(url))


def test_an_image_to_video_task_uploads_its_frame_then_names_its_url(adapter, kie):
    opened = []
    frame = png_bytes((64, 48))
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(CREATE, method="POST").respond_with_json(created())

    adapter.submit(task("kling-2.6/image-to-video", input_file(frame, opened=opened), duration="5", sound="off"))

    assert [req.path for req, _resp in kie.log] == [UPLOAD, CREATE]
    (upload,) = requests_to(kie, UPLOAD)
    assert upload.headers["Authorization"] == f"Bearer {KIE_KEY}"
    assert upload.mimetype == "multipart/form-data"
    assert upload.form.to_dict() == {"uploadPath": "mirsam/7", "fileName": "0-0-frame.png"}
    part = upload.files["file"]
    assert (part.filename, part.mimetype, part.read()) == ("0-0-frame.png", "image/png", frame)
    assert requests_to(kie, CREATE)[0].get_json() == {
        "model": "kling-2.6/image-to-video",
        "callBackUrl": CALLBACK_URL,
        "input": {"prompt": "make it move", "duration": "5", "sound": False, "image_urls": [FIRST_URL]},
    }
    assert all(file.closed for file in opened) and len(opened) == 1


def test_veo_gets_first_and_last_frame_in_order(adapter, kie):
    answer_uploads(kie, FIRST_URL, LAST_URL)
    kie.expect_request(VEO_GENERATE).respond_with_json(created(VEO_TASK_ID))
    first = input_file(png_bytes((10, 10)), name="first.png", role="first_frame")
    last = input_file(png_bytes((20, 20)), name="last.png", role="last_frame")

    assert adapter.submit(task("veo3_fast", first, last, duration="8", aspect_ratio="16:9")) == VEO_TASK_ID

    uploads = requests_to(kie, UPLOAD)
    assert [u.form["fileName"] for u in uploads] == ["0-0-first.png", "0-1-last.png"]
    assert [u.files["file"].read() for u in uploads] == [png_bytes((10, 10)), png_bytes((20, 20))]
    assert requests_to(kie, VEO_GENERATE)[0].get_json() == {
        "prompt": "make it move",
        "model": "veo3_fast",
        "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO",
        "imageUrls": [FIRST_URL, LAST_URL],
        "aspectRatio": "16:9",
        "duration": 8,
        "callBackUrl": CALLBACK_URL,
    }


def test_a_veo_task_with_one_frame_starts_from_it(adapter, kie):
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(VEO_GENERATE).respond_with_json(created(VEO_TASK_ID))

    adapter.submit(task("veo3", input_file()))

    body = requests_to(kie, VEO_GENERATE)[0].get_json()
    assert (body["generationType"], body["imageUrls"]) == ("FIRST_AND_LAST_FRAMES_2_VIDEO", [FIRST_URL])


def test_runway_names_its_image_and_drops_the_aspect_ratio_it_would_ignore(adapter, kie):
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(RUNWAY_GENERATE).respond_with_json(created(RUNWAY_TASK_ID))

    adapter.submit(task("runway", input_file(), duration="10", resolution="720p", aspect_ratio="16:9"))

    assert requests_to(kie, RUNWAY_GENERATE)[0].get_json() == {
        "prompt": "make it move",
        "duration": 10,
        "quality": "720p",
        "imageUrl": FIRST_URL,
        "waterMark": "",
        "callBackUrl": CALLBACK_URL,
    }


def test_wan_image_to_video_takes_one_image_url_not_a_list(adapter, kie):
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("wan/2-5-image-to-video", input_file(), duration="5", resolution="720p", aspect_ratio="16:9"))

    assert requests_to(kie, CREATE)[0].get_json()["input"] == {
        "prompt": "make it move",
        "duration": "5",
        "resolution": "720p",
        "image_url": FIRST_URL,
    }


def test_nano_banana_edit_sends_its_photos_as_image_urls(adapter, kie):
    answer_uploads(kie, FIRST_URL, LAST_URL)
    kie.expect_request(CREATE).respond_with_json(created())
    photos = (input_file(name="a.png", role="photo"), input_file(name="b.png", role="photo"))

    adapter.submit(task("google/nano-banana-edit", *photos, aspect_ratio="1:1", output_format="png"))

    assert requests_to(kie, CREATE)[0].get_json()["input"] == {
        "prompt": "make it move",
        "aspect_ratio": "1:1",
        "output_format": "png",
        "image_urls": [FIRST_URL, LAST_URL],
    }


def test_the_older_file_url_field_is_used_when_there_is_no_download_url(adapter, kie):
    kie.expect_request(UPLOAD).respond_with_json(uploaded(FIRST_URL, key="fileUrl"))
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("kling-2.6/image-to-video", input_file(), duration="5", sound="on"))

    assert requests_to(kie, CREATE)[0].get_json()["input"]["image_urls"] == [FIRST_URL]


def test_uploads_go_to_the_upload_host_not_the_api(adapter, kie, settings):
    with own_server() as upload_host:
        settings.KIE_UPLOAD_BASE_URL = upload_host.url_for("/").rstrip("/")
        upload_host.expect_request(UPLOAD).respond_with_json(uploaded(FIRST_URL))
        kie.expect_request(CREATE).respond_with_json(created())

        adapter.submit(task("kling-2.6/image-to-video", input_file(), duration="5", sound="on"))

        assert len(requests_to(upload_host, UPLOAD)) == 1
    assert not requests_to(kie, UPLOAD)
    assert len(requests_to(kie, CREATE)) == 1


def test_without_the_setting_uploads_go_to_the_documented_host(adapter, kie, settings, monkeypatch):
    assert kie_uploads.DEFAULT_UPLOAD_BASE_URL == "https://kieai.redpandaai.co"  # docs/kie.md §1
    del settings.KIE_UPLOAD_BASE_URL
    # No internet here: the documented default is swapped for the local server to
    # show that it is the one used when the setting is missing.
    monkeypatch.setattr(kie_uploads, "DEFAULT_UPLOAD_BASE_URL", kie.url_for("/").rstrip("/"))
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("kling-2.6/image-to-video", input_file(), duration="5", sound="on"))

    assert len(requests_to(kie, UPLOAD)) == 1


# --- failures ---------------------------------------------------------------------


def test_an_upload_refused_with_code_500_stops_before_the_task_is_created(adapter, kie, calls):
    kie.expect_request(UPLOAD).respond_with_json({"success": False, "code": 500, "msg": "upload failed"})

    error = raised(lambda: adapter.submit(task("veo3_fast", input_file())))

    # Uploads are free and nothing was created: the pipeline may simply try again.
    assert (error.code, error.permanent) == ("500", False)
    assert str(error.message) == "The provider had an internal error; please try again."
    assert not requests_to(kie, VEO_GENERATE)
    assert [(c.operation, c.status_code) for c in calls()] == [("upload", 200)]


def test_a_file_too_large_for_the_upload_host_is_a_permanent_failure(adapter, kie):
    kie.expect_request(UPLOAD).respond_with_data("<html>413 Request Entity Too Large</html>", status=413)

    error = raised(lambda: adapter.submit(task("runway", input_file(b"\0" * 50_000), duration="5")))

    assert (error.code, error.permanent) == ("413", True)
    assert str(error.message) == "The provider refused the file you gave: it is too large."
    assert len(requests_to(kie, UPLOAD)) == 1
    assert not requests_to(kie, RUNWAY_GENERATE)


def test_an_upload_answer_without_a_url_is_worth_trying_again(adapter, kie):
    kie.expect_request(UPLOAD).respond_with_json({"success": True, "code": 200, "msg": "ok", "data": {}})

    error = raised(lambda: adapter.submit(task("veo3", input_file())))

    assert (error.code, error.permanent) == ("bad_response", False)
    assert not requests_to(kie, VEO_GENERATE)


def test_an_upload_retried_after_a_503_sends_the_whole_file_again(adapter, kie, calls):
    frame = png_bytes((40, 30))
    kie.expect_oneshot_request(UPLOAD).respond_with_data("busy", status=503)
    kie.expect_request(UPLOAD).respond_with_json(uploaded(FIRST_URL))
    kie.expect_request(VEO_GENERATE).respond_with_json(created(VEO_TASK_ID))

    adapter.submit(task("veo3_fast", input_file(frame)))

    uploads = requests_to(kie, UPLOAD)
    assert [u.files["file"].read() for u in uploads] == [frame, frame]
    assert [(c.operation, c.status_code) for c in calls()] == [("upload", 503), ("upload", 200), ("create", 200)]


def test_the_upload_is_logged_as_a_description_never_as_bytes_or_key(adapter, kie, calls):
    frame = png_bytes((40, 30))
    answer_uploads(kie, FIRST_URL)
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("kling-2.6/image-to-video", input_file(frame), duration="5", sound="on"))

    upload_call = calls().get(operation="upload")
    assert upload_call.method == "POST"
    assert upload_call.job_ref == 7
    assert upload_call.url.endswith(UPLOAD)
    assert "mirsam/7" in upload_call.request_body
    assert f"0-0-frame.png (image/png, {len(frame)} bytes)" in upload_call.request_body
    assert "PNG" not in upload_call.request_body
    assert FIRST_URL in upload_call.response_body
    assert KIE_KEY not in upload_call.request_body + upload_call.response_body + upload_call.url


@pytest.mark.parametrize(
    ("provider_model", "count", "message"),
    [
        ("veo3_fast", 3, "This model takes at most 2 files."),
        ("runway", 2, "This model takes at most 1 file."),
        ("kling-2.6/image-to-video", 2, "This model takes at most 1 file."),
        ("google/nano-banana", 1, "This model does not take files."),
        ("google/nano-banana-edit", 4, "This model takes at most 3 files."),
        ("google/nano-banana-edit", 0, "This model needs an image to start from."),
    ],
)
def test_a_number_of_files_the_model_cannot_take_is_refused_before_any_upload(
    adapter, kie, provider_model, count, message
):
    inputs = [input_file(name=f"{i}.png") for i in range(count)]

    error = raised(lambda: adapter.submit(task(provider_model, *inputs, duration="5", sound="on")))

    assert (error.code, error.permanent, str(error.message)) == ("bad_input", True, message)
    assert not kie.log


def test_bad_settings_are_refused_before_any_upload(adapter, kie):
    error = raised(lambda: adapter.submit(task("veo3_fast", input_file(), duration="eight")))

    assert error.code == "bad_input"
    assert not kie.log


def test_an_extend_uploads_nothing(adapter, kie):
    kie.expect_request(VEO_EXTEND).respond_with_json(created("veo_task_extended"))

    adapter.submit(task("veo3_fast", input_file(), extend_task_id=VEO_TASK_ID))

    assert [req.path for req, _resp in kie.log] == [VEO_EXTEND]


def test_an_upload_refused_in_the_body_under_http_200_uses_the_body_code(adapter, kie):
    kie.expect_request(UPLOAD).respond_with_json(envelope(None, code=401, msg="You do not have access permissions"))

    error = raised(lambda: adapter.submit(task("veo3_fast", input_file())))

    assert (error.code, error.permanent) == ("401", True)
    assert not requests_to(kie, VEO_GENERATE)
