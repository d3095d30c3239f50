"""loadkit's command-line options, declared once.

Every option is an :class:`Option` in :data:`OPTIONS`: a ``--flag``, a help text, its group
in ``locust --help`` (one per area). :func:`add_arguments` adds them to Locust's parser (from
``init_command_line_parser``, :mod:`loadkit.run.plugin`), so ``locust.conf``, ``pyproject.toml``
and env vars work as Locust users expect; code reads ``environment.parsed_options``; library
mode passes the same names (:func:`defaults`). ``docs/options.md`` is generated from here
(:mod:`loadkit.config_doc`; a test fails when it is stale).

**One naming rule.** The variable of ``--NAME`` is ``LOADKIT_`` + ``NAME`` without a leading
``loadkit-``, upper-cased, singular as the flag (:attr:`Option.env_var` derives it). Flags carry
``loadkit-`` where the bare word is one Locust or a plugin could take (data, agent, preflight).
Old names (:data:`RENAMED`) still work, with one warning line; ``LOCUST_`` + NAME is refused
(:func:`check_environment`): Locust would ignore it, a CI gate that never gates.

A numeric option declares its range (``minimum``/``maximum``); :func:`check` refuses a value
outside it, NaN or an infinity with one line, before any load.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from loadkit.config_option import Option as Option  # re-exported: declared here, defined in a leaf
from loadkit.config_option import section as _section

#: Environment variables renamed by the naming rule: old name -> the option's variable now.
RENAMED: dict[str, str] = {
    "LOADKIT_THRESHOLDS": "LOADKIT_THRESHOLD",
    "LOADKIT_AGENTS": "LOADKIT_AGENT",
    "LOADKIT_WEB_CORS_ORIGINS": "LOADKIT_WEB_CORS_ORIGIN",
}


#: Every option loadkit adds to Locust's command line. Append new ones here.
OPTIONS: list[Option] = []

# --- stats: thresholds and reports (loadkit.stats) -----------------------------------
OPTIONS += _section(
    "thresholds and reports",
    [
        Option(
            "--threshold",
            "Pass/fail threshold, repeatable, e.g. 'p95<50ms', 'fail_ratio<0.01', 'GET /items: p99<5ms' "
            "(env var: ';'-separated). Any failure makes the run exit 99.",
            action="append",
        ),
        Option(
            "--abort-on-threshold",
            "Also check thresholds while the test runs and stop it as soon as one fails (after --threshold-grace).",
            default=False,
            action="store_true",
        ),
        Option(
            "--threshold-grace",
            "Seconds of warm-up before --abort-on-threshold starts checking (default 10).",
            default=10.0,
            type=float,
            minimum=0.0,
            maximum=86400.0,
        ),
        Option("--report-junit", "Write a JUnit XML report (one testcase per threshold) here."),
        Option("--report-json", "Write a JSON report (per-entry HDR percentiles, thresholds) here."),
        Option(
            "--prometheus-port",
            "Serve live metrics for Prometheus at http://HOST:PORT/metrics on the master (or a local run): "
            "requests, failures, HDR latency quantiles, worker health, data pool (0: any free port, logged).",
            type=int,
            minimum=0,
            maximum=65535,
        ),
        Option(
            "--prometheus-host",
            "Address --prometheus-port listens on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface).",
            default="127.0.0.1",
        ),
        Option(
            "--locust-final-table",
            "At the end of a run, also print Locust's own final table and its approximated percentiles "
            "(loadkit's exact HDR table replaces them by default).",
            default=False,
            action="store_true",
        ),
        Option(
            "--report-html",
            "Write an HTML report here: one self-contained file (opens offline) with the verdict, latency "
            "percentile distributions, p50/p90/p99/max over time, rates, worker health.",
        ),
        Option(
            "--report-interval",
            "Seconds between two checkpoints of the reports during the run (default 30; 0: only at the end). "
            'Each is written whole (temporary file, fsync, rename) and marked "complete": false with the time it '
            "covers; with --report-junit or --report-html alone, the JSON goes beside them (NAME.json).",
            default=30.0,
            type=float,
            minimum=0.0,
            maximum=86400.0,
        ),
    ],
)


def add_arguments(parser: Any, environ: MutableMapping[str, str] | None = None) -> None:
    """Add :data:`OPTIONS` to Locust's (configargparse) parser, one argument group per area.

    An old variable name (:data:`RENAMED`) set without the new one is copied to the new one
    first, with one warning line (the copy makes later parsers of this process silent).
    """
    adopt_renamed(os.environ if environ is None else environ)
    groups: dict[str, Any] = {}
    for opt in OPTIONS:
        if opt.group not in groups:
            groups[opt.group] = parser.add_argument_group(opt.group)
        kwargs: dict[str, Any] = {"help": opt.help, "env_var": opt.env_var, "default": opt.default, **opt.extra}
        if opt.type is not None:
            kwargs["type"] = opt.type
        if opt.action is not None:
            kwargs["action"] = opt.action
        # An argument group's add_argument is argparse's, which rejects Locust's
        # include_in_web_ui keyword; set the attribute Locust's web UI reads instead.
        action = groups[opt.group].add_argument(opt.flag, **kwargs)
        action.include_in_web_ui = opt.include_in_web_ui


def adopt_renamed(environ: MutableMapping[str, str]) -> None:
    """Copy each old variable name still set to its new name (unless set too), warning once."""
    for old, new in RENAMED.items():
        if old in environ and new not in environ:
            environ[new] = environ[old]
            sys.stderr.write(f"loadkit: {old} is deprecated: it is read as {new} (rename it: {new})\n")


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse ``LOCUST_NAME`` for a loadkit option ``LOADKIT_NAME``: nothing would read it.

    No such name is one of Locust's own variables (tests/unit/test_config.py keeps it so).
    """
    from loadkit.exceptions import ConfigError

    for opt in OPTIONS:
        wrong = "LOCUST_" + opt.env_var.removeprefix("LOADKIT_")
        if wrong in environ:
            raise ConfigError(
                f"{wrong} is set, but loadkit's options are read from LOADKIT_* variables: "
                f"rename it {opt.env_var} (or pass {opt.flag})"
            )


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
OPTIONS += _section(
    "test data and fleet health",
    [
        Option(
            "--loadkit-data",
            "Test data users get with loadkit.data.next(): a .csv (header line) or .jsonl file, "
            "or faker:COUNT[:SEED] for generated fake users. The master owns it; workers lease rows.",
        ),
        Option(
            "--loadkit-data-mode",
            "unique: each row used once across the fleet; cyclic: rows handed out round-robin for ever.",
            default="unique",
            extra={"choices": ["unique", "cyclic"]},
        ),
        Option(
            "--loadkit-data-exhausted",
            "When every row was used (unique mode): stop-user, stop-test, or recycle (start over).",
            default="stop-user",
            extra={"choices": ["stop-user", "stop-test", "recycle"]},
        ),
        Option(
            "--loadkit-data-batch",
            "Rows a worker leases per request.",
            default=50,
            type=int,
            minimum=1,
            maximum=10000,
        ),
        Option(
            "--loadkit-agent",
            "URL of a 'loadkit agent' beside the system under test, repeatable; the master polls and shows it.",
            action="append",
        ),
        Option(
            "--loadkit-health-interval",
            "Seconds between two health samples of each worker (CPU, memory, network, loop lag, users).",
            default=3.0,
            type=float,
            minimum=0.1,
            maximum=3600.0,
        ),
    ],
)


# --- fleet: security (loadkit.fleet.security, loadkit.fleet.trust) ------------------
OPTIONS += _section(
    "fleet security",
    [
        Option(
            "--fleet-secret",
            "Fleet secret (16-64 chars), the same on master and workers: they authenticate each other and "
            "encrypt their traffic (ZeroMQ CURVE). Set it through the env var or --fleet-secret-file: a "
            "command line is visible to every user of the host.",
        ),
        Option(
            "--fleet-secret-file",
            "File holding the fleet secret (e.g. a mounted Kubernetes Secret); see --fleet-secret.",
        ),
        Option(
            "--fleet-master-timeout",
            "Worker: seconds without a heartbeat from the master before the worker gives up, logs one line "
            "with the stats it could not deliver and exits (default 30; Locust's own limit is 60).",
            default=30.0,
            type=float,
            minimum=2.0,
            maximum=59.0,
        ),
        Option(
            "--fleet-max-workers",
            "Workers the master accepts at most; a client_ready beyond is dropped (default 1000).",
            default=1000,
            type=int,
            minimum=1,
            maximum=100000,
        ),
    ],
)


# --- users: gRPC defaults (loadkit.users) --------------------------------------------
OPTIONS += _section(
    "gRPC users",
    [
        Option(
            "--grpc-timeout",
            "Default deadline in seconds of every GrpcUser call without timeout= (0: none; default 60). "
            "DEADLINE_EXCEEDED counts as a failure.",
            default=60.0,
            type=float,
            minimum=0.0,
            maximum=86400.0,
        ),
        Option(
            "--grpc-shared-channel",
            "Let all GrpcUsers of a process share one channel per target instead of one each.",
            default=False,
            action="store_true",
        ),
    ],
)


# --- preflight: checks before any load (loadkit.run.preflight) ----------------------------
OPTIONS += _section(
    "preflight",
    [
        Option(
            "--loadkit-preflight",
            "Before a headless run starts, connect to each user class's host and stop with one line "
            "(exit 2) when nothing listens (default on; --no-loadkit-preflight when the master cannot "
            "reach the target its workers can).",
            default=True,
            extra={"action": argparse.BooleanOptionalAction},
        ),
    ],
)


# --- web UI access: login and origins (loadkit.web.access) ------------------------------
OPTIONS += _section(
    "web UI access",
    [
        Option(
            "--web-user",
            "User name of the web UI's login (default loadkit). Login is on when the UI binds a "
            "non-loopback address or a password/token is set.",
            default="loadkit",
        ),
        Option(
            "--web-password",
            "Password of the web UI's login (prefer the env var: a command line is visible to other users).",
        ),
        Option(
            "--web-token",
            "Secret of the web UI's login, also accepted as 'Authorization: Bearer TOKEN' and ?token=; "
            "without it or a password, a token is generated and logged when login is on.",
        ),
        Option(
            "--web-no-login",
            "Serve the web UI without login even on a non-loopback address (anyone who reaches it can start load).",
            default=False,
            action="store_true",
        ),
        Option(
            "--web-cors-origin",
            "A web origin (e.g. https://grafana.example) allowed to call the web UI from its pages, "
            "repeatable; by default no other origin is.",
            action="append",
        ),
    ],
)


# --- load: the open model (loadkit.load) ----------------------------------------------
OPTIONS += _section(
    "open model",
    [
        Option(
            "--arrival-rate",
            "Open model: start this many iterations per second across the whole fleet (e.g. 100, 6000/m), "
            "whatever the response times; one iteration = one task of a user from the --max-users pool.",
            include_in_web_ui=True,
        ),
        Option(
            "--arrival-stages",
            "Open model with linear ramps (as k6's ramping-arrival-rate), from 0 it/s: "
            "'30s:100,2m:100,30s:500,1m:0'; a 0s stage jumps. The run ends after the last stage.",
            include_in_web_ui=True,
        ),
        Option(
            "--max-users",
            "Open model: the pool of user instances across the fleet, created as needed "
            "(default: the peak rate x 1 s). When all are busy, iterations start late.",
            include_in_web_ui=True,
        ),
        Option(
            "--max-lateness",
            "Open model: an iteration that cannot start within this many seconds of its intended "
            "time is dropped and counted (default 10).",
            include_in_web_ui=True,
        ),
    ],
)


# --- trace context: W3C traceparent on every request (loadkit.users.tracing) -------------
OPTIONS += _section(
    "traces",
    [
        Option(
            "--trace-context",
            "Send a W3C traceparent (gRPC metadata, HTTP header) with every GrpcUser/RestUser/measure() request, "
            "put its trace id in the request event's context and the slowest requests' trace ids in the reports "
            "(default off: it costs instructions on every call, README 'Traces').",
            default=False,
            extra={"action": argparse.BooleanOptionalAction},
        ),
        Option(
            "--trace-sample-ratio",
            "With --trace-context: share of requests whose traceparent has the sampled flag, decided from the "
            "trace id as OpenTelemetry's TraceIdRatioBased does (default 1: every request; lower it for a "
            "shared backend).",
            default=1.0,
            type=float,
            minimum=0.0,
            maximum=1.0,
        ),
        Option(
            "--trace-state",
            "A W3C tracestate sent beside every traceparent, e.g. 'vendor=abc' (default none).",
        ),
    ],
)
