"""The lease ledger across a master restart: saved, restored, reconciled with what workers declare."""

from __future__ import annotations

import json
import logging

import pytest

from loadkit.fleet.ledger import RECONCILE_S, Reconciler
from loadkit.fleet.pool import DataPool, Declaration
from loadkit.messages import DataRequest, Rejoin

ROWS = [{"id": i} for i in range(20)]


def rows_of(lease: object) -> list[int]:
    return [s for s, _ in lease.rows]  # type: ignore[attr-defined]


def restarted(pool: DataPool) -> DataPool:
    """A new master's pool from the old one's state file (through JSON, as written)."""
    fresh = DataPool(ROWS)
    fresh.restore(json.loads(json.dumps(pool.state())))
    return fresh


def balanced(pool: DataPool) -> None:
    """Every row is in exactly one place and every worker's totals add up."""
    state = pool.state()
    out = [s for w in state["workers"].values() for s in w["outstanding"]]
    available = [s for a, b in state["available"] for s in range(a, b)]
    assert len(out) == len(set(out)) and not set(out) & set(available)
    for w in state["workers"].values():
        assert w["leased"] == w["used"] + w["returned"] + len(w["outstanding"]), w


def rejoin(held: list[int], done: list[int] = []) -> Rejoin:  # noqa: B006  # never mutated
    return Rejoin(lost_at=1.0, seq=3, held=0, rows=held, done=done)


def test_the_ledger_survives_its_state_file() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 5)
    pool.lease("b", 5)
    pool.ack("a", [0, 1])
    pool.release("b", [9])
    again = restarted(pool)
    assert again.summary() == pool.summary()
    assert again.state()["available"] == [[9, 10], [10, 20]]  # given back, then never leased
    assert rows_of(again.lease("c", 2)) == rows_of(pool.lease("c", 2)) == [9, 10]


def test_the_cyclic_cursor_is_restored() -> None:
    pool = DataPool(ROWS, mode="cyclic")
    pool.lease("a", 7)
    again = DataPool(ROWS, mode="cyclic")
    again.restore(pool.state())
    assert rows_of(again.lease("a", 2)) == [7, 8]


@pytest.mark.parametrize(
    "state",
    [
        {"mode": "unique", "rows": 3},  # another data file
        {"mode": "cyclic", "rows": 20},  # another mode
        None,
    ],
)
def test_a_ledger_that_does_not_fit_is_refused(state: object) -> None:
    with pytest.raises(ValueError, match="not a ledger"):
        DataPool(ROWS).restore(state)


def test_a_row_in_two_places_is_refused() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 2)
    state = pool.state()
    state["available"] = [[0, 20]]
    with pytest.raises(ValueError, match="both out and available"):
        DataPool(ROWS).restore(state)


def test_rows_leased_and_used_after_the_last_write_are_reconciled() -> None:
    old = DataPool(ROWS)
    old.lease("a", 4)  # 0-3
    old.lease("b", 4)  # 4-7
    saved = restarted(old)  # the state file
    old.ack("a", [0])  # after the write: lost with the old master...
    old.lease("a", 4)  # 8-11, also lost
    pool = saved
    counts = pool.reconcile(
        {"a": Declaration(held={1, 2, 3, 8, 9, 10, 11}, done={0}), "b": Declaration(held={4, 5}, done={6})},
        missing=set(),
    )
    assert counts == {"kept": 5, "claimed": 4, "done": 2, "returned": 1, "refused": 0}
    workers = pool.summary()["workers"]
    assert workers["a"] == {"leased": 8, "used": 1, "returned": 0, "outstanding": 7}
    assert workers["b"] == {"leased": 4, "used": 1, "returned": 1, "outstanding": 2}  # 7 went back
    assert rows_of(pool.lease("c", 2)) == [7, 12]  # never a row a or b holds
    balanced(pool)


def test_a_worker_that_never_comes_back_gives_its_rows_back() -> None:
    old = DataPool(ROWS)
    old.lease("a", 3)
    old.lease("gone", 3)
    pool = restarted(old)
    counts = pool.reconcile({"a": Declaration(held={0, 1, 2})}, missing={"gone"})
    assert counts["returned"] == 3
    assert rows_of(pool.lease("c", 3)) == [3, 4, 5]  # at-least-once: first in line
    balanced(pool)


def test_a_row_two_workers_declare_stays_with_the_one_the_ledger_names() -> None:
    old = DataPool(ROWS)
    old.lease("a", 2)
    pool = restarted(old)
    counts = pool.reconcile(
        {"a": Declaration(held={0, 1}), "z": Declaration(held={1, 5, 99, -1}), "y": Declaration(held={5})},
        missing=set(),
    )
    assert counts["refused"] == 2  # z's claim on 1 (a's), z's claim on 5 (y declared it first)
    state = pool.state()["workers"]
    assert state["a"]["outstanding"] == [0, 1] and state["y"]["outstanding"] == [5]
    assert "z" not in state  # 99 and -1 are no rows: ignored; it keeps nothing
    balanced(pool)


def test_a_row_the_old_master_moved_from_a_lost_worker_follows_its_holder() -> None:
    old = DataPool(ROWS)
    old.lease("lost", 2)
    pool = restarted(old)  # then the old master reaped "lost" and leased its rows to "b"
    pool.reconcile({"b": Declaration(held={0, 1})}, missing={"lost"})
    workers = pool.summary()["workers"]
    assert workers["b"]["outstanding"] == 2 and workers["lost"]["outstanding"] == 0
    assert rows_of(pool.lease("c", 1)) == [2]
    balanced(pool)


def test_the_reconciler_holds_requests_until_every_named_worker_declared() -> None:
    now = [100.0]
    old = DataPool(ROWS)
    old.lease("a", 3)
    old.lease("b", 3)
    part = Reconciler(restarted(old), {"a", "b"}, clock=lambda: now[0])
    part.declare("a", rejoin([0, 1, 2]))
    assert part.intercept("a", DataRequest(want=5, acks=[0], releases=[]))  # not started: wait
    part.on_run_start()
    assert part.open and part.holding()
    part.declare("b", rejoin([3, 4], done=[5]))
    assert not part.intercept("b", DataRequest(want=5, acks=[], releases=[]))  # every one declared: leasing
    assert part.result is not None and part.result["done"] == 2  # a's ack during the window, b's declaration
    part.declare("late", rejoin([6]))  # after the window: ignored
    assert "late" not in part.pool.workers
    balanced(part.pool)


def test_the_reconciler_gives_up_on_a_missing_worker_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    old = DataPool(ROWS)
    old.lease("gone", 3)
    part = Reconciler(restarted(old), {"gone", "a"}, clock=lambda: now[0])
    part.declare("a", rejoin([]))
    part.on_run_start()
    assert part.holding()
    now[0] += RECONCILE_S
    with caplog.at_level(logging.WARNING, logger="loadkit.fleet"):
        assert not part.holding()
    assert part.pool.available == 20
    assert "1 worker(s) did not come back (gone): their rows go back to the pool" in caplog.text


def test_rows_claimed_from_the_never_leased_ones_leave_those_before_them_in_line() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 4)  # 0-3; after the state write the old master leased 4-7 to a, 8-9 to b
    pool.release("a", [1])
    pool.reconcile({"a": Declaration(held={0, 2, 3, 5, 6}, done={4}), "b": Declaration(held={9})}, missing=set())
    assert rows_of(pool.lease("c", 4)) == [1, 7, 8, 10]
    assert pool.available == 20 - 11  # a: 5 held + 1 used, b: 1, c: 4
    balanced(pool)


def test_a_second_rejoin_keeps_what_the_first_said_was_used() -> None:
    old = DataPool(ROWS)
    old.lease("a", 4)
    part = Reconciler(restarted(old), {"a"})
    part.declare("a", rejoin([1, 2, 3], done=[0]))
    part.intercept("a", DataRequest(want=0, acks=[1], releases=[]))
    part.declare("a", rejoin([2, 3]))  # sent again before the master answered: 0 and 1 stay used
    part.on_run_start()
    assert part.pool.summary()["workers"]["a"] == {"leased": 4, "used": 2, "returned": 0, "outstanding": 2}


def test_a_ledger_missing_a_field_changes_nothing() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 2)
    state = pool.state()
    del state["cursor"]
    fresh = DataPool(ROWS)
    with pytest.raises(KeyError):
        fresh.restore(state)
    assert fresh.available == 20 and not fresh.workers
