"""Chart data from a report document, and the HTML page around it (pure)."""

from __future__ import annotations

import json
import re

from loadkit.stats.charts import charts, health_charts, open_model_charts
from loadkit.stats.html import script_json, to_html, verdict

T0 = 1_700_000_000
DOC = {
    "run": {"start_time_iso": "2026-01-01T00:00:00+00:00", "duration_s": 3.0, "host": "http://127.0.0.1:1"},
    "entries": [{"key": "GET /</script><b>x", "count": 10, "failures": 1, "rps": 3.3, "percentiles_ms": {"p50": 1.0}}],
    "total": {"key": "Aggregated", "count": 10, "failures": 1, "rps": 3.3, "percentiles_ms": {"p50": 1.0}},
    "thresholds": [{"expression": "p99<5ms", "op": "<", "expected": 5.0, "unit": "ms", "actual": 2.0, "passed": True}],
    "distribution": {
        "Aggregated": {"percentile": [0.0, 50.0, 90.0, 100.0], "ms": [0.5, 1.0, 2.0, 9.0]},
        "GET /</script><b>x": {"percentile": [0.0, 50.0, 100.0], "ms": [0.5, 1.0, 9.0]},
    },
    "timeline": {
        "start": T0,
        "t": [T0, T0 + 1, T0 + 2],
        "w": [1, 1, 2],
        "late": 0,
        "entries": {
            "Aggregated": {
                "count": [4, 0, 6],
                "failures": [1, 0, 2],
                "p50": [1.0, None, 1.0],
                "p90": [2.0, None, 2.0],
                "p99": [3.0, None, 3.0],
                "max": [9.0, None, 4.0],
            },
        },
    },
    "fleet": {
        "health": {
            "workers": {
                "w1": [
                    {"time": T0 + 1.0, "cpu_percent": 99.0, "loop_lag_ms": 1.0},  # start-up: never counts
                    {"time": T0 + 2.0, "cpu_percent": 95.0, "loop_lag_ms": 1.0},
                    {"time": T0 + 3.0, "cpu_percent": 96.0, "loop_lag_ms": 150.0},
                    {"time": T0 + 4.0, "cpu_percent": 10.0, "loop_lag_ms": 1.0},
                    {"time": T0 + 5.0, "cpu_percent": 99.0, "loop_lag_ms": 1.0},  # once: no verdict
                ],
                "w2": [{"time": T0 + 1.5, "cpu_percent": 5.0, "loop_lag_ms": 2.0}],
            }
        }
    },
}


def test_every_section_with_data_gives_its_charts() -> None:
    specs = charts(DOC)
    assert [s["id"] for s in specs] == [
        "distribution-0",
        "distribution-1",
        "latency-0",
        "rates",
        "health-cpu_percent",
        "health-loop_lag_ms",
    ]
    dist = specs[0]
    assert dist["title"].startswith("Aggregated") and dist["xs"][:3] == [1.0, 2.0, 10.0]
    assert dist["xs"][3] > dist["xs"][2]  # the max, past the last percentile
    rates = specs[3]["series"]
    assert rates[0]["values"] == [4.0, 0.0, 3.0] and rates[1]["values"] == [1.0, 0.0, 1.0]  # per second of width


def test_health_marks_saturation_and_aligns_workers_on_one_time_axis() -> None:
    cpu = health_charts(DOC["fleet"]["health"]["workers"])[0]
    assert cpu["xs"] == [T0 + 1.0, T0 + 1.5, T0 + 2.0, T0 + 3.0, T0 + 4.0, T0 + 5.0]
    assert cpu["series"][1]["values"] == [None, 5.0, None, None, None, None]
    # The master's rule: two saturated samples in a row, after the first; shaded from the sample before.
    assert cpu["bands"] == [[T0 + 1.0, T0 + 3.0, "w1: CPU 95% > 90%"]]


def test_open_model_charts_render_only_with_their_data() -> None:
    assert open_model_charts({}) == []
    load = {"timeline": {"t": [T0], "target_rps": [10.0], "achieved_rps": [9.5], "late": [1], "dropped": [0]}}
    ids = [c["id"] for c in charts({**DOC, "load": load})]
    assert ids[-2:] == ["open-rate", "open-misses"]
    # The open model's own summary (run.load): starts per second from its epoch, a constant target.
    run_load = {
        "model": "open",
        "epoch": T0,
        "arrival_rate": 50.0,
        "arrival_stages": [],
        "iterations_late": 3,
        "iterations_dropped": 1,
        "per_second": [[0, 48], [1, 50]],
    }
    rate = charts({**DOC, "run": {**DOC["run"], "load": run_load}})[-1]
    assert rate["xs"] == [T0, T0 + 1] and rate["title"].endswith("(late 3, dropped 1 in all)")
    assert [s["values"] for s in rate["series"]] == [[50.0, 50.0], [48.0, 50.0]]
    assert open_model_charts({"model": "closed"}) == []
    ramp = {**run_load, "arrival_rate": None, "arrival_stages": [[2.0, 20.0]], "per_second": [[0, 5], [1, 15], [2, 0]]}
    target = open_model_charts(ramp)[0]["series"][0]["values"]
    assert target == [5.0, 15.0, 0.0]  # 0 -> 20 it/s over 2 s, then the schedule ends


def test_page_is_self_contained_and_escapes_run_strings() -> None:
    page = to_html(DOC)
    assert "<b>x" not in page and "&lt;/script&gt;&lt;b&gt;x" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing fetched from a network
    assert "uPlot" in page and "LoadkitCharts" in page
    data = page.split('id="loadkit-charts-data" type="application/json">')[1].split("</script>")[0]
    assert [c["id"] for c in json.loads(data)] == [c["id"] for c in charts(DOC)]
    assert 'id="no-open-model"' in page
    assert "<td>Users</td>" in page and "<td>Model</td>" not in page


def test_an_open_model_page_names_its_profile_and_pool_not_a_user_count() -> None:
    load = {"model": "open", "profile": "constant 50 it/s", "max_users": 20}
    page = to_html({**DOC, "run": {**DOC["run"], "user_count": 0, "load": load}})
    assert "open: constant 50 it/s, pool of up to 20 users" in page and "<td>Users</td>" not in page


def test_script_json_cannot_close_its_script() -> None:
    assert "</" not in script_json({"name": "</script><script>alert(1)</script>"})


def test_verdict_follows_thresholds_then_failures() -> None:
    assert verdict(DOC) == (False, "FAIL: 1 requests failed (thresholds passed)")
    assert verdict({**DOC, "total": {"failures": 0}})[0] is True
    failing = {**DOC, "thresholds": [{"passed": False}, {"passed": True}]}
    assert verdict(failing) == (False, "FAIL: 1 of 2 thresholds failed")


def test_exemplars_are_a_table_per_entry_with_escaped_strings() -> None:
    row = {"trace_id": "ab" * 16, "latency_ms": 1234.5, "time": 0.0, "worker": "w<1>", "error": "<b>boom</b>"}
    section = {"GET /a<script>": {"slowest": [row], "bands": [{"range": "[1 ms, 4 ms)", "exemplars": [row]}]}}
    page = to_html({**DOC, "exemplars": section})
    assert "Slowest requests (exemplars)" in page and page.count("ab" * 16) == 2
    assert "<b>boom</b>" not in page and "&lt;b&gt;boom&lt;/b&gt;" in page and "GET /a&lt;script&gt;" in page
    assert "1,234.500" in page and "00:00:00.000" in page and "[1 ms, 4 ms)" in page
    assert "Slowest requests" not in to_html(DOC)  # no trace ids, no section
