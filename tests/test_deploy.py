"""The commands the Dockerfile, compose.yaml and Procfile run, run here directly
(Docker does not run on our machines): collectstatic and gunicorn with the
production settings, ``check --deploy``, and the settings refusing to start
half-configured. The Celery worker and beat commands are run by other tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.env import ROOT

BIN = Path(sys.executable).parent
# Inherited variables that would change what production mode does here.
_DROP = (
    *("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CACHE_URL", "LOG_FORMAT", "TRUSTED_PROXY_SSL_HEADER"),
    *("SENTRY_", "ANYMAIL_", "AWS_", "STRIPE_API_HOST", "SECURE_", "CSRF_", "CSP_"),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        MIRSAM_VAR_DIR=str(tmp / "var"),
        STATIC_ROOT=str(tmp / "static"),
        DATABASE_URL=f"sqlite:///{tmp / 'var' / 'db.sqlite3'}",
        # Production needs a shared cache (rate-limit counts); none of the requests here touches it.
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    env.update(extra)
    return env


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def run(command: str | list[str], env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    args = shlex.split(command) if isinstance(command, str) else command
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_docker_files_and_the_procfile_run_the_same_commands():
    commands = procfile()
    assert commands["web"] == "gunicorn config.wsgi"
    assert commands["release"] == "python manage.py migrate --noinput"
    # Every queue the pipeline sends to has a worker (README "Queues and rate limits").
    from django.conf import settings

    consumed = {q for name in ("worker", "videoworker") for q in commands[name].split("-Q ")[1].split()[0].split(",")}
    assert consumed == {settings.MIRSAM_QUEUE_IMAGES, settings.MIRSAM_QUEUE_VIDEOS, settings.CELERY_TASK_DEFAULT_QUEUE}
    assert commands["beat"] == "celery -A config beat --loglevel=INFO"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "config.wsgi"]' in dockerfile
    assert "FROM python:3.11-slim" in dockerfile and "USER mirsam" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    compose = (ROOT / "compose.yaml").read_text()
    assert commands["asgi"] == "uvicorn config.asgi:application --no-server-header"
    for name in ("web", "asgi", "worker", "videoworker", "beat", "release"):
        assert f"command: {commands[name]}" in compose


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """collectstatic as the Dockerfile runs it, the Procfile's release (migrate), then its web command."""
    tmp = tmp_path_factory.mktemp("deploy")
    port = _free_port()
    env = production_env(tmp, PORT=str(port), BIND_HOST="127.0.0.1", WEB_CONCURRENCY="2")
    env["TRUSTED_PROXY_SSL_HEADER"] = "X-Forwarded-Proto"
    collected = run("python manage.py collectstatic --noinput", env)
    assert collected.returncode == 0, collected.stderr
    manifest = json.loads((tmp / "static" / "staticfiles.json").read_text())["paths"]
    # The Procfile's release step: the landing page reads the showcase.
    migrated = run(procfile()["release"], env, timeout=300)
    assert migrated.returncode == 0, migrated.stderr

    log = (tmp / "gunicorn.log").open("w")
    proc = subprocess.Popen(shlex.split(procfile()["web"]), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{(tmp / 'gunicorn.log').read_text()}")
            try:  # the socket is bound before the workers have loaded Django
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer:\n{(tmp / 'gunicorn.log').read_text()}")
            time.sleep(0.2)
        yield {
            "base": base,
            "manifest": manifest,
            "static_root": tmp / "static",
            "log": tmp / "gunicorn.log",
            "env": env,
            "tmp": tmp,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


HTTPS = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy adds
STYLESHEETS = ("css/tokens.css", "css/base.css", "css/components.css", "css/pages.css")


def test_gunicorn_answers_healthz_over_plain_http_for_any_host(served):
    response = requests.get(f"{served['base']}/healthz", timeout=5, allow_redirects=False)
    assert response.status_code == 200 and response.text == "ok"
    assert len(response.headers["X-Request-ID"]) == 32
    probe = requests.get(f"{served['base']}/healthz", headers={"Host": "10.0.3.7"}, timeout=5)
    assert probe.status_code == 200


def test_gunicorn_redirects_pages_to_https(served):
    response = requests.get(f"{served['base']}/", timeout=5, allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://127.0.0.1")


def test_gunicorn_serves_pages_with_the_security_headers_and_hashed_static_names(served):
    response = requests.get(f"{served['base']}/", headers=HTTPS, timeout=10, allow_redirects=False)
    assert response.status_code == 200, response.text[:500]
    headers = response.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Server"] == "mirsam"  # not "gunicorn": the software is nobody's business
    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    # The stylesheet layers, linked by their hashed names in cascade order.
    links = [response.text.index(f"/static/{served['manifest'][name]}") for name in STYLESHEETS]
    assert links == sorted(links)
    assert "django-htmx.js" not in response.text  # the debug helper is for DEBUG only


def test_gunicorn_serves_hashed_static_files_with_whitenoise(served):
    hashed = served["manifest"]["css/components.css"]
    assert hashed != "css/components.css"
    response = requests.get(
        f"{served['base']}/static/{hashed}", headers={**HTTPS, "Accept-Encoding": "gzip"}, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"  # the pre-compressed copy
    assert "immutable" in response.headers["Cache-Control"]
    assert response.content == (served["static_root"] / hashed).read_bytes()


def _log_entries(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON log line: {line!r}")
    return entries


def test_gunicorn_and_django_log_json_lines_with_the_request_id(served):
    response = requests.get(f"{served['base']}/no-such-page/", headers={**HTTPS, "X-Request-ID": "deploy-1"}, timeout=5)
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "deploy-1"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        mine = [e for e in _log_entries(served["log"]) if e["request_id"] == "deploy-1"]
        if {e["logger"] for e in mine} >= {"django.request", "gunicorn.access"}:
            break
        time.sleep(0.1)
    assert {e["logger"] for e in mine} >= {"django.request", "gunicorn.access"}
    assert all({"time", "level", "message", "job_id"} <= set(e) for e in mine)


def test_the_asgi_process_serves_the_site_and_the_mcp_endpoint(served):
    """The Procfile's asgi command (uvicorn, config.asgi) with the production
    settings and the database the web process uses."""
    port = _free_port()
    env = {**served["env"], "UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(port)}
    log_path = served["tmp"] / "uvicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            shlex.split(procfile()["asgi"]), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                health = requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"uvicorn did not answer:\n{log_path.read_text()}")
                time.sleep(0.2)
        assert health.status_code == 200 and health.text == "ok" and "server" not in health.headers
        page = requests.get(f"{base}/", timeout=5, allow_redirects=False)  # Django's middleware, over ASGI
        assert page.status_code == 301 and page.headers["Location"].startswith("https://127.0.0.1")
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        accept = {"Accept": "application/json, text/event-stream"}
        refused = requests.post(f"{base}/mcp/", json=body, headers=accept, timeout=5)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
        assert "server" not in refused.headers
        other = requests.post(f"{base}/mcp/", json=body, headers={**accept, "Host": "mirsam.evil"}, timeout=5)
        assert other.status_code == 400 and other.json()["error"]["code"] == "invalid_host"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run("python manage.py check --deploy --fail-level WARNING", production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr


def _setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", "import django; django.setup()"], env, timeout=60)


def test_production_settings_refuse_the_default_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = _setup(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set SECRET_KEY" in result.stderr

    result = _setup(production_env(tmp_path, SECRET_KEY="django-insecure-mirsam-development-key-change-me"))
    assert result.returncode != 0 and "Set SECRET_KEY" in result.stderr


def test_production_settings_refuse_missing_or_development_hosts(tmp_path):
    empty = _setup(production_env(tmp_path, ALLOWED_HOSTS=""))
    assert empty.returncode != 0
    assert "ImproperlyConfigured: Set ALLOWED_HOSTS" in empty.stderr and "empty" in empty.stderr

    env = production_env(tmp_path)
    del env["ALLOWED_HOSTS"]
    unset = _setup(env)
    assert unset.returncode != 0 and "development defaults" in unset.stderr

    defaults = _setup(production_env(tmp_path, ALLOWED_HOSTS="localhost,127.0.0.1,[::1],testserver"))
    assert defaults.returncode != 0 and "development defaults" in defaults.stderr


def test_production_settings_start_when_configured(tmp_path):
    result = _setup(production_env(tmp_path))
    assert result.returncode == 0, result.stderr


def test_production_settings_send_the_language_cookie_over_https_only(tmp_path):
    code = "from django.conf import settings as s; print(s.LANGUAGE_COOKIE_SECURE, s.LANGUAGE_COOKIE_HTTPONLY)"
    result = run([sys.executable, "-c", code], production_env(tmp_path), timeout=60)
    assert result.stdout.split() == ["True", "True"], result.stderr
