"""Every node of a fleet runs the same loadkit: the master refuses a worker that does not.

Leasing messages, HDR deltas and report sections change between versions; a worker of
another version would feed the master payloads it drops or misreads, silently. So at
init a worker sends :data:`~loadkit.messages.HELLO` with its version; the master compares
(:func:`mismatch`, pure), and on a difference logs one line, forgets the worker and sends
:data:`~loadkit.messages.REFUSED`, on which the worker logs the same line and exits 2
(:func:`loadkit.run.stop.stop_run`).

Until its hello matched, a new worker is *pending*: left out of ``runner.clients.ready``
(and spawning/running), so Locust neither counts it towards ``--expect-workers`` nor gives it
users — it would as soon as the worker connected, which is before the hello arrives (the
worker sends it from its ``init``, right after connecting). The table and the removal of a
refused worker are Locust internals: :mod:`loadkit._locust` (worker table, forget a worker).
A worker without loadkit's plugin sends no hello: at its first heartbeat (which a loadkit
worker sends after its hello) the master refuses it with one line and Locust's ``quit``
message, which a plain Locust worker obeys, instead of leaving it connected with no users.

All of this is for a loadkit fleet: a master whose run uses a loadkit class or option
(:mod:`loadkit.plain`). A plain Locust fleet that only imports loadkit keeps Locust's own
contract: a worker gets users as soon as it connected, mid-run too, loadkit installed or
not; a loadkit worker of another version is still refused when its hello arrives.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit import _version, messages
from loadkit._locust import runners as locust_runners
from loadkit.exceptions import ConfigError
from loadkit.messages import HELLO, REFUSED, Hello, Refusal
from loadkit.plain import environment_uses_loadkit
from loadkit.run.stop import stop_run

log = logging.getLogger("loadkit.fleet")


def mismatch(worker: str, worker_version: str, master_version: str) -> str | None:
    """The refusal line when the versions differ, else None.

    >>> mismatch("w1", "0.1.0", "0.2.0")
    'worker w1 runs loadkit 0.1.0, master runs 0.2.0: install the same version on every host'
    """
    if worker_version == master_version:
        return None
    return (
        f"worker {worker} runs loadkit {worker_version}, master runs {master_version}: "
        "install the same version on every host"
    )


def install(environment: Environment) -> None:
    """Master: check each worker's hello. Worker: say hello, and exit on a refusal."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        if environment_uses_loadkit(environment):
            locust_runners.gate_workers(runner)
        messages.register_handler(runner, HELLO, _on_hello)
    elif isinstance(runner, WorkerRunner):
        messages.register_handler(runner, REFUSED, _on_refused)
        messages.send(runner, HELLO, Hello(_version.__version__))


def _on_hello(environment: Environment, hello: Hello, node_id: str) -> None:
    runner: Any = environment.runner
    reason = mismatch(node_id, hello.version, _version.__version__)
    if reason is None:
        _accept(runner, node_id, f"runs loadkit {hello.version}")
        return
    log.error("loadkit: error: %s", reason)
    locust_runners.forget_worker(runner, node_id)
    messages.send(runner, REFUSED, Refusal(reason), client_id=node_id)


def without_loadkit(worker: str) -> str:
    """The refusal line for a worker that sent no hello.

    >>> without_loadkit("w1").split(": ")[0]
    'worker w1 runs without loadkit (no loadkit:hello before its first heartbeat) in a loadkit fleet'
    """
    return (
        f"worker {worker} runs without loadkit (no loadkit:hello before its first heartbeat) in a loadkit fleet: "
        "install loadkit there and import it in the locustfile"
    )


def on_heartbeat(environment: Environment, client_id: str, **_kw: Any) -> None:
    """Master, a worker's heartbeat: refuse a pending worker, which sent no hello (no loadkit plugin)."""
    runner: Any = environment.runner
    clients = locust_runners.worker_table(runner)
    if clients is None or not clients.pending(client_id):
        return
    log.error("loadkit: error: %s", without_loadkit(client_id))
    locust_runners.refuse_worker(runner, client_id)


def _accept(runner: Any, node_id: str, why: str) -> None:
    clients = locust_runners.worker_table(runner)
    if clients is None or not clients.pending(node_id):
        return
    clients.accept(node_id)
    from loadkit._locust.rpc import dispatch_to_accepted

    dispatch_to_accepted(runner, node_id)  # mid-run: its users, only now (loadkit._locust.rpc)
    # Locust's own "reported as ready. N workers connected" line did not count it yet.
    log.info("%s %s: accepted. %d workers connected.", node_id, why, locust_runners.worker_count(runner))


def _on_refused(environment: Environment, refusal: Refusal, _node_id: str) -> None:
    stop_run(environment, ConfigError(refusal.reason))
