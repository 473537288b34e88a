"""Running one operation from many threads at the same moment, for the
concurrency tests of money paths (on PostgreSQL, each thread has its own
connection, so row locks and unique constraints really decide)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def at_once(count: int, attempt: Callable[[int], str], *, timeout: float = 60) -> list[str]:
    """Call ``attempt(n)`` for n in 0..count-1, each in a thread of its own,
    all released together by a barrier; returns what each returned, in the
    order they finished. An exception ``attempt`` did not expect is returned
    as ``"error: <repr>"`` (so a test sees it in its assertion), and every
    thread closes its database connection."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            barrier.wait()
            result = attempt(n)
        except Exception as exc:  # anything else is a bug: record it
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes
