"""A progress line every few seconds while a run goes: a newcomer sees it is alive.

``loadkit demo`` and :class:`loadkit.LoadTest` (and the open model in a ``locust``
process, whose user count says nothing) print, Locust-style, one plain line per interval::

    loadkit: 10s/20s  4,210 reqs  412.3 req/s  0 failures (0.00%)  p99 12.4 ms  2 workers
    loadkit: 10s/20s  ... open model: target 100.0 it/s, achieved 99.8 it/s, late 0, dropped 0
    loadkit: 5s/12s  ... dropped 0  (master gone 8-14s: 0 of 600 iterations dropped)

Plain text with no ANSI codes or carriage returns, so a CI log stays quiet and readable.
:func:`progress_line` is pure; :func:`run_progress` is the greenlet that prints it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from loadkit.stats.snapshot import RunSnapshot

#: Seconds between two lines by default.
INTERVAL_S = 5.0


def progress_line(elapsed_s: float, total_s: float | None, snapshot: RunSnapshot, workers: int | None) -> str:
    """One line: elapsed/total, requests, req/s, failures, p99 so far, workers, open-model rates."""
    total = snapshot.total
    span = f"{elapsed_s:.0f}s/{total_s:.0f}s" if total_s else f"{elapsed_s:.0f}s"
    rps = total.count / elapsed_s if elapsed_s > 0 else 0.0
    ratio = total.failures / total.count if total.count else 0.0
    p99 = total.percentiles.values.get("p99") if total.count else None
    parts = [
        f"loadkit: {span}",
        f"{total.count:,} reqs",
        f"{rps:.1f} req/s",
        f"{total.failures:,} failures ({ratio:.2%})",
        "p99 -" if p99 is None else f"p99 {p99:.1f} ms",
    ]
    if workers:
        parts.append(f"{workers} workers")
    load = snapshot.meta.get("load")
    if isinstance(load, dict) and load.get("model") == "open":
        target, achieved = _rate(load.get("target_rate_now")), _rate(load.get("achieved_rate_now"))
        late, dropped = load.get("iterations_late", 0), load.get("iterations_dropped", 0)
        parts.append(f"open model: target {target}, achieved {achieved}, late {late}, dropped {dropped}")
        for gap in load.get("master_gaps") or []:  # a resumed master: what its absence cost the schedule
            parts.append(
                f"(master gone {gap.get('from_s', 0):.0f}-{gap.get('to_s', 0):.0f}s: "
                f"{gap.get('iterations_dropped', 0)} of {gap.get('iterations_intended', 0)} iterations dropped)"
            )
    return "  ".join(parts)


def _rate(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} it/s"


def run_progress(
    snapshot: Callable[[], RunSnapshot],
    workers: Callable[[], int | None],
    total_s: float | None,
    interval_s: float = INTERVAL_S,
    stream: IO[str] | None = None,
    already_s: float = 0.0,
) -> None:
    """Print :func:`progress_line` every ``interval_s`` until killed (run it as a greenlet).

    ``already_s``: the run went on that long before this line's clock (a resumed master, whose
    counts are the whole run's).
    """
    import gevent

    start = time.monotonic() - already_s
    while True:
        gevent.sleep(interval_s)
        line = progress_line(time.monotonic() - start, total_s, snapshot(), workers())
        print(line, file=stream or sys.stdout, flush=True)
