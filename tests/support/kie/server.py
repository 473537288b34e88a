"""A kie.ai that keeps tasks and answers by itself, on 127.0.0.1: Market
``createTask``/``recordInfo`` (docs/kie.md §2.1), Veo 3.1
``generate``/``extend``/``record-info`` (§2.2), Runway
``generate``/``extend``/``record-detail`` (§2.3), the upload host's
``file-stream-upload`` and ``chat/credit`` (§1), the envelope and its error
codes (§1), signed callbacks (§1 Callbacks) and a CDN serving the outputs.
Every body comes from :mod:`tests.support.kie.wire`, the builders the
scripted tests use, so both speak one wire format.

In a test, in a thread (no latency unless asked)::

    with KieFake(key=KIE_KEY, latency=(0, 0), generation=(0, 0)) as kie:
        settings.KIE_BASE_URL = settings.KIE_UPLOAD_BASE_URL = kie.url
        ...
        kie.calls  # one dict per call, as in the log below

As a process, for the benchmarks (bench/pipeline.py starts it)::

    python -m tests.support.kie --port 8765 --log calls.jsonl [--key KEY] [--hmac-key KEY]

Behaviour. Every API call sleeps a random ``latency`` (default 150–400 ms)
before answering, once the key and the body have been checked; the CDN
answers in ``cdn_latency`` (20–80 ms); a task is done ``generation`` (1–3 s)
after its creation (Veo and Runway: ``video_generation`` after it, when given)
and succeeds, with one output on the CDN (Market: a 256×256 PNG, or a PNG of
``image_bytes``; Veo and Runway: an MP4 of ``video_bytes`` (4 KiB), Runway
also a poster, the Market PNG or a PNG of ``poster_bytes``). A task created
with a ``callBackUrl`` is announced there when it is done: a JSON POST of its
family's callback body, signed as §1 says when ``hmac_key`` is set, one
attempt, 15 s timeout. Answers: a wrong or missing key is HTTP 401 with body
code 401; an unknown path HTTP 404; a create without its required fields
body code 422 (HTTP 200, as kie.ai); a detail query for an unknown task body
code 422 "recordInfo is null". Uploads are kept in memory and served at the
``downloadUrl`` the answer gives.

Fault injection (tests/test_faults.py): ``slow[op]`` adds seconds before
``create``, ``poll``, ``upload`` or ``download`` answers; ``received`` lists
requests as they arrive (``wait_for(op)`` blocks until one has); while
``down_until`` (Unix seconds) has not passed, every API call answers HTTP
503 (the CDN stays up).

The calls log. Each call is appended to ``calls`` and, with ``log``, to that
file as one JSON line: ``{"op", "task", "recv", "sent"}`` (Unix seconds,
taken when the request has been read and when the answer has been written),
so the benchmark can subtract the provider's own time from a job's. ``op`` is
``create`` (also ``done_at``), ``poll`` (also ``done``), ``download``,
``upload`` or ``credit``; a callback's line is ``{"op": "callback", "task",
"start", "end", "status"}``: ``end - start`` is the time the callback's
receiver (our web process) took to answer.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import wire
from .media import gradient_png, mp4_bytes, noise_png

MARKET, VEO, RUNWAY = "market", "veo", "runway"

# create path -> (family, is an extend)
CREATES = {
    wire.CREATE: (MARKET, False),
    wire.VEO_GENERATE: (VEO, False),
    wire.VEO_EXTEND: (VEO, True),
    wire.RUNWAY_GENERATE: (RUNWAY, False),
    wire.RUNWAY_EXTEND: (RUNWAY, True),
}
RECORDS = {wire.RECORD: MARKET, wire.VEO_RECORD: VEO, wire.RUNWAY_RECORD: RUNWAY}

Range = tuple[float, float]


@dataclass
class Task:
    """One task the fake keeps: its family, what the create asked, and times
    (Unix seconds)."""

    task_id: str
    family: str
    model: str
    prompt: str
    request: dict[str, Any]
    created: float
    done_at: float
    callback_url: str = ""


@dataclass
class _Upload:
    data: bytes
    content_type: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the benchmark opens many connections at once
    fake: KieFake


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class KieFake:
    """A stateful kie.ai on ``host``:``port`` (0: any free port); see the
    module docstring for what it answers. ``latency``, ``cdn_latency`` and
    ``generation`` are (low, high) seconds, drawn uniformly per call or task;
    ``video_generation`` the same for Veo and Runway tasks (None: ``generation``).
    ``image_bytes``, ``poster_bytes`` (0: the small gradient PNG) and
    ``video_bytes`` are the sizes of the outputs the CDN serves (bytes).
    ``key`` is the one API key accepted; ``hmac_key`` ("" = unsigned) signs
    callbacks; ``credits`` is what ``chat/credit`` reports; ``log`` a file the
    calls are appended to (JSON lines). Thread-safe."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        key: str = "bench-kie-key",
        hmac_key: str = "",
        latency: Range = (0.15, 0.40),
        cdn_latency: Range = (0.02, 0.08),
        generation: Range = (1.0, 3.0),
        video_generation: Range | None = None,
        credits: int = 100,
        log: str | Path | None = None,
        image_bytes: int = 0,
        video_bytes: int = 4096,
        poster_bytes: int = 0,
    ) -> None:
        self.key = key
        self.hmac_key = hmac_key
        self.latency = latency
        self.cdn_latency = cdn_latency
        self.generation = generation
        self.video_generation = video_generation or generation
        self.credits = credits
        self.tasks: dict[str, Task] = {}
        self.calls: list[dict[str, Any]] = []
        # Fault injection (tests/test_faults.py): extra seconds before an op
        # answers, ops as they arrive, and a time until which kie.ai is down.
        self.slow: dict[str, float] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.down_until = 0.0
        self.lock = threading.Lock()
        self._log = open(log, "a", buffering=1) if log else None
        self._png = noise_png(image_bytes, seed=1) if image_bytes > 0 else gradient_png()
        self._poster = noise_png(poster_bytes, seed=2) if poster_bytes > 0 else self._png
        self._mp4 = mp4_bytes(video_bytes)
        self._uploads: dict[str, _Upload] = {}
        self._due: list[tuple[float, str, str]] = []  # (done_at, task id, callback URL), a heap
        self._wake = threading.Condition(self.lock)
        self._senders = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kie-callback")
        self._stopping = False
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self.host, self.port = host, int(self._server.server_address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._announcer = threading.Thread(target=self._announce, name="kie-announcer", daemon=True)
        self._announcer.start()
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> KieFake:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kie-fake", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`shutdown` (from another thread or a signal handler)."""
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving (returns once the serving loop has ended)."""
        self._server.shutdown()

    def stop(self) -> None:
        """Stop serving, close the socket and the log; pending callbacks are dropped."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._senders.shutdown(wait=False, cancel_futures=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> KieFake:
        return self.start()

    # --- fault injection --------------------------------------------------------

    def arrived(self, op: str, payload: dict[str, Any] | None = None) -> None:
        """Note that a request for ``op`` has arrived (before it is answered)."""
        with self._wake:
            self.received.append((op, payload or {}))
            self._wake.notify_all()

    def wait_for(self, op: str, count: int = 1, timeout: float = 60) -> None:
        """Block until ``count`` requests for ``op`` have arrived in all;
        raises ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.time() + timeout
        with self._wake:
            while sum(1 for name, _ in self.received if name == op) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"{count} {op} request(s) did not arrive in {timeout} s")
                self._wake.wait(timeout=left)

    def is_down(self) -> bool:
        """Whether the API answers HTTP 503 now (``down_until``; the CDN stays up)."""
        return time.time() < self.down_until

    def pause(self, op: str) -> None:
        """Sleep ``slow[op]`` seconds, if set (a slow provider, so a test can act meanwhile)."""
        time.sleep(self.slow.get(op, 0.0))

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the calls log ----------------------------------------------------------------

    def record(self, **line: Any) -> None:
        """Append one line to the calls log (``calls`` and the ``log`` file)."""
        with self.lock:
            self.calls.append(line)
            if self._log is not None:
                self._log.write(json.dumps(line) + "\n")

    def calls_settled(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """The calls log once it has ``count`` lines: a line is written after
        its answer was sent (it records when), so a client that has read the
        answer may look before the server thread wrote it."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.calls) >= count or time.monotonic() > deadline:
                    return list(self.calls)
            time.sleep(0.01)

    def calls_of(self, op: str) -> list[dict[str, Any]]:
        """The lines of the calls log whose ``op`` is ``op``, in order."""
        with self.lock:
            return [c for c in self.calls if c["op"] == op]

    # --- tasks ------------------------------------------------------------------------

    def create(self, family: str, payload: dict[str, Any], *, recv: float) -> Task:
        """Keep a new task of ``family`` for a create ``payload`` received at
        ``recv``; it will be done after a random ``generation`` (a video's:
        ``video_generation``)."""
        if family == MARKET:
            task_id, model = "task_fake_" + uuid.uuid4().hex, payload["model"]
            prompt = payload["input"]["prompt"]
        elif family == VEO:
            task_id, model, prompt = (
                "veo_task_" + uuid.uuid4().hex,
                payload.get("model") or "veo3_fast",
                payload["prompt"],
            )
        else:
            task_id, model, prompt = str(uuid.uuid4()), "runway", payload["prompt"]
        task = Task(
            task_id=task_id,
            family=family,
            model=model,
            prompt=prompt,
            request=payload,
            created=recv,
            done_at=time.time() + random.uniform(*(self.generation if family == MARKET else self.video_generation)),
            callback_url=payload.get("callBackUrl") or "",
        )
        with self.lock:
            self.tasks[task_id] = task
        return task

    def task(self, task_id: str) -> Task | None:
        """The task ``task_id``, or None."""
        with self.lock:
            return self.tasks.get(task_id)

    def outputs(self, task: Task, base: str) -> dict[str, str]:
        """The task's output URLs on the CDN at ``base``: ``url`` and, for Runway, ``poster``."""
        if task.family == MARKET:
            return {"url": f"{base}{wire.CDN}{task.task_id}.png"}
        urls = {"url": f"{base}{wire.CDN}{task.task_id}.mp4"}
        if task.family == RUNWAY:
            urls["poster"] = f"{base}{wire.CDN}{task.task_id}.poster.png"
        return urls

    def detail(self, task: Task, base: str) -> dict[str, Any]:
        """The task's detail record ``data`` as its family's endpoint answers now."""
        now = time.time()
        done = now >= task.done_at
        out = self.outputs(task, base)
        if task.family == MARKET:
            return wire.record(
                "success" if done else "generating",
                task_id=task.task_id,
                urls=[out["url"]] if done else None,
                model=task.model,
                param=json.dumps({"model": task.model, "input": {"prompt": task.prompt}}),
                cost_time=_ms(task.done_at - task.created) if done else None,
                create_time=_ms(task.created),
                complete_time=_ms(task.done_at) if done else None,
                update_time=_ms(now),
            )
        if task.family == VEO:
            return wire.veo_record(
                1 if done else 0,
                task_id=task.task_id,
                urls=[out["url"]] if done else None,
                param=json.dumps(task.request),
                create_time=_ms(task.created),
                complete_time=_ms(task.done_at),
            )
        return wire.runway_record(
            "success" if done else "generating",
            task_id=task.task_id,
            video_url=out["url"] if done else "",
            image_url=out.get("poster", "") if done else "",
            prompt=task.prompt,
        )

    def callback_body(self, task: Task) -> bytes:
        """The callback kie.ai sends when ``task`` is done, in its family's shape."""
        out = self.outputs(task, self.url)
        if task.family == MARKET:
            return wire.callback_body(
                "success",
                task_id=task.task_id,
                urls=[out["url"]],
                model=task.model,
                param=json.dumps({"model": task.model, "input": {"prompt": task.prompt}}),
                cost_time=int(task.done_at - task.created),
                create_time=_ms(task.created),
                complete_time=_ms(task.done_at),
                update_time=_ms(time.time()),
            )
        if task.family == VEO:
            return wire.veo_callback_body(200, task_id=task.task_id, urls=[out["url"]])
        return wire.runway_callback_body(200, task_id=task.task_id, video_url=out["url"], image_url=out["poster"])

    # --- uploads and the CDN -------------------------------------------------------------

    def keep_upload(self, path: str, data: bytes, content_type: str) -> str:
        """Keep an uploaded file; returns its CDN path."""
        cdn_path = f"{wire.CDN}uploads/{path}"
        with self.lock:
            self._uploads[cdn_path] = _Upload(data, content_type)
        return cdn_path

    def cdn(self, path: str) -> tuple[bytes, str] | None:
        """(bytes, content type) the CDN serves at ``path``: an upload kept
        there (None if there is none), else a task's output, made up from the
        suffix (``.mp4`` the MP4, ``.poster.png`` the poster, anything else
        the PNG) for any name."""
        if path.startswith(f"{wire.CDN}uploads/"):
            with self.lock:
                upload = self._uploads.get(path)
            return None if upload is None else (upload.data, upload.content_type)
        if path.endswith(".mp4"):
            return self._mp4, "video/mp4"
        return (self._poster if path.endswith(".poster.png") else self._png), "image/png"

    # --- callbacks ------------------------------------------------------------------------

    def call_back_when_done(self, task: Task) -> None:
        """Queue the POST of ``task``'s callback for when it is done."""
        with self._wake:
            heapq.heappush(self._due, (task.done_at, task.task_id, task.callback_url))
            self._wake.notify()

    def _announce(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._due or self._due[0][0] > time.time()):
                    self._wake.wait(timeout=(self._due[0][0] - time.time()) if self._due else None)
                if self._stopping:
                    return
                _done_at, task_id, url = heapq.heappop(self._due)
            try:
                self._senders.submit(self._post_callback, task_id, url)
            except RuntimeError:  # stopped meanwhile
                return

    def _post_callback(self, task_id: str, url: str) -> None:
        task = self.task(task_id)
        if task is None:
            return
        body = self.callback_body(task)
        headers = {"Content-Type": "application/json"}
        if self.hmac_key:
            headers.update(wire.signed_headers(body, key=self.hmac_key))
        start = time.time()
        status: int | str
        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status = f"{type(exc).__name__}: {exc}"
        self.record(op="callback", task=task_id, start=start, end=time.time(), status=status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as kie.ai's HTTPS endpoints
    # Headers and body leave in separate writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK (~40 ms on loopback), time that would
    # land in our side of the measurement although no real provider adds it.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> KieFake:
        return self.server.fake

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
        if self.headers.get("Authorization") != f"Bearer {self.fake.key}":
            self._json(wire.envelope(None, code=401, msg=wire.UNAUTHORIZED_MSG), 401)
            return False
        return True

    def _down(self) -> bool:
        """Answer 503, as a kie.ai that is down does, when the fake is down."""
        if not self.fake.is_down():
            return False
        self._send(503, b"<html>503 Service Temporarily Unavailable</html>", "text/html")
        return True

    def _not_found(self) -> None:
        self._json(wire.envelope(None, code=404, msg="not found"), 404)

    def _sleep(self, span: Range) -> None:
        time.sleep(random.uniform(*span))

    def do_POST(self) -> None:
        recv = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if path == wire.UPLOAD:
            self.fake.arrived("upload")
            if self._down():
                return
            self._upload(body, recv)
            return
        if path not in CREATES:
            self._not_found()
            return
        if self._down() or not self._authorized():
            return
        family, extend = CREATES[path]
        try:
            payload = json.loads(body)
            if family == MARKET:
                payload["input"]["prompt"]
                payload["model"]
            else:
                payload["prompt"]
                if extend and not self.fake.task(payload["taskId"]):
                    raise KeyError("taskId")
        except (ValueError, KeyError, TypeError):
            self._json(wire.envelope(None, code=422, msg="bad request body"))
            return
        self.fake.arrived("create", payload)
        self.fake.pause("create")
        self._sleep(self.fake.latency)
        task = self.fake.create(family, payload, recv=recv)
        if task.callback_url:  # kie.ai calls back whether or not the creator heard the answer
            self.fake.call_back_when_done(task)
        try:
            self._json(wire.created(task.task_id))
        except OSError:  # the client went away while waiting (a killed worker)
            return
        self.fake.record(op="create", task=task.task_id, recv=recv, sent=time.time(), done_at=task.done_at)

    def _upload(self, body: bytes, recv: float) -> None:
        """``file-stream-upload``: multipart ``file``, ``uploadPath``, ``fileName`` (§1 File upload)."""
        if not self._authorized():
            return
        form: dict[str, str] = {}
        file: tuple[str, bytes, str] | None = None
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                filename = part.get_filename()
                if filename is not None:
                    file = (filename, data, part.get_content_type())
                elif isinstance(name, str):
                    form[name] = data.decode()
        if file is None or not form.get("uploadPath"):
            self._json({"success": False, "code": 400, "msg": "file and uploadPath are required", "data": None})
            return
        self.fake.pause("upload")
        self._sleep(self.fake.latency)
        file_name = form.get("fileName") or file[0]
        cdn_path = self.fake.keep_upload(f"{form['uploadPath']}/{file_name}", file[1], file[2])
        answer = wire.uploaded(
            f"{self.fake.url}{cdn_path}",
            file_name=file_name,
            upload_path=form["uploadPath"],
            size=len(file[1]),
            mime_type=file[2],
        )
        self._json(answer)
        self.fake.record(op="upload", task="", recv=recv, sent=time.time())

    def do_GET(self) -> None:
        recv = time.time()
        url = urlsplit(self.path)
        if url.path.startswith(wire.CDN):
            self.fake.arrived("download")
            self.fake.pause("download")
            self._sleep(self.fake.cdn_latency)
            served = self.fake.cdn(url.path)
            if served is None:
                self._not_found()
                return
            self._send(200, *served)
            name = url.path[len(wire.CDN) :].split(".")[0]  # the task id, for a task's output
            self.fake.record(op="download", task=name, recv=recv, sent=time.time())
            return
        if url.path == wire.CREDIT:
            if not self._authorized():
                return
            self._sleep(self.fake.latency)
            self._json(wire.envelope(self.fake.credits))
            self.fake.record(op="credit", task="", recv=recv, sent=time.time())
            return
        family = RECORDS.get(url.path)
        if family is None:
            self._not_found()
            return
        if self._down() or not self._authorized():
            return
        task_id = (parse_qs(url.query).get("taskId") or [""])[0]
        self.fake.arrived("poll", {"taskId": task_id})
        self.fake.pause("poll")
        self._sleep(self.fake.latency)
        task = self.fake.task(task_id)
        if task is None or task.family != family:
            self._json(wire.envelope(None, code=422, msg="recordInfo is null"))
            return
        base = f"http://{self.headers.get('Host', self.fake.host)}"
        done = time.time() >= task.done_at
        self._json(wire.envelope(self.fake.detail(task, base)))
        self.fake.record(op="poll", task=task_id, recv=recv, sent=time.time(), done=done)


# --- the command line --------------------------------------------------------------------


def _range(text: str) -> Range:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.support.kie``: serve until SIGTERM or SIGINT; returns 0."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.kie", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--key", default="bench-kie-key")
    parser.add_argument("--hmac-key", default="", help="sign callbacks with this webhook HMAC key (§1 Callbacks)")
    parser.add_argument("--latency", type=_range, default=(0.15, 0.40), help="seconds per API call, e.g. 0.15-0.40")
    parser.add_argument("--cdn-latency", type=_range, default=(0.02, 0.08), help="seconds per download")
    parser.add_argument("--generation", type=_range, default=(1.0, 3.0), help="seconds until a task is done")
    parser.add_argument(
        "--video-generation", type=_range, help="seconds until a Veo or Runway task is done (default: --generation)"
    )
    parser.add_argument("--image-bytes", type=int, default=0, help="size of the PNG outputs (0: a 256×256 gradient)")
    parser.add_argument("--video-bytes", type=int, default=4096, help="size of the MP4 outputs (default 4096)")
    parser.add_argument("--poster-bytes", type=int, default=0, help="size of Runway's poster PNG (0: the image PNG)")
    parser.add_argument("--credits", type=int, default=100, help="what GET /api/v1/chat/credit reports")
    args = parser.parse_args(argv)

    fake = KieFake(
        host=args.host,
        port=args.port,
        key=args.key,
        hmac_key=args.hmac_key,
        latency=args.latency,
        cdn_latency=args.cdn_latency,
        generation=args.generation,
        video_generation=args.video_generation,
        credits=args.credits,
        log=args.log,
        image_bytes=args.image_bytes,
        video_bytes=args.video_bytes,
        poster_bytes=args.poster_bytes,
    )

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=fake.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake kie.ai on {fake.url}", flush=True)
    fake.serve_forever()
    fake.stop()
    return 0
