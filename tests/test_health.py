"""/healthz and /readyz for a load balancer: no login, no language prefix, no HTTPS redirect."""

from __future__ import annotations

import socket

import pytest

from tests.support.env import need


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_ok_without_a_database_or_a_login(client):
    response = client.get("/healthz")  # no django_db mark: a query would raise
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_reports_every_check_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "storage": "ok"}


@pytest.mark.django_db
def test_readyz_with_a_trailing_slash_is_the_same_endpoint(client):
    assert client.get("/readyz/").status_code == 200
    assert client.get("/healthz/").status_code == 200


@pytest.mark.django_db
def test_readyz_reports_a_stopped_redis(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "failed", "storage": "ok"}


@pytest.mark.django_db
def test_readyz_reports_a_running_redis(client, settings):
    url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/15"
    import redis

    try:
        up = bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        up = False
    need(up, f"Redis at {url} is not running")
    settings.CELERY_BROKER_URL = url
    assert client.get("/readyz").json()["broker"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_missing_filesystem_broker_folders(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "gone"),
        "data_folder_out": str(tmp_path / "gone"),
        "control_folder": str(tmp_path),
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["broker"] == "failed"


@pytest.mark.django_db
def test_readyz_reports_unwritable_storage(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = blocker / "media"  # cannot be created under a file
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "ok", "storage": "failed"}


@pytest.mark.django_db
def test_readyz_reports_a_broken_database(client, monkeypatch):
    from config import health

    def broken() -> None:
        raise RuntimeError("database is down")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "failed"
    assert "database is down" not in response.content.decode()  # causes go to the log only


@pytest.mark.django_db
def test_health_endpoints_are_not_redirected_to_https_but_pages_are(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    landing = client.get("/")
    assert landing.status_code == 301 and landing["Location"].startswith("https://")


@pytest.mark.django_db
def test_a_probe_with_an_unlisted_host_is_answered_but_pages_are_refused(client):
    """A load balancer probes with the instance's address as Host."""
    assert client.get("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.3.7:8000").status_code == 400


def test_health_endpoints_take_only_get(client):
    assert client.post("/healthz").status_code == 405
