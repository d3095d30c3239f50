"""The open model in Locust's web UI: an "Arrival rate" tab and ``GET /loadkit/load``.

The tab is one live row (target vs achieved rate now, iterations started/late/dropped,
max lateness), added like loadkit's other tabs: ``extended_tabs``/``extended_tables`` in
the template args and rows under ``extended_stats`` of ``/stats/requests``, which the page
polls. The rate is set in the start form: ``--arrival-rate``/``--arrival-stages``/
``--max-users`` are shown there (Locust's "custom parameters"); with a rate set, the
form's user count is ignored (the pool is ``--max-users``).
"""

from __future__ import annotations

from typing import Any

from loadkit.web import tabs

LOAD_KEY = "loadkit-load"
COLUMNS = [
    ("model", "Model"),
    ("target_rate_now", "Target it/s"),
    ("achieved_rate_now", "Achieved it/s"),
    ("iterations_started", "Started"),
    ("iterations_late", "Late"),
    ("iterations_dropped", "Dropped"),
    ("max_lateness_ms", "Max lateness ms"),
    ("workers", "Workers"),
]


def row(summary: dict[str, Any]) -> dict[str, str]:
    """The tab's one row, formatted."""
    out = {}
    for key, _title in COLUMNS:
        value = summary.get(key)
        out[key] = "" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))
    if summary.get("model") == "open":
        out["model"] = f"open: {summary.get('profile')}"
    return out


def install(environment: Any, summary: Any) -> None:
    """Add the tab and ``/loadkit/load`` (``summary()`` gives the data) to the web UI, if any."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    tabs.add_tabs(web_ui, [tabs.Tab(LOAD_KEY, "Arrival rate", COLUMNS, lambda: [row(summary())])])
    tabs.add_json_route(web_ui, "loadkit_load", "/loadkit/load", summary)
