"""Fault injection: real Celery processes against a kie.ai fake, each hit by
one fault at one step of a job.

- the whole worker SIGKILLed (main process and pool child at once, as an
  OOM killer or a lost host does) and started again, at each step: while
  uploading the user's photo (before the create), while the create is in
  flight, after the create answered, while polling, while downloading;
- the worker's pool child SIGKILLed at the same steps (the main process
  starts another);
- Redis restarted without persistence while the job runs (every message lost);
- PostgreSQL dropping the worker's connections while it downloads;
- kie.ai down (HTTP 503) for a minute from the moment of Generate.

After each, the job ends: delivered once and charged once (or, for kie.ai
down, failed with its credits back if kie.ai never took it), kie.ai received
no more creates than the job has outputs, and ``check_ledger`` is clean. The
timings are scaled down (stall 6 s, visibility timeout 30 s, beat every
second); production's bound follows from the same settings (README,
"Workers that die"). A table of the faults and outcomes is printed at the
end of the run.

Needs PostgreSQL and Redis (CI=true: required, else skipped). Restarting
Redis disturbs everything else that uses it, so that fault runs only under
CI=true or with ``MIRSAM_FAULTS_RESTART_REDIS=1``.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.core.management import call_command
from django.db import connection

from generation import services
from generation.models import Job, JobStatus
from providers.models import Offer
from tests.factories import OfferFactory, UserFactory
from tests.support import faults
from tests.support.accounts import fund
from tests.support.env import IN_CI, broker_reachable, need
from tests.support.kie import HMAC_KEY, KIE_KEY, KieFake
from tests.support.uploads import photo
from tests.support.worker import CeleryProcess, beat, worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

OUTPUTS = 2
PRICE = 2  # credits per output
SLOW = 3.0  # seconds a slowed kie.ai step takes: the window the fault lands in
SETTLE = 150.0  # seconds a job may take to end after its fault
APP_NAME = "mirsam-fault-worker"
# The machine's documented start command (as .ci/run starts it).
REDIS_START = (
    "mkdir -p /var/lib/redis /var/log/redis && "
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


@dataclass
class Rig:
    """One test's world: kie.ai, a worker and beat on a queue of their own."""

    kie: KieFake
    env: dict[str, str]
    queue: str
    logs: Path
    offer: Offer
    beat: CeleryProcess
    started: list[CeleryProcess] = field(default_factory=list)
    #: Workers that exited on their own and were started again (as compose's
    #: ``restart: unless-stopped`` or systemd's ``Restart=always`` would).
    crashed: int = 0

    @property
    def worker(self) -> CeleryProcess:
        """The worker started last."""
        return self.started[-1]

    def new_worker(self) -> CeleryProcess:
        """Start a worker (as a supervisor restarts one) and wait until it is ready."""
        proc = worker(self.queue, env=self.env, log=self.logs / f"worker-{len(self.started)}.log", pool="prefork")
        proc.start()
        self.started.append(proc)
        proc.wait_ready()
        return proc

    def submit(self, *, with_photo: bool = False) -> Job:
        user = UserFactory()
        fund(user, 100)
        params = {"prompt": f"fault {uuid.uuid4().hex[:6]}", "outputs": OUTPUTS}
        if with_photo:
            return services.job_submit_with_files(user=user, offer=self.offer, params=params, files=[photo()])
        return services.job_submit(user=user, offer=self.offer, params=params)

    def creates_for(self, job: Job) -> int:
        """How many create requests of ``job`` reached kie.ai."""
        return sum(
            1
            for op, payload in list(self.kie.received)
            if op == "create" and job.callback_token in str(payload.get("callBackUrl", ""))
        )

    def supervise(self) -> None:
        """Start the worker again if it exited by itself: kombu's Redis
        transport can die with an "Unrecoverable error" when Redis goes away
        (closing a channel after its connection is gone, as in celery/kombu#582);
        production's supervisor restarts it, so this one does too."""
        proc = self.worker.proc
        if proc is not None and proc.poll() is not None:
            self.crashed += 1
            self.new_worker()

    def wait_final(self, job: Job, timeout: float = SETTLE) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = Job.objects.get(pk=job.pk)
            if current.is_final:
                return current
            self.supervise()
            time.sleep(0.25)
        tasks = list(job.tasks.values_list("index", "status", "task_id"))
        raise AssertionError(f"job {job.pk} still {Job.objects.get(pk=job.pk).status} after {timeout} s: {tasks}")


@pytest.fixture
def rig(settings, live_server, tmp_path) -> Iterator[Rig]:
    broker = settings.CELERY_BROKER_URL
    if IN_CI:
        need(broker.startswith("redis"), "CELERY_BROKER_URL is not Redis")
    need(connection.vendor == "postgresql", "the database is not PostgreSQL (set DATABASE_URL)")
    need(broker.startswith("redis") and broker_reachable(broker), f"the broker {broker} is not a reachable Redis")
    from config.celery import app

    queue = f"mirsam-faults-{uuid.uuid4().hex[:8]}"
    kie = KieFake(key=KIE_KEY, hmac_key=HMAC_KEY, latency=(0.02, 0.05), cdn_latency=(0, 0.02), generation=(2, 2))
    kie.start()
    env = worker_env(
        settings,
        queue,
        application_name=APP_NAME,
        KIE_API_KEY=KIE_KEY,
        KIE_BASE_URL=kie.url,
        KIE_UPLOAD_BASE_URL=kie.url,
        KIE_CALLBACK_BASE_URL=live_server.url,
        KIE_WEBHOOK_HMAC_KEY=HMAC_KEY,
        KIE_TIMEOUT_SECONDS="10",
        KIE_RETRY_BACKOFF_SECONDS="0.2",
        MIRSAM_JOB_STALL_SECONDS="6",
        MIRSAM_JOB_TIMEOUT_SECONDS="600",
        MIRSAM_SWEEP_INTERVAL_SECONDS="1",
        CELERY_VISIBILITY_TIMEOUT_SECONDS="30",
        MIRSAM_VAR_DIR=str(tmp_path / "var"),
    )
    # This process runs the callback endpoint (live_server): it checks kie's
    # signature and queues the download on the workers' queue.
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    settings.KIE_API_KEY = KIE_KEY  # the model is offered where the adapter is configured
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MIRSAM_QUEUE_IMAGES = settings.MIRSAM_QUEUE_VIDEOS = queue
    app.conf.task_always_eager = False
    old_queue, app.conf.task_default_queue = app.conf.task_default_queue, queue
    offer = OfferFactory(
        slug=f"fault-{queue}",
        adapter="kie",
        provider_model="google/nano-banana",
        price_credits=PRICE,
        options={
            "params": {},
            "max_outputs": 4,
            "inputs": {"min": 0, "max": 1, "roles": ["photo"], "fields": {"photo": "image_urls[]"}},
            "provider_model_with_inputs": "google/nano-banana-edit",
        },
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    beat_proc = beat(env=env, log=logs / "beat.log", schedule=tmp_path / "beat-schedule").start()
    world = Rig(kie=kie, env=env, queue=queue, logs=logs, offer=offer, beat=beat_proc)
    world.new_worker()
    try:
        yield world
    finally:
        app.conf.task_default_queue = old_queue
        app.conf.task_always_eager = True
        for proc in [*world.started, beat_proc]:
            proc.stop()
        kie.stop()
        if os.environ.get("MIRSAM_SHOW_WORKER_LOG"):
            for log in sorted(logs.iterdir()):
                print(f"== {log.name}\n{log.read_text()[-5000:]}")


# --- the steps of a job, and how to wait for each ---------------------------------------


def _at_upload(rig: Rig) -> Job:
    rig.kie.slow["upload"] = SLOW
    job = rig.submit(with_photo=True)
    rig.kie.wait_for("upload")
    return job


def _at_create(rig: Rig) -> Job:
    rig.kie.slow["create"] = SLOW
    job = rig.submit()
    rig.kie.wait_for("create")
    return job


def _after_create(rig: Rig) -> Job:
    rig.kie.generation = (8, 8)
    job = rig.submit()
    deadline = time.monotonic() + 60
    while len(rig.kie.calls_of("create")) < OUTPUTS:  # both creates answered
        assert time.monotonic() < deadline, "the creates did not happen"
        time.sleep(0.05)
    return job


def _at_poll(rig: Rig) -> Job:
    rig.kie.generation = (6, 6)
    rig.kie.slow["poll"] = SLOW
    job = rig.submit()
    rig.kie.wait_for("poll")
    return job


def _at_download(rig: Rig) -> Job:
    rig.kie.slow["download"] = SLOW
    job = rig.submit()
    rig.kie.wait_for("download")
    return job


STEPS: dict[str, Callable[[Rig], Job]] = {
    "upload (before create)": _at_upload,
    "create in flight": _at_create,
    "after create": _after_create,
    "poll in flight": _at_poll,
    "download": _at_download,
}


def _ended(rig: Rig, job: Job, fault: str, step: str, started: float, *, must_succeed: bool = True) -> None:
    """Wait for the job to end, check what must hold after any fault, add its row."""
    job = rig.wait_final(job)
    seconds = time.monotonic() - started
    creates = rig.creates_for(job)
    assert creates <= OUTPUTS, f"{creates} creates reached kie.ai for {OUTPUTS} outputs"
    if must_succeed or job.status == JobStatus.SUCCEEDED:
        assert job.status == JobStatus.SUCCEEDED, (job.status, job.error_code, job.error_message)
        assert job.assets.count() == OUTPUTS
        assert job.charged_credits == OUTPUTS * PRICE
    else:
        assert job.charged_credits == 0
    held = job.user.wallet.held
    assert held == 0, f"{held} credits still held"
    call_command("check_ledger")
    outcome = (
        f"{job.status}, {job.assets.count()}/{OUTPUTS} delivered, {creates} creates, {job.charged_credits} charged"
    )
    if rig.crashed:
        outcome += f"; the worker exited by itself {rig.crashed}x and was restarted"
    faults.add(fault, step, outcome, seconds)


@pytest.mark.parametrize("step", list(STEPS))
def test_the_whole_worker_killed(rig: Rig, step: str) -> None:
    job = STEPS[step](rig)
    rig.worker.kill()
    started = time.monotonic()
    time.sleep(1)  # a supervisor restarts it
    rig.new_worker()
    _ended(rig, job, "worker SIGKILLed, restarted", step, started)


@pytest.mark.parametrize("step", list(STEPS))
def test_the_workers_pool_child_killed(rig: Rig, step: str) -> None:
    job = STEPS[step](rig)
    rig.worker.kill_child()
    _ended(rig, job, "pool child SIGKILLed", step, time.monotonic())


def test_redis_restarted_without_persistence(rig: Rig, settings) -> None:
    if not (IN_CI or os.environ.get("MIRSAM_FAULTS_RESTART_REDIS")):
        pytest.skip("restarting Redis disturbs everything on this machine; CI=true or MIRSAM_FAULTS_RESTART_REDIS=1")
    job = _after_create(rig)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # it went down while answering
    started = time.monotonic()
    subprocess.run(REDIS_START, shell=True, check=True)
    deadline = time.monotonic() + 30
    while not broker_reachable(settings.CELERY_BROKER_URL):
        assert time.monotonic() < deadline, "Redis did not come back"
        time.sleep(0.2)
    _ended(rig, job, "Redis restarted (messages lost)", "after create", started)


def test_postgresql_drops_the_workers_connections(rig: Rig) -> None:
    job = _at_download(rig)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [APP_NAME],
        )
        (dropped,) = cursor.fetchone()
    assert dropped >= 1
    _ended(rig, job, f"PostgreSQL dropped {dropped} worker connection(s)", "download", time.monotonic())


def test_kie_down_for_a_minute(rig: Rig) -> None:
    rig.kie.down_until = time.time() + 60
    started = time.monotonic()
    job = rig.submit()
    _ended(rig, job, "kie.ai down (503) for 60 s", "from Generate", started, must_succeed=False)
