"""What does the resume state file cost the master (loadkit.fleet.resume, rewritten every --report-interval)?

The same synthetic one-hour run as ``bench/checkpoint_cost.py`` (50 entries, its timeline as
the master holds it after an hour), plus Locust's stats of those 50 entries, their HDR
histograms, and a lease ledger (``faker:1000000``, 200 workers holding 50 rows each, 30,000
rows used, some given back out of order). Each round does what :meth:`Resume.write_once`
does: the in-loop part (one consistent copy: stats, histograms, the timeline's and the
ledger's sections) and the thread part (encode, JSON, write, fsync, rename). Prints the file's
size by section, the time of each part (median) and the loop's longest stall meanwhile.

    .venv/bin/python -m bench.state_cost [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import locust  # noqa: F401  # as in a master: gevent's monkey-patching first
from locust.stats import RequestStats

from bench.checkpoint_cost import _tick, one_hour_timeline
from loadkit.fleet import resume
from loadkit.fleet.pool import DataPool
from loadkit.fleet.sources import load_rows
from loadkit.stats.hdr import HdrRecorder


def fleet_ledger() -> DataPool:
    pool = DataPool(load_rows("faker:1000000"))
    for w in range(200):
        pool.lease(f"worker-{w:03d}", 200)
    for w in range(200):
        pool.ack(f"worker-{w:03d}", range(w * 200, w * 200 + 150))
    for w in range(0, 200, 10):
        pool.release(f"worker-{w:03d}")  # some died: their rows wait at the front of the pool
    return pool


def master(folder: Path) -> resume.Resume:
    stats = RequestStats()
    recorder = HdrRecorder()
    for e in range(50):
        name = f"/api/v1/resource-{e:02d}/{{id}}"
        for value in range(100, 100_000, 37):
            stats.log_request("GET", name, value / 1000.0, 512)
            recorder.record("GET", name, value / 1000.0)
    environment: Any = SimpleNamespace(runner=SimpleNamespace(stats=stats), parsed_options=None)
    part = resume.Resume(environment, recorder, folder / "report.json.state", None)
    part.started_at, part.planned_end = 1_700_000_000.0, 1_700_003_600.0
    part.seqs = {f"worker-{w:03d}": 1200 for w in range(200)}
    timeline, pool = one_hour_timeline(), fleet_ledger()
    part.state_parts["timeline"] = timeline.state
    part.state_parts["ledger"] = lambda: {**pool.state(), "connected": list(part.seqs)}
    return part


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        part = master(Path(tmp))
        assert part.path is not None
        rounds = []
        for _ in range(args.rounds + 1):  # the first is a warm-up
            gaps: list[float] = []
            ticker = gevent.spawn(_tick, gaps)
            gevent.sleep(0.01)
            started = time.perf_counter()
            state, histograms = part._take()
            in_loop = time.perf_counter() - started
            error = gevent.get_hub().threadpool.apply(resume._write, (part.path, state, histograms))
            wall = time.perf_counter() - started
            ticker.kill()
            assert error is None, error
            rounds.append((in_loop, wall - in_loop, wall, max(gaps)))
        rounds = rounds[1:]
        size = part.path.stat().st_size
        saved = json.loads(part.path.read_text())
    sections = {k: len(json.dumps(v)) for k, v in saved.items()}
    big = {k: f"{v / 1e6:.2f} MB" for k, v in sorted(sections.items(), key=lambda kv: -kv[1]) if v > 10_000}
    med = statistics.median
    print(f"one-hour run, 50 entries, a 1,000,000-row ledger on 200 workers: state file {size / 1e6:.2f} MB ({big})")
    print(f"in the loop (copies): median {med(r[0] for r in rounds) * 1000:.0f} ms")
    print(f"in a thread (encode + JSON + write + fsync): median {med(r[1] for r in rounds) * 1000:.0f} ms")
    print(f"whole write: median {med(r[2] for r in rounds) * 1000:.0f} ms")
    print(
        f"longest loop stall while it ran: median {med(r[3] for r in rounds) * 1000:.0f} ms, "
        f"max {max(r[3] for r in rounds) * 1000:.0f} ms (rounds: {args.rounds})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
