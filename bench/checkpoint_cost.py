"""What does a report checkpoint cost the master (loadkit.stats.checkpoint)?

A synthetic one-hour run of 50 entries, 4 workers' health history (as
``bench/hdr_overhead.py`` builds it; ~2 MB of JSON): each round takes the document in the
gevent loop (the timeline's series, every entry's distribution — what the controller's
``_take_checkpoint`` does), then renders and writes JSON, JUnit and HTML (temporary file,
fsync, rename) in gevent's thread pool, as :class:`~loadkit.stats.checkpoint.Checkpointer`
does. A greenlet ticking every millisecond meanwhile measures the loop's longest stall: that
is what a worker's report waits at most while a checkpoint is written.

    .venv/bin/python -m bench.checkpoint_cost [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import locust  # noqa: F401  # as in a master: gevent's monkey-patching first

from loadkit.stats import checkpoint, hdr_cells
from loadkit.stats.checkpoint import Checkpointer, report_files
from loadkit.stats.hdr import HdrRecorder, Percentiles, copy_histogram
from loadkit.stats.reports import to_json_dict
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.timeline import Timeline, series_columns

START = 1_700_000_000


def one_hour_timeline(entries: int = 50, seconds: int = 3600) -> Timeline:
    rng = random.Random(3)
    shapes = [{int(rng.lognormvariate(7.0, 0.7)): 1 + rng.randrange(3) for _ in range(40)} for _ in range(16)]
    timeline = Timeline(START)
    for t in range(START, START + seconds):
        for e in range(entries):
            timeline.add(t, ("GET", f"/api/v1/resource-{e:02d}/{{id}}"), shapes[(t + e) % 16], failures=(t + e) % 2)
        if t % 5 == 0:
            timeline.settle(now=t)
    return timeline


def take(timeline: Timeline, recorder: HdrRecorder, folder: Path) -> Any:
    """The checkpoint's in-loop part, as the controller's: a snapshot and copies; the document comes later."""
    pct = Percentiles(1000, {"p50": 1.0, "p90": 2.0, "p99": 4.0}, 9.0)
    rows = tuple(EntryStats("GET", f"/api/v1/resource-{e:02d}/{{id}}", 1000, 1, 5.0, 1.0, 0.2, pct) for e in range(50))
    snapshot = RunSnapshot(rows, rows[0], {"start_time": float(START), "duration_s": 3600.0})
    sample = {"time": START, "cpu_percent": 50.0, "rss_mb": 80.0, "loop_lag_ms": 3.0, "users": 100.0, "rps": 500.0}
    parts = timeline.series_parts(now=START + 3700)
    copies = {f"{k[0]} {k[1]}": copy_histogram(recorder.histogram(k)) for k in recorder.keys()}  # noqa: SIM118  # the recorder's method, not a dict
    extra = {
        **checkpoint.status(START, START + 3600.0, False),
        "fleet": {"health": {"workers": {f"worker-{w}": [sample] * 1000 for w in range(4)}}},
    }

    def build() -> dict[str, Any]:
        pictures = {
            "timeline": series_columns(parts),
            "distribution": {k: hdr_cells.distribution(h) for k, h in copies.items()},
        }
        return to_json_dict(snapshot, [], {**pictures, **extra})

    files = report_files(
        {
            "report_json": str(folder / "r.json"),
            "report_junit": str(folder / "j.xml"),
            "report_html": str(folder / "r.html"),
        }.get
    )
    return files, snapshot, [], build


def _tick(gaps: list[float]) -> None:
    """Sleep 1 ms at a time, recording how long each sleep really took (the loop's stalls)."""
    last = time.perf_counter()
    while True:
        gevent.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    timeline = one_hour_timeline()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recorder = HdrRecorder()
        for e in range(50):
            for value in range(100, 100_000, 37):
                recorder.record("GET", f"/api/v1/resource-{e:02d}/{{id}}", value / 1000.0)
        writer = Checkpointer(3600.0, lambda: take(timeline, recorder, folder))
        writer.write_once()  # warm-up, not counted: the first settles and computes every slot's figures
        stalls = []
        baseline: list[float] = []
        for _ in range(args.rounds):
            gaps: list[float] = []
            ticker = gevent.spawn(_tick, gaps)
            gevent.sleep(0.01)
            started = time.perf_counter()
            cost = writer.write_once()
            wall = time.perf_counter() - started
            ticker.kill()
            idle: list[float] = []  # the same ticker for as long, without a checkpoint: this machine's noise
            ticker = gevent.spawn(_tick, idle)
            gevent.sleep(wall)
            ticker.kill()
            baseline.append(max(idle))
            assert cost is not None
            stalls.append((cost, wall, max(gaps)))
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    med = statistics.median
    print(f"one-hour run, 50 entries, 4 workers: files {sizes} (bytes)")
    print(f"in the loop (snapshot + document): median {med(c.loop_s for c, _, _ in stalls) * 1000:.0f} ms")
    print(f"in a thread (render + write + fsync): median {med(c.thread_s for c, _, _ in stalls) * 1000:.0f} ms")
    print(f"whole checkpoint: median {med(w for _, w, _ in stalls) * 1000:.0f} ms")
    print(
        f"longest loop stall while it ran: median {med(g for _, _, g in stalls) * 1000:.0f} ms, "
        f"max {max(g for _, _, g in stalls) * 1000:.0f} ms; without a checkpoint, as long: median "
        f"{med(baseline) * 1000:.0f} ms, max {max(baseline) * 1000:.0f} ms (rounds: {args.rounds})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
