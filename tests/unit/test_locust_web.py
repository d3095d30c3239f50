"""Contract tests of loadkit._locust.web: the web UI's blueprint, endpoints, ``after_request``
order, CORS and login; each assumption by name, on a real Locust web UI app (Flask test client).

A Locust (or Flask, flask-cors, flask-login) upgrade that breaks one fails here with a
message naming the assumption and the loadkit feature it breaks, instead of silently
emptying a tab, opening the UI or changing a run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from flask import Response
from locust import User, task
from locust.env import Environment
from locust.web import WebUI

from loadkit._locust import web as locust_web


class Idle(User):
    @task
    def nothing(self) -> None:
        pass


@pytest.fixture
def web_ui(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebUI]:
    monkeypatch.setattr(sys, "argv", ["locust"])
    environment = Environment(user_classes=[Idle])
    environment.create_local_runner()
    yield environment.create_web_ui("127.0.0.1", 0, web_base_path="/base", delayed_start=True)
    assert environment.runner is not None
    environment.runner.quit()


def test_web_ui_pages_sit_on_the_locust_blueprint_under_the_base_path(web_ui: WebUI) -> None:
    assert locust_web.web_base_path(web_ui.app) == "/base", "Locust's index is no longer endpoint 'locust.index'"
    rules = {r.endpoint: r.rule for r in web_ui.app.url_map.iter_rules()}
    assert rules.get(locust_web.STATS_ENDPOINT) == "/base/stats/requests", "the stats polling endpoint moved"
    assert rules.get(locust_web.LOGIN_ENDPOINT) == "/base/login", "Locust's login page moved"


def test_flask_runs_the_first_registered_after_request_hook_last(web_ui: WebUI) -> None:
    order: list[str] = []

    def hook(name: str):  # type: ignore[no-untyped-def]
        def run(response: Response) -> Response:
            order.append(name)
            return response

        return run

    locust_web.after_request_last(web_ui.app, hook("loadkit"))
    web_ui.app.after_request(hook("locustfile"))
    web_ui.app.test_client().get("/base/stats/requests")
    assert order == ["locustfile", "loadkit"], "Flask no longer runs after_request hooks in reverse order"


def test_locust_allows_every_origin_and_restrict_cors_removes_it(web_ui: WebUI) -> None:
    client = web_ui.app.test_client()
    evil = {"Origin": "http://evil.example"}
    assert client.get("/base/stats/requests", headers=evil).headers.get("Access-Control-Allow-Origin"), (
        "Locust no longer calls CORS(app): restrict_cors may be moot"
    )
    locust_web.restrict_cors(web_ui.app, ["https://ok.example"])
    assert "Access-Control-Allow-Origin" not in client.get("/base/stats/requests", headers=evil).headers
    ok = client.get("/base/stats/requests", headers={"Origin": "https://ok.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ok.example"


def test_login_can_be_enabled_after_the_web_ui_was_built(web_ui: WebUI) -> None:
    assert not web_ui.web_login
    manager = locust_web.enable_login(web_ui)
    assert web_ui.web_login and web_ui.login_manager is manager
    assert locust_web.user_loader(manager) is None, "flask-login no longer keeps the user_loader in _user_callback"
    manager.user_loader(lambda _id: None)
    assert locust_web.user_loader(manager) is not None
    web_ui.app.secret_key = "k"
    answer = web_ui.app.test_client().get("/base/stats/requests")
    assert answer.status_code == 302, "auth_required_if_enabled no longer reads web_ui.web_login per request"
