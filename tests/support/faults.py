"""The fault-injection suite's table (tests/test_faults.py): one row per
fault, printed at the end of the run by tests/conftest.py."""

from __future__ import annotations

from typing import Any

HEADER = ("fault", "at", "outcome", "ended after")
ROWS: list[tuple[str, str, str, str]] = []


def add(fault: str, step: str, outcome: str, seconds: float) -> None:
    """Record what one fault led to and how long after it the job ended."""
    ROWS.append((fault, step, outcome, f"{seconds:.1f} s"))


def report(terminalreporter: Any) -> None:
    """Write the table to pytest's terminal (nothing when no fault ran)."""
    if not ROWS:
        return
    widths = [max(len(row[i]) for row in [HEADER, *ROWS]) for i in range(len(HEADER))]
    terminalreporter.section("fault injection (tests/test_faults.py)")
    for row in [HEADER, tuple("-" * w for w in widths), *ROWS]:
        terminalreporter.write_line("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
