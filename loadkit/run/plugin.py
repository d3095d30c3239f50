"""The one module that subscribes to Locust's events and wires loadkit's parts to them.

Importing it registers two listeners on Locust's global ``events``. ``import loadkit`` does
that in a process where Locust is already imported (a locustfile under ``locust -f``, plain
Locust users included), and so does ``loadkit.users``:

- ``init_command_line_parser``: adds loadkit's options (:mod:`loadkit.config`);
- ``init``: :func:`install` on the new environment.

Library-mode scripts call :func:`install` (through ``loadkit.attach``) themselves. A
``LoadkitError`` from ``init`` (bad option, data file, host) exits before any load through
:func:`loadkit.run.stop.exit_before_load`; later, runs end through :func:`loadkit.run.stop.end_run`.
"""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from loadkit import config, plain
from loadkit._locust import console, forked, pid1, quiet
from loadkit._locust import errors as locust_errors
from loadkit._locust import gevent as locust_gevent
from loadkit._locust import rpc as locust_rpc
from loadkit._locust import runners as locust_runners
from loadkit.exceptions import LoadkitError
from loadkit.messages import offenders_of
from loadkit.run import context as run
from loadkit.run import stop as _stop
from loadkit.run.context import StashKey

locust_rpc.install()  # before Locust creates its runner and rpc sockets (see loadkit._locust.rpc)

#: Set in the run's stash once :func:`install` wired this environment (each part once).
INSTALLED: StashKey[bool] = StashKey("installed")


@events.init_command_line_parser.add_listener
def _on_init_command_line_parser(parser: Any, **_kw: Any) -> None:
    config.add_arguments(parser)
    locust_rpc.CLI["on"] = True  # a bad fleet secret ends this process with one line (loadkit._locust.rpc)
    locust_errors.install_excepthook()  # a `locust` process: its master-bind failure becomes one line
    pid1.install()  # as PID 1 (a container without init) SIGTERM ends it before Locust's handler exists
    forked.install()  # workers forked by --processes end with the process that forked them


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    try:
        install(environment)
        _one_final_table(environment)
        _open_model_console(environment)
        if getattr(environment.parsed_options, "master", False):  # its give-up line names the fix
            locust_errors.install_expect_workers_hint(environment.runner, environment.parsed_options)
        _preflight(environment)
        locust_gevent.refresh_clock()  # last: Locust arms the -t timer next, from the loop's cached clock
    except LoadkitError as exc:
        # Before any load there is no run to end: exit now, with one line (loadkit.run.stop explains).
        _stop.exit_before_load(exc)


def _one_final_table(environment: Environment) -> None:
    """A ``locust`` process: loadkit's HDR table replaces Locust's, printed last (at ``quit``)."""
    from loadkit.stats.controller import controller_for

    controller = controller_for(environment)
    controller.print_at_quit = True
    environment.events.quit.add_listener(controller.print_console)
    if not getattr(environment.parsed_options, "locust_final_table", False):
        console.silence_final_tables()
    console.fit_type_column()


def _open_model_console(environment: Environment) -> None:
    """A ``locust`` process running the open model: no 0-user noise; rate, late, dropped as it runs."""
    from loadkit.fleet.resume import RESUME
    from loadkit.load.runtime import open_model_for
    from loadkit.stats.controller import controller_for
    from loadkit.stats.progress import run_progress

    part = open_model_for(environment)
    if part.settings is None:  # a closed-model run, or a worker (its master owns the schedule)
        return
    quiet.hide_zero_user_lines()
    stats = controller_for(environment)
    greenlets: list[Any] = []

    def start(**_kw: Any) -> None:
        on_master = isinstance(environment.runner, MasterRunner)
        workers = (lambda: locust_runners.worker_count(environment.runner)) if on_master else (lambda: None)
        run_time = getattr(environment.parsed_options, "run_time", None)
        total = float(run_time) if run_time else (part.profile.duration if part.profile is not None else None)
        already = 0.0
        kept = run.run_context(environment).get(RESUME)
        if kept is not None and kept.restored is not None and kept.started_at is not None:
            already = max(time.time() - kept.started_at, 0.0)  # resumed: the run's clock, not this process's
            total = kept.planned_end - kept.started_at if kept.planned_end else total
        greenlets.append(gevent.spawn(run_progress, stats.snapshot, workers, total, already_s=already))

    def stop(**_kw: Any) -> None:
        while greenlets:
            greenlets.pop().kill(block=False)

    environment.events.test_start.add_listener(start)
    environment.events.test_stopping.add_listener(stop)  # no line once the schedule has ended
    environment.events.test_stop.add_listener(stop)


def _preflight(environment: Environment) -> None:
    """Headless local runner or master: check the hosts before any load (:mod:`loadkit.run.preflight`)."""
    from locust.runners import WorkerRunner

    from loadkit.run import preflight

    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options is None:
        return
    if getattr(options, "headless", False) or getattr(options, "autostart", False):
        # A plain Locust run connects to nothing before its users do, as under Locust (loadkit.plain).
        network = bool(getattr(options, "loadkit_preflight", True)) and plain.environment_uses_loadkit(environment)
        preflight.run(environment.user_classes, environment.host, network)


def install(environment: Environment) -> None:
    """Wire every loadkit part to ``environment``'s events and runner; once per environment."""
    stash = run.run_context(environment)
    if INSTALLED in stash:
        return
    stash[INSTALLED] = True
    run.make_current(environment)  # loadkit.data resolves through the current run
    environment.events.test_start.add_listener(_stop.on_test_start)
    if environment.parsed_options is not None:
        config.check(environment.parsed_options)  # numbers in range, before any part starts
    config.check_environment(os.environ)  # LOCUST_THRESHOLD would be ignored without a word
    _install_access(environment)  # first and alone: no tab or route of any part is reachable without it
    # Parts add their wiring here, each as a small function of the environment.
    _install_stats(environment)
    _install_tracing(environment)
    _install_exemplars(environment)
    _install_fleet(environment)
    _install_load(environment)
    _install_pictures(environment)


def _install_access(environment: Environment) -> None:
    """Who may use the web UI: login and origins (:mod:`loadkit.web.access`), when there is a UI."""
    if environment.web_ui is not None:
        from loadkit.web import access

        access.install(environment.web_ui, environment.parsed_options, plain.environment_uses_loadkit(environment))


def _install_stats(environment: Environment) -> None:
    """HDR recording, worker deltas, thresholds and reports (:mod:`loadkit.stats`)."""
    from loadkit.stats.controller import controller_for
    from loadkit.stats.facets import keep_out_of_total

    keep_out_of_total(environment.stats)  # time to first message is no second request
    part = controller_for(environment)
    part.configure()  # raises ConfigError on a bad --threshold, before any load
    events_ = environment.events
    events_.request.add_listener(part.on_request)
    events_.report_to_master.add_listener(part.on_report_to_master)
    events_.worker_report.add_listener(part.on_worker_report)
    events_.reset_stats.add_listener(part.on_reset_stats)
    events_.spawning_complete.add_listener(part.on_spawning_complete)
    events_.test_start.add_listener(part.on_test_start)
    events_.test_stop.add_listener(part.on_test_stop)
    events_.quitting.add_listener(part.on_quitting)


def _install_tracing(environment: Environment) -> None:
    """W3C trace context on every request (:mod:`loadkit.users.tracing`): checked and made once per run."""
    from loadkit.users import tracing

    if environment.parsed_options is not None:
        tracing.check_options(environment.parsed_options)  # a bad --trace-state: one line, before any load
    tracing.trace_context_for(environment)
    from loadkit.run import otel

    otel.install(environment)  # --otel: a span per task iteration, the parent of its calls' spans


def _install_exemplars(environment: Environment) -> None:
    """The slowest requests' trace ids per entry, merged from workers (:mod:`loadkit.stats.exemplar_part`)."""
    from loadkit.stats import exemplar_part
    from loadkit.stats.controller import controller_for
    from loadkit.users.spans import spans_for
    from loadkit.users.tracing import trace_context_for

    traced = trace_context_for(environment) is not None or spans_for(environment) is not None
    exemplar_part.install(environment, record=traced)
    controller_for(environment).report_sections["exemplars"] = lambda: exemplar_part.report_section(environment)


def _install_fleet(environment: Environment) -> None:
    """Test-data leasing, worker/agent health and the web UI's Fleet tab (:mod:`loadkit.fleet`)."""
    from loadkit.fleet import health, leasing, ledger, master_watch, rejoin, resume, version
    from loadkit.fleet.report import report_section
    from loadkit.stats.controller import controller_for
    from loadkit.web import fleet as fleet_tab

    version.install(environment)  # a worker of another loadkit version is refused
    events_ = environment.events
    events_.quitting.add_listener(_tell_drops)
    leasing.install(environment)  # raises DataError/ConfigError on bad --loadkit-data, before any load
    events_.heartbeat_sent.add_listener(partial(version.on_heartbeat, environment))
    events_.test_stop.add_listener(leasing.on_test_stop)
    events_.quitting.add_listener(leasing.on_quitting)
    master_watch.install(environment)  # a worker whose master is gone gives up after --fleet-master-timeout
    rejoin.install(environment)  # a worker keeps its reports and rejoins a master that comes back
    stats = controller_for(environment)
    resume.install(environment, stats.recorder, stats.report_sections, stats.timeline)  # after the stats' test_start
    ledger.install(environment)  # the lease ledger in the state file; restored and reconciled on resume
    health.install(environment, controller_for(environment).recorder)  # counts: no listener of its own
    events_.quitting.add_listener(health.on_quitting)
    fleet_tab.install(environment)
    controller_for(environment).report_sections["fleet"] = lambda: report_section(environment)  # JSON report


def _install_load(environment: Environment) -> None:
    """The open model: arrival-rate scheduling, fleet split, late/dropped counts (:mod:`loadkit.load`)."""
    from loadkit.fleet.resume import RESUME
    from loadkit.load.runtime import open_model_for
    from loadkit.stats.controller import controller_for
    from loadkit.web import load as load_tab

    part = open_model_for(environment)
    # raises ConfigError on a bad rate, stages or pool, before any load; -u beside a rate is an
    # error except in the web UI, whose form always sends a user count (ignored then)
    part.install(check_users=environment.web_ui is None)
    events_ = environment.events
    events_.test_start.add_listener(part.on_test_start)
    events_.test_stopping.add_listener(part.on_test_stopping)
    events_.test_stop.add_listener(part.on_test_stop)
    events_.report_to_master.add_listener(part.on_report_to_master)
    events_.worker_report.add_listener(part.on_worker_report)
    kept = run.run_context(environment).get(RESUME)
    if kept is not None:  # a master's state file keeps the schedule; a restarted master takes it back
        kept.state_parts["load"] = part.checkpoint
        kept.restore_parts["load"] = part.restore
    stats = controller_for(environment)
    stats.meta_sections["load"] = part.summary
    stats.busy_checks.append(part.busy)  # a master's schedule keeps workers busy with no users
    load_tab.install(environment, part.summary)


def _install_pictures(environment: Environment) -> None:
    """The web UI's Charts tab and the Prometheus endpoint (:mod:`loadkit.stats.prometheus`)."""
    from loadkit.fleet.view import fleet_view
    from loadkit.stats import prometheus
    from loadkit.web import charts as charts_tab

    charts_tab.install(environment)
    server = prometheus.install(
        environment, partial(fleet_view, environment)
    )  # raises ConfigError when its port is taken, before any load
    if server is not None:
        environment.events.quitting.add_listener(lambda **_kw: server.stop())


def _tell_drops(environment: Environment, **_kw: Any) -> None:
    """At the end of the run: how many messages were dropped, from how many peers (loadkit.messages)."""
    import logging

    line = offenders_of(environment).summary()
    if line:
        logging.getLogger("loadkit.fleet").warning(line)
