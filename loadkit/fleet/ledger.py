"""The test-data lease ledger across a master restart (issue #23; the master's side of leasing).

A master that writes a state file (:mod:`loadkit.fleet.resume`) puts its lease ledger in it,
under ``"ledger"``: which rows are out and to which worker, what is left to lease (as ranges),
the cyclic cursor, each worker's totals (leased, used, returned) and the workers connected at
that moment (:meth:`~loadkit.fleet.pool.DataPool.state`).

A master that resumes restores the ledger as soon as it starts, before any request is
answered, and then *reconciles* it with what its workers say. Between the last state write and
the kill the old master may have leased rows (the file has them as still available) and heard
acknowledgements (the file has them as still out). So until it is reconciled, the resumed
master answers every request for rows with "wait" (the users wait, as when rows are out on
other workers) and gives no row back for a worker that is not connected (the reaper waits too).
Each rejoining worker declares in :data:`~loadkit.messages.REJOIN` the rows it holds (buffered or
in a user's hands) and those it used since the master's state write before last
(:meth:`~loadkit.fleet.client.DataClient.declaration`); acknowledgements that arrive meanwhile
count as used too. The ledger is reconciled once every worker it names has declared and the
run has started, or :data:`RECONCILE_S` seconds after the run started, whichever comes first
(:meth:`~loadkit.fleet.pool.DataPool.reconcile`):

- a declared row stays with (or goes to) the worker that holds it: no row is out with two
  workers at once; a row two workers declare stays with the one the ledger names (else with
  the first), the other claim is counted as ``refused`` (a second holder is not told: it
  only comes from a worker that is not loadkit's);
- a row declared used counts as used, wherever the ledger had it;
- a row the ledger has out with a worker that does not declare it, and every row of a worker
  that does not come back within the window, goes back to the front of the pool: the
  at-least-once rule of a worker's death (:mod:`loadkit.fleet.pool`) — a row a lost worker
  used just before dying is used again. So is a row whose acknowledgement came to the old
  master after its last state write from a worker that does not come back.

A worker that rejoins after the window is like one that went missing and came back: its rows
may have gone to others (at-least-once). The master logs one line with what it reconciled.
The cyclic mode tracks no rows: only its cursor is restored. A ledger that does not fit the
rows of this run (another data file of another length, another mode) is named in one line and
the pool starts afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from locust.env import Environment

from loadkit._locust import runners as locust_runners
from loadkit.fleet.leasing import LEASING
from loadkit.fleet.pool import DataPool, Declaration
from loadkit.fleet.resume import RESUME
from loadkit.messages import DataRequest, Rejoin
from loadkit.run.context import StashKey, run_context

log = logging.getLogger("loadkit.fleet")

#: Seconds after the resumed run starts that the master waits for the workers its ledger names.
RECONCILE_S = 10.0


class Reconciler:
    """A resumed master's ledger until it is reconciled (module docstring); pure but for the clock."""

    def __init__(self, pool: DataPool, pending: Iterable[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.pending = set(pending)
        self.declared: dict[str, Declaration] = {}
        self.clock = clock
        self.deadline: float | None = None
        self.result: dict[str, int] | None = None

    @property
    def open(self) -> bool:
        return self.result is None

    def declare(self, node: str, rejoin: Rejoin) -> None:
        """A worker's ``loadkit:rejoin``: the rows it holds (its latest word) and used (all it said)."""
        if self.open:
            before = self.declared.get(node)
            done = set(rejoin.done) | (before.done if before is not None else set())
            self.declared[node] = Declaration(set(rejoin.rows) - done, done)

    def intercept(self, node: str, request: DataRequest) -> bool:
        """While open: record the request's acks and releases; True (rows wait). False once reconciled."""
        self.poll()
        if not self.open:
            return False
        holds = self.declared.setdefault(node, Declaration())
        holds.ack(request.acks)
        holds.release(request.releases)
        return True

    def holding(self) -> bool:
        """True while rows of absent workers must stay where the ledger has them (no reaping)."""
        self.poll()
        return self.open

    def on_run_start(self) -> None:
        if self.deadline is None:
            self.deadline = self.clock() + RECONCILE_S
        self.poll()

    def poll(self) -> None:
        """Reconcile when every named worker declared (and the run started), or at the deadline."""
        if not self.open or self.deadline is None:
            return
        if self.pending <= set(self.declared) or self.clock() >= self.deadline:
            self.close()

    def close(self) -> dict[str, int]:
        missing = self.pending - set(self.declared)
        self.result = self.pool.reconcile(self.declared, missing)
        log.warning(
            "loadkit: test-data ledger reconciled with %d rejoined worker(s): %s; %d worker(s) did not come back%s",
            len(self.declared),
            ", ".join(f"{k} {v}" for k, v in self.result.items()),
            len(missing),
            f" ({', '.join(sorted(missing))}): their rows go back to the pool" if missing else "",
        )
        return self.result


#: The resumed master's reconciler, in its run's stash (None: nothing to reconcile).
LEDGER: StashKey[Reconciler] = StashKey("ledger")


def install(environment: Environment) -> Reconciler | None:
    """On a master with test data and a state file: the ledger in it; when resuming, restore and
    reconcile it (module docstring). Call after :func:`loadkit.fleet.leasing.install` and
    :func:`loadkit.fleet.resume.install`."""
    stash = run_context(environment)
    leasing, resume = stash.get(LEASING), stash.get(RESUME)
    if leasing is None or leasing.pool is None or resume is None:
        return None
    pool = leasing.pool
    runner = environment.runner

    def take() -> dict[str, Any]:
        workers = [node.id for node in locust_runners.connected_workers(runner)]
        return {**pool.state(), "connected": workers}

    resume.state_parts["ledger"] = take
    saved = (resume.restored or {}).get("ledger")
    if saved is None:
        return None
    try:
        pool.restore(saved)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("loadkit: not restoring the test-data ledger of %s (%s): leasing afresh", resume.path, exc)
        return None
    named = {str(w) for w in saved.get("connected", []) if isinstance(w, str)} | set(pool.holders())
    part = stash[LEDGER] = Reconciler(pool, named)
    leasing.gate = part
    resume.rejoin_listeners.append(part.declare)
    environment.events.test_start.add_listener(lambda **_kw: part.on_run_start())
    log.info("loadkit: restored the test-data ledger: %d row(s) out with %d worker(s)", pool.outstanding, len(named))
    return part
