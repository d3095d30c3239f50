"""The pictures of a real distributed run: the HTML report drawn in Chromium.

Master + 2 workers (``locust`` processes) fire synthetic requests for 8 s; one worker
blocks its loop now and then, so its health saturates. ~25 s on an idle 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fleet_procs import Procs

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FILES = Path(__file__).parent / "stats_files"
LOCUSTFILE = str(FILES / "pictures.py")


def _browse(html: Path, screenshot: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(FILES / "browse_report.py"), str(html), str(screenshot)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_html_report_of_a_distributed_run_draws_every_chart_with_data(procs: Procs, tmp_path: Path) -> None:
    html, report = tmp_path / "out" / "report.html", tmp_path / "out" / "report.json"
    master, port = procs.master(
        LOCUSTFILE,
        2,
        "-u",
        "20",
        "-r",
        "20",
        "-t",
        "8s",
        "--loadkit-health-interval",
        "0.5",
        "--threshold",
        "p99<2000ms",
        "--report-html",
        str(html),
        "--report-json",
        str(report),
    )
    fast_health = {"LOADKIT_HEALTH_INTERVAL": "0.5"}  # workers sample their own health
    procs.worker(LOCUSTFILE, port, env=fast_health)
    procs.worker(LOCUSTFILE, port, env={**fast_health, "LK_HOG": "1"})
    assert master.wait(timeout=120) == 1, master.output  # failed requests, thresholds passed: Locust's 1

    document = json.loads(report.read_text())
    timeline = document["timeline"]
    total = document["total"]
    assert sum(timeline["entries"]["Aggregated"]["count"]) == total["count"] > 1000
    assert sum(timeline["entries"]["Aggregated"]["failures"]) == total["failures"] > 0
    assert 7 <= len(timeline["t"]) <= 12 and set(timeline["w"]) == {1}

    page = _browse(html, tmp_path / "report.png")
    assert page["errors"] == [] and page["outside"] == [], page
    assert page["verdict"].startswith("FAIL: ") and "requests failed" in page["verdict"]
    charts = {c["id"]: c for c in page["charts"]}
    assert {c["group"] for c in charts.values()} == {"distribution", "latency", "rates", "health"}
    for chart in charts.values():
        assert chart["shown"] and chart["xs"] > 1, chart
        assert chart["inked"] > 30, chart  # the first series' line is on the canvas
        assert chart["series"][0] > 1, chart
    for i in range(3):  # Aggregated, GET /fast, GET /slow
        assert charts[f"distribution-{i}"]["series"][0] >= 20  # down to the 1/count tail
        assert len(charts[f"latency-{i}"]["series"]) == 4  # p50, p90, p99, max
        assert min(charts[f"latency-{i}"]["series"]) >= 7
    assert charts["rates"]["labels"] == ["requests/s", "failures/s"]
    assert charts["health-loop_lag_ms"]["bands"] >= 1, "the hogging worker's saturation is not marked"
    assert len(charts["health-cpu_percent"]["labels"]) == 3  # two workers and the limit
    assert charts["health-cpu_percent"]["xs"] >= 20  # 2 workers x 0.5 s over ~8 s
    print(f"screenshot: {tmp_path / 'report.png'}")
