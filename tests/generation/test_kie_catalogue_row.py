"""A Market model added as data only: a catalogue row no code names runs end
to end against a local kie.ai, its create body built from the row alone
(docs/catalogue.md, docs/kie.md §2.1)."""

from __future__ import annotations

import pytest

from generation import services
from generation.models import JobStatus
from providers.kie import family_for
from tests.factories import OfferFactory
from tests.support.kie import (
    CREATE,
    RECORD,
    TASK_ID,
    UPLOAD,
    created,
    envelope,
    kie_configure,
    png_bytes,
    record,
    requests_to,
    serve_png,
    uploaded,
)
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db

FIRST = "https://tempfile.redpandaai.co/kieai/mirsam/1/0-0-a.png"
SECOND = "https://tempfile.redpandaai.co/kieai/mirsam/1/0-1-b.png"

#: A model kie.ai might add tomorrow, spelled its own way: a renamed prompt
#: field, an integer, a bool, a renamed option, a constant and a list of references.
ROW = {
    "params": {
        "resolution": {"choices": ["1k", "2k"], "default": "1k", "wire": "image_resolution"},
        "steps": {"choices": ["20", "40"], "default": "20", "as": "int"},
        "hdr": {"choices": ["off", "on"], "default": "off", "as": "bool"},
    },
    "constants": {"output_format": "webp", "safety": 2},
    "prompt_field": "text",
    "max_outputs": 1,
    "inputs": {"min": 0, "max": 2, "roles": ["reference"], "fields": {"reference": "input_urls[]"}},
}


@pytest.fixture
def kie(settings, httpserver):
    return kie_configure(settings, httpserver)


def test_a_new_market_row_runs_end_to_end_without_code(kie, alice, django_capture_on_commit_callbacks):
    offer = OfferFactory(adapter="kie", provider_model="acme/dream-7", options=ROW)
    assert family_for(offer.provider_model).name == "market"
    for url in (FIRST, SECOND):
        kie.expect_oneshot_request(UPLOAD, method="POST").respond_with_json(uploaded(url))
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    png_url = serve_png(kie, png_bytes((48, 32)))
    kie.expect_request(RECORD, query_string={"taskId": TASK_ID}).respond_with_json(
        envelope(record("success", urls=[png_url]))
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit_with_files(
            user=alice,
            offer=offer,
            params={"prompt": "a lighthouse at dusk", "resolution": "2k", "steps": "40", "hdr": "on"},
            files=[photo("a.png", fmt="PNG"), photo("b.png", fmt="PNG")],
        )
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 1
    (create_request,) = requests_to(kie, CREATE)
    assert create_request.get_json() == {
        "model": "acme/dream-7",
        "input": {
            "text": "a lighthouse at dusk",
            "image_resolution": "2k",
            "steps": 40,
            "hdr": True,
            "output_format": "webp",
            "safety": 2,
            "input_urls": [FIRST, SECOND],
        },
    }
