"""loadkit.fleet.rejoin: a worker's reports and its view of the master, on a fake clock."""

from __future__ import annotations

import pytest

from loadkit.fleet.rejoin import KEPT, LATE_CHECK, LOST_AFTER, READY_EVERY, SEQ_KEY, Rejoiner


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reports_are_numbered_and_kept_until_checkpointed() -> None:
    part = Rejoiner(Clock())
    reports = [{} for _ in range(3)]
    assert [part.on_report(r) for r in reports] == [False, False, False]  # master there: sent
    assert [r[SEQ_KEY] for r in reports] == [1, 2, 3]
    assert part.on_checkpointed(2) == []  # not rejoining: nothing to re-send
    assert [seq for seq, _ in part.kept] == [3]


def test_a_lost_master_holds_reports_and_asks_for_a_master_every_few_seconds() -> None:
    clock = Clock()
    part = Rejoiner(clock)
    assert part.check() is False  # never connected: Locust's own retries
    part.on_heartbeat()
    part.on_report({})
    for _ in range(int(LOST_AFTER)):  # the loop checks once a second
        clock.now += 1
        assert part.check() is False and not part.holding
    clock.now += 1
    assert part.check() is True and part.holding and part.lost_at == 1000.0
    assert part.on_report({}) is True  # held
    assert part.check() is False
    clock.now += READY_EVERY
    assert part.check() is True  # client_ready again
    part.on_heartbeat()  # a master answered
    clock.now += READY_EVERY
    assert part.check() is False and part.holding  # until it says what it holds
    resend = part.on_checkpointed(1)
    assert [r[SEQ_KEY] for r in resend] == [2] and not part.holding
    clock.now += 1
    assert part.check() is False and not part.holding  # its answer counts as a heartbeat


def test_a_stalled_worker_loop_is_not_a_lost_master() -> None:
    """CPU-bound users stall the loop: no heartbeat sent, none read; the master is lost only after a steady spell."""
    clock = Clock()
    part = Rejoiner(clock)
    part.on_heartbeat()
    clock.now += 2 * LOST_AFTER  # users starting stall the loop before its first check
    assert part.check() is False and not part.holding
    part.on_heartbeat()
    for _ in range(3):
        assert part.check() is False
        clock.now += 1
    clock.now += 2 * LOST_AFTER  # the loop stalled: no check, no heartbeat read
    assert part.check() is False and not part.holding  # late: the silence was this worker's own
    for _ in range(int(LOST_AFTER)):  # steady again, still silent: the stall is too recent to tell
        clock.now += 1
        assert part.check() is False and not part.holding
    part.on_heartbeat()  # the master answers the worker's first heartbeat after the stall
    clock.now += LOST_AFTER + LATE_CHECK  # stalled again, and this time the master is really gone
    assert part.check() is False
    checks = 0
    while not part.check() and checks < 20:
        checks += 1
        clock.now += 1
    assert part.holding and checks == int(LOST_AFTER) + 1  # a steady spell of LOST_AFTER seconds first


def test_kept_reports_are_bounded() -> None:
    part = Rejoiner(Clock())
    for _ in range(KEPT + 5):
        part.on_report({})
    assert len(part.kept) == KEPT and part.kept[0][0] == 6


def test_the_rejoin_messages_are_declared_and_checked() -> None:
    from loadkit.messages import CHECKPOINTED, REJOIN, Direction, MessageError

    assert CHECKPOINTED.direction is Direction.TO_WORKER and REJOIN.direction is Direction.TO_MASTER
    assert REJOIN.decode({"lost_at": 1.5, "seq": 3, "held": 2}).seq == 3
    assert CHECKPOINTED.decode({"seq": 0}).seq == 0
    for bad in ({"seq": -1}, {"seq": True}, {"seq": "3"}, {"seq": 1, "more": 2}):
        with pytest.raises(MessageError):
            CHECKPOINTED.decode(bad)
    with pytest.raises(MessageError):
        REJOIN.decode({"lost_at": "never", "seq": 1, "held": 0})
