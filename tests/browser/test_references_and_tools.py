"""Issue 16 in Debian's Chromium, with a real Celery worker, in English and in
Arabic: edit with a reference image (an upload and an earlier result) on the
demo editor, and upscale a finished result from its card."""

from __future__ import annotations

import importlib
import io

import pytest
from django.core.files.base import ContentFile
from django.utils import translation
from django.utils.translation import ngettext
from PIL import Image
from playwright.sync_api import expect

from generation.models import Asset, Job, JobStatus
from providers.models import Offer
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.browser import open_settings, sign_in

SEED = importlib.import_module("providers.migrations.0006_demo_stand_ins")
PREFIXES = [pytest.param("", id="english"), pytest.param("/ar", id="arabic")]


def _png(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _finished_image(user, offer, *, colour=(30, 170, 70), size=(320, 240)) -> Asset:
    """A finished image job of ``user`` with one result of one flat colour."""
    job = Job.objects.create(
        user=user,
        offer=offer,
        service="image",
        status=JobStatus.SUCCEEDED,
        params={"prompt": "a green field", "outputs": 1, "aspect_ratio": "1:1"},
        price_credits=1,
        charged_credits=1,
    )
    asset = Asset(job=job, user=user, index=0, content_type="image/png", width=size[0], height=size[1])
    asset.file.save("output.png", ContentFile(_png(colour, size)), save=False)
    asset.size_bytes = asset.file.size
    asset.save()
    return asset


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_creator_edits_with_an_upload_and_an_earlier_result_on_the_demo_editor(
    page, live_server, worker, tmp_path, prefix
):
    user = UserFactory(email="editor@example.com", preferred_language="ar" if prefix else "en")
    fund(user, 40)
    plain = OfferFactory(slug="browser-plain", adapter="demo", name="Demo painter", sort_order=0)
    editor = OfferFactory(
        slug="browser-editor",
        adapter="demo",
        provider_model="demo/image-edit",
        name="Demo editor",
        sort_order=5,
        price_credits=1,
        options={
            "params": {"aspect_ratio": {"choices": ["1:1", "16:9"], "default": "1:1"}},
            "max_outputs": 2,
            "inputs": {"min": 1, "max": 3, "roles": ["reference"]},
        },
    )
    earlier = _finished_image(user, plain, colour=(30, 170, 70))
    upload = tmp_path / "red.png"
    upload.write_bytes(_png((220, 30, 30), (400, 300)))

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "editor@example.com", "pass-word-123", prefix=prefix)
    page.goto(f"{live_server.url}{prefix}/image/")
    open_settings(page)  # folded in the phone's dock
    assert page.locator("input[name=references]").count() == 0  # the painter takes no references
    page.select_option("select[name=offer]", str(editor.pk))
    page.locator("input[name=references]").wait_for()
    legend = page.locator(f"#references-{editor.pk} legend").inner_text()
    assert ("الصور المرجعية" in legend) if prefix else ("Reference images" in legend)
    page.set_input_files("input[name=references]", str(upload))
    page.locator("[data-dropzone] .dropzone__files img").wait_for()  # a preview of the chosen file
    check = page.locator(f"input[name=reference_asset][value='{earlier.pk}']")
    check.focus()
    page.keyboard.press("Space")  # the picker works from the keyboard
    assert check.is_checked()
    assert page.locator("[data-ref-count]").inner_text() == "2"
    # Another option changes: the chosen file and result stay.
    page.select_option("select[name=aspect_ratio]", "16:9")
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelector('input[name=references]').files.length") == 1
    assert check.is_checked()
    assert _fits_the_screen(page)

    page.fill("textarea[name=prompt]", "put them side by side on a table")
    page.locator("#image-form [type=submit]").click()
    page.wait_for_function(f"document.querySelector('#jobs .job-card').id !== 'job-{earlier.job_id}'")
    card = page.locator("#jobs .job-card").first
    card.locator("img").first.wait_for(timeout=90_000)
    job = Job.objects.get(offer=editor)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [(i.role, i.upload_id is not None, i.asset_id) for i in job.inputs.order_by("position")] == [
        ("reference", True, None),
        ("reference", False, earlier.pk),
    ]
    with Image.open(job.assets.get().file) as result:
        found = {c for _n, c in result.convert("RGB").getcolors(maxcolors=1 << 22)}
    assert {(220, 30, 30), (30, 170, 70)} <= found  # both references are in the picture
    assert page.evaluate("Array.from(document.querySelectorAll('#jobs img')).every(i => i.naturalWidth > 0)")
    assert _fits_the_screen(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_creator_upscales_a_result_from_its_card(page, live_server, worker, prefix):
    from django.apps import apps

    Offer.objects.filter(options__has_key="tool").update(is_active=False)
    SEED.forward(apps, None)  # the seeded demo tools, as the embedded default has them
    Offer.objects.filter(slug__in=[o["slug"] for o in SEED.OFFERS]).update(is_active=True)
    upscaler = Offer.objects.get(slug="demo-upscale")
    user = UserFactory(email="upscale@example.com", preferred_language="ar" if prefix else "en")
    fund(user, 40)
    plain = OfferFactory(slug="browser-painter", adapter="demo", name="Demo painter")
    source = _finished_image(user, plain, size=(320, 240))
    price = upscaler.price_for(outputs=1, params={"factor": "4"})

    sign_in(page, live_server.url, "upscale@example.com", "pass-word-123", prefix=prefix)
    page.goto(f"{live_server.url}{prefix}/image/")
    card = page.locator(f"#job-{source.job_id}")
    open_tool = card.locator("[data-tool-open]", has_text="تكبير" if prefix else "Upscale")
    assert card.locator("[data-tool-open]").count() == 2  # upscale and remove background
    card.locator(".job-card__more > summary").click()  # the tools are under "More"
    open_tool.click()
    form = card.locator(".tool-form")
    form.wait_for()
    assert form.locator("select[name=factor]").evaluate("el => el === document.activeElement")
    assert ("مزوّد تجريبي" if prefix else "Demo provider") in form.inner_text()
    form.locator("select[name=factor]").select_option("4")
    page.wait_for_function(
        f"document.querySelector('#job-{source.job_id} select[name=factor]').value === '4'"
        f" && document.activeElement && document.activeElement.name === 'factor'"
    )
    with translation.override("ar" if prefix else "en"):
        shown = ngettext("%(counter)s credit", "%(counter)s credits", price) % {"counter": price}
    expect(form.locator(".price-box__price")).to_have_text(shown)  # once the ×4 price is back from the server
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert _fits_the_screen(page), width
    form.locator("[type=submit]").click()

    derived = page.locator("#jobs .job-card").first
    derived.locator(".derived").wait_for()
    assert derived.get_attribute("id") != f"job-{source.job_id}"
    text = derived.locator(".derived").inner_text()
    assert (f"مكبَّرة من رقم {source.job_id}" in text) if prefix else (f"Upscaled from #{source.job_id}" in text)
    assert card.locator(".tool-form").count() == 0  # the form closed
    derived.locator("img").first.wait_for(timeout=90_000)
    page.wait_for_function("document.querySelector('#jobs .job-card img').naturalWidth > 0")
    assert page.evaluate("document.querySelector('#jobs .job-card img').naturalWidth") == 320 * 4
    job = Job.objects.get(offer=upscaler)
    assert (job.parent_id, job.charged_credits, job.params["factor"]) == (source.job_id, price, "4")
    assert page.get_attribute("html", "dir") == ("rtl" if prefix else "ltr")
