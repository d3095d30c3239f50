"""The one way loadkit adds a tab and a JSON route to Locust's web UI.

Extended the way Locust's own ``examples/extend_web_ui.py`` does: ``extended_tabs`` /
``extended_tables`` in the web UI's template args declare a tab and its columns, and an
``after_request`` hook adds the rows to ``/stats/requests`` under ``extended_stats``: the page
polls that every couple of seconds, so a tab refreshes live with no JS of ours.

Host conventions kept for every tab and route: routes sit under ``--web-base-path`` and behind
the UI's login (``auth_required_if_enabled``); rows are *appended* to ``extended_stats`` by a
hook that runs after any other (so a locustfile's own hook that sets ``extended_stats`` keeps
loadkit's rows too). Who may reach any of it is :mod:`loadkit.web.access`, installed first by
:mod:`loadkit.run.plugin`, apart from the tabs: removing a tab never removes the login.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadkit._locust import web as locust_web

if TYPE_CHECKING:
    from flask import Flask, Response
    from locust.web import WebUI


@dataclass(frozen=True)
class Tab:
    """A table tab: its key, title, ``(key, title)`` columns, and its rows now (None: a tab whose
    content a script of its own draws, e.g. the HDR charts; no rows ride on ``/stats/requests``)."""

    key: str
    title: str
    columns: Sequence[tuple[str, str]]
    rows: Callable[[], list[dict[str, Any]]] | None = None


def add_tabs(web_ui: WebUI, tabs: Sequence[Tab]) -> None:
    """Declare ``tabs`` and keep their rows in every ``/stats/requests`` answer."""
    from flask import request

    args = web_ui.template_args
    args.setdefault("extended_tabs", []).extend({"title": tab.title, "key": tab.key} for tab in tabs)
    args.setdefault("extended_tables", []).extend(
        {"key": tab.key, "structure": [{"key": k, "title": t} for k, t in tab.columns]} for tab in tabs
    )
    with_rows = [tab for tab in tabs if tab.rows is not None]
    keys = {tab.key for tab in with_rows}
    if not with_rows:
        return

    def add_rows(response: Response) -> Response:
        if not locust_web.is_stats_request(request.endpoint) or response.status_code != 200 or not response.is_json:
            return response
        body = response.get_json()
        # Locust caches this response object for 2 s and hooks edit it in place: drop our rows of the last pass.
        others = [e for e in body.get("extended_stats") or [] if e.get("key") not in keys]
        body["extended_stats"] = [*others, *({"key": tab.key, "data": tab.rows()} for tab in with_rows if tab.rows)]
        response.set_data(json.dumps(body))
        return response

    locust_web.after_request_last(_app(web_ui), add_rows)


def add_json_route(web_ui: WebUI, name: str, path: str, document: Callable[[], Any]) -> None:
    """Serve ``document()`` as JSON at ``path`` (under the base path, behind the login)."""
    add_route(web_ui, name, path, lambda: (json.dumps(document()), "application/json"))


def add_route(web_ui: WebUI, name: str, path: str, view: Callable[..., tuple[str | bytes, str]]) -> None:
    """Serve ``view(**path_args)`` -> ``(body, mimetype)`` at ``path`` (under the base path, behind the login)."""
    from flask import Blueprint, Response

    app = _app(web_ui)
    routes = Blueprint(name, __name__, url_prefix=locust_web.web_base_path(app) or None)

    @web_ui.auth_required_if_enabled
    def serve(**kwargs: Any) -> Response:
        body, mimetype = view(**kwargs)
        return Response(body, mimetype=mimetype)

    routes.add_url_rule(path, endpoint=name, view_func=serve)
    app.register_blueprint(routes)


def _app(web_ui: WebUI) -> Flask:
    app = web_ui.app
    if app is None:  # Locust builds the Flask app in WebUI.__init__: never None on a running UI
        raise RuntimeError("Locust's web UI has no Flask app")
    return app
