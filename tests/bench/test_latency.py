"""bench/latency.py's own logic, without starting anything: the event-stream
parser its push viewers read ``/events/`` with, how jobs are dealt to tabs,
the CPU accounting of processes that come and go, and the poll-only target."""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.latency import Viewers, cpu_used, deal, parse_event_stream, summarise


def events(text: str) -> list[dict]:
    return list(parse_event_stream(io.BytesIO(text.encode())))


def test_the_event_stream_parser_follows_the_html_standard():
    stream = (
        ": a comment, a heartbeat\r\n"
        "retry: 3000\r\n"
        "\r\n"
        "event: job\n"
        'data: {"id": 7, "status": "succeeded"}\n'
        "id: 41\n"
        "\n"
        "data:first line\n"
        "data: second line\n"
        "\n"
        "event: job\n"
        "data: not json\n"
    )  # the last event has no blank line: the stream ended before it was complete
    assert events(stream) == [
        {"event": "job", "data": {"id": 7, "status": "succeeded"}, "id": "41"},
        {"event": "message", "data": "first line\nsecond line", "id": "41"},
    ]


def test_the_parser_stops_when_told_to_or_at_the_end():
    assert events("") == []
    halt = threading.Event()
    halt.set()
    assert list(parse_event_stream(io.BytesIO(b"data: 1\n\n"), halt)) == []


def test_jobs_are_dealt_to_tabs_in_a_fixed_shuffled_order():
    plans = deal(24, 6, 6, seed=21)
    assert [len(p) for p in plans] == [5] * 6
    assert sum(p.count("video") for p in plans) == 6
    assert plans == deal(24, 6, 6, seed=21) != deal(24, 6, 6, seed=22)
    assert deal(1, 1, 6, seed=1) in ([["image"], ["video"]], [["video"], ["image"]])


def test_cpu_of_a_process_born_during_a_slice_counts_whole_and_a_gone_one_not_below_zero():
    before = {"web": {1: 2.0, 2: 1.0}, "db": {10: 5.0}}
    after = {"web": {1: 2.5, 3: 0.25}, "db": {10: 5.0, 11: 0.5}}
    assert cpu_used(before, after) == {"web": 0.75, "db": 0.5}


def row(path: str, kind: str, *, task_s: float, done_to_painted: float | None) -> dict:
    gaps = {g: None for g in ("done_to_learned", "learned_to_stored", "stored_to_painted", "stored_to_shown")}
    painted = None if done_to_painted is None else 100.0 + done_to_painted
    return {
        "path": path,
        "kind": kind,
        "task_s": task_s,
        "done_to_painted": done_to_painted,
        "painted": painted,
        "learned_via": "poll",
        "paint_how": "element timing" if painted else "",
        **gaps,
    }


def test_the_poll_only_allowance_is_3_s_or_15_percent_of_the_task():
    rows = [
        row("poll", "image", task_s=10, done_to_painted=2.5),  # allowed 3 s: 0.5 s under
        row("poll", "video", task_s=40, done_to_painted=7.0),  # allowed 6 s: 1 s over
        row("poll", "video", task_s=40, done_to_painted=None),  # never painted
    ]
    out = summarise(rows)
    assert out["poll"]["image"]["over_allowance"]["max"] == pytest.approx(-0.5)
    assert out["poll"]["video"]["over_allowance"]["max"] == pytest.approx(1.0)
    assert out["poll"]["video"]["not_painted"] == 1
    assert out["poll"]["video"]["paint_how"] == {"element timing": 1, "never": 1}
    assert "callback" not in out


class _Events(BaseHTTPRequestHandler):
    """``/events/``: a chunked ``text/event-stream`` of three job events and a
    heartbeat, then held open; anything else 404."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/events/" or "sessionid=" not in self.headers.get("Cookie", ""):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n in range(3):
            chunk = f': keep-alive\n\nevent: job\ndata: {{"id": {n}, "status": "succeeded"}}\n\n'.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        time.sleep(30)  # held open, as a push channel is, until the client goes


@pytest.fixture
def events_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Events)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_push_viewers_hold_a_stream_each_and_count_its_events(events_server):
    viewers = Viewers("push", port=events_server, cards=[("key-a", 1), ("key-b", 2)], count=4, events_path="/events/")
    viewers.start()
    deadline = time.monotonic() + 10
    while viewers.snapshot() < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    viewers.stop()
    assert time.monotonic() - started < 5  # a held stream does not keep a viewer from stopping
    assert viewers.open_streams == 4 and viewers.answers == {200: 4}
    assert viewers.events == {"job": 12} and viewers.errors == []


def test_push_viewers_see_a_missing_endpoint_as_its_status(events_server):
    viewers = Viewers("push", port=events_server, cards=[("key-a", 1)], count=2, events_path="/nope/")
    viewers.start()
    deadline = time.monotonic() + 10
    while sum(viewers.answers.values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    viewers.stop()
    assert viewers.answers == {404: 2} and viewers.open_streams == 0 and viewers.snapshot() == 0
