"""The open model in Locust's web UI: an "Arrival rate" tab and ``GET /loadkit/load``.

The tab is one live row (target vs achieved rate now, iterations started/late/dropped,
max lateness), added like loadkit's other tabs: ``extended_tabs``/``extended_tables`` in
the template args and rows under ``extended_stats`` of ``/stats/requests``, which the page
polls. The rate is set in the start form: ``--arrival-rate``/``--arrival-stages``/
``--max-users`` are shown there (Locust's "custom parameters"); with a rate set, the
form's user count is ignored (the pool is ``--max-users``).
"""

from __future__ import annotations

import json
from typing import Any

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
    """Add the tab and ``/loadkit/load`` (``summary()`` gives the data) to the web UI, if any.

    Same conventions as :func:`loadkit.web.install`: under ``--web-base-path``, behind the UI's
    login, rows appended to ``extended_stats`` by a hook that runs after any other.
    """
    web_ui = environment.web_ui
    app = web_ui.app if web_ui is not None else None
    if web_ui is None or app is None:
        return
    from flask import Blueprint, Response, request

    from loadkit._locust import web as locust_web

    args = web_ui.template_args
    args.setdefault("extended_tabs", []).append({"title": "Arrival rate", "key": LOAD_KEY})
    args.setdefault("extended_tables", []).append(
        {"key": LOAD_KEY, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
    )
    routes = Blueprint("loadkit_load", __name__, url_prefix=locust_web.web_base_path(app) or None)

    @routes.route("/loadkit/load")
    @web_ui.auth_required_if_enabled
    def loadkit_load() -> Response:
        return Response(json.dumps(summary()), mimetype="application/json")

    app.register_blueprint(routes)

    def add_load_row(response: Response) -> Response:
        if not locust_web.is_stats_request(request.endpoint) or response.status_code != 200 or not response.is_json:
            return response
        body = response.get_json()
        # Locust caches this response for 2 s and hooks edit it in place: drop our row of the last pass.
        others = [e for e in body.get("extended_stats") or [] if e.get("key") != LOAD_KEY]
        body["extended_stats"] = [*others, {"key": LOAD_KEY, "data": [row(summary())]}]
        response.set_data(json.dumps(body))
        return response

    locust_web.after_request_last(app, add_load_row)
