"""Chart data from a report document: the maths of the pictures, apart from their drawing.

:func:`charts` turns a ``--report-json`` document (or the live one the web UI builds, same
shape) into a list of chart specs, plain JSON that ``assets/charts.js`` draws with uPlot —
in the HTML report (:mod:`loadkit.stats.html`) and in the web UI's Charts tab alike::

    {"id": "latency-0", "group": "latency", "title": "GET /items: latency over time",
     "x": {"kind": "time" | "log-percentile", "label": ...}, "y": {"label": "ms"},
     "xs": [...], "series": [{"label": "p99", "values": [...]}], "bands": [[x0, x1, why], ...]}

``bands`` mark stretches of x to shade (a saturated worker; the time a master was gone, in a
resumed run's latency and rate charts). Sections a run lacks (no
workers sampled, no open model) give no chart. Pure: no Locust, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from loadkit.fleet.saturation import CONSECUTIVE, CPU_LIMIT, LAG_LIMIT_MS, WARMUP_SAMPLES, saturation

Chart = dict[str, Any]
_TIME = {"kind": "time", "label": "time"}


def charts(document: Mapping[str, Any]) -> list[Chart]:
    """Every chart the document has data for, in display order."""
    timeline = document.get("timeline") or {}
    gaps = gap_bands(document.get("master_gaps") or [])
    return [
        *distribution_charts(document.get("distribution") or {}),
        *latency_charts(timeline, gaps),
        *rate_charts(timeline, gaps),
        *health_charts(((document.get("fleet") or {}).get("health") or {}).get("workers") or {}),
        *open_model_charts((document.get("run") or {}).get("load") or document.get("load") or {}),
    ]


def _ordered(keys: Sequence[str]) -> list[str]:
    """The total first, then the entries in their order."""
    return [k for k in keys if k == "Aggregated"] + [k for k in keys if k != "Aggregated"]


def distribution_charts(distribution: Mapping[str, Mapping[str, list[float]]]) -> list[Chart]:
    """Latency by percentile per entry, x = ``1/(1 - percentile)`` (HdrHistogram's plot)."""
    out = []
    for i, key in enumerate(_ordered(list(distribution))):
        pcts, values = distribution[key].get("percentile", []), distribution[key].get("ms", [])
        if not pcts:
            continue
        xs = [round(1.0 / (1.0 - p / 100.0), 6) for p in pcts[:-1]]
        last = xs[-1] if xs else 1.0
        xs.append(last * 2.0)  # the max (100 %) has no finite place: one step past the last sample's
        out.append(
            {
                "id": f"distribution-{i}",
                "group": "distribution",
                "title": f"{key}: latency by percentile",
                "x": {"kind": "log-percentile", "label": "percentile"},
                "y": {"label": "ms"},
                "xs": xs,
                "series": [{"label": "latency", "values": list(values)}],
                "bands": [],
            }
        )
    return out


def gap_bands(gaps: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Bands for the stretches a master was gone (a resumed run's ``master_gaps``, ISO times)."""
    bands: list[list[Any]] = []
    for gap in gaps:
        try:
            begin, end = (datetime.fromisoformat(str(gap[k])).timestamp() for k in ("from", "to"))
        except (KeyError, TypeError, ValueError):
            continue
        bands.append([begin, end, f"master gone {float(gap.get('seconds') or end - begin):.1f} s"])
    return bands


def latency_charts(timeline: Mapping[str, Any], gaps: Sequence[list[Any]] = ()) -> list[Chart]:
    """p50/p90/p99/max per slot for each entry and the total; ``gaps`` (:func:`gap_bands`) shaded."""
    entries = timeline.get("entries") or {}
    xs = list(timeline.get("t") or [])
    out = []
    for i, key in enumerate(_ordered(list(entries))):
        columns = entries[key]
        out.append(
            {
                "id": f"latency-{i}",
                "group": "latency",
                "title": f"{key}: latency over time",
                "x": _TIME,
                "y": {"label": "ms"},
                "xs": xs,
                "series": [{"label": name, "values": list(columns[name])} for name in ("p50", "p90", "p99", "max")],
                "bands": list(gaps),
            }
        )
    return out


def rate_charts(timeline: Mapping[str, Any], gaps: Sequence[list[Any]] = ()) -> list[Chart]:
    """Requests and failures per second of the whole run (the total's counts over slot widths), ``gaps`` shaded."""
    total = (timeline.get("entries") or {}).get("Aggregated")
    if not total:
        return []
    widths = timeline.get("w") or []
    return [
        {
            "id": "rates",
            "group": "rates",
            "title": "Requests and failures per second",
            "x": _TIME,
            "y": {"label": "per second"},
            "xs": list(timeline.get("t") or []),
            "series": [
                {
                    "label": "requests/s",
                    "values": [round(c / w, 3) for c, w in zip(total["count"], widths, strict=True)],
                },
                {
                    "label": "failures/s",
                    "values": [round(f / w, 3) for f, w in zip(total["failures"], widths, strict=True)],
                },
            ],
            "bands": list(gaps),
        }
    ]


def health_charts(workers: Mapping[str, Sequence[Mapping[str, float]]]) -> list[Chart]:
    """CPU % and gevent loop lag per worker; stretches where a worker saturated are shaded."""
    if not workers:
        return []
    names = sorted(workers)
    xs = sorted({float(s["time"]) for name in names for s in workers[name] if "time" in s})
    if not xs:
        return []
    index = {x: i for i, x in enumerate(xs)}
    bands = _saturation_bands(workers)
    out = []
    for field, title, unit, limit in (
        ("cpu_percent", "Worker CPU", "% of one core", CPU_LIMIT),
        ("loop_lag_ms", "Worker loop lag", "ms", LAG_LIMIT_MS),
    ):
        series: list[dict[str, Any]] = []
        for name in names:
            values: list[float | None] = [None] * len(xs)
            for sample in workers[name]:
                if "time" in sample and field in sample:
                    values[index[float(sample["time"])]] = round(float(sample[field]), 3)
            series.append({"label": name, "values": values})
        series.append({"label": "saturation limit", "values": [limit] * len(xs), "dash": True})
        out.append(
            {
                "id": f"health-{field}",
                "group": "health",
                "title": f"{title} ({unit}); shaded: a worker saturated",
                "x": _TIME,
                "y": {"label": unit},
                "xs": xs,
                "series": series,
                "bands": bands,
            }
        )
    return out


def _saturation_bands(workers: Mapping[str, Sequence[Mapping[str, float]]]) -> list[list[Any]]:
    """``[start, end, "worker: why"]`` per stretch where a worker counted as saturated.

    The master's rule (:class:`~loadkit.fleet.health.HealthStore`): the first sample never
    counts, then :data:`~loadkit.fleet.health.CONSECUTIVE` saturated samples in a row; a
    stretch starts with the interval before the first of them (a sample covers the time
    since the one before) and ends at the last.
    """

    bands: list[list[Any]] = []
    for name in sorted(workers):
        times = [float(s["time"]) for s in workers[name] if "time" in s]
        reasons = [
            saturation(dict(s)) if i >= WARMUP_SAMPLES else None
            for i, s in enumerate(s for s in workers[name] if "time" in s)
        ]
        i = 0
        while i < len(times):
            j = i
            while j < len(times) and reasons[j]:
                j += 1
            if j - i >= CONSECUTIVE:
                bands.append([times[i - 1] if i else times[i], times[j - 1], f"{name}: {reasons[i]}"])
            i = max(j, i + 1)
    return bands


def open_model_charts(load: Mapping[str, Any]) -> list[Chart]:
    """Open-model runs (the ``run.load`` section, ``"model": "open"``): target vs achieved rate.

    Columns per interval when the section has them — ``load["timeline"] = {"t": [...],
    "target_rps": [...], "achieved_rps": [...], "late": [...], "dropped": [...]}`` — else its
    ``per_second`` starts (``[[second from epoch, starts], ...]``) as the achieved rate, and
    as the target the iterations its profile (``arrival_rate`` or ``arrival_stages``) schedules
    in each of those seconds; late/dropped totals in the title.
    """
    timeline = dict(load.get("timeline") or {})
    if not timeline.get("t") and load.get("model") == "open" and load.get("per_second"):
        epoch = float(load.get("epoch") or 0.0)
        timeline = {
            "t": [epoch + float(s) for s, _ in load["per_second"]],
            "achieved_rps": [float(n) for _, n in load["per_second"]],
        }
        profile = _profile(load)
        if profile is not None:
            seconds = [float(s) for s, _ in load["per_second"]]
            timeline["target_rps"] = [round(profile.cumulative(s + 1) - profile.cumulative(s), 3) for s in seconds]
    xs = list(timeline.get("t") or [])
    if not xs:
        return []
    out = []
    totals = ""
    if load.get("iterations_late") is not None:
        totals = f" (late {load['iterations_late']}, dropped {load.get('iterations_dropped', 0)} in all)"
    labels = {"target_rps": "target it/s", "achieved_rps": "achieved it/s"}
    rates = [{"label": labels[k], "values": list(timeline[k])} for k in labels if k in timeline]
    if rates:
        title = f"Open model: target vs achieved arrival rate{totals}"
        out.append(_open_chart("open-rate", title, "iterations/s", xs, rates))
    misses = [{"label": k, "values": list(timeline[k])} for k in ("late", "dropped") if k in timeline]
    if misses:
        out.append(_open_chart("open-misses", "Open model: late and dropped iterations", "iterations", xs, misses))
    return out


def _profile(load: Mapping[str, Any]) -> Any:
    """The run's rate profile from its ``load`` section (None when it names none)."""
    from loadkit.load.profile import RateProfile, Stage

    if load.get("arrival_stages"):
        return RateProfile.ramping([Stage(float(d), float(t)) for d, t in load["arrival_stages"]])
    if load.get("arrival_rate") is not None:
        return RateProfile.constant(float(load["arrival_rate"]))
    return None


def _open_chart(chart_id: str, title: str, unit: str, xs: list[Any], series: list[dict[str, Any]]) -> Chart:
    return {
        "id": chart_id,
        "group": "open",
        "title": title,
        "x": _TIME,
        "y": {"label": unit},
        "xs": xs,
        "series": series,
        "bands": [],
    }
