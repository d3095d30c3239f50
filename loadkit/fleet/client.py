"""The worker side of test-data leasing: what a user calls to get its next row.

From any User (``HttpUser`` too)::

    import loadkit

    class Buyer(HttpUser):
        @task
        def buy(self):
            row = loadkit.data.next()        # a row no other user on any worker gets
            self.client.post("/items", json=row)

The client keeps a local buffer of leased rows and asks the master for the next batch when
it runs low, so users rarely wait on the network. A row is acknowledged once its user is
done with it — when that user asks for its next row, or when the test stops — with the
next request (or within a second); so a worker killed while a user writes a row does not
lose it: the row goes to another worker. See :mod:`loadkit.fleet.pool` for the
exactly-once / at-least-once guarantees. When the pool is exhausted (policy
``stop-user`` or ``stop-test``), ``next()`` raises Locust's ``StopUser``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from loadkit.exceptions import DataError
from loadkit.messages import MAX_SEQS_PER_REQUEST, DataGrant, DataRequest
from loadkit.run.context import StashKey, current, run_context

Row = dict[str, Any]
Transport = Callable[[DataRequest], None]

#: Why ``loadkit.data.next()`` has nothing to give: the option, and the import that adds it to Locust.
NOT_SET_UP = (
    "loadkit.data.next() has no test data: run locust with --loadkit-data FILE (or faker:COUNT), "
    "and keep 'import loadkit' in the locustfile so that locust knows that option"
)
#: How long a user waits for rows before ``next()`` raises ``DataError``.
NEXT_TIMEOUT = 30.0
#: How long a request may go unanswered before it is sent again.
REQUEST_TIMEOUT = 5.0
#: Pause before asking again when the master says "wait" (rows are out on other workers).
WAIT_RETRY = 0.2
#: Acks kept per state-write interval for a master that comes back (beyond: at-least-once).
KEPT_ACKS = 10_000


class DataClient:
    """A buffer of leased rows, refilled in batches of ``batch`` through ``transport``."""

    def __init__(self, transport: Transport, batch: int = 50) -> None:
        self._transport = transport
        self.batch = max(1, batch)
        self._buffer: deque[tuple[int, Row]] = deque()
        self._acks: list[int] = []
        self._in_use: dict[Any, int] = {}
        self._status = "ok"
        self._in_flight_since: float | None = None
        self._arrived = Event()
        self.used = 0
        #: Acks sent since the master's last two state writes (the older first): a restarted master
        #: may have lost them (:meth:`declaration`); the latest :data:`KEPT_ACKS` of each.
        self._sent: tuple[deque[int], deque[int]] = (deque(maxlen=KEPT_ACKS), deque(maxlen=KEPT_ACKS))

    def next(self, timeout: float = NEXT_TIMEOUT) -> Row:
        """The next row for this user; raises ``StopUser`` when the pool is exhausted."""
        deadline = time.monotonic() + timeout
        done = self._in_use.pop(gevent.getcurrent(), None)
        if done is not None:
            self._acks.append(done)
        while True:
            if self._buffer:
                seq, row = self._buffer.popleft()
                self._in_use[gevent.getcurrent()] = seq
                self.used += 1
                if len(self._buffer) * 2 < self.batch:
                    self._request()
                return row
            if self._status == "exhausted":
                from locust.exception import StopUser

                raise StopUser()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DataError(f"no test-data rows arrived within {timeout:g}s: is the master running --loadkit-data?")
            if self._status == "wait" and self._in_flight_since is None:
                gevent.sleep(min(WAIT_RETRY, remaining))
            self._request()
            self._arrived.wait(min(remaining, REQUEST_TIMEOUT))

    def on_grant(self, grant: DataGrant) -> None:
        """Rows arrived from the pool (a message on a worker, a direct call locally)."""
        self._buffer.extend((int(seq), row) for seq, row in grant.rows)
        self._status = grant.status
        self._in_flight_since = None
        self._arrived.set()

    def flush(self) -> None:
        """Send pending acknowledgements now (called every second and when the test stops)."""
        if self._acks and self._in_flight_since is None:
            acks, self._acks = self._acks, []
            self._send(DataRequest(want=0, acks=acks, releases=[]))

    def release(self) -> None:
        """Acknowledge what was used and give unused buffered rows back (the test stops)."""
        releases = [seq for seq, _ in self._buffer]
        self._buffer.clear()
        acks, self._acks = [*self._acks, *self._in_use.values()], []
        self._in_use.clear()
        if acks or releases:
            self._send(DataRequest(want=0, acks=acks, releases=releases))
        self._status = "ok"

    def declaration(self, limit: int = MAX_SEQS_PER_REQUEST) -> tuple[list[int], list[int]]:
        """``(held, done)`` for a master that comes back (``loadkit:rejoin``, :mod:`loadkit.fleet.ledger`).

        Held: rows buffered or in a user's hands. Done: rows used whose acknowledgement the new
        master may lack (not yet sent, or sent since the state write before last); the latest
        ``limit`` of them, of at most :data:`KEPT_ACKS` per interval (an older one the master
        lacks is used again: at-least-once).
        """
        held = [seq for seq, _ in self._buffer] + list(self._in_use.values())
        done = [*self._sent[0], *self._sent[1], *self._acks]
        return held[:limit], done[-limit:] if limit else []

    def on_checkpointed(self) -> None:
        """The master wrote its state file: the acks sent before its previous write are in it."""
        self._sent = (self._sent[1], deque(maxlen=KEPT_ACKS))

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _request(self) -> None:
        now = time.monotonic()
        if self._in_flight_since is not None and now - self._in_flight_since < REQUEST_TIMEOUT:
            return
        self._in_flight_since = now
        self._arrived.clear()
        acks, self._acks = self._acks, []
        self._send(DataRequest(want=self.batch, acks=acks, releases=[]))

    def _send(self, request: DataRequest) -> None:
        self._sent[1].extend(request.acks)
        self._transport(request)


#: The run's data client (a worker's, or a local run's with data), in its stash: what ``loadkit.data`` uses.
DATA_CLIENT: StashKey[DataClient] = StashKey("data client")


def _current_client() -> DataClient | None:
    """The data client of the calling user's run, else of the run loadkit was last installed on."""
    from loadkit._locust import users as locust_users

    environment = locust_users.calling_environment()
    stash = run_context(environment) if environment is not None else current()
    return stash.get(DATA_CLIENT) if stash is not None else None


class DataAccessor:
    """``loadkit.data``: the data client of the current run, usable from any User.

    Resolved on every call through the run context: of the calling user's environment, or
    outside a user :func:`loadkit.run.context.current` (the run loadkit was last installed on), so
    nothing is rebound when a new run starts. ``resolve`` is for tests.
    """

    def __init__(self, resolve: Callable[[], DataClient | None] = _current_client) -> None:
        self._resolve = resolve

    @property
    def client(self) -> DataClient:
        client = self._resolve()
        if client is None:
            raise DataError("test data is not set up: run locust with --loadkit-data FILE (or faker:COUNT)")
        return client

    def next(self, timeout: float = NEXT_TIMEOUT) -> Row:
        """The next row for the calling user (see :class:`DataClient`).

        Without test data set up, every call would fail the same way: from a user it ends the
        whole run once, with one line and exit 2 (:func:`loadkit.run.stop.stop_run`); elsewhere
        it raises ``DataError``.
        """
        try:
            client = self.client
        except DataError:
            error = DataError(NOT_SET_UP)
            from loadkit._locust import users as locust_users

            environment = locust_users.calling_environment()
            if environment is None:
                raise error from None
            from loadkit.run.stop import stop_run

            raise stop_run(environment, error) from None
        return client.next(timeout)


#: The process-wide accessor users call: ``loadkit.data.next()``.
data = DataAccessor()
