"""loadkit's command-line options, declared once.

Every option is an :class:`Option` in :data:`OPTIONS`: a ``--flag``, its ``LOADKIT_*``
environment variable and a help text. :func:`add_arguments` adds them to Locust's own
parser (from the ``init_command_line_parser`` listener in :mod:`loadkit.run.plugin`), so
``locust.conf``, ``pyproject.toml`` and env vars work as Locust users expect. Code reads
them back from ``environment.parsed_options``; library mode passes the same names
(:func:`defaults` gives a namespace of every option's default).

A numeric option declares its range (``minimum``/``maximum``); :func:`check` refuses a
value outside it, NaN or an infinity with one line naming the option, the value and the
range, before any load (``--loadkit-health-interval -1`` once sampled 150 times a second).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    """One loadkit option, e.g. ``Option("--threshold", "LOADKIT_THRESHOLDS", "…", action="append")``."""

    flag: str
    env_var: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    action: str | None = None
    include_in_web_ui: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: Inclusive range of a numeric option (None: unbounded on that side); see :func:`check`.
    minimum: float | None = None
    maximum: float | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


#: Every option loadkit adds to Locust's command line. Append new ones here.
OPTIONS: list[Option] = []

# --- stats: thresholds and reports (loadkit.stats) -----------------------------------
OPTIONS += [
    Option(
        "--threshold",
        "LOADKIT_THRESHOLDS",
        "Pass/fail threshold, repeatable, e.g. 'p95<50ms', 'fail_ratio<0.01', 'GET /items: p99<5ms' "
        "(env var: ';'-separated). Any failure makes the run exit 99.",
        action="append",
    ),
    Option(
        "--abort-on-threshold",
        "LOADKIT_ABORT_ON_THRESHOLD",
        "Also check thresholds while the test runs and stop it as soon as one fails (after --threshold-grace).",
        default=False,
        action="store_true",
    ),
    Option(
        "--threshold-grace",
        "LOADKIT_THRESHOLD_GRACE",
        "Seconds of warm-up before --abort-on-threshold starts checking (default 10).",
        default=10.0,
        type=float,
        minimum=0.0,
        maximum=86400.0,
    ),
    Option("--report-junit", "LOADKIT_REPORT_JUNIT", "Write a JUnit XML report (one testcase per threshold) here."),
    Option("--report-json", "LOADKIT_REPORT_JSON", "Write a JSON report (per-entry HDR percentiles, thresholds) here."),
    Option(
        "--prometheus-port",
        "LOADKIT_PROMETHEUS_PORT",
        "Serve live metrics for Prometheus at http://HOST:PORT/metrics on the master (or a local run): "
        "requests, failures, HDR latency quantiles, worker health, data pool (0: any free port, logged).",
        type=int,
        minimum=0,
        maximum=65535,
    ),
    Option(
        "--prometheus-host",
        "LOADKIT_PROMETHEUS_HOST",
        "Address --prometheus-port listens on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface).",
        default="127.0.0.1",
    ),
    Option(
        "--report-html",
        "LOADKIT_REPORT_HTML",
        "Write an HTML report here: one self-contained file (opens offline) with the verdict, latency "
        "percentile distributions, p50/p90/p99/max over time, rates, worker health.",
    ),
    Option(
        "--report-interval",
        "LOADKIT_REPORT_INTERVAL",
        "Seconds between two checkpoints of the reports during the run (default 30; 0: only at the end). "
        'Each is written whole (temporary file, fsync, rename) and marked "complete": false with the time it '
        "covers; with --report-junit or --report-html alone, the JSON goes beside them (NAME.json).",
        default=30.0,
        type=float,
        minimum=0.0,
        maximum=86400.0,
    ),
]


def add_arguments(parser: Any) -> None:
    """Add :data:`OPTIONS` to Locust's (configargparse) parser, in a "loadkit" group."""
    group = parser.add_argument_group("loadkit")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"help": opt.help, "env_var": opt.env_var, "default": opt.default, **opt.extra}
        if opt.type is not None:
            kwargs["type"] = opt.type
        if opt.action is not None:
            kwargs["action"] = opt.action
        # An argument group's add_argument is argparse's, which rejects Locust's
        # include_in_web_ui keyword; set the attribute Locust's web UI reads instead.
        action = group.add_argument(opt.flag, **kwargs)
        action.include_in_web_ui = opt.include_in_web_ui


def check(options: Any) -> None:
    """Raise ``ConfigError`` for the first numeric option outside its range (or NaN, or infinite)."""
    from loadkit.exceptions import ConfigError

    for opt in OPTIONS:
        if opt.minimum is None and opt.maximum is None:
            continue
        value = getattr(options, opt.dest, None)
        if value is None or isinstance(value, bool):
            continue
        low = -math.inf if opt.minimum is None else opt.minimum
        high = math.inf if opt.maximum is None else opt.maximum
        if not (math.isfinite(float(value)) and low <= float(value) <= high):
            bounds = f"from {low:g} to {high:g}" if opt.maximum is not None else f"at least {low:g}"
            shown = f"{value:g}" if isinstance(value, float) else repr(value)
            raise ConfigError(
                f"{opt.flag} {shown} is out of range: give a number {bounds} ({opt.flag} or {opt.env_var})"
            )


def defaults(**overrides: Any) -> argparse.Namespace:
    """A namespace holding every option's default, with ``overrides`` (by dest name) applied."""
    values = {opt.dest: opt.default for opt in OPTIONS}
    unknown = set(overrides) - set(values)
    if unknown:
        from loadkit.exceptions import ConfigError

        raise ConfigError(f"unknown loadkit option(s) {sorted(unknown)}: known are {sorted(values)}")
    values.update(overrides)
    return argparse.Namespace(**values)


# --- fleet: test data and health (loadkit.fleet) -------------------------------------
OPTIONS += [
    Option(
        "--loadkit-data",
        "LOADKIT_DATA",
        "Test data users get with loadkit.data.next(): a .csv (header line) or .jsonl file, "
        "or faker:COUNT[:SEED] for generated fake users. The master owns it; workers lease rows.",
    ),
    Option(
        "--loadkit-data-mode",
        "LOADKIT_DATA_MODE",
        "unique: each row used once across the fleet; cyclic: rows handed out round-robin for ever.",
        default="unique",
        extra={"choices": ["unique", "cyclic"]},
    ),
    Option(
        "--loadkit-data-exhausted",
        "LOADKIT_DATA_EXHAUSTED",
        "When every row was used (unique mode): stop-user, stop-test, or recycle (start over).",
        default="stop-user",
        extra={"choices": ["stop-user", "stop-test", "recycle"]},
    ),
    Option(
        "--loadkit-data-batch",
        "LOADKIT_DATA_BATCH",
        "Rows a worker leases per request.",
        default=50,
        type=int,
        minimum=1,
        maximum=10000,
    ),
    Option(
        "--loadkit-agent",
        "LOADKIT_AGENTS",
        "URL of a 'loadkit agent' beside the system under test, repeatable; the master polls and shows it.",
        action="append",
    ),
    Option(
        "--loadkit-health-interval",
        "LOADKIT_HEALTH_INTERVAL",
        "Seconds between two health samples of each worker (CPU, memory, network, loop lag, users).",
        default=3.0,
        type=float,
        minimum=0.1,
        maximum=3600.0,
    ),
]


# --- fleet: security (loadkit.fleet.security, loadkit.fleet.trust) ------------------
OPTIONS += [
    Option(
        "--fleet-secret",
        "LOADKIT_FLEET_SECRET",
        "Fleet secret (16-64 chars), the same on master and workers: they authenticate each other and "
        "encrypt their traffic (ZeroMQ CURVE). Set it through the env var or --fleet-secret-file: a "
        "command line is visible to every user of the host.",
    ),
    Option(
        "--fleet-secret-file",
        "LOADKIT_FLEET_SECRET_FILE",
        "File holding the fleet secret (e.g. a mounted Kubernetes Secret); see --fleet-secret.",
    ),
    Option(
        "--fleet-master-timeout",
        "LOADKIT_FLEET_MASTER_TIMEOUT",
        "Worker: seconds without a heartbeat from the master before the worker gives up, logs one line "
        "with the stats it could not deliver and exits (default 30; Locust's own limit is 60).",
        default=30.0,
        type=float,
        minimum=2.0,
        maximum=59.0,
    ),
    Option(
        "--fleet-max-workers",
        "LOADKIT_FLEET_MAX_WORKERS",
        "Workers the master accepts at most; a client_ready beyond is dropped (default 1000).",
        default=1000,
        type=int,
        minimum=1,
        maximum=100000,
    ),
]


# --- users: gRPC defaults (loadkit.users) --------------------------------------------
OPTIONS += [
    Option(
        "--grpc-timeout",
        "LOADKIT_GRPC_TIMEOUT",
        "Default deadline in seconds of every GrpcUser call without timeout= (0: none; default 60). "
        "DEADLINE_EXCEEDED counts as a failure.",
        default=60.0,
        type=float,
        minimum=0.0,
        maximum=86400.0,
    ),
    Option(
        "--grpc-shared-channel",
        "LOADKIT_GRPC_SHARED_CHANNEL",
        "Let all GrpcUsers of a process share one channel per target instead of one each.",
        default=False,
        action="store_true",
    ),
]


# --- preflight: checks before any load (loadkit.run.preflight) ----------------------------
OPTIONS += [
    Option(
        "--loadkit-preflight",
        "LOADKIT_PREFLIGHT",
        "Before a headless run starts, connect to each user class's host and stop with one line "
        "(exit 2) when nothing listens (default on; --no-loadkit-preflight when the master cannot "
        "reach the target its workers can).",
        default=True,
        extra={"action": argparse.BooleanOptionalAction},
    ),
]


# --- web UI access: login and origins (loadkit.web.access) ------------------------------
OPTIONS += [
    Option(
        "--web-user",
        "LOADKIT_WEB_USER",
        "User name of the web UI's login (default loadkit). Login is on when the UI binds a "
        "non-loopback address or a password/token is set.",
        default="loadkit",
    ),
    Option(
        "--web-password",
        "LOADKIT_WEB_PASSWORD",
        "Password of the web UI's login (prefer the env var: a command line is visible to other users).",
    ),
    Option(
        "--web-token",
        "LOADKIT_WEB_TOKEN",
        "Secret of the web UI's login, also accepted as 'Authorization: Bearer TOKEN' and ?token=; "
        "without it or a password, a token is generated and logged when login is on.",
    ),
    Option(
        "--web-no-login",
        "LOADKIT_WEB_NO_LOGIN",
        "Serve the web UI without login even on a non-loopback address (anyone who reaches it can start load).",
        default=False,
        action="store_true",
    ),
    Option(
        "--web-cors-origin",
        "LOADKIT_WEB_CORS_ORIGINS",
        "A web origin (e.g. https://grafana.example) allowed to call the web UI from its pages, "
        "repeatable; by default no other origin is.",
        action="append",
    ),
]


# --- load: the open model (loadkit.load) ----------------------------------------------
OPTIONS += [
    Option(
        "--arrival-rate",
        "LOADKIT_ARRIVAL_RATE",
        "Open model: start this many iterations per second across the whole fleet (e.g. 100, 6000/m), "
        "whatever the response times; one iteration = one task of a user from the --max-users pool.",
        include_in_web_ui=True,
    ),
    Option(
        "--arrival-stages",
        "LOADKIT_ARRIVAL_STAGES",
        "Open model with linear ramps (as k6's ramping-arrival-rate), from 0 it/s: "
        "'30s:100,2m:100,30s:500,1m:0'; a 0s stage jumps. The run ends after the last stage.",
        include_in_web_ui=True,
    ),
    Option(
        "--max-users",
        "LOADKIT_MAX_USERS",
        "Open model: the pool of user instances across the fleet, created as needed "
        "(default: the peak rate x 1 s). When all are busy, iterations start late.",
        include_in_web_ui=True,
    ),
    Option(
        "--max-lateness",
        "LOADKIT_MAX_LATENESS",
        "Open model: an iteration that cannot start within this many seconds of its intended "
        "time is dropped and counted (default 10).",
        include_in_web_ui=True,
    ),
]
