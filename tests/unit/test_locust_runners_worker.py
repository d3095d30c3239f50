"""Contract tests of loadkit._locust.runners' worker-side assumptions (worker report, reconnect,
state, run time), with a real master and worker over ZeroMQ in one process."""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Iterator
from typing import Any

import gevent
import locust.main
import pytest
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_RUNNING, MasterRunner, WorkerRunner

from loadkit._locust import runners as locust_runners


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
