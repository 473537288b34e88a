"""The whole pipeline through a real Celery worker process (not eager).

Under CI=true the broker is Redis and the database PostgreSQL (set by
.ci/run); locally it runs on the filesystem broker and the SQLite test file.
The worker consumes a queue of its own, so a running dev studio never takes
these messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from credits.models import Wallet
from generation import services
from generation.models import Job, JobStatus
from tests.conftest import IN_CI, fund, need
from tests.factories import OfferFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _broker_reachable(url: str) -> bool:
    if not url.startswith("redis"):
        return True
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def worker(settings, tmp_path):
    broker = settings.CELERY_BROKER_URL
    if IN_CI:
        need(broker.startswith("redis"), "CELERY_BROKER_URL is not Redis")
        need(connection.vendor == "postgresql", "the database is not PostgreSQL")
    need(_broker_reachable(broker), f"the broker {broker} is not reachable")
    from config.celery import app

    queue = f"mirsam-test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        db_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        db_url = f"sqlite:///{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEMO_DELAY_SECONDS": "1",
        "MIRSAM_POLL_SCHEDULE": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Tasks the worker sends itself (polls) must stay on this queue too.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-P", "solo",
             "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield proc
    finally:
        app.conf.task_default_queue = old_queue
        app.conf.task_always_eager = True
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("MIRSAM_SHOW_WORKER_LOG"):
            print(log.read_text())


def _wait_final(job_id: int, seconds: float = 90) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {Job.objects.get(pk=job_id).status} after {seconds}s")


@pytest.mark.django_db(transaction=True)
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
