"""Every node of a fleet runs the same loadkit: the master refuses a worker that does not.

Leasing messages, HDR deltas and report sections change between versions; a worker of
another version would feed the master payloads it drops or misreads, silently. So at
init a worker sends :data:`~loadkit.messages.HELLO` with its version; the master compares
(:func:`mismatch`, pure), and on a difference logs one line, forgets the worker and sends
:data:`~loadkit.messages.REFUSED`, on which the worker logs the same line and exits 2.

Until its hello matched, a new worker is *pending* (:data:`STATE_PENDING`), not ready:
Locust counts a worker towards ``--expect-workers`` and gives it users as soon as it
connected, which is before its hello arrives (the worker sends it from its ``init``, right
after connecting). A matching hello makes it ready (so does its first heartbeat, 1 s later,
which is Locust's: a worker without loadkit's plugin is not held back for ever).
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_INIT, MasterRunner, WorkerNode, WorkerNodes, WorkerRunner

import loadkit
from loadkit import messages
from loadkit.cli import EXIT_USAGE
from loadkit.messages import HELLO, REFUSED, Hello, Refusal

log = logging.getLogger("loadkit.fleet")

#: State of a connected worker whose hello has not arrived yet (not one of Locust's: not "ready").
STATE_PENDING = "loadkit_pending"


class PendingWorkerNodes(WorkerNodes):
    """Locust's table of workers, where a worker that (re)connects is pending until :meth:`accept`."""

    def __init__(self, nodes: WorkerNodes) -> None:
        super().__init__()
        self._worker_nodes = nodes._worker_nodes
        self._accepted: set[str] = set()

    def __setitem__(self, k: str, v: WorkerNode) -> None:
        if k not in self._accepted:
            v.state = STATE_PENDING
        super().__setitem__(k, v)

    def accept(self, node_id: str) -> None:
        self._accepted.add(node_id)
        node = self.get(node_id)
        if node is not None and node.state == STATE_PENDING:
            node.state = STATE_INIT


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
        if isinstance(runner.clients, PendingWorkerNodes):
            runner.clients.accept(node_id)
        return
    log.error("loadkit: error: %s", reason)
    node = runner.clients.get(node_id)
    if node is not None:
        dispatcher = getattr(runner, "_users_dispatcher", None)  # set once a test started
        if dispatcher is not None:
            dispatcher.remove_worker(node)
        del runner.clients[node_id]
    messages.send(runner, REFUSED, Refusal(reason), client_id=node_id)


def _on_refused(environment: Environment, refusal: Refusal, _node_id: str) -> None:
    log.error("loadkit: error: %s", refusal.reason)
    environment.process_exit_code = EXIT_USAGE
    runner = environment.runner
    if runner is not None:
        gevent.spawn(runner.quit)  # not from this greenlet: quit kills the runner's greenlets, this one too
