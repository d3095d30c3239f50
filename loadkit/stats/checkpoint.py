"""Reports written during the run (checkpoints) as well as at its end, so a killed master loses one interval.

The master (or local runner) keeps the only copy of the merged statistics in memory. Every
``--report-interval`` seconds (default 30; 0: off) a :class:`Checkpointer` writes every
configured report, marked partial: the JSON's ``"complete": false`` and ``"covered"`` (from
the start to the checkpoint), the JUnit property ``loadkit.complete``, the HTML page's
"partial" line. The final write at the end of the run says ``"complete": true``. A master
killed with SIGKILL at any moment leaves the last checkpoint, whole: each file is written to
a temporary file, fsynced and renamed (:func:`loadkit.stats.reports.write_report`).

JSON always: when only ``--report-junit`` or ``--report-html`` is given, the JSON report is
written beside the first of them (``out/junit.xml`` -> ``out/junit.json``; ``NAME.loadkit.json``
if that is one of the configured paths). It is the one format that carries every number
(thresholds, entries, pictures) and the one a reader can check for ``complete``; a CI job that
asked for JUnit only gets a file next to the one it already collects. No report configured:
no file, no checkpoint (loadkit writes nowhere it was not told to).

Off the hot path: on Linux the master forks (:mod:`loadkit.run.offload`) and the child takes
the numbers (one consistent snapshot: the child's memory is the master's at the fork), builds,
renders and writes the reports, and sends back only what was written (:mod:`loadkit.run.offload`:
a checkpoint's peak of objects, kept in the master, left memory behind at every interval).
Elsewhere (or with ``LOADKIT_OFFLOAD=thread``) the numbers are taken in the gevent loop
(Locust's stats, copies of the HDR histograms and of the timeline's figures) and the rest runs in
gevent's thread pool. Either way the loop goes on receiving worker reports
(``bench/checkpoint_cost.py`` measures both parts). The checkpoint greenlet waits for its child
(or thread); the final write waits for a checkpoint in flight, so a late checkpoint never
replaces the final report.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from gevent.lock import Semaphore

from loadkit.run import offload
from loadkit.stats import reports
from loadkit.stats.html import to_html
from loadkit.stats.snapshot import RunSnapshot
from loadkit.stats.thresholds import ThresholdResult

log = logging.getLogger("loadkit.stats")

#: (kind, flag) of every report, in the order they are written.
KINDS = (("junit", "--report-junit"), ("json", "--report-json"), ("html", "--report-html"))


@dataclass(frozen=True)
class ReportFile:
    """One report to write: its kind ("json"), the flag that asked for it and its path."""

    kind: str
    flag: str
    path: str


def report_files(option: Callable[[str], Any]) -> list[ReportFile]:
    """The reports to write: those configured, plus the JSON beside them (module docstring).

    >>> [f.path for f in report_files({"report_junit": "out/junit.xml"}.get)]
    ['out/junit.xml', 'out/junit.json']
    """
    files = [ReportFile(kind, flag, str(path)) for kind, flag in KINDS if (path := option(_dest(flag)))]
    if files and not any(f.kind == "json" for f in files):
        first = Path(files[0].path)
        taken = {Path(f.path) for f in files}
        beside = first.with_suffix(".json")
        if beside in taken:
            beside = first.with_name(f"{first.stem}.loadkit.json")
        flag = f"--report-json (by default beside {files[0].flag})"  # what a refusal of this path names
        files.insert(1 if files[0].kind == "junit" else 0, ReportFile("json", flag, str(beside)))
    return files


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def status(start: float, now: float, complete: bool) -> dict[str, Any]:
    """The JSON report's ``complete`` and ``covered`` fields for a run started at ``start``."""

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")

    seconds = max(now - start, 0.0)
    return {"complete": complete, "covered": {"from": iso(start), "to": iso(now), "seconds": round(seconds, 3)}}


def render(
    files: Sequence[ReportFile], snapshot: RunSnapshot, results: Sequence[ThresholdResult], document: dict[str, Any]
) -> list[tuple[ReportFile, str]]:
    """Each report's text; pure (a thread may run it): reads only its arguments."""
    complete = bool(document.get("complete", True))
    renderers: dict[str, Callable[[], str]] = {
        "junit": lambda: reports.to_junit(snapshot, results, complete=complete),
        "json": lambda: reports.dumps_json(document),
        "html": lambda: to_html(document),
    }
    return [(f, renderers[f.kind]()) for f in files]


def write(rendered: Sequence[tuple[ReportFile, str]]) -> list[tuple[ReportFile, str, str | None]]:
    """Write each text (atomically, durably): ``(file, path, None or the error)`` each; never raises OSError."""
    done: list[tuple[ReportFile, str, str | None]] = []
    for f, text in rendered:
        try:
            done.append((f, str(reports.write_report(f.path, text)), None))
        except OSError as exc:
            done.append((f, f.path, exc.strerror or str(exc)))
    return done


def log_errors(done: Sequence[tuple[ReportFile, str, str | None]]) -> None:
    for f, path, error in done:
        if error is not None:
            log.error(
                "loadkit: error: could not write %s %s (%s): free space or give another path", f.flag, path, error
            )


#: What one checkpoint cost: seconds in the loop (the snapshot), in the thread (render + write), bytes.
@dataclass(frozen=True)
class Cost:
    loop_s: float
    thread_s: float
    bytes: int


class Checkpointer:
    """Writes partial reports every ``interval`` seconds until :meth:`close` (module docstring).

    ``take`` runs in the loop and returns ``(files, snapshot, results, build)``; ``build()``, in
    the thread, returns the JSON document (from copies ``take`` made).
    """

    def __init__(
        self,
        interval: float,
        take: Callable[[], tuple[list[ReportFile], RunSnapshot, list[ThresholdResult], Callable[[], dict[str, Any]]]],
    ) -> None:
        self.interval = interval
        self.take = take
        self.costs: list[Cost] = []
        self._lock = Semaphore()
        self._closed = False
        self._errors: set[tuple[str, str | None]] = set()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self.interval > 0 and self._greenlet is None and not self._closed:
            self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while not self._closed:
            gevent.sleep(self.interval)
            self.write_once()

    def write_once(self) -> Cost | None:
        """One checkpoint now (None once closed)."""
        with self._lock:
            if self._closed:
                return None
            try:
                (done, thread_s, size), in_loop = offload.run(self.take, _taken_render_and_write)
            except offload.OffloadError as exc:
                log.error(
                    "loadkit: error: a report checkpoint failed (%s); the next is due in %g s", exc, self.interval
                )
                return None
        errors: set[tuple[str, str | None]] = {(f.path, error) for f, _, error in done if error is not None}
        if errors != self._errors:  # a full disk is one line, not one per checkpoint
            log_errors(done)
        self._errors = errors
        cost = Cost(in_loop, thread_s, size)
        self.costs = [*self.costs[-99:], cost]
        log.debug(
            "loadkit: checkpoint written (%.1f ms in the loop, %.1f ms beside it, %d bytes)",
            in_loop * 1000,
            thread_s * 1000,
            size,
        )
        return cost

    def close(self) -> None:
        """No more checkpoints; waits for one in flight (the final write comes next)."""
        self._closed = True
        with self._lock:
            pass
        if self._greenlet is not None and self._greenlet is not gevent.getcurrent():
            self._greenlet.kill(block=False)
        self._greenlet = None


def _taken_render_and_write(
    taken: tuple[list[ReportFile], RunSnapshot, list[ThresholdResult], Callable[[], dict[str, Any]]],
) -> tuple[list[tuple[ReportFile, str, str | None]], float, int]:
    return _render_and_write(*taken)


def _render_and_write(
    files: Sequence[ReportFile],
    snapshot: RunSnapshot,
    results: Sequence[ThresholdResult],
    build: Callable[[], dict[str, Any]],
) -> tuple[list[tuple[ReportFile, str, str | None]], float, int]:
    started = time.perf_counter()
    # The document is millions of short-lived objects: the collections they would trigger walk the
    # whole heap holding the GIL (300-450 ms stalls of the loop measured); collect after, once.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        rendered = render(files, snapshot, results, build())
        size = sum(len(text.encode()) for _, text in rendered)
    finally:
        if was_enabled:
            gc.enable()
    done = write(rendered)
    return done, time.perf_counter() - started, size
