"""``loadkit demo``: the bundled targets, a short distributed test of every call kind, a summary.

Starts both targets as their own processes, runs :mod:`loadkit.cli.demo_users` on a local
master with worker processes (library mode, :class:`loadkit.LoadTest`), evaluates a few
thresholds, prints the HDR summary and where the reports went. ``--web`` serves the same
run in Locust's web UI (with loadkit's tabs) instead of only printing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

#: Thresholds the demo checks; generous, since the demo shares the machine with its targets.
DEMO_THRESHOLDS = [
    "fail_ratio<0.01",
    "p99<1s",
    "/demo.v1.Demo/GetItem: p95<500ms",
    "GET /me: fail_ratio==0",
]


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="start the bundled targets and run a short distributed test against them",
        description="Start the bundled gRPC and HTTP targets, run a short distributed load test against "
        "them (a master and worker processes: every gRPC call kind, a REST login + CRUD flow), print "
        "progress, HDR percentiles and the verdict of a few thresholds, and write HTML, JSON and JUnit "
        "reports. Exit code: 0 passed, 1 failed requests, 99 a threshold failed.",
    )
    parser.add_argument("-u", "--users", type=int, default=20, help="simulated users (default 20), as Locust's -u")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2; 0 runs them locally)")
    parser.add_argument(
        "-t", "--run-time", default="20s", help="how long the load runs, as Locust's -t: 20s, 2m, 1h30m (default 20s)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("loadkit-reports"),
        help="where the HTML, JSON and JUnit reports go (created when missing)",
    )
    parser.add_argument("--web", action="store_true", help="also serve the run in Locust's web UI on --web-port")
    parser.add_argument("--web-port", type=int, default=8089, help="web UI port for --web (default 8089)")
    parser.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    """Refuse bad options before any target starts: a newcomer's typo costs no start-up, and gets one line."""
    from loadkit.exceptions import ConfigError
    from loadkit.library import _seconds

    if args.users < 1:
        raise ConfigError(f"--users {args.users} is out of range: give at least 1")
    if args.workers < 0:
        raise ConfigError(f"--workers {args.workers} is out of range: give 0 (users in this process) or more")
    if not 1 <= args.web_port <= 65535:
        raise ConfigError(f"--web-port {args.web_port} is not a port: use 1-65535")
    _seconds(args.run_time, "--run-time")  # the check LoadTest makes, made here before the targets start
    try:
        args.report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--report-dir '{args.report_dir}' cannot be a folder of reports ({exc.strerror}): give a writable folder"
        ) from exc


def run(args: argparse.Namespace) -> int:
    from loadkit.targets.launcher import launch

    _check(args)
    print(f"loadkit demo: starting the bundled targets, then {args.users} users on {args.workers} workers")
    with launch("grpc") as grpc_target, launch("http") as http_target:
        print(f"  gRPC target {grpc_target.address}, HTTP target {http_target.address}")
        # Worker processes read the hosts from the environment they inherit.
        os.environ["LOADKIT_DEMO_GRPC_HOST"] = grpc_target.url
        os.environ["LOADKIT_DEMO_HTTP_HOST"] = http_target.url
        from loadkit.cli import demo_users
        from loadkit.library import LoadTest

        demo_users.DemoGrpcUser.host = grpc_target.url
        demo_users.DemoRestUser.host = http_target.url
        if args.web:
            print(f"  web UI: http://127.0.0.1:{args.web_port}")
        result = LoadTest(
            [demo_users.DemoGrpcUser, demo_users.DemoRestUser],
            users=args.users,
            run_time=args.run_time,
            workers=args.workers,
            thresholds=DEMO_THRESHOLDS,
            report_json=str(args.report_dir / "demo.json"),
            report_html=str(args.report_dir / "demo.html"),
            report_junit=str(args.report_dir / "demo-junit.xml"),
            web_port=args.web_port if args.web else None,
        ).run()
    print(f"\n{result.requests} requests, {result.failures} failures; reports:")
    for kind, path in sorted(result.reports.items()):
        print(f"  {kind}: {path}")
    verdict = "passed" if result.passed else f"FAILED (exit {result.exit_code})"
    print(f"loadkit demo {verdict}")
    return result.exit_code
