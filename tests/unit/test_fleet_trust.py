"""What the master accepts: frames (parse), senders (Gate), one line per offender (Offenders)."""

from __future__ import annotations

import logging

import msgpack
import pytest
from locust.rpc import Message

from loadkit.fleet import trust
from loadkit.messages import Offenders


def frames(kind: object, data: object, node: object, identity: bytes = b"w1") -> list[bytes]:
    return [identity, msgpack.dumps((kind, data, node))]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([b"w1", b"\x05"], r"not Locust's \[type, data, node_id\]"),
        ([b"w1", msgpack.dumps(["heartbeat", None])], r"not Locust's"),
        ([b"w1", b"\xc1garbage"], r"not Locust's"),
        ([b"w1", b"a", b"b"], r"3 frames instead of 2"),
        ([b"\x00\xff\xfe", Message("heartbeat", {}, "x").serialize()], r"not UTF-8"),
        (frames(5, None, "w1"), r"type or node id is not a string"),
        (frames("quit", None, "victim"), r"'quit' message claiming node id 'victim'"),
        ([b"w1", b"\x00" * 2001], r"a message of 2001 bytes \(at most 2000\)"),
    ],
)
def test_parse_drops_malformed_frames(raw: list[bytes], reason: str) -> None:
    with pytest.raises(trust.Dropped, match=reason):
        trust.parse(raw, max_bytes=2000)


def test_parse_returns_the_identity_and_message() -> None:
    addr, msg = trust.parse(frames("heartbeat", {"state": "ready"}, "w1"))
    assert (addr, msg.type, msg.data, msg.node_id) == ("w1", "heartbeat", {"state": "ready"}, "w1")


def test_one_line_per_offender(caplog: pytest.LogCaptureFixture) -> None:
    offenders = Offenders()
    with caplog.at_level(logging.WARNING, logger="loadkit.fleet"):
        for _ in range(1000):
            offenders.drop("rogue", "a bad frame")
        offenders.drop("other", "a bad frame")
    assert len(caplog.records) == 2
    assert offenders.dropped == {"rogue": 1000, "other": 1}
    assert offenders.summary() == "loadkit: dropped 1001 message(s) from 2 peer(s) during the run"


def test_offenders_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    offenders = Offenders(limit=3)
    with caplog.at_level(logging.WARNING, logger="loadkit.fleet"):
        for i in range(100):
            offenders.drop(f"id{i}", "x")
    assert len(offenders.dropped) == 3 and offenders.others == 97
    assert len(caplog.records) == 4  # three offenders and one "no more lines"


class FakeFleet:
    def __init__(self, registered: set[str], pending: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.nodes, self.waiting = registered, pending

    def registered(self, node_id: str) -> bool:
        return node_id in self.nodes

    def pending(self, node_id: str) -> bool:
        return node_id in self.waiting

    def count(self) -> int:
        return len(self.nodes)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("kind", "data", "fleet", "admitted"),
    [
        ("stats", {}, FakeFleet(set()), False),  # never registered
        ("loadkit:data_request", {}, FakeFleet(set()), False),
        ("loadkit:arrival_status", {}, FakeFleet(set()), False),
        ("heartbeat", {}, FakeFleet(set()), False),
        ("locustfile", {}, FakeFleet(set()), True),  # Locust's -f - request
        ("client_ready", "2.47.0", FakeFleet(set()), True),
        ("client_ready", None, FakeFleet(set()), False),
        ("stats", {}, FakeFleet({"w"}, {"w"}), False),  # pending: no stats, no data
        ("loadkit:data_request", {}, FakeFleet({"w"}, {"w"}), False),
        ("loadkit:hello", {}, FakeFleet({"w"}, {"w"}), True),
        ("heartbeat", {}, FakeFleet({"w"}, {"w"}), True),
        ("stats", {"stats": []}, FakeFleet({"w"}), True),
        ("stats", "x", FakeFleet({"w"}), False),
        ("stats", {"stats": [{}] * (trust.MAX_ENTRIES + 1)}, FakeFleet({"w"}), False),
        ("stats", {"loadkit_hdr": {str(i): "" for i in range(trust.MAX_ENTRIES + 1)}}, FakeFleet({"w"}), False),
    ],
)
def test_gate(kind: str, data: object, fleet: FakeFleet, admitted: bool) -> None:
    gate = trust.Gate(Offenders(), max_workers=10)
    assert gate.admit(fleet, "w", kind, data) is admitted


def test_repeated_client_ready_at_most_every_interval() -> None:
    clock, fleet = Clock(), FakeFleet(set())
    gate = trust.Gate(Offenders(), max_workers=10, clock=clock)
    assert gate.admit(fleet, "w", "client_ready", "2.47.0")
    fleet.nodes.add("w")
    assert [gate.admit(fleet, "w", "client_ready", "2.47.0") for _ in range(10_000)].count(True) == 0
    clock.now += trust.CLIENT_READY_INTERVAL
    assert gate.admit(fleet, "w", "client_ready", "2.47.0")  # Locust's own retry, 5 s later


def test_workers_per_fleet_are_bounded() -> None:
    fleet = FakeFleet({f"w{i}" for i in range(3)})
    gate = trust.Gate(Offenders(), max_workers=3)
    assert not gate.admit(fleet, "new", "client_ready", "2.47.0")
    assert gate.admit(fleet, "w0", "client_ready", "2.47.0")  # a known one may re-register


def test_a_stopped_worker_may_still_send_its_last_stats_and_quit() -> None:
    """Locust forgets a worker at its client_stopped; the report it sends next holds its last requests."""
    clock, fleet = Clock(), FakeFleet({"w"})
    gate = trust.Gate(Offenders(), max_workers=10, clock=clock)
    assert gate.admit(fleet, "w", "client_stopped", None)
    fleet.nodes.discard("w")  # what Locust's handler does next
    assert gate.admit(fleet, "w", "stats", {"stats": []})
    assert not gate.admit(fleet, "w", "stats", {"stats": [{}] * (trust.MAX_ENTRIES + 1)})  # still checked
    assert not gate.admit(fleet, "w", "spawning_complete", {})  # only what a stopping worker sends
    assert gate.admit(fleet, "w", "quit", None)
    assert not gate.admit(fleet, "other", "stats", {"stats": []})  # never registered: dropped as before
    clock.now += trust.STOPPED_FOR_S
    assert not gate.admit(fleet, "w", "stats", {"stats": []})  # stopped long ago, never back


@pytest.mark.parametrize(
    ("kind", "data", "fleet", "admitted"),
    [
        ("my_custom_message", {"n": 1}, FakeFleet(set()), True),  # Locust delivers it to register_message
        ("heartbeat", {}, FakeFleet(set()), True),  # Locust logs it at debug level and goes on
        ("client_ready", None, FakeFleet(set()), True),  # Locust's own "pre 2.0 worker" error line
        ("stats", {}, FakeFleet(set()), False),  # would still change the numbers
        ("spawning_complete", {}, FakeFleet(set()), True),  # Locust asks that unknown worker to quit
        ("exception", {}, FakeFleet(set()), False),
        ("stats", {"stats": [{}] * (trust.MAX_ENTRIES + 1)}, FakeFleet({"w"}), False),
    ],
)
def test_gate_of_a_plain_locust_fleet_keeps_locusts_contract(
    kind: str, data: object, fleet: FakeFleet, admitted: bool
) -> None:
    gate = trust.Gate(trust.Offenders(), max_workers=10, loadkit_fleet=False)
    assert gate.admit(fleet, "w", kind, data) is admitted


def test_plain_locust_fleet_leaves_repeated_client_ready_and_fleet_size_to_locust() -> None:
    fleet = FakeFleet({f"w{i}" for i in range(3)})
    gate = trust.Gate(trust.Offenders(), max_workers=3, loadkit_fleet=False)
    assert gate.admit(fleet, "new", "client_ready", "2.47.0")
    assert all(gate.admit(fleet, "w0", "client_ready", "2.47.0") for _ in range(3))
