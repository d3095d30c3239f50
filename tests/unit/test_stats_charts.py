"""Chart data from a report document (pure): which charts, health alignment, open-model charts."""

from __future__ import annotations

from loadkit.stats.charts import charts, health_charts, open_model_charts
from tests.support.report_doc import DOC, T0


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


def test_the_time_a_master_was_gone_is_shaded_in_the_timeline_charts() -> None:
    gap = {"from": "2023-11-14T22:13:25+00:00", "to": "2023-11-14T22:13:28+00:00", "seconds": 3.0}
    specs = charts({**DOC, "master_gaps": [gap, {"from": "garbage"}]})
    timed = [c for c in specs if c["group"] in ("latency", "rates")]
    assert timed and all(c["bands"] == [[1700000005.0, 1700000008.0, "master gone 3.0 s"]] for c in timed)
    assert all(not c["bands"] for c in charts(DOC) if c["group"] in ("latency", "rates"))
