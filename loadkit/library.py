"""Library mode: run a load test from Python and get a result object back.

Locally (all users in this process)::

    from loadkit import LoadTest
    result = LoadTest([MyUser], host="http://127.0.0.1:8080", users=50, run_time="30s",
                      thresholds=["p99<50ms", "fail_ratio==0"]).run()
    assert result.passed, result.thresholds

Distributed: ``workers=N`` starts a master in this process (on 127.0.0.1, a free port)
and N ``locust --worker`` subprocesses. Workers import the user classes from the files
that define them (``inspect.getfile``), so those classes must live in a module file, not
in ``__main__`` of an interactive session; a class that is not in a file is a
:class:`~loadkit.exceptions.ConfigError`. Every run is bounded (``run_time``, default
30 s) and every worker process is terminated and waited for before ``run`` returns.

A hand-written Locust ``Environment`` script gets HDR percentiles, thresholds and reports
with :func:`attach` (see ``locustfiles/library_mode.py``).
"""

from __future__ import annotations

import argparse
import inspect
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
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import ThresholdResult, all_passed

_WORKER_BOOTSTRAP = Path(__file__).parent / "run" / "worker_locustfile.py"
#: stderr files of running worker processes, by pid (read when one dies early).
_LOCUST_DEFAULTS = {"headless": True, "enable_rebalancing": False, "web_base_path": "", "stop_timeout": 0.0}


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
        environment.parsed_options = argparse.Namespace(**_LOCUST_DEFAULTS)
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
    pool of ``max_users`` (``--arrival-rate`` etc., README "Closed and open model"); ``run_time``
    as ``-t`` (seconds or "30s"/"2m"); ``thresholds`` as ``--threshold``; ``workers=N`` runs
    the users in N ``locust --worker`` processes; ``web_port`` also serves Locust's web UI
    (with loadkit's tabs) on 127.0.0.1 while the test runs; ``options`` sets any other
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
        self._files = _user_class_files(self.user_classes) if workers else []

    def run(self) -> LoadTestResult:
        """Run the test to its end (``run_time`` or an aborting threshold) and return the result."""
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
        from gevent.event import Event
        from locust.env import Environment

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
            stopped.wait(timeout=self.run_time)
            runner.quit()
            return attachment.finish()
        finally:
            runner.quit()
            if web_ui is not None:
                web_ui.stop()
            locust_runners.close_master_socket(runner)
            _stop_processes(procs, logs)

    def _locust_options(self) -> argparse.Namespace:
        """Locust's full option namespace (the web UI reads many), with this test's values."""
        from locust.argument_parser import get_parser

        import loadkit.run.plugin  # noqa: F401  (its options join Locust's parser)

        options = get_parser(default_config_files=[]).parse_args([])
        options.headless = self.web_port is None
        options.num_users, options.spawn_rate, options.run_time = self.users, self.spawn_rate, int(self.run_time)
        options.host = self.host or ""
        return options

    def _start_worker(self, port: int, logs: dict[int, IO[bytes]]) -> subprocess.Popen[bytes]:
        files = ",".join([str(_WORKER_BOOTSTRAP), *self._files])
        cmd = [sys.executable, "-m", "locust", "-f", files, "--worker"]
        cmd += ["--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
        # stderr to a file, not a pipe: a chatty worker must never block on a full pipe.
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _stop_processes
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
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


def _user_class_files(user_classes: Sequence[type]) -> list[str]:
    files: list[str] = []
    for cls in user_classes:
        try:
            path = Path(inspect.getfile(cls)).resolve()
        except (TypeError, OSError) as exc:
            raise ConfigError(
                f"user class {cls.__name__} is not defined in a file, but LoadTest(workers=N) has worker "
                f"processes import it from its file: move it to a module (e.g. locustfile.py)"
            ) from exc
        module = sys.modules.get(cls.__module__)
        if "<locals>" in cls.__qualname__ or getattr(module, cls.__qualname__, None) is not cls:
            raise ConfigError(
                f"user class {cls.__name__} is not defined at the top level of {path.name}, but "
                f"LoadTest(workers=N) has worker processes load it from that file: define it at module level"
            )
        if not path.is_file():
            raise ConfigError(
                f"user class {cls.__name__} comes from {path}, which is not a file worker processes can "
                f"load: define it in a .py module (e.g. locustfile.py)"
            )
        if str(path) not in files:
            files.append(str(path))
    return files


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


def _seconds(run_time: str | float) -> float:
    if isinstance(run_time, int | float):
        seconds = float(run_time)
    else:
        from locust.util.timespan import parse_timespan

        try:
            seconds = float(parse_timespan(run_time))
        except ValueError as exc:
            raise ConfigError(f"bad run_time {run_time!r}: use e.g. '30s', '2m' or a number of seconds") from exc
    if seconds <= 0:
        raise ConfigError(f"run_time must be positive, got {run_time!r}: a load test must end by itself")
    return seconds
