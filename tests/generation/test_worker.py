"""The whole pipeline through a real Celery worker process (not eager).

Under CI=true the broker is Redis and the database PostgreSQL (set by
.ci/run); locally it runs on the filesystem broker and the SQLite test file.
The worker consumes a queue of its own, so a running dev studio never takes
these messages.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from credits.models import Wallet
from generation import services
from generation.models import Job, JobStatus
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund


def _wait_final(job_id: int, seconds: float = 90) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).status} after {seconds}s")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_runs_through_a_real_worker_from_queued_to_done(worker):
    user = UserFactory()
    fund(user, 20)
    offer = OfferFactory(slug="worker-demo", adapter="demo", price_credits=2)

    job = services.job_submit(user=user, offer=offer, params={"prompt": "lanterns over a harbour", "outputs": 3})
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED  # nothing ran in this process

    job = _wait_final(job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assets = list(job.assets.all())
    assert len(assets) == 3
    for asset in assets:
        assert (Path(settings.MEDIA_ROOT) / asset.file.name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (20 - 6, 0)
    call_command("check_ledger")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_keeps_one_database_connection_across_tasks(postgres, worker):
    """Celery's Django fixup alone would close the connection after every task
    and open a new one for the next (a PostgreSQL backend per task); with
    config/celery.py the worker's connection that ran the job's first task is
    the one still open after its last."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (started,) = cursor.fetchone()
    user = UserFactory()
    fund(user, 20)
    offer = OfferFactory(slug="worker-connection", adapter="demo", price_credits=2)
    job = _wait_final(services.job_submit(user=user, offer=offer, params={"prompt": "a quiet dock", "outputs": 2}).pk)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    with connection.cursor() as cursor:
        # Connections opened since the test began, other than this one: the
        # worker's (one an earlier test left open would be older).
        cursor.execute(
            "SELECT backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_start >= %s",
            [started],
        )
        others = [row[0] for row in cursor.fetchall()]
    # submit, then at least one poll after DEMO_DELAY_SECONDS: several tasks, one connection
    assert len(others) == 1, others
    assert others[0] <= job.submitted_at
