"""The master's data pool: exactly-once leasing, release on worker death, modes, policies."""

from __future__ import annotations

import pytest

from loadkit.exceptions import ConfigError
from loadkit.fleet.pool import DataPool, check_mode

ROWS = [{"id": i} for i in range(10)]


def seqs(lease: object) -> list[int]:
    return [s for s, _ in lease.rows]  # type: ignore[attr-defined]


def test_unique_rows_go_to_one_worker_only() -> None:
    pool = DataPool(ROWS)
    a, b = pool.lease("a", 4), pool.lease("b", 4)
    c = pool.lease("c", 4)
    assert seqs(a) + seqs(b) + seqs(c) == list(range(10))
    assert pool.outstanding == 10
    assert pool.available == 0


def test_empty_pool_waits_while_rows_are_out_then_is_exhausted() -> None:
    pool = DataPool(ROWS[:2])
    pool.lease("a", 5)
    assert pool.lease("b", 5).status == "wait"
    pool.ack("a", [0, 1])
    assert pool.lease("b", 5).status == "exhausted"
    assert pool.summary()["workers"]["a"] == {"leased": 2, "used": 2, "returned": 0, "outstanding": 0}


def test_dead_worker_rows_come_back_first() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 4)
    pool.ack("a", [0, 1])
    assert pool.holders() == ["a"]
    assert pool.release("a") == 2
    assert seqs(pool.lease("b", 3)) == [2, 3, 4]
    assert pool.release("a") == 0
    assert pool.holders() == ["b"]


def test_release_of_named_rows_ignores_rows_not_held() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 3)
    assert pool.release("a", [1, 7]) == 1
    assert seqs(pool.lease("b", 1)) == [1]


def test_ack_of_rows_not_held_counts_nothing() -> None:
    pool = DataPool(ROWS)
    pool.lease("a", 2)
    pool.ack("a", [5, 0, 0])
    assert pool.summary()["workers"]["a"]["used"] == 1


def test_recycle_starts_a_new_round_when_all_rows_were_used() -> None:
    pool = DataPool(ROWS[:3], exhausted="recycle")
    pool.lease("a", 3)
    assert pool.lease("a", 3).status == "wait"
    pool.ack("a", [0, 1, 2])
    again = pool.lease("b", 5)
    assert (seqs(again), again.status, pool.rounds) == ([0, 1, 2], "ok", 2)


def test_cyclic_hands_rows_out_round_robin() -> None:
    pool = DataPool(ROWS[:3], mode="cyclic")
    assert seqs(pool.lease("a", 4)) == [0, 1, 2, 0]
    assert seqs(pool.lease("b", 2)) == [1, 2]
    assert pool.release("a") == 0
    pool.ack("a", [0, 1])
    assert pool.summary()["workers"]["a"]["used"] == 2


@pytest.mark.parametrize(("mode", "policy", "bad"), [("random", "stop-user", "mode"), ("unique", "halt", "policy")])
def test_unknown_mode_or_policy(mode: str, policy: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=bad):
        check_mode(mode, policy)
    with pytest.raises(ConfigError):
        DataPool(ROWS, mode=mode, exhausted=policy)


def test_empty_rows_rejected() -> None:
    with pytest.raises(ConfigError, match="at least one row"):
        DataPool([])
