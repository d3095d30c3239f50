"""loadkit.fleet.version: the refusal line, and the hello/refused messages' payloads."""

from __future__ import annotations

import pytest
from locust.runners import STATE_INIT, STATE_MISSING, WorkerNode, WorkerNodes

from loadkit._locust.runners import PendingWorkerNodes
from loadkit.fleet.version import mismatch
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


def test_a_new_worker_is_left_out_until_accepted_and_stays_accepted_on_reconnect() -> None:
    nodes = PendingWorkerNodes(WorkerNodes())
    nodes["w1"] = WorkerNode("w1")
    assert nodes.pending("w1") and nodes.ready == [] and nodes["w1"].state == STATE_INIT
    nodes.accept("w1")
    assert not nodes.pending("w1") and [n.id for n in nodes.ready] == ["w1"]
    nodes["w1"] = WorkerNode("w1")  # Locust replaces the node when the worker reconnects
    assert [n.id for n in nodes.ready] == ["w1"]
    nodes["w2"] = WorkerNode("w2")
    nodes["w2"].state = STATE_MISSING
    assert [n.id for n in nodes.missing] == ["w2"]  # Locust's missing-worker handling sees every node


def test_workers_already_connected_are_accepted() -> None:
    before = WorkerNodes()
    before["w1"] = WorkerNode("w1")
    assert [n.id for n in PendingWorkerNodes(before).ready] == ["w1"]
