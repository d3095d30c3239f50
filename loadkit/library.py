"""Library mode: run a load test from Python and get a result object back.

Locally (all users in this process)::

    from loadkit import LoadTest
    result = LoadTest([MyUser], host="http://127.0.0.1:8080", users=50, run_time="30s",
                      thresholds=["p99<50ms", "fail_ratio==0"]).run()
    assert result.passed, result.thresholds

Distributed: ``workers=N`` starts a master in this process (on 127.0.0.1, a free port)
and N ``locust --worker`` subprocesses. Workers load the user classes from the files
that define them (``inspect.getfile``), so those classes must live in a file, not in an
interactive session; a class that is not in a file is a
:class:`~loadkit.exceptions.ConfigError`. A script needs no ``if __name__ == "__main__":``
guard: a worker executes the script only up to its ``LoadTest(...).run()``, which there
stops the script instead of running (:mod:`loadkit.run.worker_users`).
Every run is bounded (``run_time``, default
30 s) and every worker process is terminated and waited for before ``run`` returns.

A hand-written Locust ``Environment`` script gets HDR percentiles, thresholds and reports
with :func:`attach` (see ``locustfiles/library_mode.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from loadkit import config
from loadkit._locust import runners as locust_runners
from loadkit.exceptions import EXIT_FAILURES, EXIT_OK, EXIT_THRESHOLDS, ConfigError, LoadkitError
from loadkit.run import worker_users
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import ThresholdResult, all_passed

_WORKER_BOOTSTRAP = Path(__file__).parent / "run" / "worker_locustfile.py"


@dataclass(frozen=True)
class LoadTestResult:
    """What a run produced. ``passed`` is ``exit_code == 0`` (as the ``locust`` process would exit)."""

    exit_code: int
    thresholds: list[ThresholdResult]
    snapshot: RunSnapshot
    reports: dict[str, str] = field(default_factory=dict)
    abort_reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def thresholds_passed(self) -> bool:
        return all_passed(self.thresholds)

    @property
    def total(self) -> EntryStats:
        return self.snapshot.total

    @property
    def requests(self) -> int:
        return self.snapshot.total.count

    @property
    def failures(self) -> int:
        return self.snapshot.total.failures

    @property
    def percentiles(self) -> dict[str, dict[str, float]]:
        """Entry key (``"TYPE name"``, and ``"Aggregated"``) to ``{"p50": ms, …, "max": ms}``."""
        rows = (*self.snapshot.entries, self.snapshot.total)
        return {row.key: row.percentiles.as_dict() for row in rows}


class Attachment:
    """loadkit wired to a hand-written ``Environment``; :meth:`finish` when the run is over."""

    def __init__(self, environment: Any) -> None:
        from loadkit.stats.controller import controller_for

        self.environment = environment
        self.controller = controller_for(environment)

    def finish(self) -> LoadTestResult:
        """Evaluate thresholds on the final numbers, write reports, print the table."""
        results = self.controller.finish()
        runner = self.environment.runner
        if results and not all_passed(results):
            code = EXIT_THRESHOLDS
        elif runner is not None and (runner.stats.total.num_failures or runner.exceptions):
            code = EXIT_FAILURES
        else:
            code = EXIT_OK
        assert self.controller.final is not None
        return LoadTestResult(
            code, list(results), self.controller.final, dict(self.controller.report_paths), self.controller.abort_reason
        )


def attach(environment: Any, **options: Any) -> Attachment:
    """Give a hand-written Locust ``Environment`` loadkit's stats, thresholds and reports.

    ``options`` are loadkit options by dest name (``threshold=["p99<5ms"]``,
    ``report_json="out/report.json"``); call it after creating the runner (and the web UI,
    if any, so loadkit's tabs join it) and before starting the test::

        env = Environment(user_classes=[MyUser], host=HOST)
        env.create_local_runner()
        env.create_web_ui("127.0.0.1", 8089)  # optional
        lk = loadkit.attach(env, threshold=["p99<50ms"])
        env.runner.start(10, spawn_rate=10)
        gevent.spawn_later(20, env.runner.quit)
        env.runner.greenlet.join()
        result = lk.finish()
    """
    from loadkit.run import plugin

    if environment.parsed_options is None:
        # Locust's web UI, HTML report and runners read many of Locust's own options: start
        # from all of them (their defaults), never from a namespace of a few.
        environment.parsed_options = locust_options(headless=environment.web_ui is None, host=environment.host)
    chosen = config.defaults(**options)  # unknown names raise ConfigError
    for name, value in vars(chosen).items():
        if name in options or not hasattr(environment.parsed_options, name):
            setattr(environment.parsed_options, name, value)
    plugin.install(environment)
    return Attachment(environment)


class LoadTest:
    """A bounded load test run from Python; see the module docstring for an example.

    ``users``/``spawn_rate`` (default: 1 user, all at once) as Locust's ``-u``/``-r``; or the
    open model: ``arrival_rate`` (iterations/s) or ``arrival_stages`` ("30s:100,1m:100") with a
    pool of ``max_users`` (``--arrival-rate`` etc., docs/open-model.md); ``run_time``
    as ``-t`` (seconds or "30s"/"2m"); ``thresholds`` as ``--threshold``; ``workers=N`` runs
    the users in N ``locust --worker`` processes; ``web_port`` also serves Locust's web UI
    (with loadkit's tabs) on 127.0.0.1 while the test runs; ``progress`` prints a progress line
    every that many seconds (None: silent); ``options`` sets any other
    loadkit option by dest name (``{"loadkit_data": "users.csv"}``). Bad arguments raise
    :class:`~loadkit.exceptions.ConfigError` here, before any load.

    Each run has its own ``Environment`` and ``Events``, so runs in one process never see
    each other's listeners. Listeners a module registers on the global ``locust.events``
    (``@events.test_start`` in a locustfile) therefore run in worker processes
    (``workers=N``, which load the file as ``locust`` does) but not in a local run.
    """

    def __init__(
        self,
        user_classes: Sequence[type],
        host: str | None = None,
        users: int | None = None,
        spawn_rate: float | None = None,
        run_time: str | float | None = None,
        thresholds: Sequence[str] = (),
        workers: int = 0,
        *,
        abort_on_threshold: bool = False,
        threshold_grace: float = 10.0,
        report_junit: str | None = None,
        report_json: str | None = None,
        report_html: str | None = None,
        worker_timeout: float = 60.0,
        web_port: int | None = None,
        progress: float | None = 5.0,
        options: dict[str, Any] | None = None,
        arrival_rate: float | str | None = None,
        arrival_stages: str | None = None,
        max_users: int | None = None,
        max_lateness: float | None = None,
    ) -> None:
        if not user_classes:
            raise ConfigError("LoadTest needs at least one user class: LoadTest(user_classes=[MyUser], ...)")
        open_model = _open_model(users, arrival_rate, arrival_stages, max_users, max_lateness)
        users = 0 if open_model is not None else (1 if users is None else users)
        if workers < 0 or (users < 1 and open_model is None):
            raise ConfigError(f"LoadTest needs users >= 1 and workers >= 0, got users={users}, workers={workers}")
        self.user_classes = list(user_classes)
        self.host = host
        self.users = users
        self.spawn_rate = float(spawn_rate or users or 1)
        if run_time is None and open_model is not None and open_model.rate is None:
            run_time = open_model.profile().duration + 1.0  # the run ends with its last stage
        self.run_time = _seconds("30s" if run_time is None else run_time)
        self.workers = workers
        self.worker_timeout = worker_timeout
        self.web_port = web_port
        self.progress = progress
        self.options = {
            "threshold": list(thresholds),
            "abort_on_threshold": abort_on_threshold,
            "threshold_grace": threshold_grace,
            "report_junit": report_junit,
            "report_json": report_json,
            "report_html": report_html,
            "arrival_rate": None if arrival_rate is None else str(arrival_rate),
            "arrival_stages": arrival_stages,
            "max_users": None if max_users is None else str(max_users),
            "max_lateness": None if max_lateness is None else str(max_lateness),
            **(options or {}),
        }
        config.defaults(**self.options)  # unknown option names fail here, not mid-run
        from loadkit.stats.thresholds import parse_thresholds

        parse_thresholds(self.options["threshold"])  # bad expressions fail before any load
        self._files = worker_users.user_class_files(self.user_classes) if workers else []

    def run(self) -> LoadTestResult:
        """Run the test to its end (``run_time`` or an aborting threshold) and return the result."""
        from loadkit.run.worker_users import ScriptStopped, in_library_worker

        if in_library_worker():
            # A worker of another LoadTest is loading this script for its user classes:
            # stop the script here rather than start a master and workers of its own.
            raise ScriptStopped
        saved_argv = sys.argv[:]
        if self.web_port is not None:
            # Locust's web UI parses sys.argv with its own parser when created and on every
            # page load; the embedding program's arguments ("loadkit demo --web", pytest's)
            # would make it exit. Hide them for the duration of the run.
            sys.argv[1:] = []
        try:
            return self._run()
        finally:
            sys.argv[:] = saved_argv

    def _run(self) -> LoadTestResult:
        import gevent
        from gevent.event import Event
        from locust.env import Environment

        from loadkit.stats.progress import run_progress

        headless = self.web_port is None
        env = Environment(user_classes=self.user_classes, host=self.host, parsed_options=self._locust_options())
        if self.workers:
            port = _free_port()
            env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port)
        else:
            env.create_local_runner()
        # The web UI exists before attach(), so loadkit's tabs are added to it.
        web_ui = None if headless else env.create_web_ui("127.0.0.1", self.web_port)
        attachment = attach(env, **self.options)
        stopped = Event()
        env.events.test_stop.add_listener(lambda **_kw: stopped.set())
        progress = None
        procs: list[subprocess.Popen[bytes]] = []
        logs: dict[int, IO[bytes]] = {}  # this run's workers' stderr, by pid
        runner = env.runner
        assert runner is not None
        try:
            if self.workers:
                for _ in range(self.workers):
                    procs.append(self._start_worker(port, logs))  # one by one: all are stopped below
                self._wait_for_workers(runner, procs, logs)
            runner.start(self.users, spawn_rate=self.spawn_rate)
            if self.progress:
                progress = gevent.spawn(
                    run_progress,
                    attachment.controller.snapshot,
                    lambda: locust_runners.worker_count(runner) if self.workers else None,
                    self.run_time,
                    self.progress,
                )
            stopped.wait(timeout=self.run_time)
            if progress is not None:
                progress.kill()  # no progress line after the final table
            runner.quit()
            return attachment.finish()
        finally:
            if progress is not None:
                progress.kill(block=False)
            runner.quit()
            if web_ui is not None:
                web_ui.stop()
            locust_runners.close_master_socket(runner)
            _stop_processes(procs, logs)

    def _locust_options(self) -> argparse.Namespace:
        """Locust's full option namespace (the web UI reads many), with this test's values."""
        options = locust_options(headless=self.web_port is None, host=self.host)
        options.num_users, options.spawn_rate, options.run_time = self.users, self.spawn_rate, int(self.run_time)
        return options

    def _start_worker(self, port: int, logs: dict[int, IO[bytes]]) -> subprocess.Popen[bytes]:
        from loadkit.run.worker_users import LIBRARY_WORKER_ENV

        cmd = [sys.executable, "-m", "locust", "-f", str(_WORKER_BOOTSTRAP), "--worker"]
        cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
        # stderr to a file, not a pipe: a chatty worker must never block on a full pipe.
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _stop_processes
        env = {**os.environ, LIBRARY_WORKER_ENV: json.dumps(self._files)}
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
        logs[proc.pid] = log
        return proc

    def _wait_for_workers(self, runner: Any, procs: list[subprocess.Popen[bytes]], logs: dict[int, IO[bytes]]) -> None:
        import gevent

        deadline = time.monotonic() + self.worker_timeout
        while locust_runners.ready_workers(runner) < len(procs):
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                err = _read_stderr(dead[0], logs)
                last = err.splitlines()[-1] if err else "no output"
                raise LoadkitError(f"a loadkit worker exited with code {dead[0].returncode}: {last}")
            if time.monotonic() > deadline:
                raise LoadkitError(
                    f"only {locust_runners.ready_workers(runner)} of {len(procs)} workers connected within "
                    f"{self.worker_timeout:g} s; raise LoadTest(worker_timeout=...) on a slow machine"
                )
            gevent.sleep(0.1)


def locust_options(headless: bool, host: str | None) -> argparse.Namespace:
    """Every option of Locust's parser (and loadkit's) at its default, as ``locust`` with no arguments has them."""
    from locust.argument_parser import get_parser

    import loadkit.run.plugin  # noqa: F401  (its options join Locust's parser)

    options = get_parser(default_config_files=[]).parse_args([])
    options.headless = headless
    options.host = host or ""
    return options


def _stop_processes(procs: list[subprocess.Popen[bytes]], logs: dict[int, IO[bytes]], grace: float = 15.0) -> None:
    """Wait for workers (the master told them to quit), then terminate and kill stragglers."""
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log = logs.pop(proc.pid, None)
        if log is not None:
            log.close()


def _read_stderr(proc: subprocess.Popen[bytes], logs: dict[int, IO[bytes]]) -> str:
    log = logs.get(proc.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace").strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open_model(
    users: int | None, rate: float | str | None, stages: str | None, pool: int | None, lateness: float | None
) -> Any:
    """The open-model settings (None: closed model); ConfigError before any load."""
    from loadkit.load.settings import from_options

    values = {"arrival_rate": rate, "arrival_stages": stages, "max_users": pool, "max_lateness": lateness}
    namespace = argparse.Namespace(num_users=users, **{k: None if v is None else str(v) for k, v in values.items()})
    settings = from_options(namespace, check_users=True)
    if settings is not None and users is not None:  # pragma: no cover - from_options refuses it
        raise ConfigError("LoadTest takes users= or arrival_rate=/arrival_stages=, not both")
    return settings


def _seconds(run_time: str | float, flag: str = "run_time") -> float:
    if isinstance(run_time, int | float):
        seconds = float(run_time)
    else:
        from locust.util.timespan import parse_timespan

        try:
            seconds = float(parse_timespan(run_time))
        except ValueError as exc:
            raise ConfigError(
                f"{flag} {run_time!r} is not a duration: give seconds (30) or a span such as 30s, 2m, 1h30m"
            ) from exc
    if seconds <= 0:
        raise ConfigError(f"{flag} must be positive, got {run_time!r}: a load test must end by itself")
    return seconds
