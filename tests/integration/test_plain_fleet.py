"""A real (in-process) Locust master with loadkit installed, and raw ZeroMQ peers as its workers.

A plain Locust fleet (Locust's users and options only) keeps Locust's contract: a worker
that joins mid-run gets users at its ``client_ready``, and a message the locustfile
registered is delivered. A loadkit fleet (here: a ``--threshold``) refuses a worker that sent
no ``loadkit:hello`` with one line and Locust's ``quit``, instead of leaving it without users.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
import zmq.green as zmq
from locust import User, __version__, constant, task
from locust.argument_parser import parse_options
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner

from loadkit.run.plugin import install
from tests.support import free_port


class Idle(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        pass


class Peer:
    """A worker as Locust's master sees one: a DEALER with an identity, speaking Locust's messages."""

    def __init__(self, port: int, identity: str) -> None:
        self.id = identity
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.setsockopt(zmq.IDENTITY, identity.encode())
        self.socket.connect(f"tcp://127.0.0.1:{port}")
        self.received: list[Message] = []
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            self.received.append(Message.unserialize(self.socket.recv()))

    def send(self, kind: str, data: Any) -> None:
        self.socket.send(Message(kind, data, self.id).serialize())

    def got(self, kind: str) -> list[Message]:
        return [m for m in self.received if m.type == kind]

    def close(self) -> None:
        self.reader.kill()
        self.socket.close(linger=0)


def until(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not check():
            gevent.sleep(0.02)


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[MasterRunner, Callable[[str], Peer]]]]:
    """``fleet(*options)``: a master on 127.0.0.1 with loadkit installed, and a maker of peers."""
    made: list[tuple[Environment, list[Peer]]] = []

    def make(*args: str) -> tuple[MasterRunner, Callable[[str], Peer]]:
        port = free_port()
        env = Environment(user_classes=[Idle], parsed_options=parse_options(args=["--master", *args]))
        runner = env.create_master_runner("127.0.0.1", port)
        install(env)
        peers: list[Peer] = []
        made.append((env, peers))

        def peer(identity: str) -> Peer:
            p = Peer(port, identity)
            peers.append(p)
            return p

        return runner, peer

    yield make
    for env, peers in made:
        for p in peers:
            p.close()
        assert env.runner is not None
        env.runner.quit()


def ready(peer: Peer) -> None:
    peer.send("client_ready", __version__)
    until(lambda: peer.got("ack"), f"the ack of {peer.id}")


def test_a_worker_joining_a_plain_fleet_mid_run_gets_users_at_its_client_ready(fleet: Any) -> None:
    runner, peer = fleet()
    first = peer("w1")
    ready(first)
    runner.start(10, 100)
    until(lambda: first.got("spawn"), "the first worker's spawn")
    late = peer("w2")  # says no loadkit hello and sends no heartbeat, like a mocked or plain Locust worker
    ready(late)
    until(lambda: late.got("spawn"), "a spawn for the worker that joined mid-run")
    assert sum(late.got("spawn")[-1].data["user_classes_count"].values()) == 5


def test_a_plain_fleet_delivers_the_locustfiles_own_messages_as_locust_does(fleet: Any) -> None:
    runner, peer = fleet()
    got: list[Any] = []
    runner.register_message("my_message", lambda msg, **_kw: got.append(msg.data))
    peer("w1").send("my_message", {"n": 1})  # Locust delivers it whoever sent it
    until(lambda: got, "the custom message")
    assert got == [{"n": 1}]


def test_a_loadkit_fleet_refuses_a_worker_without_loadkit_at_once_with_one_line(
    fleet: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runner, peer = fleet("--threshold", "fail_ratio<1")
    plain = peer("w1")
    with caplog.at_level(logging.ERROR, logger="loadkit.fleet"):
        ready(plain)
        plain.send("heartbeat", {"state": "ready", "current_cpu_usage": 0.0, "current_memory_usage": 0})
        until(lambda: plain.got("quit"), "Locust's quit for the worker without loadkit")
    assert "w1" not in runner.clients
    lines = [r.getMessage() for r in caplog.records if "w1" in r.getMessage()]
    assert lines == [
        "loadkit: error: worker w1 runs without loadkit (no loadkit:hello before its first heartbeat) "
        "in a loadkit fleet: install loadkit there and import it in the locustfile"
    ]


def test_a_loadkit_worker_of_the_same_version_is_accepted_by_a_loadkit_fleet(fleet: Any) -> None:
    import loadkit

    runner, peer = fleet("--threshold", "fail_ratio<1")
    worker = peer("w1")
    ready(worker)
    assert runner.clients.ready == []  # pending until its hello
    worker.send("loadkit:hello", {"version": loadkit.__version__})
    until(lambda: [n.id for n in runner.clients.ready] == ["w1"], "the worker accepted")
    worker.send("heartbeat", {"state": "ready", "current_cpu_usage": 0.0, "current_memory_usage": 0})
    until(lambda: worker.got("heartbeat"), "the master's answer to the heartbeat")
    assert not worker.got("quit") and [n.id for n in runner.clients.ready] == ["w1"]
