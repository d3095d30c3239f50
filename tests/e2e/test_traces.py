"""Traces that connect, in real processes: a `locust` master + 2 workers against the real targets.

The targets record every ``traceparent`` they receive with their own handling time; the report's
exemplars must name requests the targets saw, at the latency they saw (plus the client's side).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from loadkit.users.tracing import is_sampled
from tests.support import free_port
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

LOCUSTFILE = str(Path(__file__).parent / "trace_files" / "traced.py")
LOCUST = [sys.executable, "-m", "locust"]
RATIO = 0.5


def test_exemplars_name_requests_the_targets_saw(tmp_path: Path, start_target: Callable[..., Target]) -> None:
    grpc_target, http_target = start_target("grpc"), start_target("http")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    log = tmp_path / "requests"
    env |= {
        "LK_GRPC": grpc_target.url,
        "LK_HTTP": http_target.url,
        "LK_TRACE_LOG": str(log),
        "LOADKIT_TRACE_CONTEXT": "true",
        "LOADKIT_TRACE_SAMPLE_RATIO": str(RATIO),
    }
    port = str(free_port())
    master = subprocess.Popen(
        [
            *LOCUST,
            "-f",
            LOCUSTFILE,
            "--headless",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--expect-workers",
            "2",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "6s",
            "--report-json",
            "report.json",
            "--report-html",
            "report.html",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker_args = [*LOCUST, "-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1", "--master-port", port]
    workers = [
        subprocess.Popen(worker_args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=180)
        for worker in workers:
            worker.wait(timeout=60)
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode in (0, 1), output[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    seen: dict[str, dict[str, object]] = {}
    for target in (grpc_target, http_target):
        traces = target.traces()
        # every request the target saw carried a valid traceparent, sampled by the ratio
        assert traces["requests"] == traces["valid"] > 50 and traces["invalid"] == traces["missing"] == 0, traces
        n = traces["valid"]
        assert abs(traces["sampled"] - n * RATIO) <= 5 * math.sqrt(n * RATIO * (1 - RATIO))
        for record in traces["recent"]:
            assert record["sampled"] == is_sampled(str(record["trace_id"]), RATIO)
            seen[str(record["trace_id"])] = record

    # what each worker's request events said: (type, trace id) -> client latency (ms)
    client = {}
    for part in tmp_path.glob("requests.*"):
        for line in part.read_text().splitlines():
            request_type, trace_id, ms = line.split()
            client[(request_type, trace_id)] = float(ms)

    exemplars = report["exemplars"]
    entries = {e["key"] for e in report["entries"]}
    assert {"grpc /demo.v1.Demo/GetItem", "grpc /demo.v1.Demo/Chat", "GET /health"} <= set(exemplars) <= entries
    workers_named = set()
    for entry, sets in exemplars.items():
        rows = [*sets["slowest"], *(e for b in sets["bands"] for e in b["exemplars"])]
        assert len(sets["slowest"]) == 10 and len(sets["bands"]) >= 2, entry
        for row in rows:
            record = seen[row["trace_id"]]  # a request the target saw
            # at the latency its request event had, which holds the target's handling time
            assert row["latency_ms"] == round(client[(entry.split()[0], row["trace_id"])], 3), (entry, row)
            if not entry.startswith("grpc-ttfm"):  # the first message comes before the server is done
                assert float(record["latency_ms"]) - 0.01 <= row["latency_ms"], (entry, row, record)  # type: ignore[arg-type]
            assert row["worker"] and row["worker"] != "local"
            workers_named.add(row["worker"])
        slowest = sets["slowest"]
        assert [r["latency_ms"] for r in slowest] == sorted((r["latency_ms"] for r in slowest), reverse=True)
        assert slowest[0]["latency_ms"] >= 120  # the 120 ms class is among every entry's requests
    assert len(workers_named) == 2  # merged from both workers
    html = (tmp_path / "report.html").read_text()
    assert "Slowest requests (exemplars)" in html and exemplars["GET /health"]["slowest"][0]["trace_id"] in html
