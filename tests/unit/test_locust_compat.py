"""Contract tests: each assumption loadkit._locust makes about Locust's internals, by name.

A Locust (or Flask, flask-cors, flask-login) upgrade that breaks one fails here with a
message naming the assumption and the loadkit feature it breaks, instead of silently
emptying a tab, opening the UI or changing a run. The master-side tests use a real
``MasterRunner`` bound to 127.0.0.1 (port 0).
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Iterator
from typing import Any

import gevent
import locust
import pytest
from flask import Response
from locust import User, task
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message
from locust.runners import STATE_INIT, STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes
from locust.stats import RequestStats
from locust.web import WebUI

from loadkit._locust import errors as locust_errors
from loadkit._locust import runners as locust_runners
from loadkit._locust import users as locust_users
from loadkit._locust import web as locust_web

LOCUST = f"Locust {locust.__version__}"


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
            seen.append(locust_users.calling_environment())
            self.stop()

    Probe(environment).start(Group()).join(timeout=5)
    assert seen == [environment], "Locust no longer spawns a user's greenlet with the User as args[0]"
    assert gevent.spawn(locust_users.calling_environment).get(timeout=5) is None


# --- runner internals -----------------------------------------------------------------------
@pytest.fixture
def master() -> Iterator[MasterRunner]:
    env = Environment()
    runner = env.create_master_runner("127.0.0.1", 0)
    try:
        yield runner
    finally:
        runner.quit()
        runner.server.close(linger=0)
        runner.server.socket.context.term()  # else an "unclosed context" ResourceWarning at some later gc


def add_worker(runner: MasterRunner, node_id: str, state: str = STATE_INIT) -> WorkerNode:
    node = WorkerNode(node_id)
    node.state = state
    runner.clients[node_id] = node
    return node


def test_worker_table_is_a_worker_nodes_mapping_with_lists_by_state(master: MasterRunner) -> None:
    assert isinstance(master.clients, WorkerNodes), (
        f"{LOCUST}: MasterRunner.clients is no longer a WorkerNodes; loadkit's worker gating "
        "(fleet version check) replaces that table: update loadkit._locust.PendingWorkerNodes"
    )
    assert isinstance(getattr(master.clients, "_worker_nodes", None), dict), (
        f"{LOCUST}: WorkerNodes keeps its nodes elsewhere than the _worker_nodes dict; "
        "loadkit._locust.PendingWorkerNodes shares that dict: update it"
    )
    table = locust_runners.gate_workers(master)
    add_worker(master, "w1")
    assert [n.id for n in master.clients.ready] == [], (
        f"{LOCUST}: WorkerNodes.ready no longer goes through get_by_state; a worker whose loadkit "
        "version was not checked yet would get users (loadkit._locust, worker table)"
    )
    table.accept("w1")
    assert [n.id for n in master.clients.ready] == ["w1"]
    assert locust_runners.ready_workers(master) == 1 and locust_runners.live_workers(master) == {"w1"}


def test_worker_table_replacement_is_what_the_master_counts(master: MasterRunner) -> None:
    """Locust must read ``self.clients`` at each use (not a reference taken at start-up)."""
    locust_runners.gate_workers(master)
    add_worker(master, "w1")
    assert master.worker_count == 0, (
        f"{LOCUST}: MasterRunner.worker_count ignores the replaced clients table; a pending worker "
        "counts towards --expect-workers (loadkit._locust, worker table)"
    )
    table = locust_runners.worker_table(master)
    assert table is not None
    table.accept("w1")
    assert locust_runners.worker_count(master) == master.worker_count == 1, (
        f"{LOCUST}: MasterRunner.worker_count no longer counts ready+spawning+running; loadkit counts workers "
        "the same way everywhere (loadkit._locust.runners.connected_workers): update it"
    )
    assert locust_runners.worker_count(None) == 0


def test_forget_a_worker_is_what_locust_does_on_quit(master: MasterRunner) -> None:
    source = inspect.getsource(MasterRunner)
    assert "self._users_dispatcher.remove_worker(" in source and "del self.clients[" in source, (
        f"{LOCUST}: MasterRunner no longer removes a quitting worker with "
        "_users_dispatcher.remove_worker + del clients[id]; loadkit._locust.forget_worker "
        "(refused worker) must do what Locust does now"
    )
    assert hasattr(master, "_users_dispatcher"), f"{LOCUST}: MasterRunner has no _users_dispatcher attribute"
    add_worker(master, "w1")
    locust_runners.forget_worker(master, "w1")
    assert "w1" not in master.clients and locust_runners.has_worker(master, "w1") is False


def test_refuse_a_worker_forgets_it_and_sends_locusts_quit(master: MasterRunner) -> None:
    from locust.runners import WorkerRunner

    assert 'case "quit":' in inspect.getsource(WorkerRunner.handle_message), (
        f"{LOCUST}: a worker no longer handles the master's 'quit' message; a worker without loadkit "
        "refused by a loadkit fleet (loadkit._locust.runners.refuse_worker) would stay connected"
    )
    add_worker(master, "w1")
    sent: list[Message] = []
    master.server.send_to_client = sent.append  # type: ignore[method-assign]
    locust_runners.refuse_worker(master, "w1")
    assert "w1" not in master.clients and [(m.type, m.node_id) for m in sent] == [("quit", "w1")]


def test_stats_logger_is_the_one_locust_prints_its_table_through() -> None:
    import locust.stats

    assert locust.stats.console_logger is logging.getLogger(locust_runners.STATS_LOGGER), (
        f"{LOCUST}: Locust prints its stats table through another logger; loadkit's table under "
        "--skip-log-setup (loadkit.stats.controller) must follow it: update loadkit._locust.runners.STATS_LOGGER"
    )


def test_worker_gone_reads_missing_state(master: MasterRunner) -> None:
    add_worker(master, "w1", STATE_MISSING)
    assert locust_runners.worker_gone(master, "w1") and locust_runners.worker_gone(master, "nobody")
    assert locust_runners.live_workers(master) == set()


def test_final_report_drain_quit_message_and_removal(master: MasterRunner) -> None:
    assert 'Message("quit", None, client.id)' in inspect.getsource(MasterRunner.quit), (
        f"{LOCUST}: MasterRunner.quit no longer sends Message('quit') to each worker; "
        "loadkit._locust.drain_workers (final report on SIGTERM/headless end) sends the same"
    )
    add_worker(master, "w1")
    sent: list[Message] = []
    master.server.send_to_client = sent.append  # type: ignore[method-assign]
    # The worker answers the quit with its final stats and then "quit", which Locust handles:
    gevent.spawn_later(0.2, master.clients.__delitem__, "w1")
    assert locust_runners.drain_workers(master, timeout=5)
    assert [(m.type, m.node_id) for m in sent] == [("quit", "w1")]


def test_final_report_drain_not_from_the_runner_greenlet(master: MasterRunner) -> None:
    assert isinstance(master.greenlet, gevent.pool.Group), (
        f"{LOCUST}: runner.greenlet is no greenlet group; loadkit._locust.in_runner_greenlet cannot tell "
        "whether a listener runs inside the runner"
    )
    seen = master.greenlet.spawn(locust_runners.in_runner_greenlet, master).get(timeout=5)
    assert seen and not locust_runners.in_runner_greenlet(master)


def test_users_at_stop_uses_final_user_classes_count() -> None:
    env = Environment()
    runner = env.create_local_runner()
    assert isinstance(getattr(runner, "final_user_classes_count", None), dict), (
        f"{LOCUST}: runners no longer keep final_user_classes_count; the report's user_count "
        "(loadkit._locust.users_at_stop) would show 0 users after a run"
    )
    runner.final_user_classes_count = {"A": 2, "B": 3}
    assert locust_runners.users_at_stop(runner) == 5
    runner.quit()


def test_facet_routing_wraps_the_instance_log_request() -> None:
    env = Environment()
    runner = env.create_local_runner()
    locust_runners.route_request_log(runner.stats, lambda kind: kind.endswith("-ttfm"))
    env.events.request.fire(request_type="grpc", name="/a", response_time=5.0, response_length=1, exception=None)
    env.events.request.fire(request_type="grpc-ttfm", name="/a", response_time=1.0, response_length=0, exception=None)
    assert runner.stats.get("/a", "grpc-ttfm").num_requests == 1
    assert runner.stats.total.num_requests == 1, (
        f"{LOCUST}: the runner no longer logs request events through stats.log_request looked up on the "
        "RequestStats instance; time-to-first-message facets now count as requests (loadkit._locust, facet routing)"
    )
    assert isinstance(runner.stats, RequestStats)
    runner.quit()


def test_locust_messages_loadkit_rewrites() -> None:
    import locust.main
    import locust.rpc.zmqrpc

    assert locust_errors.GAVE_UP_MESSAGE in inspect.getsource(locust.main), (
        f"{LOCUST}: locust.main no longer logs {locust_errors.GAVE_UP_MESSAGE!r}; loadkit's --expect-workers "
        "hint (loadkit._locust.errors) would never fire: update loadkit._locust.GAVE_UP_MESSAGE"
    )
    assert logging.getLogger(locust_errors.MAIN_LOGGER) is logging.getLogger(locust.main.__name__)
    source = inspect.getsource(locust.rpc.zmqrpc)
    assert (
        f'RPCError(f"{locust_errors.BIND_FAILURE_PREFIX}' in source
        and RPCError.__name__ == locust_errors.RPC_ERROR_NAME
    ), (
        f"{LOCUST}: the master's bind failure is no longer RPCError('{locust_errors.BIND_FAILURE_PREFIX}...'); "
        "loadkit._locust.errors would print Locust's traceback instead of one line"
    )


def test_close_master_socket(master: MasterRunner) -> None:
    server: Any = master.server
    assert callable(getattr(server, "close", None)), f"{LOCUST}: the master's rpc server has no close()"
    locust_runners.close_master_socket(master)
    assert server.socket.closed, f"{LOCUST}: runner.server.close(linger=0) did not close the master's socket"


# --- open model (loadkit.load) ---------------------------------------------------------------
def test_request_fire_is_one_hook_every_client_looks_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.clients import HttpSession

    environment = Environment(user_classes=[Idle])
    seen: list[dict[str, object]] = []

    def wrapper(fire: object) -> object:
        def wrapped(**kwargs: object) -> None:
            seen.append(kwargs)

        return wrapped

    locust_users.wrap_request_fire(environment, wrapper)  # type: ignore[arg-type]
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
    stack = locust_users.TaskStack(Mixed(environment))
    locust_users.run_one_task(stack)  # enters Inner and runs its first task, which interrupts
    assert calls == ["inner"], "TaskSet._task_queue / schedule_task / execute_task changed"
    assert len(stack.stack) == 1, "InterruptTaskSet no longer leaves the nested TaskSet"


def test_runner_start_is_looked_up_on_the_instance() -> None:
    environment = Environment(user_classes=[Idle])
    runner = environment.create_local_runner()
    asked: list[int] = []
    original = runner.start
    runner.start = lambda n, rate, *a, **k: asked.append(n)  # type: ignore[method-assign]
    locust_runners.override_user_count(runner, lambda n: 0)
    runner.start(7, 1)
    assert asked == [0]
    runner.start = original  # type: ignore[method-assign]
    runner.quit()


def test_runner_start_with_keywords_as_a_shape_and_rebalancing_call_it() -> None:
    """A LoadTestShape starts each stage with start(user_count=..., spawn_rate=..., user_classes=...)."""
    from locust.runners import Runner

    assert "self.start(user_count=user_count, spawn_rate=spawn_rate" in inspect.getsource(Runner.shape_worker)
    environment = Environment(user_classes=[Idle])
    runner = environment.create_local_runner()
    asked: list[tuple[Any, ...]] = []
    original = runner.start
    runner.start = lambda *a, **k: asked.append((a, k))  # type: ignore[method-assign]
    locust_runners.override_user_count(runner, lambda n: n + 1)
    runner.start(user_count=7, spawn_rate=2, user_classes=None)
    runner.start(3, 1)
    assert asked == [((), {"user_count": 8, "spawn_rate": 2, "user_classes": None}), ((4, 1), {})]
    runner.start = original  # type: ignore[method-assign]
    runner.quit()


# --- caught response ---------------------------------------------------------------------------
def test_caught_response_fires_its_request_meta_with_the_outcome_as_the_with_block_does() -> None:
    from locust.contrib.fasthttp import ResponseContextManager

    env = Environment()
    fired: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: fired.append(kw))
    meta = {"request_type": "GET", "name": "/x", "response_time": 1.5, "response_length": 3, "context": {"a": 1}}

    class Response:  # what ResponseContextManager copies its attributes from (a FastResponse)
        pass

    error = ValueError("bad body")
    for outcome in (None, error):
        with ResponseContextManager(Response(), env.events.request, {**meta, "exception": None}, True) as r:
            r.success() if outcome is None else r.failure(outcome)
        caught = ResponseContextManager(Response(), env.events.request, {**meta, "exception": None}, True)
        locust_users.report_caught(env, caught, outcome)
        assert fired[-1] == fired[-2], (
            f"{LOCUST}: success()/failure() in a with-block no longer fires request_meta with the outcome "
            "(RestUser reports through loadkit._locust.report_caught)"
        )
        assert fired[-1]["exception"] is outcome
    assert len(fired) == 4
