"""The pictures of real distributed runs: the HTML report and the web UI's Charts tab drawn
in Chromium, and the Prometheus endpoint scraped while the run goes on and after it.

Master + 2 workers (``locust`` processes), and a local open-model run, fire synthetic requests; no
target needed. ~50 s in all on an idle 2-core machine (report 14 s, live tab + Prometheus 27 s, open model 7 s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import Procs, free_port, wait_for

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


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by name, parsed with prometheus_client's own parser."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _values(samples: dict[str, list[tuple[dict[str, str], float]]], metric: str, /, **labels: str) -> list[float]:
    return [v for lab, v in samples.get(metric, []) if all(lab.get(k) == x for k, x in labels.items())]


def _one(samples: dict[str, list[tuple[dict[str, str], float]]], metric: str, /, **labels: str) -> float:
    found = _values(samples, metric, **labels)
    assert len(found) == 1, (metric, labels, samples.get(metric))
    return found[0]


def test_live_charts_tab_and_prometheus_quantiles_agree_with_the_report(procs: Procs, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    web_port = free_port()
    master, port = procs.master(
        LOCUSTFILE,
        2,
        "-u",
        "20",
        "-r",
        "20",
        "-t",
        "12s",
        "--autostart",
        "--autoquit",
        "8",
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(web_port),
        "--prometheus-port",
        "0",
        "--loadkit-health-interval",
        "0.5",
        "--threshold",
        "p99<2000ms",
        "--report-json",
        str(report),
        "--loadkit-data",
        "faker:1000",
        "--loadkit-data-mode",
        "cyclic",
        headless=False,
    )
    procs.worker(LOCUSTFILE, port, env={"LOADKIT_HEALTH_INTERVAL": "0.5"})
    procs.worker(LOCUSTFILE, port, env={"LOADKIT_HEALTH_INTERVAL": "0.5"})
    line = wait_for(lambda: master.find("Prometheus metrics on "), 60, "the metrics server")[0][1]
    metrics = line.split("Prometheus metrics on ")[1].strip()
    assert metrics.startswith("http://127.0.0.1:")  # loopback unless told otherwise

    # While the run goes on: the scrape parses, and has requests, quantiles, both workers' health.
    live = wait_for(
        lambda: (
            (s := _scrape(metrics))
            and _values(s, "loadkit_requests_total", type="GET", name="/fast")
            and len(s.get("loadkit_worker_cpu_ratio", [])) == 2
            and s
        ),
        40,
        "requests and 2 workers",
    )
    assert _one(live, "loadkit_workers") == 2
    assert _one(live, "loadkit_request_duration_seconds", type="GET", name="/slow", quantile="0.99") > 0.02
    assert _one(live, "loadkit_data_rows") == 1000
    tab = subprocess.run(
        [
            sys.executable,
            str(FILES / "browse_charts_tab.py"),
            f"http://127.0.0.1:{web_port}/",
            str(tmp_path / "tab.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tab.returncode == 0, tab.stdout + tab.stderr
    seen = json.loads(tab.stdout)
    assert seen["errors"] == []
    later = {c["id"]: c for c in seen["later"]}
    assert {c["group"] for c in later.values()} >= {"distribution", "latency", "rates", "health"}
    assert all(c["shown"] and c["points"] > 0 for c in later.values()), later
    first = {c["id"]: c for c in seen["first"]}
    assert later["rates"]["points"] > first["rates"]["points"], "the Charts tab did not refresh"

    # After the run, before the master quits: the quantiles are the report's.
    final = wait_for(
        lambda: (
            (s := _scrape(metrics))
            and s["loadkit_run_info"][0][0]["state"] == "stopped"
            and _values(s, "loadkit_workers") == [0]
            and s
        ),
        60,
        "the run to stop and the workers to leave",
    )
    assert master.wait(timeout=60) == 1, master.output  # synthetic failures: Locust's 1
    document = json.loads(report.read_text())
    for row in document["entries"]:
        labels = {"type": row["type"], "name": row["name"]}
        assert _one(final, "loadkit_requests_total", **labels) == row["count"]
        assert _one(final, "loadkit_request_failures_total", **labels) == row["failures"]
        assert _one(final, "loadkit_request_duration_seconds_count", **labels) == row["hdr_count"]
        for label, quantile in (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("p99.9", "0.999")):
            scraped = _one(final, "loadkit_request_duration_seconds", quantile=quantile, **labels)
            assert scraped * 1000 == pytest.approx(row["percentiles_ms"][label], rel=1e-9), (labels, label)
    total = document["total"]["percentiles_ms"]
    assert _one(final, "loadkit_request_duration_all_seconds", quantile="0.99") * 1000 == pytest.approx(total["p99"])
    print(f"tab screenshot: {tmp_path / 'tab.png'}")


def test_open_model_run_draws_target_vs_achieved_rate_and_serves_its_metrics(procs: Procs, tmp_path: Path) -> None:
    html = tmp_path / "open.html"
    run = procs.start(
        "open",
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            LOCUSTFILE,
            "--headless",
            "--arrival-rate",
            "100",
            "-t",
            "5s",
            "--prometheus-port",
            "0",
            "--report-html",
            str(html),
        ],
    )
    line = wait_for(lambda: run.find("Prometheus metrics on "), 60, "the metrics server")[0][1]
    metrics = line.split("Prometheus metrics on ")[1].strip()
    live = wait_for(
        lambda: (
            (s := _scrape(metrics))
            and _values(s, "loadkit_open_model_iterations_started_total") > [0]
            and _values(s, "loadkit_open_model_target_iterations_per_second") > [0]  # 0 before the schedule starts
            and s
        ),
        30,
        "open-model metrics",
    )
    assert _one(live, "loadkit_open_model_target_iterations_per_second") == pytest.approx(100.0)
    assert _one(live, "loadkit_open_model_iterations_started_total") > 0
    assert run.wait(timeout=60) == 1, run.output  # synthetic failures: Locust's 1
    page = _browse(html, tmp_path / "open.png")
    assert page["errors"] == [], page
    rate = next(c for c in page["charts"] if c["id"] == "open-rate")
    assert rate["labels"] == ["target it/s", "achieved it/s"] and rate["inked"] > 30
    assert min(rate["series"]) >= 3  # a point per second of the schedule, both lines
