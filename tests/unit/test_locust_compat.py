"""Contract tests: each assumption loadkit._locust makes about Locust's internals, by name.

A Locust (or Flask, flask-cors, flask-login) upgrade that breaks one fails here with a
message naming the assumption, instead of silently emptying a tab or opening the UI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from flask import Response
from locust import User, task
from locust.env import Environment
from locust.web import WebUI

from loadkit import _locust


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
    assert _locust.web_base_path(web_ui.app) == "/base", "Locust's index is no longer endpoint 'locust.index'"
    rules = {r.endpoint: r.rule for r in web_ui.app.url_map.iter_rules()}
    assert rules.get(_locust.STATS_ENDPOINT) == "/base/stats/requests", "the stats polling endpoint moved"
    assert rules.get(_locust.LOGIN_ENDPOINT) == "/base/login", "Locust's login page moved"


def test_flask_runs_the_first_registered_after_request_hook_last(web_ui: WebUI) -> None:
    order: list[str] = []

    def hook(name: str):  # type: ignore[no-untyped-def]
        def run(response: Response) -> Response:
            order.append(name)
            return response

        return run

    _locust.after_request_last(web_ui.app, hook("loadkit"))
    web_ui.app.after_request(hook("locustfile"))
    web_ui.app.test_client().get("/base/stats/requests")
    assert order == ["locustfile", "loadkit"], "Flask no longer runs after_request hooks in reverse order"


def test_locust_allows_every_origin_and_restrict_cors_removes_it(web_ui: WebUI) -> None:
    client = web_ui.app.test_client()
    evil = {"Origin": "http://evil.example"}
    assert client.get("/base/stats/requests", headers=evil).headers.get("Access-Control-Allow-Origin"), (
        "Locust no longer calls CORS(app): restrict_cors may be moot"
    )
    _locust.restrict_cors(web_ui.app, ["https://ok.example"])
    assert "Access-Control-Allow-Origin" not in client.get("/base/stats/requests", headers=evil).headers
    ok = client.get("/base/stats/requests", headers={"Origin": "https://ok.example"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ok.example"


def test_login_can_be_enabled_after_the_web_ui_was_built(web_ui: WebUI) -> None:
    assert not web_ui.web_login
    manager = _locust.enable_login(web_ui)
    assert web_ui.web_login and web_ui.login_manager is manager
    assert _locust.user_loader(manager) is None, "flask-login no longer keeps the user_loader in _user_callback"
    manager.user_loader(lambda _id: None)
    assert _locust.user_loader(manager) is not None
    web_ui.app.secret_key = "k"
    answer = web_ui.app.test_client().get("/base/stats/requests")
    assert answer.status_code == 302, "auth_required_if_enabled no longer reads web_ui.web_login per request"


def test_a_users_greenlet_carries_the_user_as_its_first_argument() -> None:
    import gevent
    from gevent.pool import Group
    from locust import constant

    environment = Environment(user_classes=[Idle])
    seen: list[object] = []

    class Probe(User):
        wait_time = constant(0)

        @task
        def look(self) -> None:
            seen.append(_locust.calling_environment())
            self.stop()

    Probe(environment).start(Group()).join(timeout=5)
    assert seen == [environment], "Locust no longer spawns a user's greenlet with the User as args[0]"
    assert gevent.spawn(_locust.calling_environment).get(timeout=5) is None


# --- open model (loadkit.load) ---------------------------------------------------------------
def test_request_fire_is_one_hook_every_client_looks_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.clients import HttpSession

    environment = Environment(user_classes=[Idle])
    seen: list[dict[str, object]] = []

    def wrapper(fire: object) -> object:
        def wrapped(**kwargs: object) -> None:
            seen.append(kwargs)

        return wrapped

    _locust.wrap_request_fire(environment, wrapper)  # type: ignore[arg-type]
    session = HttpSession("http://127.0.0.1:9", environment.events.request, user=None)
    with session, pytest.raises(Exception):  # noqa: B017 - nothing listens on port 9; the event still fires
        session.get("/", catch_response=False).raise_for_status()
    assert seen and "response_time" in seen[0], "HttpSession no longer fires events.request.fire(**kwargs)"


def test_one_task_runs_with_locusts_own_selection() -> None:
    from locust import TaskSet

    calls: list[str] = []

    class Inner(TaskSet):
        @task
        def inner(self) -> None:
            calls.append("inner")
            self.interrupt()

    class Mixed(User):
        tasks = {Inner: 1}

    environment = Environment(user_classes=[Mixed])
    stack = _locust.TaskStack(Mixed(environment))
    _locust.run_one_task(stack)  # enters Inner and runs its first task, which interrupts
    assert calls == ["inner"], "TaskSet._task_queue / schedule_task / execute_task changed"
    assert len(stack.stack) == 1, "InterruptTaskSet no longer leaves the nested TaskSet"


def test_runner_start_is_looked_up_on_the_instance() -> None:
    environment = Environment(user_classes=[Idle])
    runner = environment.create_local_runner()
    asked: list[int] = []
    original = runner.start
    runner.start = lambda n, rate, *a, **k: asked.append(n)  # type: ignore[method-assign]
    _locust.override_user_count(runner, lambda n: 0)
    runner.start(7, 1)
    assert asked == [0]
    runner.start = original  # type: ignore[method-assign]
    runner.quit()
