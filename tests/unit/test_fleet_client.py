"""The worker-side data client against a real pool through an in-process transport."""

from __future__ import annotations

from collections import deque

import gevent
import pytest
from locust.exception import StopUser

from loadkit.exceptions import DataError
from loadkit.fleet.client import DataAccessor, DataClient
from loadkit.fleet.pool import DataPool
from loadkit.messages import DataGrant, DataRequest


class PoolTransport:
    """Answers requests from a real pool, as the master does (optionally never)."""

    def __init__(self, pool: DataPool, answer: bool = True) -> None:
        self.pool = pool
        self.answer = answer
        self.client: DataClient | None = None
        self.requests: list[DataRequest] = []

    def __call__(self, req: DataRequest) -> None:
        self.requests.append(req)
        self.pool.ack("w", req.acks)
        self.pool.release("w", req.releases)
        if self.answer and req.want and self.client is not None:
            lease = self.pool.lease("w", req.want)
            self.client.on_grant(DataGrant(rows=[[s, r] for s, r in lease.rows], status=lease.status))


def make(rows: int, batch: int = 4, answer: bool = True, **pool_kw: str) -> tuple[DataClient, PoolTransport]:
    transport = PoolTransport(DataPool([{"id": i} for i in range(rows)], **pool_kw), answer)
    client = DataClient(transport, batch)
    transport.client = client
    return client, transport


def test_rows_come_in_batches_and_each_once() -> None:
    client, transport = make(10, batch=4)
    got = [client.next()["id"] for _ in range(10)]
    assert got == list(range(10))
    assert all(r.want == 4 for r in transport.requests if r.want)
    assert len([r for r in transport.requests if r.want]) < 10


def test_exhausted_pool_stops_the_user() -> None:
    client, _ = make(3)
    for _ in range(3):
        client.next()
    with pytest.raises(StopUser):
        client.next()


def test_a_row_is_acked_when_its_user_moves_on_and_release_returns_the_buffer() -> None:
    client, transport = make(10, batch=4)
    client.next()
    client.next()  # the same user (greenlet) is done with its first row
    client.flush()
    assert transport.pool.summary()["workers"]["w"]["used"] == 1
    held = client.buffered
    assert held > 0
    client.release()  # the test stops: the row in use counts as used, the buffer goes back
    assert client.buffered == 0
    assert transport.pool.summary()["workers"]["w"]["used"] == 2
    assert transport.pool.summary()["workers"]["w"]["returned"] == held
    assert transport.pool.outstanding == 0


def test_rows_of_other_users_stay_unacked_until_they_move_on() -> None:
    client, transport = make(10, batch=4)
    gevent.spawn(client.next).join()
    client.next()
    client.flush()
    assert transport.pool.summary()["workers"]["w"]["used"] == 0


def test_concurrent_users_never_share_a_row() -> None:
    client, _ = make(200, batch=7)
    got: list[int] = []

    def user() -> None:
        while True:
            try:
                got.append(client.next()["id"])
            except StopUser:
                return
            gevent.sleep(0)

    gevent.joinall([gevent.spawn(user) for _ in range(20)], timeout=30)
    assert sorted(got) == list(range(200))


def test_no_answer_is_a_data_error_after_the_timeout() -> None:
    client, _ = make(3, answer=False)
    with pytest.raises(DataError, match="no test-data rows arrived"):
        client.next(timeout=0.2)


def test_accessor_without_data_says_how_to_set_it_up() -> None:
    clients: list[DataClient] = []
    accessor = DataAccessor(lambda: clients[-1] if clients else None)
    with pytest.raises(DataError, match="--loadkit-data"):
        accessor.next()
    client, _ = make(2)
    clients.append(client)
    assert accessor.next() == {"id": 0}


def test_the_process_accessor_follows_the_current_run() -> None:
    """``loadkit.data`` resolves through the run context: no rebinding when a new run is installed."""
    from loadkit.fleet.client import DATA_CLIENT, data
    from loadkit.run import context as run

    class Env:  # stands for a Locust Environment: contexts are keyed by identity
        pass

    first, second = Env(), Env()
    for env, rows in ((first, 2), (second, 3)):
        run.run_context(env)[DATA_CLIENT] = make(rows)[0]
    run.make_current(first)
    assert data.client is run.run_context(first)[DATA_CLIENT]
    run.make_current(second)
    assert data.client is run.run_context(second)[DATA_CLIENT]


def test_next_without_data_names_the_option_and_the_import() -> None:
    accessor = DataAccessor(lambda: None)
    with pytest.raises(DataError, match=r"--loadkit-data FILE \(or faker:COUNT\).*'import loadkit'"):
        accessor.next()


def test_a_worker_declares_what_it_holds_and_the_acks_a_new_master_may_lack() -> None:
    client, transport = make(20, batch=4)
    first = client.next()["id"]
    client.next()  # the first row is done: its ack goes with the next request or flush
    client.flush()
    held, done = client.declaration()
    assert first in done and first not in held
    assert sorted(held) == sorted(transport.pool.state()["workers"]["w"]["outstanding"])
    client.on_checkpointed()  # one state write: the ack may still be missing from it
    assert first in client.declaration()[1]
    client.on_checkpointed()  # the next write has it
    assert first not in client.declaration()[1]


def test_a_declaration_is_bounded() -> None:
    client, _ = make(50, batch=20)
    for _ in range(10):
        client.next()
    held, done = client.declaration(limit=3)
    assert len(held) == 3 and len(done) == 3
    assert done == client.declaration()[1][-3:]  # the latest acks


def test_the_ack_history_keeps_the_latest() -> None:
    client, _ = make(40, batch=10)
    client._sent = (client._sent[0], deque(maxlen=3))  # KEPT_ACKS of 3
    for _ in range(8):
        client.next()
        client.flush()
    assert client.declaration()[1] == list(range(4, 7))  # rows 0-6 acked (7 in use): the last three
