"""bench/latency.py's own logic, without starting anything: the event-stream
parser its push viewers read ``/events/`` with, how jobs are dealt to tabs,
the CPU accounting of processes that come and go, and the poll-only target."""

from __future__ import annotations

import io
import threading

import pytest

from bench.latency import cpu_used, deal, parse_event_stream, summarise


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
    gaps = {g: None for g in ("done_to_learned", "learned_to_stored", "stored_to_painted")}
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
