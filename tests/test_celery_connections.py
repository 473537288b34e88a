"""A worker's database connections between tasks (config/celery.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery import states
from django.db import connection

from config.celery import close_db_connections

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def max_age():
    """Reconnect with ``CONN_MAX_AGE`` set to the value the test gives."""
    original = connection.settings_dict["CONN_MAX_AGE"]

    def reconnect(seconds: int):
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = seconds
        connection.ensure_connection()
        return connection.connection

    yield reconnect
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = original


def _after(state: str, *, eager: bool = False) -> None:
    task = SimpleNamespace(request=SimpleNamespace(is_eager=eager))
    close_db_connections(task=task, state=state)


def test_a_successful_task_leaves_its_connection_for_the_next(max_age):
    raw = max_age(60)
    _after(states.SUCCESS)
    assert connection.connection is raw
    with connection.cursor() as cursor:  # and it still works
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_past_its_max_age_is_closed_after_the_task(max_age):
    max_age(0)
    _after(states.SUCCESS)
    assert connection.connection is None


@pytest.mark.parametrize("state", [states.FAILURE, states.RETRY, states.REJECTED])
def test_a_task_that_did_not_succeed_closes_its_connections(max_age, state):
    max_age(60)
    _after(state)
    assert connection.connection is None


def test_an_eager_task_leaves_the_connection_alone(max_age):
    raw = max_age(0)
    _after(states.FAILURE, eager=True)
    assert connection.connection is raw


def test_the_workers_fixup_closes_connections_only_every_reuse_max_tasks(settings):
    from config.celery import app

    assert app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX > 1
