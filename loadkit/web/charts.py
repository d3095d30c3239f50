"""The web UI's "HDR charts" tab: the HTML report's pictures, live, while the run goes on.

Locust's web UI draws a tab as a table (``extended_tabs``/``extended_tables``); it has no
place for charts. So the tab gets an empty table whose one column names it, and the page
gets three scripts (injected before ``</body>`` of the UI's own page): the vendored uPlot,
``charts.js`` (the HTML report's renderer) and ``webtab.js``, which puts the charts in place
of that table while the tab is shown and redraws them every 2 s from ``GET /loadkit/charts``.

- ``GET /loadkit/charts``: ``{"charts": [...]}``, the chart specs of
  :func:`loadkit.stats.charts.charts` for the numbers now (computed at most once a second).
- ``GET /loadkit/assets/<name>``: the scripts (and uPlot's CSS), from the package.

Routes sit under ``--web-base-path`` and behind the UI's login, as Locust's own do; the
scripts fetch relative to the page, so the base path needs nothing more.
"""

from __future__ import annotations

import json
import time
from typing import Any

from locust.env import Environment

from loadkit.web import tabs

CHARTS_KEY = "loadkit-charts"
#: The tab's one column title: ``webtab.js`` finds the tab's table by it.
ANCHOR_TITLE = "loadkit HDR charts"
_ASSETS = {
    "uPlot.iife.min.js": "application/javascript",
    "uPlot.min.css": "text/css",
    "charts.js": "application/javascript",
    "webtab.js": "application/javascript",
}
_TAGS = (
    '<link rel="stylesheet" href="./loadkit/assets/uPlot.min.css">'
    '<script src="./loadkit/assets/uPlot.iife.min.js"></script>'
    '<script src="./loadkit/assets/charts.js"></script>'
    '<script src="./loadkit/assets/webtab.js"></script>'
)
_MIN_AGE_S = 1.0


def live_document(environment: Environment) -> dict[str, Any]:
    """The ``--report-json`` document of the numbers now (pictures and sections included)."""
    from loadkit.stats.controller import controller_for

    controller = controller_for(environment)
    document = controller.summary()
    document.update(controller.pictures())
    for name, section in controller.report_sections.items():
        document[name] = section()
    return document


class _Cache:
    """The chart specs, recomputed at most once per :data:`_MIN_AGE_S` whatever the viewers."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self._at = -1e9
        self._body = ""

    def body(self) -> str:
        from loadkit.stats.charts import charts

        if time.monotonic() - self._at >= _MIN_AGE_S:
            self._body = json.dumps({"charts": charts(live_document(self.environment))}, default=str)
            self._at = time.monotonic()
        return self._body


def install(environment: Environment) -> None:
    """Add the Charts tab, its routes and scripts to the environment's web UI, if it has one."""
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import abort, request

    from loadkit._locust import web as locust_web
    from loadkit.stats.html import asset

    tabs.add_tabs(web_ui, [tabs.Tab(CHARTS_KEY, "HDR charts", [("charts", ANCHOR_TITLE)])])
    cache = _Cache(environment)
    tabs.add_route(web_ui, "loadkit_charts", "/loadkit/charts", lambda: (cache.body(), "application/json"))

    def serve_asset(name: str) -> tuple[str | bytes, str]:
        if name not in _ASSETS:
            abort(404)
        return asset(name), _ASSETS[name]

    tabs.add_route(web_ui, "loadkit_assets", "/loadkit/assets/<name>", serve_asset)

    def add_scripts(response: Any) -> Any:
        if (
            request.endpoint == locust_web.INDEX_ENDPOINT
            and response.status_code == 200
            and response.mimetype == "text/html"
        ):
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", _TAGS + "</body>", 1))
        return response

    locust_web.after_request_last(web_ui.app, add_scripts)
