"""Export my data (issue 19 part 2): a ZIP of exactly the user's own rows and
files, built by Celery into storage in bounded memory, linked on the
Settings page and by e-mail in the user's language, expiring after
MIRSAM_EXPORT_HOURS, deleted by beat and with the account."""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.deletion import account_delete
from accounts.export import ExportRefused, export_request, exports_purge
from accounts.models import DataExport
from billing.models import CreditPack, Purchase, PurchaseKind
from generation.models import Asset, Job, JobStatus
from tests.test_storage_s3 import moto_endpoint, s3  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

KB = 1024
MB = 1024 * KB


def _job(user, offer, prompt: str, *, status=JobStatus.SUCCEEDED, files: int = 1, data: bytes = b"", poster=False):
    job = Job.objects.create(
        user=user,
        offer=offer,
        service=offer.service,
        status=status,
        params={"prompt": prompt, "outputs": files},
        prompt_text=prompt,
        price_credits=3,
        charged_credits=3 if status == JobStatus.SUCCEEDED else 0,
        finished_at=timezone.now(),
    )
    for index in range(files):
        asset = Asset(job=job, user=user, index=index, content_type="image/png", size_bytes=len(data))
        asset.file.save("r.png", ContentFile(data or f"{prompt}-{index}".encode()), save=False)
        if poster:
            asset.poster.save("p.png", ContentFile(f"poster {prompt}".encode()), save=False)
        asset.save()
    return job


def _purchase(user, stripe_id: str) -> Purchase:
    pack, _ = CreditPack.objects.get_or_create(
        slug="export-pack", defaults={"name": "Export pack", "credits": 100, "price_amount": 500, "currency": "usd"}
    )
    return Purchase.objects.create(
        user=user, kind=PurchaseKind.PACK, pack=pack, stripe_id=stripe_id, credits=100, amount=500, currency="usd"
    )


def _export(user, capture) -> DataExport:
    with capture(execute=True):
        export = export_request(user=user)
    export.refresh_from_db()
    return export


def _zip(export: DataExport) -> zipfile.ZipFile:
    with default_storage.open(export.file.name, "rb") as f:
        return zipfile.ZipFile(io.BytesIO(f.read()))


def test_the_zip_holds_exactly_the_users_rows_and_files_never_anothers(
    alice, charlie, demo_offer, django_capture_on_commit_callbacks
):
    from tests.support.accounts import fund

    image = _job(alice, demo_offer, "منارة في العاصفة", files=2, poster=True)
    failed = _job(alice, demo_offer, "did not work", status=JobStatus.FAILED, files=0)
    _purchase(alice, "cs_alice_1")
    fund(charlie, 77)
    theirs = _job(charlie, demo_offer, "charlie secret", files=1)
    _purchase(charlie, "cs_charlie_1")

    export = _export(alice, django_capture_on_commit_callbacks)

    assert export.status == DataExport.Status.READY
    assert export.file.name.startswith(f"exports/{alice.pk}/")
    assert export.size_bytes == default_storage.size(export.file.name)
    assert export.expires_at - export.finished_at == timedelta(hours=24)
    archive = _zip(export)
    assert archive.testzip() is None
    names = set(archive.namelist())
    results = {n for n in names if n.startswith("results/")}
    assert names - results == {"profile.json", "credit-history.csv", "payments.csv", "jobs.json"}
    assets = list(image.assets.order_by("index"))
    expected = {}
    for asset in assets:
        stem = f"results/{image.pk}-{asset.index + 1}-منارة-في-العاصفة"
        expected[f"{stem}.png"] = asset.file
        expected[f"{stem}-poster.png"] = asset.poster
    assert results == set(expected)
    for name, field in expected.items():
        with field.open("rb") as original:
            assert archive.read(name) == original.read()
    assert not any(str(theirs.pk) in n.split("/")[-1].split("-")[0] for n in results)
    assert b"charlie" not in b"".join(archive.read(n) for n in names)

    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == "alice@example.com" and profile["id"] == alice.pk

    jobs = json.loads(archive.read("jobs.json"))
    assert [j["id"] for j in jobs] == [image.pk, failed.pk]
    assert jobs[0]["model"] == demo_offer.name and jobs[0]["params"]["prompt"] == "منارة في العاصفة"
    assert jobs[0]["status"] == "succeeded" and jobs[0]["charged_credits"] == 3
    assert jobs[0]["files"] == list(expected)  # by index, each result then its poster
    assert jobs[1]["status"] == "failed" and jobs[1]["files"] == []

    history = list(csv.DictReader(io.StringIO(archive.read("credit-history.csv").decode("utf-8-sig"))))
    from credits.models import LedgerEntry

    mine = LedgerEntry.objects.filter(wallet__user=alice)
    assert [int(r["amount"]) for r in history] == list(
        mine.order_by("-created_at", "-id").values_list("amount", flat=True)
    )
    assert len(history) == mine.count() >= 1
    assert all(r["description"] for r in history)

    payments = list(csv.DictReader(io.StringIO(archive.read("payments.csv").decode("utf-8-sig"))))
    assert [(p["stripe_id"], p["amount"], p["currency"], p["credits"]) for p in payments] == [
        ("cs_alice_1", "5.00", "USD", "100")
    ]


def test_the_email_is_sent_once_in_the_users_language_with_an_absolute_link(
    alice, demo_offer, django_capture_on_commit_callbacks, settings
):
    settings.MIRSAM_SITE_URL = "https://mirsam.example"
    alice.preferred_language = "ar"
    alice.save()
    _job(alice, demo_offer, "one")

    export = _export(alice, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    link = f"https://mirsam.example/ar/account/export/{export.pk}/download/"
    assert link in message.body
    html = message.alternatives[0][0]
    assert 'dir="rtl"' in html and 'lang="ar"' in html and link in html
    with translation.override("ar"):
        assert message.subject == gettext("Your Mirsam data export is ready")
        hello = gettext("Hello from Mirsam!")
    assert hello != "Hello from Mirsam!"  # the Arabic catalogue is compiled
    assert hello in message.body and hello in html
    assert "Hello from Mirsam!" not in message.body


def test_one_export_at_a_time(alice, alice_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the build stays queued (never sent: no commit in this test)
    first = export_request(user=alice)
    with pytest.raises(ExportRefused):
        export_request(user=alice)
    assert DataExport.objects.filter(user=alice).count() == 1
    response = alice_client.post(reverse("data_export_request"), follow=True)
    assert "An export of your data is being prepared already." in response.content.decode()
    assert DataExport.objects.filter(user=alice).count() == 1
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert reverse("data_export_status") in page and 'hx-trigger="every 3s"' in page
    first.status = DataExport.Status.FAILED
    first.save()
    assert export_request(user=alice).pk != first.pk


def test_owner_downloads_outsider_gets_404(
    alice, alice_client, charlie_client, demo_offer, django_capture_on_commit_callbacks
):
    _job(alice, demo_offer, "mine")
    export = _export(alice, django_capture_on_commit_callbacks)
    url = reverse("data_export_download", args=[export.pk])

    assert charlie_client.get(url).status_code == 404
    response = alice_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="mirsam-data-')
    body = b"".join(response.streaming_content)
    with default_storage.open(export.file.name, "rb") as f:
        assert body == f.read()
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert url in page and "Your export is ready." in page


def test_the_link_expires_and_beat_deletes_file_and_row(
    alice, alice_client, demo_offer, django_capture_on_commit_callbacks
):
    _job(alice, demo_offer, "mine")
    export = _export(alice, django_capture_on_commit_callbacks)
    name = export.file.name
    assert exports_purge() == 0  # not expired yet
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = alice_client.get(reverse("data_export_download", args=[export.pk]))
    assert response.status_code == 410
    assert "This export has expired" in response.content.decode()
    assert reverse("data_export_request") in response.content.decode()
    assert "Your last export has expired." in alice_client.get(reverse("account_settings")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert exports_purge() == 1
    assert not DataExport.objects.filter(pk=export.pk).exists()
    assert not default_storage.exists(name)


def test_deleting_the_account_deletes_the_exports_file(alice, demo_offer, django_capture_on_commit_callbacks):
    _job(alice, demo_offer, "mine")
    export = _export(alice, django_capture_on_commit_callbacks)
    assert default_storage.exists(export.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice)
    assert not DataExport.objects.filter(user=alice).exists()
    assert not default_storage.exists(export.file.name)


def test_a_failed_build_is_shown_and_can_be_tried_again(
    alice, alice_client, demo_offer, django_capture_on_commit_callbacks, monkeypatch
):
    from accounts import export as export_module

    _job(alice, demo_offer, "mine")

    def broken(user):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "export_archive", broken)
    export = _export(alice, django_capture_on_commit_callbacks)
    assert export.status == DataExport.Status.FAILED and "disk full" in export.error
    assert mail.outbox == []
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert "Your last export could not be made." in page and "Try again" in page
    assert alice_client.get(reverse("data_export_download", args=[export.pk])).status_code == 404


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def test_memory_stays_bounded_exporting_300_results(alice, demo_offer, django_capture_on_commit_callbacks):
    rng = random.Random(19)
    jobs = [_job(alice, demo_offer, f"result {i}", data=rng.randbytes(200 * KB + i)) for i in range(300)]
    total = 300 * 200 * KB

    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status_kb("VmRSS")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        export = _export(alice, django_capture_on_commit_callbacks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss = (_status_kb("VmHWM") - before) * KB

    print(f"\n[export] {total / MB:.0f} MB of results: Python peak {peak / MB:.2f} MB, peak RSS +{rss / MB:.2f} MB")
    assert export.status == DataExport.Status.READY
    assert export.size_bytes > total
    assert peak < 8 * MB, f"{peak / MB:.1f} MB held while exporting {total / MB:.0f} MB"
    assert rss < 24 * MB, f"peak RSS rose {rss / MB:.1f} MB while exporting {total / MB:.0f} MB"
    archive = _zip(export)
    assert len([n for n in archive.namelist() if n.startswith("results/")]) == len(jobs)


def test_a_file_missing_mid_archive_fails_the_export_and_leaves_no_partial_zip(
    alice, demo_offer, django_capture_on_commit_callbacks
):
    first = _job(alice, demo_offer, "first", data=b"a" * 300 * KB)
    second = _job(alice, demo_offer, "second")
    default_storage.delete(second.assets.get().file.name)  # gone from storage after the first was written

    export = _export(alice, django_capture_on_commit_callbacks)

    assert export.status == DataExport.Status.FAILED and "FileNotFoundError" in export.error
    assert not export.file
    _dirs, files = default_storage.listdir(f"exports/{alice.pk}")
    assert files == []
    assert first.assets.exists()


def test_on_s3_the_zip_is_uploaded_and_the_download_redirects_to_a_signed_url(
    s3,  # noqa: F811  (the fixture imported above)
    alice,
    alice_client,
    demo_offer,
    django_capture_on_commit_callbacks,
):
    job = _job(alice, demo_offer, "on s3", data=b"s3-bytes" * 1000)

    export = _export(alice, django_capture_on_commit_callbacks)

    assert export.status == DataExport.Status.READY
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert export.file.name in keys
    body = s3.get_object(Bucket=s3.bucket, Key=export.file.name)["Body"].read()
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.read(f"results/{job.pk}-1-on-s3.png") == b"s3-bytes" * 1000
    response = alice_client.get(reverse("data_export_download", args=[export.pk]))
    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"] and "attachment" in response["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])}
    assert export.file.name not in keys
