"""Test-data leasing wired to a Locust runner: master pool, worker client, local runs.

:func:`install` is called from :func:`loadkit.run.plugin.install`. Per runner kind:

- master: owns the :class:`~loadkit.fleet.pool.DataPool`; answers ``loadkit:data_request``
  with ``loadkit:data_grant``; a reaper greenlet returns the rows of workers that went
  missing or quit (Locust fires no event for those: it drops them from ``runner.clients``);
- worker: a :class:`~loadkit.fleet.client.DataClient` sending requests to the master;
- local: the same client calling the pool directly, no messages.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit import messages
from loadkit._locust import runners as locust_runners
from loadkit.exceptions import EXIT_OK
from loadkit.fleet.client import DATA_CLIENT, DataClient
from loadkit.fleet.pool import DataPool, check_mode
from loadkit.fleet.sources import load_rows
from loadkit.messages import DATA_GRANT, DATA_REQUEST, DataGrant, DataRequest
from loadkit.run.context import StashKey, run_context
from loadkit.run.stop import end_run

log = logging.getLogger("loadkit.fleet")

LOCAL = "local"
REAP_INTERVAL = 0.5
FLUSH_INTERVAL = 1.0


class Gate(Protocol):
    """What holds leasing back on a resumed master until its ledger is reconciled (:mod:`loadkit.fleet.ledger`)."""

    def intercept(self, node: str, request: DataRequest) -> bool: ...

    def holding(self) -> bool: ...


@dataclass
class Leasing:
    """The leasing state of one run (in its stash under :data:`LEASING`)."""

    pool: DataPool | None = None
    client: DataClient | None = None
    #: (worker id, monotonic time its rows went back, how many) — for figures and tests.
    reaped: list[tuple[str, float, int]] = field(default_factory=list)
    requests: int = 0
    started: float | None = None
    stopping: bool = False
    #: Set on a resumed master until its ledger is reconciled: requests wait, nothing is reaped.
    gate: Gate | None = None
    greenlets: list[gevent.Greenlet] = field(default_factory=list)

    def stop(self) -> None:
        """End this environment's background greenlets (at ``quitting``)."""
        for greenlet in self.greenlets:
            greenlet.kill(block=False)


#: This part's key in the run's stash (:mod:`loadkit.run.context`).
LEASING: StashKey[Leasing] = StashKey("leasing")


def build_pool(options: Any) -> DataPool | None:
    """The pool the options ask for, or None; raises ``DataError``/``ConfigError`` on bad input."""
    spec = getattr(options, "loadkit_data", None)
    if not spec:
        return None
    mode = getattr(options, "loadkit_data_mode", "unique") or "unique"
    exhausted = getattr(options, "loadkit_data_exhausted", "stop-user") or "stop-user"
    check_mode(mode, exhausted)
    return DataPool(load_rows(spec), mode=mode, exhausted=exhausted)


def install(environment: Environment) -> Leasing:
    """Set leasing up for ``environment``'s runner; bad input raises before any load."""
    runner = environment.runner
    options = environment.parsed_options
    batch = int(getattr(options, "loadkit_data_batch", 50) or 50)
    state = Leasing()
    run_context(environment)[LEASING] = state
    if isinstance(runner, WorkerRunner):
        client = state.client = DataClient(lambda req: messages.send(runner, DATA_REQUEST, req), batch)
        run_context(environment)[DATA_CLIENT] = client
        messages.register_handler(runner, DATA_GRANT, lambda _env, grant, _node: client.on_grant(grant))
        state.greenlets.append(gevent.spawn(_flush_loop, client))
    else:
        state.pool = build_pool(options)
        if isinstance(runner, MasterRunner):
            messages.register_handler(runner, DATA_REQUEST, lambda env, req, node: _serve(env, state, req, node))
            state.greenlets.append(gevent.spawn(_reap_loop, runner, state))
        elif state.pool is not None:
            state.client = DataClient(lambda req: _serve_local(environment, state, req), batch)
            run_context(environment)[DATA_CLIENT] = state.client
    return state


def on_test_stop(environment: Environment, **_kw: Any) -> None:
    """Give buffered rows back and send the last acks, so a next run starts clean."""
    state = run_context(environment).get(LEASING)
    if state is not None and state.client is not None:
        state.client.release()


def on_quitting(environment: Environment, **_kw: Any) -> None:
    """End the greenlets; on the master, log the run's leasing figures (one JSON line)."""
    state = run_context(environment).get(LEASING)
    if state is not None:
        state.stop()
        if state.pool is not None and state.started is not None:
            log.info("loadkit data: %s", json.dumps(figures(state)))


def figures(state: Leasing) -> dict[str, Any]:
    """Leasing figures of a run: rows leased per second, requests, rows returned by dead workers."""
    elapsed = time.monotonic() - state.started if state.started is not None else 0.0
    summary = state.pool.summary() if state.pool is not None else {"workers": {}}
    leased = sum(w["leased"] for w in summary["workers"].values())
    return {
        "seconds": round(elapsed, 3),
        "rows_leased": leased,
        "rows_per_s": round(leased / elapsed, 1) if elapsed else 0.0,
        "requests": state.requests,
        "workers": len(summary["workers"]),
        "reaped": [{"worker": w, "rows": n} for w, _, n in state.reaped],
    }


def _answer(environment: Environment, state: Leasing, request: DataRequest, node: str) -> DataGrant | None:
    state.requests += 1
    if state.started is None:
        state.started = time.monotonic()
    pool = state.pool
    if pool is None:
        if request.want:
            log.error("worker %s asked for test data but the master has none: run it with --loadkit-data", node)
            return DataGrant(rows=[], status="exhausted")
        return None
    if state.gate is not None and state.gate.intercept(node, request):
        return DataGrant(rows=[], status="wait") if request.want else None
    pool.ack(node, request.acks)
    if request.releases:
        pool.release(node, request.releases)
    if not request.want:
        return None
    lease = pool.lease(node, request.want)
    stop_test = lease.status == "exhausted" and pool.exhausted_policy == "stop-test"
    if stop_test and not state.stopping:
        state.stopping = True
        end_run(environment, EXIT_OK, "loadkit: test data exhausted (policy stop-test): stopping the test")
    return DataGrant(rows=[[seq, row] for seq, row in lease.rows], status=lease.status)


def _serve(environment: Environment, state: Leasing, request: DataRequest, node: str) -> None:
    grant = _answer(environment, state, request, node)
    if grant is not None and environment.runner is not None:
        messages.send(environment.runner, DATA_GRANT, grant, client_id=node)


def _serve_local(environment: Environment, state: Leasing, request: DataRequest) -> None:
    grant = _answer(environment, state, request, LOCAL)
    if grant is not None and state.client is not None:
        state.client.on_grant(grant)


def reap(runner: MasterRunner, state: Leasing) -> int:
    """Return the rows of every worker that is gone or missing; return how many rows."""
    if state.pool is None or (state.gate is not None and state.gate.holding()):
        return 0
    total = 0
    for worker in state.pool.holders():
        if locust_runners.worker_gone(runner, worker):
            count = state.pool.release(worker)
            if count:
                state.reaped.append((worker, time.monotonic(), count))
                log.warning("worker %s is gone: %d leased row(s) go back to the pool", worker, count)
                total += count
    return total


def _reap_loop(runner: MasterRunner, state: Leasing) -> None:
    while True:
        gevent.sleep(REAP_INTERVAL)
        try:
            reap(runner, state)
        except Exception:  # a bug here must not end reaping for the rest of the run
            log.exception("reaping leases failed")


def _flush_loop(client: DataClient) -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL)
        client.flush()
