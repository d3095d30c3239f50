"""Library mode: a hand-written Locust ``Environment`` script with loadkit attached.

Run it directly (it is a script, not a locustfile)::

    python locustfiles/library_mode.py http://127.0.0.1:8080 --run-time 10 --web-port 8089

It follows Locust's "use as a library" recipe (local runner, stats printer, optional web
UI) and adds one call, ``loadkit.attach(env, ...)``: HDR percentiles, thresholds and the
JSON/JUnit reports; the script exits 0, 1 (failed requests) or 99 (failed thresholds).
"""

from __future__ import annotations

import argparse
import sys

import gevent
from locust import HttpUser, constant, task
from locust.env import Environment
from locust.stats import stats_history, stats_printer

import loadkit


class ItemsUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def get_items(self) -> None:
        self.client.get("/items", name="/items")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", help="base URL of the HTTP target, e.g. http://127.0.0.1:8080")
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--run-time", type=float, default=10.0, help="seconds")
    parser.add_argument("--threshold", action="append", default=None, help="e.g. 'p99<50ms' (repeatable)")
    parser.add_argument("--report-json", default=None)
    parser.add_argument("--report-junit", default=None)
    parser.add_argument("--web-port", type=int, default=None, help="also serve Locust's web UI on 127.0.0.1")
    args = parser.parse_args(argv)

    env = Environment(user_classes=[ItemsUser], host=args.host)
    runner = env.create_local_runner()
    # Locust's web UI re-parses sys.argv on each page load: hide this script's arguments.
    sys.argv[1:] = []
    # The web UI first: attach() adds loadkit's tabs to it.
    web_ui = env.create_web_ui("127.0.0.1", args.web_port) if args.web_port is not None else None
    run = loadkit.attach(
        env,
        threshold=args.threshold or ["fail_ratio==0"],
        report_json=args.report_json,
        report_junit=args.report_junit,
    )
    gevent.spawn(stats_printer(env.stats))
    gevent.spawn(stats_history, runner)

    runner.start(args.users, spawn_rate=args.users)
    gevent.spawn_later(args.run_time, runner.quit)  # bounded: the run ends by itself
    runner.greenlet.join()
    if web_ui is not None:
        web_ui.stop()
    return run.finish().exit_code


if __name__ == "__main__":
    sys.exit(main())
