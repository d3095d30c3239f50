"""A worker that outlives its master: it keeps its reports and rejoins the master that comes back.

Locust's worker goes on running its users when its master dies, but its reports go into a
socket nobody reads, it never registers again (``client_ready`` is sent once, at start) and a
restarted master ignores it. loadkit's worker (the master's side is :mod:`loadkit.fleet.resume`):

- numbers each stats report (``loadkit_seq`` in the payload, 1, 2, ...) and keeps a copy of
  each until the master says, after writing its state file, that it holds them
  (:data:`~loadkit.messages.CHECKPOINTED`); at most :data:`KEPT` (older ones are forgotten);
- after :data:`LOST_AFTER` seconds without a heartbeat the master is *lost* — provided this
  worker's own loop ran on time all that while (checked once a second; a check more than
  :data:`LATE_CHECK` s after the one before shows a stall). The master only answers the
  worker's heartbeats: a worker whose loop stalls (CPU-bound users that do not yield) sends
  none, or does not read the answers waiting in its socket, and its silence says nothing of
  its master. (Without that rule a saturated worker reconnected mid-run, said "ready", and
  lost its goodbye at the end; a dead master of a worker that never stops stalling is left
  to ``--fleet-master-timeout``.) The worker stops
  sending reports (a dead master's socket would lose them, a new one would drop them before the
  worker registered) and keeps them instead; it opens a new connection and says
  ``client_ready`` (again every :data:`READY_EVERY` s until a master answers);
- with each ``client_ready`` it says hello again and :data:`~loadkit.messages.REJOIN` (when it
  last heard a master, its last report's number, how many it holds, the test-data rows it holds
  and used since the master's last state writes: :mod:`loadkit.fleet.ledger`); a master reads
  them in that order once it is up. Its heartbeats say "ready" meanwhile: a new master counts only ready workers towards
  ``--expect-workers``;
- the master answers ``CHECKPOINTED`` once it has restored its state (when its run starts,
  before it hands out users; at once when it never went away); the worker goes back to its
  running state and sends every kept report newer than that, then reports as usual.

The master's sequence check (:mod:`loadkit.fleet.resume`) makes a report sent twice count
once. A master back within :data:`LOST_AFTER` seconds may first get what the old connection
still queued (ZeroMQ reconnects it): heartbeats and reports of a node it never registered, which
it drops with one line per worker; the reports are among those kept and re-sent.
:mod:`loadkit.fleet.master_watch` still ends a worker whose master stays away for
``--fleet-master-timeout`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from loadkit import _version, messages
from loadkit._locust import runners as locust_runners
from loadkit.fleet.client import DATA_CLIENT
from loadkit.messages import CHECKPOINTED, HELLO, REJOIN, Checkpointed, Hello, Rejoin
from loadkit.run.context import StashKey, run_context

log = logging.getLogger("loadkit.fleet")

#: Key of a report's sequence number in a worker's ``stats`` payload.
SEQ_KEY = "loadkit_seq"
#: Seconds without a heartbeat (the master sends one a second) after which the master is lost.
LOST_AFTER = 4.0
#: While lost, a new connection and ``client_ready`` this often.
READY_EVERY = 5.0
#: A check this long after the one before ran late (the loop sleeps 1 s between two): the
#: worker's own loop stalled, so a silence around it is no evidence that the master is gone.
LATE_CHECK = 1.5
#: Reports kept until the master says it holds them (~5 minutes at Locust's 3 s interval).
KEPT = 100


class Rejoiner:
    """One worker's reports and its view of the master (module docstring); pure but for ``send``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.seq = 0
        self.kept: deque[tuple[int, dict[str, Any]]] = deque(maxlen=KEPT)
        self.last_heartbeat: float | None = None
        self.lost_at: float | None = None  # the last heartbeat before the master was lost
        self.answered = False  # a master answered since it was lost (heartbeat)
        self.ready_sent = 0.0
        self.last_check = clock()  # the loop's first check may be late too (users starting)
        self.last_late: float | None = None  # the last check that ran late (a stalled loop)
        self.state_before: str | None = None  # the worker's state when the master was lost

    @property
    def holding(self) -> bool:
        return self.lost_at is not None

    def on_report(self, data: dict[str, Any]) -> bool:
        """Number and keep a report; True when it must not be sent now (the master is lost)."""
        self.seq += 1
        data[SEQ_KEY] = self.seq
        self.kept.append((self.seq, data))
        return self.holding

    def on_heartbeat(self) -> None:
        """A master's heartbeat: it is there (no more ``client_ready``)."""
        self.last_heartbeat = self.clock()
        self.answered = self.holding

    def on_checkpointed(self, seq: int) -> list[dict[str, Any]]:
        """The master holds reports up to ``seq``: forget them; the reports to send now (when rejoining)."""
        while self.kept and self.kept[0][0] <= seq:
            self.kept.popleft()
        if not self.holding:
            return []
        self.lost_at, self.answered = None, False
        self.last_heartbeat = self.clock()  # the master spoke: not lost again before its first heartbeat
        return [data for _, data in self.kept]

    def check(self) -> bool:
        """Once a second: True when a (new) connection and ``client_ready`` are due."""
        now = self.clock()
        if now - self.last_check > LATE_CHECK:
            self.last_late = now
        self.last_check = now
        if self.last_heartbeat is None:
            return False  # never connected: Locust's own connect retries apply
        steady = self.last_late is None or now - self.last_late > LOST_AFTER
        if not self.holding and steady and now - self.last_heartbeat > LOST_AFTER:
            self.lost_at, self.answered = self.last_heartbeat, False
        if self.holding and not self.answered and now - self.ready_sent >= READY_EVERY:
            self.ready_sent = now
            return True
        return False


#: The worker's rejoiner, in its run's stash.
REJOINER: StashKey[Rejoiner] = StashKey("rejoiner")


def install(environment: Environment) -> Rejoiner | None:
    """On a worker: number, keep and hold reports; rejoin a master that comes back (module docstring)."""
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        return None
    part = run_context(environment)[REJOINER] = Rejoiner()
    locust_runners.hold_reports(runner, part.on_report)
    environment.events.heartbeat_received.add_listener(lambda **_kw: part.on_heartbeat())
    messages.register_handler(runner, CHECKPOINTED, lambda env, ack, _node: _on_checkpointed(runner, part, ack))
    runner.greenlet.spawn(_loop, runner, part)
    return part


def _on_checkpointed(runner: WorkerRunner, part: Rejoiner, ack: Checkpointed) -> None:
    client = run_context(runner.environment).get(DATA_CLIENT)
    if client is not None:
        client.on_checkpointed()  # acks sent before the master's previous write are in its state file
    rejoining = part.holding
    resend = part.on_checkpointed(ack.seq)
    if rejoining:
        where = f"{runner.master_host}:{runner.master_port}"
        log.info("loadkit: rejoined the master at %s: sending %d kept reports", where, len(resend))
    if rejoining and part.state_before is not None:
        locust_runners.say_ready(runner, False, part.state_before)  # before the master's spawn: go on
        part.state_before = None
    for data in resend:
        locust_runners.send_report(runner, data)


def _loop(runner: WorkerRunner, part: Rejoiner) -> None:
    while True:
        gevent.sleep(1.0)
        was_holding = part.holding
        if part.check():
            if not was_holding:
                log.warning(
                    "loadkit: lost the master at %s:%s (no heartbeat for %.0f s): keeping reports, reconnecting",
                    runner.master_host,
                    runner.master_port,
                    part.clock() - float(part.lost_at or 0.0),
                )
                # A new master waits for --expect-workers "ready" workers; this one's users go on.
                part.state_before = locust_runners.say_ready(runner, True)
            locust_runners.rejoin(runner)  # client_ready, then (in order, once a master reads them):
            messages.send(runner, HELLO, Hello(_version.__version__))
            client = run_context(runner.environment).get(DATA_CLIENT)
            held, done = client.declaration() if client is not None else ([], [])
            rejoin = Rejoin(float(part.lost_at or 0.0), part.seq, len(part.kept), rows=held, done=done)
            messages.send(runner, REJOIN, rejoin)
