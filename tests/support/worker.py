"""Real Celery processes for tests: a worker (and beat) on a queue of the
test's own, sharing the test database, that a test can start, kill and start
again as a supervisor would.

``worker_env(settings, queue)`` is the environment such a process needs: the
test database and broker, the test's media folder, every pipeline queue
pointed at ``queue`` (tasks the worker sends itself stay on it), short
pipeline timings and the test's ``DEMO_CALLBACKS`` and ``MIRSAM_SITE_URL``.
:class:`CeleryProcess` runs one ``celery -A config ...`` command in a session
of its own, so :meth:`CeleryProcess.kill` can SIGKILL the whole worker (main
process and pool children) at once, as an OOM killer or a lost host does;
:meth:`CeleryProcess.kill_child` kills one pool child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .env import ROOT


def database_url(connection: Any, *, application_name: str = "") -> str:
    """The URL of ``connection``'s test database, for a process of its own;
    ``application_name`` (PostgreSQL) names that process's connections in
    ``pg_stat_activity``."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{db['NAME']}"
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"{url}?application_name={application_name}" if application_name else url


def worker_env(settings: Any, queue: str, *, application_name: str = "", **extra: str) -> dict[str, str]:
    """The environment of a worker or beat process for this test (see the module docstring)."""
    from django.db import connection

    return {
        **os.environ,
        "DATABASE_URL": database_url(connection, application_name=application_name),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEMO_DELAY_SECONDS": "1",
        # The demo calls back where this test says (its live_server), or not at all.
        "DEMO_CALLBACKS": "true" if settings.DEMO_CALLBACKS else "false",
        "MIRSAM_SITE_URL": settings.MIRSAM_SITE_URL,
        "MIRSAM_POLL_SCHEDULE": "1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MIRSAM_QUEUE_IMAGES": queue,
        "MIRSAM_QUEUE_VIDEOS": queue,
        **extra,
    }


class CeleryProcess:
    """One ``celery -A config <args>`` process with ``env``, its output in ``log``."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the worker says it is ready to take tasks."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"celery exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"the worker was not ready in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def children(self) -> list[int]:
        """The pool's child processes (prefork)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def kill(self) -> None:
        """SIGKILL the main process and its children at once."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        assert self.proc is not None
        self.proc.wait(timeout=30)

    def kill_child(self) -> int:
        """SIGKILL one pool child (the main process starts another); returns its pid."""
        children = self.children()
        if not children:
            raise RuntimeError("the worker has no pool child")
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def stop(self) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL what is left after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def worker(queue: str, *, env: dict[str, str], log: Path, pool: str = "solo", concurrency: int = 1) -> CeleryProcess:
    """A worker consuming ``queue`` (not started)."""
    args = ["worker", "-Q", queue, "-P", pool, "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    if pool != "solo":
        args += ["-c", str(concurrency)]
    return CeleryProcess(args, env=env, log=log)


def beat(*, env: dict[str, str], log: Path, schedule: Path) -> CeleryProcess:
    """Celery beat with the settings' schedule, its state in ``schedule`` (not started)."""
    return CeleryProcess(["beat", "--schedule", str(schedule), "--loglevel=INFO"], env=env, log=log)
