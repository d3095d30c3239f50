"""Contract tests of loadkit._locust.runners: the master's worker table, the final-report drain,
the stats' request log, ``runner.start``; each assumption by name.

A Locust (or Flask, flask-cors, flask-login) upgrade that breaks one fails here with a
message naming the assumption and the loadkit feature it breaks, instead of silently
emptying a tab, opening the UI or changing a run. They use a real ``MasterRunner``
bound to 127.0.0.1 (port 0).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import time
from collections.abc import Iterator
from typing import Any

import gevent
import locust
import locust.main
import pytest
from locust import User, task
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_INIT, STATE_MISSING, STATE_RUNNING, MasterRunner, WorkerNode, WorkerNodes, WorkerRunner
from locust.stats import RequestStats

from loadkit._locust import runners as locust_runners

LOCUST = f"Locust {locust.__version__}"


class Idle(User):
    @task
    def nothing(self) -> None:
        pass


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


def test_close_master_socket(master: MasterRunner) -> None:
    server: Any = master.server
    assert callable(getattr(server, "close", None)), f"{LOCUST}: the master's rpc server has no close()"
    locust_runners.close_master_socket(master)
    assert server.socket.closed, f"{LOCUST}: runner.server.close(linger=0) did not close the master's socket"


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


# --- worker report, worker reconnect, worker state, run time (a real master and worker, in-process) ---
def wait_until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.05)
    return value


@pytest.fixture
def pair() -> Iterator[tuple[MasterRunner, WorkerRunner]]:
    master = Environment().create_master_runner("127.0.0.1", 0)
    worker = Environment().create_worker_runner("127.0.0.1", master.server.port)
    try:
        wait_until(lambda: worker.client_id in master.clients)
        yield master, worker
    finally:
        for runner in (worker, master):
            runner.greenlet.kill(block=True)
        close(worker.client)
        close(master.server)


def close(socket: Any) -> None:
    if not socket.socket.closed:
        socket.close(linger=0)
    socket.socket.context.destroy(linger=0)  # with its monitor socket, when loadkit's Client watches it


def test_worker_report_is_report_to_master_then_a_stats_message(pair: tuple[MasterRunner, WorkerRunner]) -> None:
    master, worker = pair
    received: list[int] = []
    master.environment.events.worker_report.add_listener(
        lambda client_id, data, **_kw: received.append(data["probe"]) if "probe" in data else None
    )
    probes = iter(range(1, 1000))
    worker.environment.events.report_to_master.add_listener(lambda data, **_kw: data.update(probe=next(probes)))
    hold = {"on": True}
    held: list[dict[str, Any]] = []
    locust_runners.hold_reports(worker, lambda data: hold["on"] and not held.append(data))
    worker._send_stats()  # held: not sent (Locust's own stats_reporter may hold one more)
    hold["on"] = False
    worker._send_stats()  # sent
    wait_until(lambda: received)
    assert held and "stats" in held[0] and received[0] > held[-1]["probe"]
    locust_runners.send_report(worker, held[0])  # the held one, later, as Locust sends its own
    wait_until(lambda: held[0]["probe"] in received)


def test_worker_reconnect_registers_with_a_new_master_and_keeps_receiving(
    pair: tuple[MasterRunner, WorkerRunner],
) -> None:
    master, worker = pair
    port = master.server.port
    master.greenlet.kill(block=True)
    close(master.server)  # the master is gone; another one binds its port
    again = Environment().create_master_runner("127.0.0.1", port)
    try:
        heartbeats: list[float] = []
        worker.environment.events.heartbeat_received.add_listener(lambda **_kw: heartbeats.append(time.monotonic()))
        old = worker.client
        locust_runners.rejoin(worker)
        assert worker.client is not old and old.socket.closed
        wait_until(lambda: worker.client_id in again.clients)  # client_ready on the new socket
        at = time.monotonic()
        wait_until(lambda: any(t > at for t in heartbeats))  # Locust's receive greenlet reads the new socket
    finally:
        again.greenlet.kill(block=True)
        close(again.server)


def test_worker_state_is_what_its_heartbeats_tell_the_master(pair: tuple[MasterRunner, WorkerRunner]) -> None:
    master, worker = pair
    worker.worker_state = STATE_RUNNING
    wait_until(lambda: master.clients[worker.client_id].state == STATE_RUNNING)
    had = locust_runners.say_ready(worker, True)
    assert had == STATE_RUNNING
    wait_until(lambda: master.clients.ready)  # counted towards --expect-workers again
    locust_runners.say_ready(worker, False, had)
    wait_until(lambda: master.clients[worker.client_id].state == STATE_RUNNING)
    source = inspect.getsource(WorkerRunner.handle_message)
    assert "self.worker_state != STATE_RUNNING and self.worker_state != STATE_SPAWNING" in source
    assert STATE_INIT == "ready"


def test_run_time_is_read_once_after_the_expected_workers_are_in() -> None:
    source = inspect.getsource(locust.main.main)
    waits, arms = (
        source.index("len(runner.clients.ready) < options.expect_workers"),
        source.index("spawn_run_time_quit_greenlet()\n"),
    )
    assert waits < arms and "gevent.spawn_later(options.run_time" in source
    options = argparse.Namespace(run_time=40)
    started: list[bool] = []
    keeper = locust_runners.keep_run_time(options, time.time() + 20, lambda: bool(started))
    assert 19 < options.run_time <= 20
    gevent.sleep(0.3)
    assert options.run_time < 19.9
    started.append(True)
    keeper.join(timeout=2)
    assert keeper.dead


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
