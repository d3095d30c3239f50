"""A master restarted mid-run takes its workers back and finishes the run it lost (issue #23).

While a headless master runs with a JSON report (``--report-json``, or the one written beside
``--report-junit``/``--report-html``) and ``--report-interval``, it also writes a *state file*
beside that report (``report.json`` -> ``report.json.state``), atomically, every interval:
Locust's merged stats (entries, total, errors), loadkit's HDR histograms, the last report
sequence number it merged from each worker, when the run started, its planned end (start +
``--run-time``) and a fingerprint of its options (the fleet secret included, hashed). After each
write it tells each worker the sequence it now holds (:data:`~loadkit.messages.CHECKPOINTED`);
the workers keep every later report (:mod:`loadkit.fleet.rejoin`). The file is removed once
the final report is written.

Automatically, not behind a ``--resume`` flag: the master that comes back is started by an
orchestrator (Kubernetes, compose's restart policy, a supervisor) with the very command that
died, so a flag would have to be in that command from the start, and then a fresh run in the
same directory would need another. A master resumes when the state file is there (the last run
in that place did not finish), its fingerprint matches this command's options and secret, and
its planned end is still ahead; otherwise it starts afresh (a state file it does not take is
named in one line, and replaced). Delete the file to start afresh on purpose.

Resuming: the master waits for ``--expect-workers`` as usual (the workers register again on their
own), sets ``--run-time`` to what is left until the planned end, restores the stats when the run
starts (Locust's ``test_start``, after it cleared them) and then asks each worker for the
reports it kept; a report whose sequence it already merged is dropped, so none counts twice. The
JSON report's ``master_gaps`` says when the master was gone and for how long: from the last
heartbeat a worker had from the old master (or the last state file, when no worker said) to the
start of the new master's process.

Other parts add their own sections to the state file (:attr:`Resume.state_parts`) and restore
them (:attr:`Resume.restore_parts`, at the run's start): the timeline (the report's pictures
cover the whole run; the gap is shaded in them: :mod:`loadkit.stats.charts`) and the test-data
lease ledger (:mod:`loadkit.fleet.ledger`, restored at once and reconciled with what the
rejoining workers hold), and the open model's schedule (:mod:`loadkit.load.restart`: the same
epoch, the gap's share nobody ran counted as dropped). The local runner and the web UI's runs
have no workers to take back and do not resume.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import psutil
from gevent.lock import Semaphore
from locust.env import Environment
from locust.runners import MasterRunner
from locust.stats import StatsEntry, StatsError

from loadkit import messages
from loadkit._locust import rpc as locust_rpc
from loadkit._locust import runners as locust_runners
from loadkit.fleet.rejoin import SEQ_KEY
from loadkit.messages import CHECKPOINTED, REJOIN, Checkpointed, Rejoin
from loadkit.run import offload
from loadkit.run.context import StashKey, run_context
from loadkit.stats import checkpoint, reports
from loadkit.stats.hdr import HdrRecorder, copy_histogram
from loadkit.stats.timeline import Timeline

log = logging.getLogger("loadkit.fleet")

#: The state file's format; another one is not taken.
FORMAT = 1
#: Options that say nothing about the run (they may differ between the master that died and the new one).
UNFINGERPRINTED = frozenset({"run_time"})


def fingerprint(options: Any) -> str:
    """A hash of the options' plain values (the secret's among them): the same command, the same hash."""
    plain = {
        k: v
        for k, v in sorted(vars(options).items())
        if k not in UNFINGERPRINTED and (v is None or isinstance(v, str | int | float | bool | list | tuple))
    }
    return hashlib.sha256(json.dumps(plain, default=str, sort_keys=True).encode()).hexdigest()


def state_path(option: Any) -> Path | None:
    """Where the state file goes: beside the JSON report; None without reports."""
    json_files = [f for f in checkpoint.report_files(option) if f.kind == "json"]
    return Path(json_files[0].path + ".state") if json_files else None


def resumable(state: Any, fp: str, now: float) -> str | None:
    """Why ``state`` cannot be resumed, or None when it can (pure)."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        return "it is not a loadkit state file of this version"
    if state.get("fingerprint") != fp:
        return "it was written by a master with other options or another fleet secret"
    end = state.get("planned_end")
    if isinstance(end, int | float) and end <= now + 1:
        return "its planned end has passed"
    return None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


class Resume:
    """The master's side (module docstring): state file, sequence check, restore."""

    def __init__(
        self, environment: Environment, recorder: HdrRecorder, path: Path | None, restored: dict[str, Any] | None
    ) -> None:
        self.environment = environment
        self.recorder = recorder
        self.path = path
        self.fingerprint = fingerprint(environment.parsed_options) if environment.parsed_options else ""
        self.restored = restored
        self.seqs: dict[str, int] = {str(k): int(v) for k, v in (restored or {}).get("seqs", {}).items()}
        self.lost_at: dict[str, float] = {}
        self.declared: dict[str, int] = {}  # the last report each rejoining worker numbered
        self.gaps: list[dict[str, Any]] = list((restored or {}).get("gaps", []))  # of earlier restarts
        self.started_at: float | None = None
        self.planned_end: float | None = None
        self.process_start = psutil.Process(os.getpid()).create_time()
        #: Other parts' sections of the state file (name -> take, in the loop), e.g. the lease ledger.
        self.state_parts: dict[str, Callable[[], Any]] = {}
        #: Other parts' restore at the run's start (name -> restore(saved section)), e.g. the timeline.
        self.restore_parts: dict[str, Callable[[Any], None]] = {}
        #: Told of each ``loadkit:rejoin`` (node id, payload): the ledger's declarations.
        self.rejoin_listeners: list[Callable[[str, Rejoin], None]] = []
        self._lock = Semaphore()
        self._writer: gevent.Greenlet | None = None
        self._closed = False

    # --- sequence check (the seam calls it for each stats report) ---------------------------
    def admit(self, node_id: str, data: Any) -> bool:
        seq = data.get(SEQ_KEY) if isinstance(data, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool):
            return True  # a worker without loadkit's rejoin: Locust's own behaviour
        if seq <= self.seqs.get(node_id, 0):
            return False  # already merged (before the restart, or sent twice)
        self.seqs[node_id] = seq
        return True

    def on_rejoin(self, environment: Environment, rejoin: Rejoin, node_id: str) -> None:
        for listener in self.rejoin_listeners:
            listener(node_id, rejoin)
        self.lost_at[node_id] = float(rejoin.lost_at)
        self.declared[node_id] = int(rejoin.seq)
        if self.started_at is not None:  # else at test_start, once the stats are restored
            self._ack(node_id, self._holds(node_id))

    def _holds(self, node_id: str) -> int:
        """The last report of ``node_id`` this run has: merged (or restored), else all it declared.

        A master that did not resume (or never had a report from the worker) takes none of what
        the worker kept: those reports belong to a run this master does not continue.
        """
        if node_id in self.seqs or self.restored is not None:
            return self.seqs.get(node_id, 0)
        self.seqs[node_id] = self.declared.get(node_id, 0)  # a late copy of one is dropped too
        return self.seqs[node_id]

    def _ack(self, node_id: str, seq: int) -> None:
        if locust_runners.has_worker(self.environment.runner, node_id):
            messages.send(self.environment.runner, CHECKPOINTED, Checkpointed(seq), client_id=node_id)

    # --- lifecycle -------------------------------------------------------------------------
    def on_test_start(self, **_kw: Any) -> None:
        if self.started_at is not None:
            return
        now = time.time()
        state = self.restored
        if state is not None:
            self._restore(state)
            gap = self._gap()
            self.started_at, self.planned_end = float(state["start"]), state.get("planned_end")
            left = f"{self.planned_end - now:.0f} s left" if self.planned_end else "no run time"
            log.warning(
                "loadkit: resumed the run started at %s from its state file %s; the master was gone from %s "
                "for %.1f s; %s",
                _iso(self.started_at),
                self.path,
                gap["from"],
                gap["seconds"],
                left,
            )
        else:
            run_time = getattr(self.environment.parsed_options, "run_time", None)
            self.started_at, self.planned_end = now, (now + float(run_time) if run_time else None)
        for node in locust_runners.connected_workers(self.environment.runner):  # before their spawn
            if node.id in self.lost_at or state is not None:  # resumed: each of them may be rejoining
                self._ack(node.id, self._holds(node.id))
        interval = float(getattr(self.environment.parsed_options, "report_interval", 0) or 0)
        if interval > 0 and self.path is not None:
            self._writer = gevent.spawn(self._write_loop, interval)

    def _restore(self, state: dict[str, Any]) -> None:
        stats = self.environment.runner.stats  # type: ignore[union-attr]
        for data in state.get("entries", []):
            entry = locust_runners.stats_entry(data, stats)
            key = (entry.name, entry.method)
            if key not in stats.entries:
                stats.entries[key] = StatsEntry(stats, entry.name, entry.method, use_response_times_cache=True)
            stats.entries[key].extend(entry)
        stats.total.extend(locust_runners.stats_entry(state["total"], stats))
        for key, error in state.get("errors", {}).items():
            stats.errors[key] = StatsError.unserialize(error)
        self.recorder.merge_deltas(state.get("hdr", {}))
        for name, restore in self.restore_parts.items():
            if name in state:
                restore(state[name])

    def _gap(self) -> dict[str, Any]:
        """This restart's gap: from the latest last heartbeat a worker had (or the last state file) to this process."""
        written_at = float((self.restored or {}).get("written_at", self.process_start))
        gone_from = max(self.lost_at.values(), default=written_at)
        seconds = round(max(self.process_start - gone_from, 0.0), 1)
        return {"from": _iso(gone_from), "to": _iso(self.process_start), "seconds": seconds}

    def section(self) -> list[dict[str, Any]]:
        """The JSON report's ``master_gaps``: when the master was gone, for how long."""
        return [*self.gaps, self._gap()] if self.restored is not None else list(self.gaps)

    # --- the state file ------------------------------------------------------------------------
    def _write_loop(self, interval: float) -> None:
        while not self._closed:
            gevent.sleep(interval)
            self.write_once()

    def write_once(self) -> None:
        with self._lock:
            if self._closed or self.path is None:
                return
            path = self.path
            try:  # in a forked child (or a thread): loadkit.run.offload
                (error, seqs), _ = offload.run(self._take, lambda taken: (_write(path, *taken), taken[0]["seqs"]))
            except offload.OffloadError as exc:
                error, seqs = str(exc), {}
        if error:
            log.error("loadkit: error: could not write the state file %s (%s): the run cannot resume", self.path, error)
            return
        for node_id, seq in seqs.items():
            self._ack(node_id, seq)

    def _take(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """In the loop, without yielding: one consistent state (stats, histograms, sequences)."""
        stats = self.environment.runner.stats  # type: ignore[union-attr]
        state = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "start": self.started_at,
            "planned_end": self.planned_end,
            "written_at": time.time(),
            "entries": [e.serialize() for e in stats.entries.values()],
            "total": stats.total.serialize(),
            "errors": stats.serialize_errors(),
            "seqs": dict(self.seqs),
            "gaps": self.section(),
            **{name: take() for name, take in self.state_parts.items()},
        }
        keys = self.recorder.keys()
        histograms = {f"{k[0]}\t{k[1]}": copy_histogram(self.recorder.histogram(k)) for k in keys}
        return state, histograms

    def close(self, **_kw: Any) -> None:
        """The run is over (its final report is written): no more state, and none left behind."""
        self._closed = True
        with self._lock:
            pass
        if self._writer is not None and self._writer is not gevent.getcurrent():
            self._writer.kill(block=False)
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _write(path: Path, state: dict[str, Any], histograms: dict[str, Any]) -> str | None:
    """Beside the loop (a child or a thread): encode the histograms, write the file atomically; the error, or None."""
    encoded = {k: h.encode() for k, h in histograms.items() if h.get_total_count()}
    state["hdr"] = {k: e.decode() if isinstance(e, bytes) else e for k, e in encoded.items()}
    try:
        reports.write_report(str(path), json.dumps(state))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


#: The master's resume part, in its run's stash.
RESUME: StashKey[Resume] = StashKey("resume")


def install(
    environment: Environment, recorder: HdrRecorder, sections: dict[str, Any], timeline: Timeline | None = None
) -> Resume | None:
    """On a master: the sequence check and rejoining workers; with a JSON report, headless, the state
    file, and resuming from one (module docstring), the ``timeline`` too when given."""
    runner, options = environment.runner, environment.parsed_options
    if not isinstance(runner, MasterRunner):
        return None
    headless = options is not None and bool(getattr(options, "headless", False))
    path = state_path(lambda name: getattr(options, name, None)) if headless else None
    restored = _read(path, fingerprint(options)) if path is not None else None
    part = run_context(environment)[RESUME] = Resume(environment, recorder, path, restored)
    run_context(environment)[locust_rpc.REPORT_FILTER] = part.admit
    messages.register_handler(runner, REJOIN, part.on_rejoin)
    if timeline is not None:
        part.state_parts["timeline"] = timeline.state
        part.restore_parts["timeline"] = lambda saved: _restore_timeline(timeline, saved, path)
    environment.events.test_start.add_listener(part.on_test_start)
    environment.events.quitting.add_listener(part.close)
    if restored is not None:
        sections["master_gaps"] = part.section
        if isinstance(restored.get("planned_end"), int | float):
            locust_runners.keep_run_time(options, float(restored["planned_end"]), lambda: part.started_at is not None)
    return part


def _restore_timeline(timeline: Timeline, saved: Any, path: Path | None) -> None:
    try:
        timeline.restore(saved)
    except ValueError as exc:
        log.warning("loadkit: the timeline before the restart is not in %s (%s): it starts at the restart", path, exc)


def _read(path: Path, fp: str) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("loadkit: not resuming from %s (%s): starting afresh", path, exc)
        return None
    why = resumable(state, fp, time.time())
    if why is not None:
        log.warning("loadkit: not resuming from %s: %s; starting afresh", path, why)
        return None
    return state
