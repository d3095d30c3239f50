"""Locust's web UI (:class:`locust.web.WebUI`, a Flask app): what loadkit reads or patches there.

Part of the seam (:mod:`loadkit._locust`); contract tests in ``tests/unit/test_locust_web.py``.

- Locust registers its pages on a blueprint named ``locust`` with ``url_prefix`` the
  ``--web-base-path``; :func:`web_base_path` reads the prefix back from the URL map (the
  WebUI keeps no attribute for it) and :func:`is_stats_request` recognises the page's
  polling endpoint (``locust.request_stats``) whatever the prefix;
- Flask runs ``after_request`` hooks in reverse order of registration, so the hook
  registered first runs last: :func:`after_request_last` puts loadkit's hooks there, after
  any hook a locustfile adds (Locust's ``examples/extend_web_ui.py`` *replaces*
  ``extended_stats``; loadkit appends after it);
- Locust calls ``CORS(app)`` (flask-cors, every origin); :func:`restrict_cors` removes the
  CORS headers from every answer to an origin not allowed;
- ``--web-login`` is read once, when the WebUI is built (``web_ui.web_login`` and its
  ``LoginManager``); ``auth_required_if_enabled`` reads ``web_ui.web_login`` per request.
  :func:`enable_login` turns login on afterwards, as ``--web-login`` would have;
  :func:`user_loader` tells whether a locustfile replaced loadkit's ``user_loader``
  (flask-login keeps it in a private attribute).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response
    from locust.web import WebUI


#: Endpoint of the page Locust's UI polls for its tables (``extended_stats`` rides on it).
STATS_ENDPOINT = "locust.request_stats"
#: Endpoints of Locust's index and login pages.
INDEX_ENDPOINT = "locust.index"
LOGIN_ENDPOINT = "locust.login"


def web_base_path(app: Flask) -> str:
    """``--web-base-path`` of the UI served by ``app`` ("" at the root, else e.g. "/locust")."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == INDEX_ENDPOINT:
            return str(rule.rule).rstrip("/")
    raise LookupError(f"Locust's web UI has no {INDEX_ENDPOINT!r} endpoint: loadkit does not know this Locust")


def is_stats_request(endpoint: str | None) -> bool:
    """True for the request endpoint of Locust's ``/stats/requests`` (under any base path)."""
    return endpoint == STATS_ENDPOINT


def after_request_last(app: Flask, hook: Callable[[Response], Response]) -> None:
    """Register ``hook`` to run after every ``after_request`` hook registered so far or later."""
    app.after_request_funcs.setdefault(None, []).insert(0, hook)


_CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Private-Network",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


def restrict_cors(app: Flask, allowed: Collection[str]) -> None:
    """Keep Locust's CORS headers only on answers to an ``Origin`` in ``allowed``."""
    from flask import request

    def strip(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            for name in _CORS_HEADERS:
                response.headers.pop(name, None)
        response.vary.add("Origin")
        return response

    after_request_last(app, strip)


def enable_login(web_ui: WebUI) -> Any:
    """Turn on login as ``--web-login`` does at start-up; return the UI's ``LoginManager``."""
    if not web_ui.web_login:
        from flask_login import LoginManager

        manager = LoginManager()
        manager.init_app(web_ui.app)
        manager.login_view = LOGIN_ENDPOINT
        web_ui.login_manager = manager
        web_ui.web_login = True
    return web_ui.login_manager


def user_loader(manager: Any) -> Any:
    """The ``user_loader`` callback set on a flask-login ``LoginManager`` (None if none)."""
    return getattr(manager, "_user_callback", None)
