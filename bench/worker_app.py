"""The Celery app of bench/pipeline.py's workers: ``config.celery``'s app,
plus one JSON line per task run (task name, job id, start, end, CPU time,
SQL statements and the wall time spent in them, pid) in
``$BENCH_TIMINGS_DIR/runs-<pid>.jsonl``, so the benchmark can tell the time
our code worked on a job from the time it waited. Not used by the studio.

    celery -A bench.worker_app worker -Q <queue>
"""

from __future__ import annotations

import json
import os
import time
from typing import IO

from celery.signals import task_postrun, task_prerun, worker_process_init

from config.celery import app

__all__ = ["app"]

_DIR = os.environ.get("BENCH_TIMINGS_DIR", "")
_starts: dict[str, tuple[float, float]] = {}
_out: dict[int, IO[str]] = {}
_sql = {"n": 0, "s": 0.0}  # statements and seconds in them since the run began


def _timed(execute, sql, params, many, context):  # noqa: ANN001, ANN202 - Django's execute wrapper
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        _sql["n"] += 1
        _sql["s"] += time.perf_counter() - started


@worker_process_init.connect
def _time_sql(**kwargs: object) -> None:
    from django.db import connection

    connection.execute_wrappers.append(_timed)


@task_prerun.connect
def _run_started(task_id: str | None = None, **kwargs: object) -> None:
    _starts[task_id or ""] = (time.time(), time.process_time())
    _sql.update(n=0, s=0.0)


@task_postrun.connect
def _run_finished(task_id: str | None = None, task=None, args=None, state=None, **kwargs: object) -> None:  # noqa: ANN001
    end, cpu_end = time.time(), time.process_time()
    started = _starts.pop(task_id or "", None)
    if started is None or not _DIR:
        return
    start, cpu_start = started
    pid = os.getpid()
    if pid not in _out:
        _out[pid] = open(os.path.join(_DIR, f"runs-{pid}.jsonl"), "a", buffering=1)
    line = {"task": getattr(task, "name", "?"), "job": (args or [None])[0], "start": start, "end": end}
    line["cpu"] = cpu_end - cpu_start  # this process's CPU time: a prefork child runs one task at a time
    line["sql"], line["sql_s"] = _sql["n"], _sql["s"]
    _out[pid].write(json.dumps({**line, "state": state, "pid": pid}) + "\n")
