"""A real Locust master and worker in the test's own process, over ZeroMQ on 127.0.0.1.

For unit tests of code that talks between the two (the open model's plans and statuses):
messages travel through real sockets, and both runners are taken down completely after::

    with master_and_worker([MyUser]) as (master, worker):
        messages.send(master, messages.ARRIVAL_PLAN, plan, worker.client_id)

loadkit's sockets are installed first (:func:`loadkit._locust.rpc.install`, as in every process
that imports loadkit), so the worker's socket is the same whatever test ran before. Its
handshake watch would end the process when the master goes away: it is stopped before the
sockets close.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadkit._locust import rpc as locust_rpc


@contextmanager
def master_and_worker(
    user_classes: Sequence[type], ready_within: float = 5.0
) -> Iterator[tuple[MasterRunner, WorkerRunner]]:
    """A master on a free port and one worker it has registered (ready) within ``ready_within`` s."""
    locust_rpc.install()
    master = Environment(user_classes=list(user_classes)).create_master_runner("127.0.0.1", 0)
    worker: WorkerRunner | None = None
    try:
        worker = Environment(user_classes=list(user_classes)).create_worker_runner("127.0.0.1", master.server.port)
        deadline = time.monotonic() + ready_within
        while len(master.clients.ready) < 1:
            assert time.monotonic() < deadline, "the in-process worker never reached the master"
            gevent.sleep(0.02)
        yield master, worker
    finally:
        if worker is not None:
            worker.quit()
            watch = getattr(worker.client, "watch", None)
            if watch is not None:
                watch.greenlet.kill()
            worker.client.socket.context.destroy(linger=0)  # its handshake monitor socket too
        master.quit()
        master.server.close(linger=0)
        master.server.socket.context.destroy(linger=0)  # else an "unclosed context" ResourceWarning later
