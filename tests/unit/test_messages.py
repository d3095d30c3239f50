"""loadkit.messages: declared with a direction, payloads validated on receipt, bad ones dropped."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from loadkit import messages as m
from loadkit.messages import Offenders


class FakeRunner:
    """Just the two runner methods the catalogue uses (a real runner needs a socket)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.sent: list[tuple[str, Any, str | None]] = []

    def register_message(self, name: str, listener: Any) -> None:
        self.handlers[name] = listener

    def send_message(self, name: str, data: Any, client_id: str | None = None) -> None:
        self.sent.append((name, data, client_id))


def test_fleet_messages_are_declared_with_direction() -> None:
    assert m.CATALOGUE["loadkit:data_request"].direction is m.Direction.TO_MASTER
    assert m.CATALOGUE["loadkit:data_grant"].direction is m.Direction.TO_WORKER
    assert "loadkit:health" not in m.CATALOGUE  # health samples ride in stats reports (loadkit.fleet.health)


def test_round_trip_through_send_and_handler() -> None:
    runner, got = FakeRunner(), []
    m.register_handler(runner, m.DATA_GRANT, lambda env, payload, node: got.append((env, payload, node)))
    m.send(runner, m.DATA_GRANT, m.DataGrant(rows=[[3, {"id": 3}]], status="ok"), client_id="w1")
    name, data, client = runner.sent[0]
    assert (name, client) == ("loadkit:data_grant", "w1")
    runner.handlers[name](environment="env", msg=SimpleNamespace(data=data, node_id="master"))
    assert got == [("env", m.DataGrant(rows=[[3, {"id": 3}]], status="ok"), "master")]


@pytest.mark.parametrize(
    ("message", "data"),
    [
        (m.DATA_REQUEST, {"want": -1, "acks": [], "releases": []}),
        (m.DATA_REQUEST, {"want": 1, "acks": ["x"], "releases": []}),
        (m.DATA_REQUEST, {"want": 1, "acks": []}),
        (m.DATA_GRANT, {"rows": [[1]], "status": "ok"}),
        (m.DATA_GRANT, {"rows": [], "status": "maybe"}),
        (m.HELLO, {"version": 3}),
        (m.HELLO, {"version": "1", "extra": 1}),
        (m.HELLO, None),
    ],
)
def test_malformed_payload_is_logged_and_dropped(
    message: m.MessageType[Any], data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runner, got, offenders = FakeRunner(), [], Offenders()
    m.register_handler(runner, message, lambda *a: got.append(a), offenders)
    with caplog.at_level(logging.WARNING, logger="loadkit.fleet"):
        for _ in range(3):  # one line per offender, not per message
            runner.handlers[message.name](environment=None, msg=SimpleNamespace(data=data, node_id="w9"))
    assert got == []
    assert caplog.text.count(f"dropped a malformed {message.name} message") == 1, caplog.text
    assert "from w9" in caplog.text
    assert offenders.dropped == {"w9": 3}


def test_encode_refuses_the_wrong_payload_type() -> None:
    with pytest.raises(TypeError):
        m.HELLO.encode(m.DataGrant(rows=[], status="ok"))  # type: ignore[arg-type]


def test_plan_round_trip() -> None:
    plan = m.ArrivalPlan("r1", True, 1.0, None, [[10.0, 100.0]], 10.0, 5, 1, 2, 10, "http://127.0.0.1:8080")
    assert m.ARRIVAL_PLAN.decode(m.ARRIVAL_PLAN.encode(plan)) == plan
    assert m.ARRIVAL_PLAN.name.startswith("loadkit:")


@pytest.mark.parametrize(
    "data",
    [
        {"run": "r", "active": True},  # no profile
        {"run": "r", "active": True, "rate": -1.0},
        {"run": "r", "active": True, "rate": 1.0, "slot": 3, "slots": 2},
        {"run": "r", "active": True, "rate": 1.0, "pool": -1},
        {"run": "r", "active": True, "stages": [[1, "x"]]},
        {"run": "r" * 100, "active": False},
        {"run": "r", "active": False, "evil": 1},
        {"run": "r", "active": True, "rate": 1.0, "host": 5},
        {"run": "r", "active": True, "rate": 1.0, "host": "h" * 3000},
        {"run": "r", "active": True, "rate": 1.0, "status_interval_s": 0.0},  # would flood the master
        {"run": "r", "active": True, "rate": 1.0, "status_interval_s": "1"},
    ],
)
def test_bad_plans_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(m.MessageError):
        m.ARRIVAL_PLAN.decode(data)


def test_bad_status_is_refused() -> None:
    with pytest.raises(m.MessageError):
        m.ARRIVAL_STATUS.decode({"run": "r", "totals": {"started": -1}})
    with pytest.raises(m.MessageError):
        m.ARRIVAL_STATUS.decode({"run": "r", "totals": {}, "timeline": {"1": -2}})


def test_a_rejoin_declares_rows_within_bounds() -> None:
    rejoin = m.REJOIN.decode({"lost_at": 1.0, "seq": 2, "held": 0, "rows": [1, 2], "done": [3]})
    assert rejoin.rows == [1, 2] and rejoin.done == [3]
    assert m.REJOIN.decode({"lost_at": 1.0, "seq": 2, "held": 0}).rows == []  # a worker that holds no data
    for bad in ([-1], ["1"], [True], list(range(m.MAX_SEQS_PER_REQUEST + 1)), "1,2"):
        with pytest.raises(m.MessageError):
            m.REJOIN.decode({"lost_at": 1.0, "seq": 2, "held": 0, "rows": bad})
