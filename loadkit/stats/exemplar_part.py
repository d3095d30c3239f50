"""The exemplars part at run time: record, carry from workers, merge on the master, report.

Wiring only; the maths is :mod:`loadkit.stats.exemplars`. One :class:`ExemplarRecorder` per run
(in its stash under :data:`EXEMPLARS`), subscribed by :func:`install`:

- every node offers each request event to it (requests with a ``trace_id`` in their context);
- a worker adds what it kept since its last report to ``report_to_master`` under
  :data:`REPORT_KEY`, as the HDR deltas travel; the master merges it, stamping the worker id of
  the connection the report came on (a worker cannot name another), and drops a malformed one
  with one warning line per worker;
- the JSON report gets an ``exemplars`` section (per entry: slowest, and a few per latency
  band), which the HTML report shows under each entry's charts and Prometheus attaches to its
  latency series as OpenMetrics exemplars.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from loadkit.run.context import StashKey, run_context
from loadkit.stats.exemplars import ExemplarRecorder

log = logging.getLogger("loadkit.stats")

#: Key of a worker's exemplars inside Locust's worker ``stats`` report.
REPORT_KEY = "loadkit_exemplars"
#: This part's key in the run's stash.
EXEMPLARS: StashKey[ExemplarRecorder] = StashKey("exemplars")
_WARNED: StashKey[set[str]] = StashKey("exemplars-warned")
_MAX_WARNED = 1_000


def recorder_for(environment: Environment) -> ExemplarRecorder:
    """The run's recorder, created on first use."""
    return run_context(environment).setdefault(EXEMPLARS, ExemplarRecorder())


def install(environment: Environment, record: bool = True) -> ExemplarRecorder:
    """Subscribe the run's recorder to ``environment``'s events; returns it.

    ``record=False`` (trace context off: no request carries a trace id) leaves the ``request``
    event alone, so a run without tracing pays nothing per request; workers' exemplars are
    still merged and reported.
    """
    recorder = recorder_for(environment)
    events = environment.events
    if record:
        events.request.add_listener(recorder.on_request)
    events.reset_stats.add_listener(lambda **_kw: recorder.reset())
    events.test_start.add_listener(lambda **_kw: recorder.reset())  # Locust clears its stats then too

    def on_report_to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        deltas = recorder.take_deltas()
        if deltas:
            data[REPORT_KEY] = deltas

    def on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        deltas = data.get(REPORT_KEY)
        if not deltas:
            return
        try:
            recorder.merge_deltas(deltas, str(client_id))
        except ValueError as exc:
            warned = run_context(environment).setdefault(_WARNED, set())
            if client_id not in warned and len(warned) < _MAX_WARNED:
                warned.add(client_id)
                log.warning(
                    "loadkit: dropped malformed exemplars from worker %s (more are dropped silently): %s",
                    client_id,
                    exc,
                )

    if isinstance(environment.runner, WorkerRunner):
        recorder.worker = ""  # the master stamps the id of the connection the report came on
        events.report_to_master.add_listener(on_report_to_master)
    else:
        events.worker_report.add_listener(on_worker_report)
    return recorder


def report_section(environment: Environment) -> dict[str, Any]:
    """The JSON report's ``exemplars``: per entry name (``"TYPE name"``), slowest and per band."""
    return recorder_for(environment).report()
