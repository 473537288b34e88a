"""The MCP server (api/mcp.py) driven by the official SDK's own client, as an
agent drives it: over stdio (``manage.py mcp_server`` spawned as the agent's
client spawns it, a real Celery worker finishing the demo job) and over
streamable HTTP (the Procfile's ``mcp`` command: uvicorn serving
``config.asgi``). Both server processes open the test database, so the tests
are transactional.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from typing import Any

import anyio
import httpx2
import pytest
import requests
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from credits.services import wallet_for
from generation import services
from generation.models import Job
from tests.support.env import ROOT
from tests.support.worker import database_url, worker_env
from tests.test_deploy import procfile

from .conftest import KeyClient

# serialized_rollback like every transactional test here: a plain one's flush re-creates the
# content types that the next serialized test then loads again (UNIQUE constraint failed).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TOOLS = {"list_models", "quote_price", "generate", "get_job", "get_balance"}
JOB = {"model": "test-demo", "prompt": "a lighthouse at dusk", "params": {"aspect_ratio": "16:9"}, "outputs": 2}
FINAL = {"succeeded", "failed", "canceled"}


def _secret(user, scopes=("read", "generate")) -> str:
    return api_key_create(user=user, name="agent", scopes=list(scopes))[1]


def _text(result) -> str:
    return result.content[0].text


# --- stdio ----------------------------------------------------------------------------


def test_an_agent_over_stdio_lists_quotes_generates_and_reads_the_finished_job(
    worker, settings, alice, demo_offer, tmp_path
):
    secret = _secret(alice)
    env = worker_env(
        settings, settings.MIRSAM_QUEUE_IMAGES, MIRSAM_API_KEY=secret, MIRSAM_SITE_URL="https://mirsam.example"
    )
    server = StdioServerParameters(command=sys.executable, args=["manage.py", "mcp_server"], env=env, cwd=ROOT)
    seen: dict[str, Any] = {}

    async def agent() -> None:
        with (tmp_path / "mcp-stderr.log").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                seen["init"] = await session.initialize()
                seen["tools"] = {tool.name: tool for tool in (await session.list_tools()).tools}
                seen["models"] = await session.call_tool("list_models", {"service": "image"})
                seen["quote"] = await session.call_tool("quote_price", JOB)
                seen["created"] = await session.call_tool("generate", JOB)
                job_id = seen["created"].structured_content["id"]
                deadline = time.monotonic() + 60
                while True:  # as an agent does: poll until the job is final
                    seen["job"] = await session.call_tool("get_job", {"job_id": job_id})
                    if seen["job"].structured_content["status"] in FINAL or time.monotonic() > deadline:
                        break
                    await anyio.sleep(0.5)
                seen["balance"] = await session.call_tool("get_balance", {})

    anyio.run(agent)

    assert seen["init"].server_info.name == "mirsam"
    tools = seen["tools"]
    assert set(tools) == TOOLS
    generate = tools["generate"].input_schema
    assert generate["required"] == ["model"]
    for name in ("model", "prompt", "params", "outputs", "uploads", "results", "idempotency_key"):
        assert generate["properties"][name].get("description"), name
    assert generate["properties"]["outputs"]["type"] == "integer"
    assert tools["get_job"].input_schema["properties"]["job_id"]["type"] == "integer"
    assert tools["get_job"].output_schema["properties"]["status"]

    models = seen["models"].structured_content["models"]
    assert "test-demo" in [m["slug"] for m in models] and {m["service"] for m in models} == {"image"}
    price = demo_offer.price_for(outputs=2, params={"aspect_ratio": "16:9"})
    quote = seen["quote"].structured_content
    assert not seen["quote"].is_error and quote["price"] == price and quote["available"] == 100
    created = seen["created"]
    assert not created.is_error, _text(created)
    assert created.structured_content["credits"]["held"] == price

    job = seen["job"].structured_content
    assert job["status"] == "succeeded", job
    assert job["credits"] == {"price": price, "held": 0, "charged": price, "returned": 0}
    assert len(job["outputs"]) == 2
    assert job["outputs"][0]["url"].startswith(f"https://mirsam.example/files/{job['outputs'][0]['id']}/?token=")
    assert seen["balance"].structured_content["balance"] == 100 - price == wallet_for(alice).balance
    assert Job.objects.get(pk=job["id"]).user == alice
    # stdout was the protocol only: the server's log lines went to stderr.
    assert "Traceback" not in (tmp_path / "mcp-stderr.log").read_text()


def test_the_stdio_server_refuses_to_start_with_a_revoked_key(alice, tmp_path):
    key, secret = api_key_create(user=alice, name="agent", scopes=["read"])
    api_key_revoke(key=key)
    from django.db import connection

    env = {**os.environ, "DATABASE_URL": database_url(connection), "MIRSAM_API_KEY": secret}
    done = subprocess.run(
        [sys.executable, "manage.py", "mcp_server"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stdout == "" and "This API key was revoked." in done.stderr


# --- streamable HTTP ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(django_db_setup, django_db_blocker, tmp_path_factory):
    """The Procfile's ``mcp`` process (uvicorn, config.asgi) on a free port, on the test database."""
    from django.db import connection

    port = _free_port()
    log_path = tmp_path_factory.mktemp("mcp") / "uvicorn.log"
    with django_db_blocker.unblock():
        url = database_url(connection)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "UVICORN_HOST": "127.0.0.1",
        "UVICORN_PORT": str(port),
        # Jobs started over HTTP run in the server process (the stdio test has the real worker).
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DEMO_DELAY_SECONDS": "0",
        "MIRSAM_POLL_SCHEDULE": "0",
        "MEDIA_ROOT": str(log_path.parent / "media"),
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            shlex.split(procfile()["asgi"]), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {proc.returncode}:\n{log_path.read_text()}")
            try:  # Django's own pages through the same ASGI application
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not answer:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield {"base": base, "url": f"{base}/mcp/", "log": log_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _over_http(url: str, secret: str | None, calls: list[tuple[str, dict]], **headers: str) -> dict[str, Any]:
    """Open an SDK client session on ``url`` with ``secret`` as the bearer key;
    list the tools and make ``calls``: ``{"tools": names, tool name: its last
    result, "results": every result in order}``."""
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    seen: dict[str, Any] = {"results": []}

    async def agent() -> None:
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            seen["tools"] = {tool.name for tool in (await session.list_tools()).tools}
            for name, arguments in calls:
                seen[name] = await session.call_tool(name, arguments)
                seen["results"].append(seen[name])

    anyio.run(agent)
    return seen


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def test_over_http_a_bearer_key_lists_the_tools_and_reads_the_balance(served, alice):
    seen = _over_http(served["url"], _secret(alice, scopes=["read"]), [("get_balance", {})])
    assert seen["tools"] == TOOLS
    assert not seen["get_balance"].is_error
    assert seen["get_balance"].structured_content == {"balance": 100, "held": 0, "available": 100, "owed": 0}


def test_over_http_no_key_or_a_revoked_key_is_refused_with_401(served, alice):
    bare = requests.post(served["url"], json=INITIALIZE, headers=ACCEPT, timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "unauthenticated"
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    key, secret = api_key_create(user=alice, name="agent", scopes=["read"])
    api_key_revoke(key=key)
    revoked = requests.post(
        served["url"], json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "revoked_key"
    wrong = requests.post(
        served["url"], json=INITIALIZE, headers={**ACCEPT, "Authorization": "Bearer msk_nope-nope-nope"}, timeout=10
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_key"
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's client cannot even open a session
        _over_http(served["url"], None, [])
    assert refused.group_contains(MCPError, match="error response")


def test_over_http_generate_without_the_scope_is_a_tool_error_in_the_owners_language(served, alice, demo_offer):
    alice.preferred_language = "ar"
    alice.save(update_fields=["preferred_language"])
    secret = _secret(alice, scopes=["read"])
    seen = _over_http(served["url"], secret, [("generate", JOB)])
    refused = seen["generate"]
    assert refused.is_error
    error = refused.structured_content["error"]
    assert error["code"] == "missing_scope"
    assert error["message"] != "This API key lacks the scope “generate”." and "generate" in error["message"]
    assert '"missing_scope"' in _text(refused)
    english = _over_http(served["url"], secret, [("generate", JOB)], **{"Accept-Language": "en"})["generate"]
    assert english.structured_content["error"]["message"] == "This API key lacks the scope “generate”."
    assert not Job.objects.filter(user=alice).exists()


def test_over_http_someone_elses_job_is_not_found(served, alice, charlie, demo_offer):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cat", "outputs": 1})
    seen = _over_http(served["url"], _secret(charlie), [("get_job", {"job_id": job.pk})])
    assert seen["get_job"].is_error
    assert seen["get_job"].structured_content["error"]["code"] == "not_found"
    mine = _over_http(served["url"], _secret(alice), [("get_job", {"job_id": job.pk})])["get_job"]
    assert not mine.is_error and mine.structured_content["id"] == job.pk


def test_over_http_generate_with_an_idempotency_key_starts_one_job(served, alice, demo_offer):
    body = {**JOB, "idempotency_key": "order-42"}
    results = _over_http(
        served["url"],
        _secret(alice),
        [("generate", body), ("generate", body), ("generate", {**body, "prompt": "another"})],
    )["results"]
    first, again, other = results
    assert not first.is_error and again.structured_content == first.structured_content
    assert Job.objects.filter(user=alice).count() == 1
    assert other.is_error and other.structured_content["error"]["code"] == "idempotency_mismatch"
    price = demo_offer.price_for(outputs=2, params={"aspect_ratio": "16:9"})
    assert wallet_for(alice).balance == 100 - price  # one hold, charged once (the job ran in the server)


def test_the_mcp_quote_is_the_rest_quote(served, alice, demo_offer):
    secret = _secret(alice)
    bodies = [
        JOB,
        {**JOB, "outputs": 4},
        {"model": "test-demo", "params": {"aspect_ratio": "1:1"}},  # no prompt: priced all the same
        {**JOB, "outputs": 99},  # refused by both, with the same error
        {**JOB, "model": "nope"},
    ]
    results = _over_http(served["url"], secret, [("quote_price", body) for body in bodies])["results"]
    rest = KeyClient(secret)
    for body, result in zip(bodies, results, strict=True):
        answer = rest.post("/api/v1/quote", body)
        assert result.structured_content == answer.json(), body
        assert result.is_error == (answer.status_code != 200)
    assert results[0].structured_content["price"] == demo_offer.price_for(outputs=2, params={"aspect_ratio": "16:9"})


def test_the_http_endpoint_refuses_a_host_outside_allowed_hosts(served, alice):
    secret = _secret(alice, scopes=["read"])
    headers = {**ACCEPT, "Authorization": f"Bearer {secret}"}
    rebound = requests.post(served["url"], json=INITIALIZE, headers={**headers, "Host": "evil.example"}, timeout=10)
    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "invalid_host"
    cross = requests.post(
        served["url"], json=INITIALIZE, headers={**headers, "Origin": "https://evil.example"}, timeout=10
    )
    assert cross.status_code == 403
    fine = requests.post(served["url"], json=INITIALIZE, headers=headers, timeout=10)
    assert fine.status_code == 200 and fine.json()["result"]["serverInfo"]["name"] == "mirsam"
    assert ApiKey.objects.get(prefix=secret[:12]).last_used_at is not None
