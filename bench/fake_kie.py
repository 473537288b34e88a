"""A local kie.ai for bench/pipeline.py: the Market API's ``createTask`` and
``recordInfo`` (shared/kie/API.md §1 envelope, §2.1), its callbacks, and a CDN
serving a small PNG, with realistic latency, on 127.0.0.1 only.

    python -m bench.fake_kie --port 8765 --log calls.jsonl [--key KEY] [--hmac-key KEY]

A task created with a ``callBackUrl`` is announced there when it is done: a
JSON POST of the Market callback body (§2.1), signed as §1 Callbacks says
when ``--hmac-key`` is given, one attempt. Its line in the log is
``{"op": "callback", "task", "start", "end", "status"}``: ``end - start`` is
the time the callback's receiver (our web process) took to answer.

Every call sleeps a random 150–400 ms (``--latency``) before answering; the
CDN answers in 20–80 ms (``--cdn-latency``); a task is done 1–3 s after its
creation (``--generation``). Each call is appended to ``--log`` as one JSON
line: ``{"op", "task", "recv", "sent"}`` (Unix seconds, taken when the request
has been read and when the answer has been written), so the benchmark can
subtract the provider's own time from a job's. A task's line for ``create``
also carries ``done_at``. Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import hmac
import io
import json
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
CDN = "/cdn/"


def png_bytes(size: tuple[int, int] = (256, 256)) -> bytes:
    img = Image.new("RGB", size)
    img.putdata([((x * 7) % 256, (y * 5) % 256, 120) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tasks: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1)  # noqa: SIM115 - open for the server's life
        self.png = png_bytes()
        self.due: list[tuple[float, str, str]] = []  # (done_at, task id, callback URL), a heap
        self.wake = threading.Condition(self.lock)
        self.senders = ThreadPoolExecutor(max_workers=8)
        threading.Thread(target=self._announce, daemon=True).start()

    def record(self, **line: object) -> None:
        with self.lock:
            self.log.write(json.dumps(line) + "\n")

    def call_back_when_done(self, task_id: str, url: str) -> None:
        with self.wake:
            heapq.heappush(self.due, (self.tasks[task_id]["done_at"], task_id, url))
            self.wake.notify()

    def _announce(self) -> None:
        while True:
            with self.wake:
                while not self.due or self.due[0][0] > time.time():
                    self.wake.wait(timeout=(self.due[0][0] - time.time()) if self.due else None)
                _done_at, task_id, url = heapq.heappop(self.due)
            self.senders.submit(self._post_callback, task_id, url)

    def _post_callback(self, task_id: str, url: str) -> None:
        task = self.tasks[task_id]
        result_url = f"http://{self.args.host}:{self.args.port}{CDN}{task_id}.png"
        body = json.dumps(
            {
                "code": 200,
                "msg": "Playground task completed successfully.",
                "data": {
                    "taskId": task_id,
                    "model": task["model"],
                    "state": "success",
                    "param": json.dumps({"model": task["model"], "input": {"prompt": task["prompt"]}}),
                    "resultJson": json.dumps({"resultUrls": [result_url]}),
                    "failCode": None,
                    "failMsg": None,
                    "costTime": int(task["done_at"] - task["created"]),
                    "completeTime": int(task["done_at"] * 1000),
                    "createTime": int(task["created"] * 1000),
                    "updateTime": int(time.time() * 1000),
                    "creditsConsumed": 4,
                },
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.args.hmac_key:
            timestamp = str(int(time.time()))
            digest = hmac.new(self.args.hmac_key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
            headers["X-Webhook-Timestamp"] = timestamp
            headers["X-Webhook-Signature"] = base64.b64encode(digest.digest()).decode("ascii")
        start = time.time()
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status = f"{type(exc).__name__}: {exc}"
        self.record(op="callback", task=task_id, start=start, end=time.time(), status=status)


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as kie.ai's HTTPS endpoints
        # Headers and body leave in separate writes: with Nagle's algorithm the body
        # waits for the client's delayed ACK (~40 ms on loopback), time that would
        # land in our side of the measurement although no real provider adds it.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *a: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _json(self, data: object, status: int = 200) -> None:
            self._send(status, json.dumps(data).encode())

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {args.key}":
                self._json({"code": 401, "msg": "You do not have access permissions", "data": None}, 401)
                return False
            return True

        def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
            recv = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if urlsplit(self.path).path != CREATE:
                self._json({"code": 404, "msg": "not found", "data": None}, 404)
                return
            if not self._authorized():
                return
            try:
                payload = json.loads(body)
                prompt = payload["input"]["prompt"]
                model = payload["model"]
            except (ValueError, KeyError, TypeError):
                self._json({"code": 422, "msg": "bad request body", "data": None})
                return
            time.sleep(random.uniform(*args.latency))
            task_id = "task_bench_" + uuid.uuid4().hex
            done_at = time.time() + random.uniform(*args.generation)
            with state.lock:
                state.tasks[task_id] = {"model": model, "prompt": prompt, "created": recv, "done_at": done_at}
            self._json({"code": 200, "msg": "success", "data": {"taskId": task_id}})
            state.record(op="create", task=task_id, recv=recv, sent=time.time(), done_at=done_at)
            if payload.get("callBackUrl"):
                state.call_back_when_done(task_id, payload["callBackUrl"])

        def do_GET(self) -> None:  # noqa: N802
            recv = time.time()
            url = urlsplit(self.path)
            if url.path.startswith(CDN):
                time.sleep(random.uniform(*args.cdn_latency))
                self._send(200, state.png, "image/png")
                state.record(op="download", task=url.path[len(CDN) :].removesuffix(".png"), recv=recv, sent=time.time())
                return
            if url.path != RECORD:
                self._json({"code": 404, "msg": "not found", "data": None}, 404)
                return
            if not self._authorized():
                return
            task_id = (parse_qs(url.query).get("taskId") or [""])[0]
            time.sleep(random.uniform(*args.latency))
            with state.lock:
                task = state.tasks.get(task_id)
            if task is None:
                self._json({"code": 404, "msg": "task not found", "data": None})
                return
            done = time.time() >= task["done_at"]
            base = f"http://{self.headers.get('Host', args.host)}"
            data = {
                "taskId": task_id,
                "model": task["model"],
                "state": "success" if done else "generating",
                "param": json.dumps({"model": task["model"], "input": {"prompt": task["prompt"]}}),
                "resultJson": json.dumps({"resultUrls": [f"{base}{CDN}{task_id}.png"]}) if done else "",
                "failCode": "",
                "failMsg": "",
                "costTime": int((task["done_at"] - task["created"]) * 1000) if done else None,
                "completeTime": int(task["done_at"] * 1000) if done else None,
                "createTime": int(task["created"] * 1000),
                "updateTime": int(time.time() * 1000),
            }
            self._json({"code": 200, "msg": "success", "data": data})
            state.record(op="poll", task=task_id, recv=recv, sent=time.time(), done=done)

    return Handler


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--key", default="bench-kie-key")
    parser.add_argument("--hmac-key", default="", help="sign callbacks with this webhook HMAC key (§1 Callbacks)")
    parser.add_argument("--latency", type=_range, default=(0.15, 0.40), help="seconds per API call, e.g. 0.15-0.40")
    parser.add_argument("--cdn-latency", type=_range, default=(0.02, 0.08), help="seconds per download")
    parser.add_argument("--generation", type=_range, default=(1.0, 3.0), help="seconds until a task is done")
    args = parser.parse_args()

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer((args.host, args.port), make_handler(State(args)))

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake kie.ai on http://{args.host}:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
