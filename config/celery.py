"""The Celery application. Settings come from Django's settings, prefix ``CELERY_``.

Database connections of a worker process live across tasks, on the rules a
web request follows (``DB_CONN_MAX_AGE``, health-checked before reuse), not
one new PostgreSQL connection per task. Celery's Django fixup closes every
connection before and after each task (celery 5.6+, celery/celery#9824)
unless ``CELERY_DB_REUSE_MAX`` is set; then it closes them every that many
tasks, and :func:`close_db_connections` below decides in between.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task, states
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect(weak=False)
def close_db_connections(task: Task[Any, Any] | None = None, state: str | None = None, **kwargs: object) -> None:
    """After a task: keep a connection for the next one as a web request would
    (``close_old_connections``: closed past ``CONN_MAX_AGE`` or when an error
    left it unusable; otherwise checked before its next use), but close every
    connection after a task that did not succeed — an error may have left a
    connection in a state the check cannot see (the reason celery#9824 gives).
    An eager task (tests, ``CELERY_TASK_ALWAYS_EAGER``) runs inside a request
    or test and leaves its connections alone."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django import db

    if state == states.SUCCESS:
        db.close_old_connections()
    else:
        for connection in db.connections.all(initialized_only=True):
            connection.close()
