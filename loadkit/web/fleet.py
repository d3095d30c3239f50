"""loadkit's "Fleet" tab in Locust's web UI, and its JSON endpoint.

Extended the way Locust's own ``examples/extend_web_ui.py`` does: ``extended_tabs`` /
``extended_tables`` in the web UI's template args declare the tab and its columns, and an
``after_request`` hook adds the rows to ``/stats/requests`` under ``extended_stats`` — the
page polls that every couple of seconds, so the tab refreshes live with no JS of ours.

- ``GET /loadkit/fleet``: the same data as JSON (fleet summary, the worst workers, agents,
  data pool, HDR latency), under ``--web-base-path`` and behind the UI's login like
  Locust's own routes; ``?limit=N`` lists N workers instead of :data:`TOP_WORKERS`.

At 1,000 workers neither re-sends 1,000 rows every 2 s: a fleet row (p50/max of each figure,
saturated count) and the :data:`TOP_WORKERS` worst workers (:mod:`loadkit.fleet.summary`).

Rendering only: the figures come from :mod:`loadkit.fleet` (and :mod:`loadkit.stats`).
"""

from __future__ import annotations

from typing import Any

from locust.env import Environment

from loadkit._locust import runners as locust_runners
from loadkit.fleet.summary import fleet_summary, worst
from loadkit.fleet.view import fleet_view
from loadkit.web import tabs

FLEET_KEY = "loadkit-fleet"
#: Workers the Fleet tab lists (the worst first); a larger fleet gets a summary row above them.
TOP_WORKERS = 50
LATENCY_KEY = "loadkit-latency"

FLEET_COLUMNS = [
    ("node", "Node"),
    ("kind", "Kind"),
    ("cpu_percent", "CPU %"),
    ("memory_mb", "Memory MiB"),
    ("net_kbps", "Net KiB/s (out/in)"),
    ("loop_lag_ms", "Loop lag ms"),
    ("users", "Users"),
    ("connections", "Connections"),
    ("rps", "RPS"),
    ("failures", "Failures/s"),
    ("rows", "Rows leased/used"),
    ("status", "Status"),
]
LATENCY_COLUMNS = [
    ("name", "Name"),
    ("p50", "p50 ms"),
    ("p90", "p90 ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
    ("p999", "p99.9 ms"),
    ("max", "Max ms"),
]
#: Column key -> label in ``summary()["entries"][i]["percentiles_ms"]`` (keys must be plain for the UI).
_PERCENTILE_LABELS = {"p999": "p99.9"}


def _num(sample: dict[str, Any], key: str, digits: int = 1) -> str:
    value = sample.get(key)
    return "" if value is None else f"{float(value):.{digits}f}"


def worker_rows(environment: Environment, limit: int = TOP_WORKERS) -> list[dict[str, Any]]:
    """A fleet row when the fleet has more than ``limit`` workers, the ``limit`` worst workers, the agents."""
    view = fleet_view(environment)
    health, leasing = view.health, view.leasing
    pool = leasing.pool.summary()["workers"] if leasing is not None and leasing.pool is not None else {}
    rows = []
    store = health.store if health is not None else None
    latest = store.latest if store else {}
    if store and len(latest) > limit:
        rows.append(_fleet_row(fleet_summary(latest, store.saturated), limit))
    for node in worst(latest, store.saturated if store else {}, limit):
        sample, lease = latest[node], pool.get(node, {})
        status = "ok"
        if locust_runners.has_worker(environment.runner, node) is False:  # a master that no longer has it
            status = "gone"
        elif store and node in store.saturated:
            status = "saturated: " + store.saturated[node]
        rows.append(
            {
                "node": node,
                "kind": "worker",
                "cpu_percent": _num(sample, "cpu_percent"),
                "memory_mb": _num(sample, "rss_mb"),
                "net_kbps": f"{sample.get('net_sent_bps', 0) / 1024:.0f}/{sample.get('net_recv_bps', 0) / 1024:.0f}",
                "loop_lag_ms": _num(sample, "loop_lag_ms"),
                "users": _num(sample, "users", 0),
                "connections": _num(sample, "connections", 0),
                "rps": _num(sample, "rps"),
                "failures": _num(sample, "fail_per_s"),
                "rows": f"{lease.get('leased', 0)}/{lease.get('used', 0)}",
                "status": status,
            }
        )
    for url, agent in (store.agents if store else {}).items():
        sample = agent.get("latest", {})
        rows.append(
            {
                "node": url,
                "kind": "agent",
                "cpu_percent": _num(sample, "cpu_percent"),
                "memory_mb": _num(sample, "mem_used_mb", 0),
                "net_kbps": f"{sample.get('net_sent_bps', 0) / 1024:.0f}/{sample.get('net_recv_bps', 0) / 1024:.0f}",
                "status": agent.get("error", "ok"),
            }
        )
    return rows


def _fleet_row(summary: dict[str, Any], limit: int) -> dict[str, Any]:
    def spread(figure: str, digits: int = 1) -> str:
        value = summary.get(figure)
        return f"{value['p50']:.{digits}f} / {value['max']:.{digits}f}" if isinstance(value, dict) else ""

    return {
        "node": f"fleet: {summary['workers']} workers (p50 / max); the {limit} worst below",
        "kind": "fleet",
        "cpu_percent": spread("cpu_percent"),
        "memory_mb": spread("rss_mb"),
        "loop_lag_ms": spread("loop_lag_ms"),
        "users": spread("users", 0),
        "connections": spread("connections", 0),
        "rps": spread("rps"),
        "failures": spread("fail_per_s"),
        "status": f"{summary['saturated']} saturated",
    }


def latency_rows(environment: Environment) -> list[dict[str, Any]]:
    """HDR percentiles (ms) per entry and total, from ``loadkit.stats.summary(environment)``."""
    try:
        from loadkit.stats import summary
    except ImportError:  # the stats part is optional for this tab
        return []
    try:
        data = summary(environment)
    except Exception:  # a stats problem must not break the fleet tab
        return []
    rows = []
    for entry in [*data.get("entries", []), data.get("total") or {}]:
        if not entry:
            continue
        pct = entry.get("percentiles_ms", {})
        row = {"name": str(entry.get("key", entry.get("name", "")))}
        for key, _title in LATENCY_COLUMNS[1:]:
            value = pct.get(_PERCENTILE_LABELS.get(key, key))
            row[key] = "" if value is None else f"{float(value):.3f}"
        rows.append(row)
    return rows


def fleet_snapshot(environment: Environment, limit: int = TOP_WORKERS) -> dict[str, Any]:
    """Everything the Fleet tab shows, JSON-ready (``GET /loadkit/fleet[?limit=N]``): the ``limit`` worst workers."""
    view = fleet_view(environment)
    health, leasing = view.health, view.leasing
    store = health.store if health is not None else None
    latest = store.latest if store else {}
    shown = worst(latest, store.saturated, limit) if store else []
    return {
        "fleet": fleet_summary(latest, store.saturated) if store else {"workers": 0, "saturated": 0},
        "workers": {n: {**latest[n], "saturated": store.saturated.get(n)} for n in shown} if store else {},
        "agents": dict(store.agents) if store else {},
        "warnings": [{"worker": w, "reason": r} for w, r in store.warnings] if store else [],
        "data": leasing.pool.summary() if leasing is not None and leasing.pool is not None else None,
        "latency": latency_rows(environment),
    }


def _limit() -> int:
    """``?limit=N`` of the request being served: workers to list (default :data:`TOP_WORKERS`)."""
    from flask import request

    value = request.args.get("limit", type=int)
    return TOP_WORKERS if value is None else max(value, 0)


def install(environment: Environment) -> None:
    """Add the Fleet and Latency (HDR) tabs and ``/loadkit/fleet`` to the environment's web UI, if any."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    tabs.add_tabs(
        web_ui,
        [
            tabs.Tab(FLEET_KEY, "Fleet", FLEET_COLUMNS, lambda: worker_rows(environment)),
            tabs.Tab(LATENCY_KEY, "Latency (HDR)", LATENCY_COLUMNS, lambda: latency_rows(environment)),
        ],
    )
    tabs.add_json_route(web_ui, "loadkit_fleet", "/loadkit/fleet", lambda: fleet_snapshot(environment, _limit()))
