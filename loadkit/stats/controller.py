"""The stats part at run time: HDR recording, worker deltas, thresholds, final reports.

One :class:`StatsController` per Locust ``Environment`` (see :func:`controller_for`);
:func:`loadkit.run.plugin.install` subscribes its ``on_*`` methods to the events. Roles:

- every node records each request event into its :class:`~loadkit.stats.hdr.HdrRecorder`;
- a worker adds its one-second slots to ``report_to_master`` under :data:`TIMELINE_KEY`;
  the master merges them in ``worker_report`` (a malformed payload is logged and dropped)
  into its :class:`~loadkit.stats.timeline.Timeline`, which a greenlet settles every few
  seconds, and into its histograms (the slots' counts summed are the worker's delta). A
  report may carry whole-histogram deltas under :data:`REPORT_KEY` instead
  (:meth:`~loadkit.stats.hdr.HdrRecorder.take_deltas`); loadkit's workers no longer send them;
- the master (or local runner) checks thresholds periodically with
  ``--abort-on-threshold`` and once more at ``quitting``, writes the reports, prints the
  table and records exit code 99 when a threshold failed (:func:`loadkit.run.stop.set_exit_code`);
  ``--abort-on-threshold`` ends the run through :func:`loadkit.run.stop.end_run`.

Final numbers: when a headless master quits, Locust sends ``quit`` to the workers and
waits a fixed 0.5 s for their last reports. At ``test_stop`` in that path (workers still
have users) this part sends the ``quit`` itself and waits — polling, with a deadline —
until every worker has said goodbye, which it does right after its final report. On
SIGTERM/SIGINT Locust fires ``quitting`` before it collects anything, so ``quitting`` drains
the workers the same way before writing. So the reports (and Locust's own ``--json-file``)
hold every request.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from loadkit import config
from loadkit._locust import runners as locust_runners
from loadkit._version import __version__
from loadkit.exceptions import EXIT_THRESHOLDS
from loadkit.run.context import StashKey, run_context
from loadkit.run.stop import end_run, set_exit_code
from loadkit.stats import checkpoint, reports
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder, copy_histogram
from loadkit.stats.hdr_cells import distribution
from loadkit.stats.slot_codec import decode_columns, encode_slots
from loadkit.stats.snapshot import RunSnapshot, take_snapshot
from loadkit.stats.thresholds import (
    Threshold,
    ThresholdResult,
    all_passed,
    evaluate,
    parse_thresholds,
    required_percentiles,
)
from loadkit.stats.timeline import Timeline, series_columns

log = logging.getLogger("loadkit.stats")

#: Key of loadkit's HDR deltas inside Locust's worker ``stats`` report.
REPORT_KEY = "loadkit_hdr"
#: Key of loadkit's one-second slots (latency over time) inside the same report.
TIMELINE_KEY = "loadkit_timeline"
_PUMP_INTERVAL = 2.0
_CHECK_INTERVAL = 1.0
_DRAIN_TIMEOUT = 30.0

#: This part's key in the run's stash (:mod:`loadkit.run.context`).
STATS: StashKey[StatsController] = StashKey("stats")


def controller_for(environment: Environment) -> StatsController:
    """The environment's controller (in its run's stash under :data:`STATS`), created on first use."""
    stash = run_context(environment)
    controller = stash.get(STATS)
    if controller is None:
        controller = stash[STATS] = StatsController(environment)
    return controller


class StatsController:
    """HDR recording and pass/fail for one environment; see the module docstring."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.recorder = HdrRecorder()
        self.timeline = Timeline()
        #: The ``request`` listener: the recorder's own, so each request costs one call.
        self.on_request = self.recorder.on_request
        self.thresholds: list[Threshold] = []
        self.results: list[ThresholdResult] = []
        self.final: RunSnapshot | None = None
        self.report_paths: dict[str, str] = {}
        self.abort_reason: str | None = None
        self.report_sections: dict[str, Callable[[], Any]] = {}
        #: Run-level sections of the snapshot's meta (thresholds can read them), e.g. "load".
        self.meta_sections: dict[str, Callable[[], Any]] = {}
        #: Parts that keep workers busy with no Locust users (the open model): drain them too.
        self.busy_checks: list[Callable[[], bool]] = []
        #: Writes partial reports during the run (``--report-interval``); None when off.
        self.checkpointer: checkpoint.Checkpointer | None = None
        self._checker: gevent.Greenlet | None = None
        self._pump_greenlet: gevent.Greenlet | None = None
        self._workers_seen: set[str] = set()
        self._finished = False
        #: Print the final table at Locust's ``quit`` event (a ``locust`` process), not in :meth:`finish`.
        self.print_at_quit = False
        self._console: str | None = None

    # --- configuration --------------------------------------------------------------
    def configure(self) -> None:
        """Parse thresholds, check report paths (raises ConfigError before any load)."""
        self.thresholds = parse_thresholds(self._option("threshold"))
        if not self._is_worker:  # the master or local runner writes the reports: fail now, not after the run
            for f in checkpoint.report_files(self._option):
                reports.check_writable(f.path, f.flag)

    def _option(self, name: str) -> Any:
        options = self.environment.parsed_options
        if options is None or not hasattr(options, name):
            return getattr(config.defaults(), name)
        return getattr(options, name)

    @property
    def _is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    # --- recording and transport ----------------------------------------------------
    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        self.recorder.keep_histograms = False  # a worker's slots are its delta (module docstring)
        data[TIMELINE_KEY] = encode_slots(self.recorder.take_slots())

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        self._workers_seen.add(client_id)
        deltas, slots = data.get(REPORT_KEY), data.get(TIMELINE_KEY)
        try:
            if deltas and not isinstance(deltas, dict):
                raise ValueError(f"expected a mapping, got {type(deltas).__name__}")
            decoded = decode_columns(slots) if slots else {}  # both checked before either is merged
            if deltas:
                self.recorder.merge_deltas(deltas)
            self.timeline.merge_columns(decoded, also=self.recorder.pending_columns)  # counted later, in bulk
        except ValueError as exc:
            log.warning("dropped malformed HDR report from worker %s: %s", client_id, exc)

    def on_reset_stats(self, **_kw: Any) -> None:
        self._reset()

    def on_spawning_complete(self, user_count: int, **_kw: Any) -> None:
        if self.environment.reset_stats:  # Locust's --reset-stats: forget the ramp-up
            self._reset()

    def _reset(self) -> None:
        self.recorder.reset()
        self.timeline.reset()

    def pictures(self) -> dict[str, Any]:
        """The report's ``timeline`` (latency and rates over time) and ``distribution`` sections."""
        return self.pictures_later()()

    def pictures_later(self) -> Callable[[], dict[str, Any]]:
        """Copy what :meth:`pictures` needs now; the function returned draws them (a thread may call it)."""
        self._pump()
        parts = self.timeline.series_parts()
        copies = {
            (f"{k[0]} {k[1]}" if k[0] else k[1]): copy_histogram(self.recorder.histogram(k))
            for k in [*self.recorder.keys(), TOTAL_KEY]
        }
        return lambda: {
            "timeline": series_columns(parts),
            "distribution": {label: distribution(histogram) for label, histogram in copies.items()},
        }

    def _pump(self) -> None:
        """Move the local runner's own slots into the timeline, settle old slots, count workers' columns."""
        self.timeline.merge(self.recorder.take_slots())
        self.timeline.settle()
        self.recorder.compact()

    def _pump_loop(self) -> None:
        while True:
            gevent.sleep(_PUMP_INTERVAL)
            self._pump()

    # --- lifecycle --------------------------------------------------------------------
    def on_test_start(self, environment: Environment, **_kw: Any) -> None:
        self._reset()  # Locust clears its stats when a new test starts
        self.results, self.final, self.abort_reason, self._finished = [], None, None, False
        if not self._is_worker and self._pump_greenlet is None:
            self._pump_greenlet = gevent.spawn(self._pump_loop)
        self._start_checkpoints()
        if not self._is_worker and self.thresholds and self._option("abort_on_threshold"):
            self._checker = gevent.spawn(self._check_loop, float(self._option("threshold_grace") or 0.0))

    def on_test_stop(self, environment: Environment, **_kw: Any) -> None:
        if self._checker is not None and self._checker is not gevent.getcurrent():
            self._checker.kill(block=False)
        self._checker = None
        if self._pump_greenlet is not None and self._pump_greenlet is not gevent.getcurrent():
            self._pump_greenlet.kill(block=False)
        self._pump_greenlet = None
        runner = environment.runner
        if isinstance(runner, MasterRunner) and (runner.user_count > 0 or any(busy() for busy in self.busy_checks)):
            _drain_workers(runner)

    def on_quitting(self, environment: Environment, **_kw: Any) -> None:
        if self._is_worker:
            return
        runner = environment.runner
        if runner is not None and runner.state not in (STATE_STOPPED, STATE_INIT, STATE_STOPPING):
            runner.stop()  # e.g. Ctrl-C in web UI mode: stop users (and drain) first
        if isinstance(runner, MasterRunner):
            _drain_workers(runner)  # a signal: quitting comes before runner.quit() (module docstring)
        results = self.finish()
        if results and not all_passed(results):
            set_exit_code(environment, EXIT_THRESHOLDS)  # the verdict; the run is ending already

    def finish(self) -> list[ThresholdResult]:
        """Take the final snapshot, evaluate thresholds, write reports, print the table."""
        if self._finished:
            return self.results
        self._finished = True
        self._pump()
        self.timeline.settle(math.inf)  # every worker's last slots are in: nothing more to wait for
        self.final = self.snapshot()
        self.results = evaluate(self.thresholds, self.final)
        self._write_reports(self.final, self.results)
        self._console = reports.console_table(self.final, self.results)
        if not self.print_at_quit:
            self.print_console()
        return self.results

    def print_console(self, exit_code: int | None = None, **_kw: Any) -> None:
        """Print the final table and verdict (once); a ``locust`` process does it at ``quit``.

        ``quit`` comes after Locust's shutdown lines and error report, so the verdict is the
        run's last line (:func:`loadkit.run.plugin.install` sets :attr:`print_at_quit` there).
        """
        if self._console is None:
            return
        options = self.environment.parsed_options
        text = self._console
        if exit_code is not None and self.final is not None:
            text += "\n" + reports.verdict_line(exit_code, self.results, self.final.total.failures)
        self._console = None
        if getattr(options, "skip_log_setup", False):
            # The user's own logging set-up decides, as it does for Locust's table (same logger).
            logging.getLogger(locust_runners.STATS_LOGGER).info(text)
            return
        # `locust --json` prints its stats as JSON on stdout: keep stdout parseable then.
        stream = sys.stderr if getattr(options, "json", False) else sys.stdout
        print(text, file=stream, flush=True)

    # --- views ------------------------------------------------------------------------
    def snapshot(self) -> RunSnapshot:
        runner = self.environment.runner
        stats = runner.stats if runner is not None else self.environment.stats
        return take_snapshot(stats, self.recorder, self._meta(stats), required_percentiles(self.thresholds))

    def summary(self) -> dict[str, Any]:
        snapshot = self.final or self.snapshot()
        results = self.results if self.final else evaluate(self.thresholds, snapshot)
        extra = {"final": self.final is not None, "abort_reason": self.abort_reason}
        document = reports.to_json_dict(snapshot, results, extra)
        if self.final is None:
            for row in document["thresholds"]:
                if row["actual"] is None and not row["note"].startswith("ambiguous"):
                    row["passed"], row["note"] = None, "no requests yet"  # pending, not failed
        return document

    def _meta(self, stats: Any) -> dict[str, Any]:
        runner = self.environment.runner
        start = float(stats.total.start_time)
        end = float(stats.total.last_request_timestamp or start)
        return {
            "loadkit_version": __version__,
            "start_time": start,
            "start_time_iso": datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds"),
            "duration_s": max(end - start, 0.0),
            "host": self.environment.host,
            "runner": type(runner).__name__ if runner is not None else None,
            "workers": len(self._workers_seen),  # that reported; at the end they have quit
            # Users when the test stopped (Locust keeps that count), else the current ones.
            "user_count": locust_runners.users_at_stop(runner),
            "aborted": self.abort_reason is not None,
            "abort_reason": self.abort_reason,
            **{name: section() for name, section in self.meta_sections.items()},
        }

    # --- internals --------------------------------------------------------------------
    def _check_loop(self, grace: float) -> None:
        gevent.sleep(grace)
        while True:
            snapshot = self.snapshot()
            # An entry without requests yet is pending, not failed, while the run goes on.
            failed = [r for r in evaluate(self.thresholds, snapshot) if not r.passed and r.actual is not None]
            if failed:
                self.abort_reason = "; ".join(
                    f"{r.threshold.expression} (actual {r.describe_actual()})" for r in failed
                )
                self._checker = None
                end_run(
                    self.environment,
                    EXIT_THRESHOLDS,
                    f"loadkit: threshold failed, aborting the test: {self.abort_reason}",
                )
                return
            gevent.sleep(_CHECK_INTERVAL)

    def _write_reports(self, snapshot: RunSnapshot, results: list[ThresholdResult]) -> None:
        """Write each report asked for, complete; one that cannot be written is one error line, not a new verdict."""
        if self.checkpointer is not None:
            self.checkpointer.close()  # waits for a checkpoint in flight: it must not land after this
        files = checkpoint.report_files(self._option)
        if not files:
            return
        document = self._document(snapshot, results, complete=True)()
        done = checkpoint.write(checkpoint.render(files, snapshot, results, document))
        checkpoint.log_errors(done)
        for f, path, error in done:
            if error is None:
                self.report_paths[f.kind] = path
                log.info("loadkit: %s report written to %s", f.kind, path)

    def _document(
        self, snapshot: RunSnapshot, results: list[ThresholdResult], complete: bool
    ) -> Callable[[], dict[str, Any]]:
        """The JSON report's document (the HTML page is drawn from it), with its ``complete``/``covered``.

        What changes during the run is read now; the function returned builds the document from
        copies (a checkpoint calls it in a thread: :mod:`loadkit.stats.checkpoint`).
        """
        start = float(snapshot.meta.get("start_time") or time.time())
        now = start + float(snapshot.meta.get("duration_s") or 0.0) if complete else time.time()
        extra = {**checkpoint.status(start, now, complete)}
        extra.update({name: section() for name, section in self.report_sections.items()})
        pictures = self.pictures_later()
        return lambda: reports.to_json_dict(snapshot, results, {**pictures(), **extra})

    def _take_checkpoint(
        self,
    ) -> tuple[list[checkpoint.ReportFile], RunSnapshot, list[ThresholdResult], Callable[[], dict[str, Any]]]:
        """In the loop: one consistent snapshot for a checkpoint (:mod:`loadkit.stats.checkpoint`)."""
        snapshot = self.snapshot()
        results = evaluate(self.thresholds, snapshot)
        return checkpoint.report_files(self._option), snapshot, results, self._document(snapshot, results, False)

    def _start_checkpoints(self) -> None:
        interval = float(self._option("report_interval") or 0.0)
        if self._is_worker or interval <= 0 or not checkpoint.report_files(self._option):
            return
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.checkpointer = checkpoint.Checkpointer(interval, self._take_checkpoint)
        self.checkpointer.start()


def _drain_workers(runner: MasterRunner) -> None:
    """Ask every worker to quit and wait for its final report (:func:`loadkit._locust.runners.drain_workers`)."""
    if not locust_runners.drain_workers(runner, _DRAIN_TIMEOUT + float(runner.environment.stop_timeout or 0)):
        log.warning("loadkit: some workers sent no final report; the numbers may miss their last seconds")
