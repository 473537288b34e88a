"""No hold outlives its job (issue 15, finding 3): the admin deletes no job,
the sweeper releases the hold of a job deleted some other way, and
``check_ledger`` reports an open hold whose job is gone or final."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from credits.models import Hold, HoldStatus, LedgerEntry, Wallet
from generation import services, tasks
from generation.models import Job, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(alice, demo_offer) -> Job:
    """A job of alice's that holds 2 credits and has not run (its message is not sent)."""
    return services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a harbour", "outputs": 2})


@pytest.fixture
def finished(alice, demo_offer, django_capture_on_commit_callbacks) -> Job:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a dune", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def test_the_admin_deletes_no_job_running_or_not(staff_client, queued, finished, alice):
    for job in (queued, finished):
        url = reverse("admin:generation_job_delete", args=[job.pk])
        assert staff_client.get(url).status_code == 403
        assert staff_client.post(url, {"post": "yes"}).status_code == 403
        assert url not in staff_client.get(reverse("admin:generation_job_change", args=[job.pk])).content.decode()
    changelist = staff_client.get(reverse("admin:generation_job_changelist")).content.decode()
    assert "delete_selected" not in changelist
    bulk = {"action": "delete_selected", "_selected_action": [queued.pk, finished.pk], "post": "yes"}
    staff_client.post(reverse("admin:generation_job_changelist"), bulk)
    assert Job.objects.count() == 2
    assert _wallet(alice).held == queued.hold.amount
    call_command("check_ledger")


def test_a_hold_whose_job_was_deleted_is_released_by_the_sweeper(queued, alice):
    held = queued.hold.amount
    balance = _wallet(alice).balance
    Job.objects.filter(pk=queued.pk).delete()  # e.g. a shell or a cascade, not job_delete
    with pytest.raises(CommandError, match="1 other problem"):
        call_command("check_ledger")

    assert services.holds_release_orphaned() == 0  # too young: its job may not be committed yet
    Hold.objects.filter(pk=queued.hold_id).update(created_at=timezone.now() - timedelta(minutes=2))
    assert tasks.sweep_stuck_jobs_task() == 0  # beat's sweeper: nothing stuck, one hold released

    hold = Hold.objects.get(pk=queued.hold_id)
    assert hold.status == HoldStatus.RELEASED
    wallet = _wallet(alice)
    assert (wallet.balance, wallet.held) == (balance, 0)
    entry = LedgerEntry.objects.filter(wallet=wallet).latest("pk")
    assert (entry.amount, entry.held_delta) == (0, -held)
    assert entry.reason == "The job was removed; its credits were returned."
    assert services.holds_release_orphaned() == 0  # once
    call_command("check_ledger")


def test_the_release_reason_is_in_the_owners_language(queued, alice):
    alice.preferred_language = "ar"
    alice.save(update_fields=["preferred_language"])
    Job.objects.filter(pk=queued.pk).delete()
    Hold.objects.filter(pk=queued.hold_id).update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.holds_release_orphaned() == 1
    entry = LedgerEntry.objects.filter(wallet__user=alice).latest("pk")
    assert entry.reason == "أُزيلت المهمة وأُرجعت إليك أرصدتها."


def test_check_ledger_reports_an_open_hold_of_a_final_job(queued, capsys):
    call_command("check_ledger")
    Job.objects.filter(pk=queued.pk).update(status=JobStatus.FAILED)  # ended without releasing
    with pytest.raises(CommandError, match="0 wallet.*1 other problem"):
        call_command("check_ledger")
    assert f"job:{queued.pk}: the job is failed" in capsys.readouterr().err
