"""Locust's master, its worker table and its stats: what loadkit reads or patches there.

Part of the seam (:mod:`loadkit._locust`); each assumption below has a contract test in
``tests/unit/test_locust_runners.py`` named after it, so that a Locust upgrade that breaks one
fails that test with the name of the assumption instead of changing behaviour silently.

- **worker table**: ``MasterRunner.clients`` is a :class:`locust.runners.WorkerNodes` (a
  mapping id -> ``WorkerNode`` with ``.state``), its ``ready``/``spawning``/``running`` lists
  go through ``get_by_state`` and its storage is ``_worker_nodes``. Worker gating replaces
  the table with :class:`PendingWorkerNodes`, which leaves pending workers out of those lists.
- **forget a worker**: removing a worker is what Locust does on a worker's ``quit``:
  ``del runner.clients[id]`` and ``runner._users_dispatcher.remove_worker(node)``; a worker
  sent ``Message("quit")`` stops and exits (:func:`refuse_worker`).
- **stats logger**: Locust prints its console table through the logger :data:`STATS_LOGGER`,
  which its log set-up configures (none with ``--skip-log-setup``).
- **final-report drain**: ``MasterRunner.quit`` sends ``Message("quit")`` to each worker
  and waits a fixed 0.5 s; a worker answers with its last stats report, then ``quit``,
  after which Locust drops it from ``clients``. :func:`drain_workers` sends the same
  message and waits for the drop; ``runner.greenlet`` is the runner's greenlet group.
- **facet routing**: the runner logs each ``request`` event with ``stats.log_request(type,
  name, response_time, length)`` looked up on the ``RequestStats`` instance at every call,
  so wrapping that one instance's method routes entries (:func:`route_request_log`).
- **runner start**: the web UI's ``/swarm`` and ``locust.main`` (headless) start a run with
  ``runner.start(user_count, spawn_rate)``, a shape and rebalancing with keywords
  (``start(user_count=..., spawn_rate=...)``), looked up on the runner instance
  (:func:`override_user_count`).
- **worker report**: ``WorkerRunner._send_stats`` fires ``report_to_master`` with a fresh dict
  and sends it as ``Message("stats", data, client_id)``; Locust's ``stats_reporter`` and its
  ``quit`` handler look it up on the instance (:func:`hold_reports`, :func:`send_report`).
- **worker reconnect**: the worker's socket is ``runner.client``, a ``locust.rpc.zmqrpc.Client``
  (looked up there at call time) made with ``(master_host, master_port, client_id)``; Locust's
  ``worker`` greenlet reads ``runner.client`` anew after each receive error; a master registers
  a worker on ``Message("client_ready", locust.__version__, client_id)`` (:func:`rejoin`). Not
  ``reset_connection``: it closes the socket before it makes the next, and making one can
  yield (a name lookup), so the receiving greenlet spins on the closed socket, never yielding.
- **worker state**: a worker's heartbeats carry ``runner.worker_state``; a master sets its node's
  state from each and counts those that say ``STATE_INIT`` ("ready") towards ``--expect-workers``;
  a worker handling ``spawn`` clears its stats and fires ``test_start`` unless ``worker_state`` is
  running or spawning (:func:`say_ready`).
- **stats entries**: ``StatsEntry.serialize()`` is a dict whose per-time and per-second maps have
  int keys; ``StatsEntry.unserialize`` takes ``(data, stats)`` since Locust 2.44, ``(data)``
  before; ``entry.extend(other)`` adds one to the other (:func:`stats_entry`).
- **run time**: headless ``locust.main`` reads ``options.run_time`` (seconds) once, when the
  expected workers are in, and ends the run that long after (:func:`keep_run_time`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import gevent
from locust import __version__ as locust_version
from locust.rpc import Message, zmqrpc
from locust.runners import STATE_INIT, STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes

from loadkit._locust.patch import mark_patched, patched


# --- worker table ------------------------------------------------------------------------
class PendingWorkerNodes(WorkerNodes):
    """Locust's table of workers, where one that connected counts only once :meth:`accept`-ed.

    Node states stay Locust's (its ``check_stopped`` reads them); only the lists by state
    that Locust uses to count and dispatch leave pending workers out.
    """

    def __init__(self, nodes: WorkerNodes) -> None:
        super().__init__()
        self._worker_nodes = nodes._worker_nodes  # the same dict: Locust's later writes land in it
        self._accepted: set[str] = set(nodes._worker_nodes)

    def get_by_state(self, state: str) -> list[WorkerNode]:
        nodes = super().get_by_state(state)
        return nodes if state == STATE_MISSING else [n for n in nodes if n.id in self._accepted]

    def pending(self, node_id: str) -> bool:
        return node_id in self._worker_nodes and node_id not in self._accepted

    def accept(self, node_id: str) -> None:
        self._accepted.add(node_id)


def gate_workers(runner: MasterRunner) -> PendingWorkerNodes:
    """Replace the master's worker table by a :class:`PendingWorkerNodes` (idempotent); return it."""
    if not isinstance(runner.clients, PendingWorkerNodes):
        runner.clients = PendingWorkerNodes(runner.clients)
    return runner.clients


def worker_table(runner: Any) -> PendingWorkerNodes | None:
    """The gated worker table of a master, or None (not a master, or not gated)."""
    clients = getattr(runner, "clients", None)
    return clients if isinstance(clients, PendingWorkerNodes) else None


def ready_workers(runner: Any) -> int:
    """How many workers the master counts as ready (``--expect-workers`` counts these)."""
    return len(runner.clients.ready)


def connected_workers(runner: Any) -> list[WorkerNode]:
    """The master's workers that count, as Locust counts them (``worker_count``: ready, spawning,
    running; a gated table leaves pending ones out); none for a runner that is no master."""
    clients = getattr(runner, "clients", None)
    if clients is None:
        return []
    return [*clients.ready, *clients.spawning, *clients.running]


def worker_count(runner: Any) -> int:
    """How many workers the master counts (``MasterRunner.worker_count``); 0 for any other runner."""
    return len(connected_workers(runner))


def live_workers(runner: Any) -> set[str]:
    """Ids of the master's workers that are connected and not missing (no heartbeat)."""
    return {node.id for node in runner.clients.all if node.state != STATE_MISSING}


def worker_gone(runner: Any, node_id: str) -> bool:
    """True when the master no longer has ``node_id``, or has it as missing (heartbeats stopped)."""
    node = runner.clients.get(node_id)
    return node is None or node.state == STATE_MISSING


def has_worker(runner: Any, node_id: str) -> bool | None:
    """Whether the master knows ``node_id``; None when ``runner`` is no master (no table)."""
    clients = getattr(runner, "clients", None)
    return None if clients is None else node_id in clients


# --- forget a worker -----------------------------------------------------------------------
def forget_worker(runner: MasterRunner, node_id: str) -> None:
    """Drop a worker from the master as Locust does when a worker quits (no users go to it)."""
    node = runner.clients.get(node_id)
    if node is None:
        return
    dispatcher = getattr(runner, "_users_dispatcher", None)  # set once a test started
    if dispatcher is not None:
        dispatcher.remove_worker(node)
    del runner.clients[node_id]


def refuse_worker(runner: MasterRunner, node_id: str) -> None:
    """Forget a worker and send it Locust's ``quit`` (a worker without loadkit obeys that one)."""
    forget_worker(runner, node_id)
    runner.server.send_to_client(Message("quit", None, node_id))


#: The logger Locust prints its stats table through (``locust.stats.console_logger``).
STATS_LOGGER = "locust.stats_logger"


# --- final-report drain --------------------------------------------------------------------
def in_runner_greenlet(runner: Any) -> bool:
    """True when called from one of the runner's own greenlets (which ``quit`` kills)."""
    return gevent.getcurrent() in runner.greenlet


def drain_workers(runner: MasterRunner, timeout: float) -> bool:
    """Ask every live worker to quit and wait until each has sent its final report and gone.

    Returns False when some worker was still there after ``timeout`` s (its last seconds
    may be missing), True otherwise. From the runner's own greenlet it cannot receive the
    replies, so it returns at once (True: nothing to wait for there).
    """
    if in_runner_greenlet(runner):
        return True
    ids = live_workers(runner)  # a missing worker would send nothing: waiting would only delay the end
    for client_id in ids:
        runner.server.send_to_client(Message("quit", None, client_id))
    deadline = time.monotonic() + timeout
    while ids & live_workers(runner):
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True


def users_at_stop(runner: Any) -> int:
    """Users when the test stopped (Locust keeps that count for its report), else the current ones."""
    if runner is None:
        return 0
    at_stop = sum(getattr(runner, "final_user_classes_count", {}).values())
    return int(at_stop or runner.user_count)


def close_master_socket(runner: Any) -> None:
    """Close a master's ZeroMQ socket at once (library mode: the next run binds a new port)."""
    server = getattr(runner, "server", None)
    if server is not None and isinstance(runner, MasterRunner):
        server.close(linger=0)


# --- facet routing -------------------------------------------------------------------------
def route_request_log(stats: Any, apart: Callable[[str], bool]) -> None:
    """Log request types for which ``apart(type)`` is true into their own entry only, not the total.

    Wraps ``stats.log_request`` of this one ``RequestStats`` object (idempotent).
    """
    if patched(stats.log_request):
        return
    log_request = stats.log_request

    def log_request_routed(method: str, name: str, response_time: float, content_length: int) -> None:
        if apart(method):
            stats.get(name, method).log(response_time, content_length)
        else:
            log_request(method, name, response_time, content_length)

    stats.log_request = mark_patched(log_request_routed, log_request)


# --- runner start --------------------------------------------------------------------------
def override_user_count(runner: Any, user_count: Callable[[int], int]) -> None:
    """Make ``runner.start(n, rate)`` start ``user_count(n)`` users instead (once per runner)."""
    start = runner.start
    if patched(start):
        return

    def start_with(*args: Any, **kwargs: Any) -> Any:
        # Locust calls start(n, rate) and start(user_count=n, spawn_rate=rate, ...) (shapes, rebalancing)
        if "user_count" in kwargs:
            kwargs["user_count"] = user_count(kwargs["user_count"])
        elif args:
            args = (user_count(args[0]), *args[1:])
        return start(*args, **kwargs)

    runner.start = mark_patched(start_with, start)


# --- worker report ---------------------------------------------------------------------------
def hold_reports(runner: Any, hold: Callable[[dict[str, Any]], bool]) -> None:
    """Make a worker pass each report to ``hold(data)`` first; a report it returns True for is not sent."""
    if patched(runner._send_stats):
        return
    original = runner._send_stats

    def send_stats() -> None:
        data: dict[str, Any] = {}
        runner.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        if not hold(data):
            runner.client.send(Message("stats", data, runner.client_id))

    runner._send_stats = mark_patched(send_stats, original)


def send_report(runner: Any, data: dict[str, Any]) -> None:
    """Send a report made earlier (kept while the master was gone) as Locust sends its own."""
    runner.client.send(Message("stats", data, runner.client_id))


# --- worker reconnect ------------------------------------------------------------------------
def rejoin(runner: Any) -> None:
    """A worker's new connection to its master's address, and its registration there.

    What the old socket still queued (heartbeats, reports for a dead master) is dropped
    (linger 0), so a new master gets ``client_ready`` first, not messages from a stranger.
    """
    old = runner.client
    runner.client = zmqrpc.Client(runner.master_host, runner.master_port, runner.client_id)
    old.close(linger=0)  # the greenlet waiting on it wakes with an error and reads the new one
    old.socket.context.destroy(linger=0)  # one context per socket (Locust's): its monitor and I/O thread go too
    runner.client.send(Message("client_ready", locust_version, runner.client_id))


# --- worker state ----------------------------------------------------------------------------
def say_ready(runner: Any, ready: bool, state: str | None = None) -> str:
    """Make a worker's heartbeats say "ready" (a new master counts it), or ``state`` again; returns the state it had.

    Restore the running state before the master's ``spawn`` arrives: with "ready" the worker
    would start a new test (clear its stats) instead of going on (see the module docstring).
    """
    had = str(runner.worker_state)
    runner.worker_state = STATE_INIT if ready else (state or had)
    return had


# --- stats entries ----------------------------------------------------------------------------
def stats_entry(data: dict[str, Any], stats: Any) -> Any:
    """A ``StatsEntry`` from its ``serialize()`` as read back from JSON (int keys again)."""
    from locust.stats import StatsEntry

    data = {k: ({int(float(t)): n for t, n in v.items()} if isinstance(v, dict) else v) for k, v in data.items()}
    if len(inspect.signature(StatsEntry.unserialize).parameters) >= 2:
        return StatsEntry.unserialize(data, stats)  # type: ignore[call-arg,arg-type,unused-ignore]
    return StatsEntry.unserialize(data)  # type: ignore[call-arg,arg-type,unused-ignore]


# --- run time ----------------------------------------------------------------------------------
def keep_run_time(options: Any, planned_end: float, started: Callable[[], bool]) -> gevent.Greenlet:
    """Point ``options.run_time`` at ``planned_end`` (a ``time.time()``) until ``started()``: headless
    Locust reads it once, when the workers are in, whenever that is (see the module docstring)."""

    def loop() -> None:
        while not started():
            options.run_time = max(planned_end - time.time(), 0.1)
            gevent.sleep(0.1)

    options.run_time = max(planned_end - time.time(), 0.1)
    return gevent.spawn(loop)
