"""Who may use the web UI: login out of the box, and no cross-origin access unless allowed.

Locust's web UI starts and stops load, shows logs and reports. Out of the box it answers
anyone who reaches its port, and every web origin (CORS ``*``), so any page the operator
opens could read it or post a form to ``/swarm``. loadkit closes that through Locust's own
seams (``--web-login``'s ``LoginManager``, ``auth_required_if_enabled``, ``auth_args``), so a
locustfile writes no auth code:

**Login** is on when the UI is reachable from other hosts — it binds anything but a
loopback address (Locust's default ``--web-host`` is every interface) — in a loadkit run (a
loadkit user class or option, :mod:`loadkit.plain`), or when a secret is configured
(``--web-password`` / ``LOADKIT_WEB_PASSWORD``, ``--web-token`` / ``LOADKIT_WEB_TOKEN``);
``--web-no-login`` turns it off. On a loopback bind without a secret there is no login, as
Locust users expect from ``locust`` on their own machine. Neither is there in a plain Locust
run that only imports loadkit: its UI keeps Locust's contract, open to whoever reaches the
port as under Locust (``--web-password``/``--web-token`` or Locust's ``--web-login`` close it).
The checks below still stop other web pages, and a ``Host`` that is not loopback (DNS
rebinding) is refused. With no secret configured, a token is generated and logged once (user
``--web-user``, default ``loadkit``). The secret works three ways: the login form, ``?token=``
on a page URL (logs the browser in, then drops the token from the URL), and
``Authorization: Bearer <secret>`` (or Basic ``user:secret``) for scripts. Unauthenticated
page loads are sent to the login page; anything else gets ``401``. Locust's own
``--web-login`` without a loadkit secret keeps its meaning: the locustfile brings its own
auth code (its ``user_loader`` and ``auth_args``), and loadkit only protects its routes.

**Cross-origin**: a request whose ``Origin`` is not the UI's own, or that the browser marks
``Sec-Fetch-Site: cross-site``/``same-site`` (an ``<img>``, a form on another page), gets
``403`` unless its origin is listed with ``--web-cors-origin``; answers carry CORS headers
only for listed origins.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loadkit._locust import web as locust_web
from loadkit.exceptions import ConfigError

if TYPE_CHECKING:
    from flask import Response
    from locust.web import WebUI

log = logging.getLogger("loadkit.web")

#: ``Sec-Fetch-Site`` values of requests from the UI itself or typed/bookmarked by the user.
_OWN_SITES = {"same-origin", "none"}
#: The route the login form posts to (under ``--web-base-path``).
LOGIN_PATH = "/loadkit/login"


@dataclass(frozen=True)
class Access:
    """The UI's access policy: ``user`` and ``secrets`` when login is on; allowed origins."""

    login: bool
    user: str
    secrets: tuple[str, ...]
    generated: bool
    origins: tuple[str, ...]
    loopback: bool


def is_loopback(host: str) -> bool:
    """True when binding ``host`` serves this machine only ("" and "*" are every interface)."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def policy(options: Any, bind_host: str, loadkit_run: bool = True) -> Access:
    """The :class:`Access` ``options`` ask for on a UI bound to ``bind_host`` (pure; raises ConfigError).

    ``loadkit_run`` False (a plain Locust run, :mod:`loadkit.plain`): no login unless a secret is given.
    """
    user = getattr(options, "web_user", None) or "loadkit"
    password = getattr(options, "web_password", None) or None
    token = getattr(options, "web_token", None) or None
    no_login = bool(getattr(options, "web_no_login", False))
    origins = tuple(o.rstrip("/") for o in getattr(options, "web_cors_origin", None) or [])
    loopback = is_loopback(bind_host)
    if no_login and (password or token or getattr(options, "web_login", False)):
        raise ConfigError("--web-no-login with --web-login, --web-password or --web-token: choose one")
    given = tuple(s for s in (password, token) if s)
    login = not no_login and (bool(given) or (not loopback and loadkit_run))
    if login and not given and getattr(options, "web_login", False):
        login = False  # Locust's --web-login alone: the locustfile's own auth code (module docstring)
    generated = login and not given
    return Access(
        login, user, given or ((secrets.token_urlsafe(18),) if generated else ()), generated, origins, loopback
    )


@dataclass
class _User:
    """The one user loadkit's login knows (flask-login wants an object with these attributes)."""

    id: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.id


def install(web_ui: WebUI, options: Any, loadkit_run: bool = True) -> Access:
    """Apply the access policy to ``web_ui`` (see the module docstring); returns it."""
    access = policy(options, web_ui.host, loadkit_run)
    app = web_ui.app
    assert app is not None
    locust_web.restrict_cors(app, access.origins)
    app.before_request(_same_origin_only(access))
    if access.login:  # else no login, or Locust's --web-login with the locustfile's own auth code
        _install_login(web_ui, access, bool(getattr(options, "tls_cert", None)))
    return access


def _same_origin_only(access: Access) -> Any:
    from flask import request

    def check() -> Response | None:
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.host}"
        if origin is not None and origin != "null" and origin.rstrip("/") in access.origins:
            return None
        if origin is not None and origin != own:
            return _refuse(403, f"cross-origin request from {origin} refused: allow it with --web-cors-origin {origin}")
        site = request.headers.get("Sec-Fetch-Site", "same-origin")
        navigation = request.method == "GET" and request.headers.get("Sec-Fetch-Mode") == "navigate"
        if site not in _OWN_SITES and not navigation:  # a link to the UI still opens it
            return _refuse(403, "request from another site refused: open the web UI itself")
        if not access.login and access.loopback and not is_loopback(request.host.rpartition(":")[0] or request.host):
            return _refuse(403, f"Host {request.host} is not this machine: open the UI as http://127.0.0.1")
        return None

    return check


def _refuse(status: int, message: str) -> Response:
    from flask import jsonify

    response = jsonify({"error": message})
    response.status_code = status
    return response


def _install_login(web_ui: WebUI, access: Access, tls: bool) -> None:
    from flask import Blueprint, redirect, request, session, url_for
    from flask_login import login_user

    app = web_ui.app
    assert app is not None
    manager = locust_web.enable_login(web_ui)
    if not app.secret_key:
        app.secret_key = secrets.token_bytes(32)  # sessions last as long as this process
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # no session cookie on other sites' requests
    if tls:
        app.config["SESSION_COOKIE_SECURE"] = True
    user = _User(access.user)

    def load_user(user_id: str) -> _User | None:
        return user if user_id == access.user else None

    def load_from_request(req: Any) -> _User | None:
        if locust_web.user_loader(manager) is not load_user:  # a locustfile replaced loadkit's login
            return None
        scheme, _, value = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _matches(value.strip(), access.secrets):
            return user
        if scheme.lower() == "basic":
            try:
                name, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if hmac.compare_digest(name, access.user) and _matches(secret, access.secrets):
                return user
        return None

    def unauthorized() -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            return redirect(url_for(locust_web.LOGIN_ENDPOINT))  # type: ignore[return-value]
        response = _refuse(401, "login required: log in to the web UI, or send Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="loadkit"'
        return response

    manager.user_loader(load_user)
    manager.request_loader(load_from_request)
    manager.unauthorized_handler(unauthorized)
    base = locust_web.web_base_path(app)
    web_ui.auth_args = {**web_ui.auth_args, "username_password_callback": base + LOGIN_PATH}
    blueprint = Blueprint("loadkit_login", __name__, url_prefix=base or None)

    @blueprint.route(LOGIN_PATH, methods=["POST"])
    def login_submit() -> Response:
        if hmac.compare_digest(request.form.get("username", ""), access.user) and _matches(
            request.form.get("password", ""), access.secrets
        ):
            login_user(user)
            return redirect(url_for(locust_web.INDEX_ENDPOINT))  # type: ignore[return-value]
        session["auth_error"] = "Wrong user name or password"
        return redirect(url_for(locust_web.LOGIN_ENDPOINT))  # type: ignore[return-value]

    app.register_blueprint(blueprint)

    @app.before_request
    def token_in_url() -> Response | None:
        token = request.args.get("token")
        if request.method != "GET" or token is None or locust_web.user_loader(manager) is not load_user:
            return None
        if not _matches(token, access.secrets):
            return None
        login_user(user)
        rest = {k: v for k, v in request.args.items() if k != "token"}
        return redirect(request.path + ("?" + urlencode(rest) if rest else ""))  # type: ignore[return-value]

    if access.generated:
        log.warning(
            "loadkit: web UI login: user %r, password %s (or open the UI with ?token=%s); "
            "set LOADKIT_WEB_TOKEN or --web-password to choose it, --web-no-login to turn login off",
            access.user,
            access.secrets[0],
            access.secrets[0],
        )
    else:
        log.info("loadkit: web UI login on (user %r)", access.user)


def _matches(given: str, accepted: tuple[str, ...]) -> bool:
    """Constant-time comparison of ``given`` with each accepted secret."""
    return any(hmac.compare_digest(given.encode(), secret.encode()) for secret in accepted) and bool(given)
