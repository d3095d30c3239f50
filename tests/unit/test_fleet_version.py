"""loadkit.fleet.version: the refusal line, and the hello/refused messages' payloads."""

from __future__ import annotations

import pytest
from locust.runners import WorkerNode, WorkerNodes

from loadkit.fleet.version import STATE_PENDING, PendingWorkerNodes, mismatch
from loadkit.messages import HELLO, REFUSED, Direction, Hello, MessageError, Refusal


def test_same_version_is_accepted() -> None:
    assert mismatch("w1", "1.2.3", "1.2.3") is None


def test_other_version_is_refused_with_both_versions_and_the_fix() -> None:
    assert mismatch("w1", "1.2.3", "1.3.0") == (
        "worker w1 runs loadkit 1.2.3, master runs 1.3.0: install the same version on every host"
    )


def test_messages_round_trip_and_directions() -> None:
    assert HELLO.direction is Direction.TO_MASTER and REFUSED.direction is Direction.TO_WORKER
    assert HELLO.decode(HELLO.encode(Hello("1.0"))) == Hello("1.0")
    assert REFUSED.decode(REFUSED.encode(Refusal("no"))) == Refusal("no")
    with pytest.raises(MessageError):
        HELLO.decode({"version": ""})
    with pytest.raises(MessageError):
        HELLO.decode({"version": "1", "extra": 1})


def test_a_new_worker_is_pending_until_accepted_and_stays_accepted_on_reconnect() -> None:
    nodes = PendingWorkerNodes(WorkerNodes())
    nodes["w1"] = WorkerNode("w1")
    assert nodes["w1"].state == STATE_PENDING and nodes.ready == []
    nodes.accept("w1")
    assert [n.id for n in nodes.ready] == ["w1"]
    nodes["w1"] = WorkerNode("w1")  # Locust replaces the node when the worker reconnects
    assert [n.id for n in nodes.ready] == ["w1"]
    nodes.accept("gone")  # a worker that left before its hello was handled
    assert len(nodes) == 1
