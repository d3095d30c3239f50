"""A worker that loses its master: keep count of what the master never acknowledged, give up after a timeout.

Locust's worker goes on running its users when the master dies; its stats reports go into its
ZeroMQ socket (failing or queued while nothing listens) and it quits only when no heartbeat
came for 60 s (``MASTER_HEARTBEAT_TIMEOUT`` in ``locust.runners``), with a line that does not
say what was lost. loadkit's worker gives up earlier and says so:

- the master answers each of the worker's heartbeats (one a second); its answer is the
  acknowledgement: a report sent :data:`ACK_MARGIN` seconds or more before the last answer
  reached a live master. Reports sent after that are kept (their request and failure counts;
  at most :data:`KEPT` of them, ~5 minutes at Locust's 3 s report interval);
- after ``--fleet-master-timeout`` seconds without an answer (default 30, below Locust's 60;
  the master sends its value to the workers with the run) the worker logs one line — the
  master's address, how long it has been gone, the requests and failures the master never
  acknowledged (the kept reports and what it counted since its last report) — and quits
  cleanly through :func:`loadkit.run.stop.end_run` (exit code 0: the verdict is the
  master's; the line is in the worker's log).

A master restarted on the same port does not get the worker back: Locust's worker sends
``client_ready`` only once, at start, and a new master ignores the heartbeats and drops the
reports of a worker it never registered; the worker gives up at the timeout (issue #23's
resume is not built yet).
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from loadkit import config
from loadkit.exceptions import EXIT_OK
from loadkit.run.stop import end_run

#: A report is acknowledged by a master heartbeat that arrived this many seconds after it was sent.
ACK_MARGIN = 2.0
#: Unacknowledged reports kept (request and failure counts each).
KEPT = 100


class MasterWatch:
    """One worker's view of its master: last heartbeat, reports not yet acknowledged (module docstring)."""

    def __init__(self, timeout: float, clock: Any = time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self.last_heartbeat: float | None = None
        #: (sent at, requests, failures) of each report not acknowledged yet.
        self.unacknowledged: deque[tuple[float, int, int]] = deque(maxlen=KEPT)

    def on_heartbeat(self) -> None:
        now = self.last_heartbeat = self.clock()
        while self.unacknowledged and self.unacknowledged[0][0] <= now - ACK_MARGIN:
            self.unacknowledged.popleft()

    def on_report(self, data: dict[str, Any]) -> None:
        total = data.get("stats_total") or {}
        requests, failures = int(total.get("num_requests", 0) or 0), int(total.get("num_failures", 0) or 0)
        self.unacknowledged.append((self.clock(), requests, failures))

    def gone_for(self) -> float | None:
        """Seconds since the master's last heartbeat once past the timeout, else None."""
        if self.last_heartbeat is None:
            return None  # never connected: Locust's own connect retries apply
        gone = self.clock() - self.last_heartbeat
        return gone if gone > self.timeout else None

    def lost(self) -> tuple[int, int]:
        """Requests and failures this worker counted that the master never acknowledged."""
        return sum(r for _, r, _ in self.unacknowledged), sum(f for _, _, f in self.unacknowledged)


def install(environment: Environment) -> MasterWatch | None:
    """On a worker: watch the master's heartbeats, give up after ``--fleet-master-timeout`` (module docstring)."""
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        return None
    watch = MasterWatch(_timeout(environment))
    environment.events.heartbeat_received.add_listener(lambda **_kw: watch.on_heartbeat())
    environment.events.report_to_master.add_listener(lambda data, **_kw: watch.on_report(data))
    runner.greenlet.spawn(partial(_watch_loop, environment, watch))
    return watch


def _timeout(environment: Environment) -> float:
    value = getattr(environment.parsed_options, "fleet_master_timeout", None)
    return float(value if value is not None else config.defaults().fleet_master_timeout)


def _watch_loop(environment: Environment, watch: MasterWatch) -> None:
    runner = environment.runner
    while True:
        gevent.sleep(1.0)
        watch.timeout = _timeout(environment)  # the master's value arrives with the run
        gone = watch.gone_for()
        if gone is None:
            continue
        requests, failures = watch.lost()
        total = getattr(getattr(runner, "stats", None), "total", None)  # counted since the last report
        requests += int(getattr(total, "num_requests", 0) or 0)
        failures += int(getattr(total, "num_failures", 0) or 0)
        where = f"{getattr(runner, 'master_host', '?')}:{getattr(runner, 'master_port', '?')}"
        line = (
            f"loadkit: no heartbeat from the master at {where} for {gone:.0f} s (--fleet-master-timeout "
            f"{watch.timeout:g}): exiting; {requests} requests ({failures} failed) this worker counted were "
            "never acknowledged (in its last reports or not reported yet)"
        )
        end_run(environment, EXIT_OK, line)  # the one line (INFO), and the runner quits
        return
