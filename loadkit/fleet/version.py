"""Every node of a fleet runs the same loadkit: the master refuses a worker that does not.

Leasing messages, HDR deltas and report sections change between versions; a worker of
another version would feed the master payloads it drops or misreads, silently. So at
init a worker sends :data:`~loadkit.messages.HELLO` with its version; the master compares
(:func:`mismatch`, pure), and on a difference logs one line, forgets the worker and sends
:data:`~loadkit.messages.REFUSED`, on which the worker logs the same line and exits 2 (:func:`loadkit._stop.stop_run`).

Until its hello matched, a new worker is *pending*: left out of ``runner.clients.ready``
(and spawning/running), so Locust neither counts it towards ``--expect-workers`` nor gives it
users — it would as soon as the worker connected, which is before the hello arrives (the
worker sends it from its ``init``, right after connecting). A worker without loadkit's plugin
sends no hello: its first heartbeat (1 s later, always after a hello) accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes, WorkerRunner

import loadkit
from loadkit import messages
from loadkit._stop import stop_run
from loadkit.exceptions import ConfigError
from loadkit.messages import HELLO, REFUSED, Hello, Refusal

log = logging.getLogger("loadkit.fleet")


class PendingWorkerNodes(WorkerNodes):
    """Locust's table of workers, where one that connected counts only once :meth:`accept`-ed.

    Node states stay Locust's (its ``check_stopped`` reads them); only the lists by state
    that Locust uses to count and dispatch leave pending workers out.
    """

    def __init__(self, nodes: WorkerNodes) -> None:
        super().__init__()
        self._worker_nodes = nodes._worker_nodes
        self._accepted: set[str] = set(nodes._worker_nodes)

    def get_by_state(self, state: str) -> list[WorkerNode]:
        nodes = super().get_by_state(state)
        return nodes if state == STATE_MISSING else [n for n in nodes if n.id in self._accepted]

    def pending(self, node_id: str) -> bool:
        return node_id in self._worker_nodes and node_id not in self._accepted

    def accept(self, node_id: str) -> None:
        self._accepted.add(node_id)


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
        runner.clients = PendingWorkerNodes(runner.clients)
        messages.register_handler(runner, HELLO, _on_hello)
    elif isinstance(runner, WorkerRunner):
        messages.register_handler(runner, REFUSED, _on_refused)
        messages.send(runner, HELLO, Hello(loadkit.__version__))


def _on_hello(environment: Environment, hello: Hello, node_id: str) -> None:
    runner: Any = environment.runner
    reason = mismatch(node_id, hello.version, loadkit.__version__)
    if reason is None:
        _accept(runner, node_id, f"runs loadkit {hello.version}")
        return
    log.error("loadkit: error: %s", reason)
    node = runner.clients.get(node_id)
    if node is not None:
        dispatcher = getattr(runner, "_users_dispatcher", None)  # set once a test started
        if dispatcher is not None:
            dispatcher.remove_worker(node)
        del runner.clients[node_id]
    messages.send(runner, REFUSED, Refusal(reason), client_id=node_id)


def on_heartbeat(environment: Environment, client_id: str, **_kw: Any) -> None:
    """Master, a worker's heartbeat: accept a worker that sent no hello (no loadkit plugin)."""
    _accept(environment.runner, client_id, "sent no loadkit hello before its first heartbeat")


def _accept(runner: Any, node_id: str, why: str) -> None:
    clients = getattr(runner, "clients", None)
    if not isinstance(clients, PendingWorkerNodes) or not clients.pending(node_id):
        return
    clients.accept(node_id)
    from loadkit._locust import dispatch_to_accepted

    dispatch_to_accepted(runner, node_id)  # mid-run: its users, only now (loadkit._locust)
    # Locust's own "reported as ready. N workers connected" line did not count it yet.
    connected = len(clients.ready) + len(clients.spawning) + len(clients.running)
    log.info("%s %s: accepted. %d workers connected.", node_id, why, connected)


def _on_refused(environment: Environment, refusal: Refusal, _node_id: str) -> None:
    stop_run(environment, ConfigError(refusal.reason))
