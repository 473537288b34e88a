"""My creations' "Download as ZIP": the selected jobs' results, streamed
while the archive is written, in bounded memory, with readable unique names."""

from __future__ import annotations

import random
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.models import Asset, Job, JobStatus

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _result(user, offer, prompt: str, data: bytes, *, index: int = 0, job=None, suffix="png", status=None) -> Asset:
    job = job or Job.objects.create(
        user=user,
        offer=offer,
        service=offer.service,
        status=status or JobStatus.SUCCEEDED,
        params={"prompt": prompt, "outputs": 1},
        prompt_text=prompt,
        price_credits=2,
        charged_credits=2,
    )
    asset = Asset(job=job, user=user, index=index, content_type="image/png", size_bytes=len(data))
    asset.file.save(f"r.{suffix}", ContentFile(data), save=False)
    asset.save()
    return asset


def _status_kb(field: str) -> int:
    """A field of /proc/self/status in KiB (``VmRSS``: resident now, ``VmHWM``: its peak)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def _consume(response, into) -> tuple[int, int]:
    """Write the streamed body to ``into``; returns ``(python_peak, rss_growth)``
    in bytes: the peak of Python memory allocated while it streamed
    (tracemalloc) and how far this process's peak resident memory rose above
    what it held before (Linux: writing 5 to /proc/self/clear_refs resets the
    peak, VmHWM, to the memory resident now)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status_kb("VmRSS")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for chunk in response.streaming_content:
            into.write(chunk)
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return python_peak, (_status_kb("VmHWM") - before) * 1024


def test_a_zip_of_50_results_streams_exactly_the_selected_files_in_bounded_memory(
    alice_client, alice, charlie, demo_offer, tmp_path
):
    rng = random.Random(7)
    assets = [_result(alice, demo_offer, f"صورة رقم {i} · photo {i}", rng.randbytes(MB + i)) for i in range(50)]
    not_selected = _result(alice, demo_offer, "left out", b"x" * 100)
    theirs = _result(charlie, demo_offer, "theirs", b"secret")
    ids = [a.job_id for a in assets] + [theirs.job_id]

    response = alice_client.post(reverse("creations_bulk"), {"action": "zip", "job": ids})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="mirsam-')
    out = tmp_path / "download.zip"
    with out.open("wb") as f:
        peak, rss = _consume(response, f)
    total = sum(a.size_bytes for a in assets)
    assert total > 50 * MB
    print(f"\n[zip] streaming {total / MB:.0f} MB: Python peak {peak / MB:.2f} MB, peak RSS +{rss / MB:.2f} MB")
    assert peak < 4 * MB, f"{peak / MB:.1f} MB held while streaming {total / MB:.0f} MB"
    # The tracemalloc bookkeeping itself costs resident memory; the archive must not.
    assert rss < 16 * MB, f"the process's peak RSS rose {rss / MB:.1f} MB while streaming {total / MB:.0f} MB"

    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(set(names)) == 50
        expected = {f"{a.job_id}-1-{_slug(a)}.png": a for a in assets}
        assert set(names) == set(expected)
        for name, asset in expected.items():
            with asset.file.open("rb") as original:
                assert archive.read(name) == original.read(), name
    assert not any(str(not_selected.job_id) == n.split("-")[0] for n in names)
    assert not any(str(theirs.job_id) == n.split("-")[0] for n in names)


def _slug(asset: Asset) -> str:
    from django.utils.text import slugify

    return slugify(asset.job.summary, allow_unicode=True)[:40].strip("-_")


def test_names_in_the_zip_are_readable_and_unique_per_result(alice, demo_offer):
    from generation import archive

    first = _result(alice, demo_offer, "منارة في العاصفة!", b"a")
    second = _result(alice, demo_offer, "", b"b", index=1, job=first.job, suffix="PNG")
    names = [name for name, _ in archive.zip_entries([first.job])]
    assert names == [f"{first.job_id}-1-منارة-في-العاصفة.png", f"{first.job_id}-2-منارة-في-العاصفة.png"]
    assert second.index == 1
    blank = _result(alice, demo_offer, "", b"c")
    assert archive.zip_entries([blank.job])[0][0] == f"{blank.job_id}-1-creation.png"


def test_a_zip_of_nothing_downloadable_goes_back_with_a_message(alice_client, alice, charlie, demo_offer):
    failed = _result(alice, demo_offer, "failed", b"x", status=JobStatus.FAILED)
    theirs = _result(charlie, demo_offer, "theirs", b"secret")
    response = alice_client.post(
        reverse("creations_bulk"), {"action": "zip", "job": [failed.job_id, theirs.job_id]}, follow=True
    )
    assert response.redirect_chain
    assert "None of the selected creations has a finished result to download." in response.content.decode()


def test_a_zip_of_more_than_the_limit_is_refused(alice_client, alice, demo_offer, settings):
    settings.MIRSAM_LIBRARY_BULK_MAX = 3
    ids = [_result(alice, demo_offer, f"p{i}", b"x").job_id for i in range(4)]
    response = alice_client.post(reverse("creations_bulk"), {"action": "zip", "job": ids}, follow=True)
    assert not getattr(response, "streaming", False)
    assert "Select at most 3 creations at once (you selected 4)." in response.content.decode()
