"""``loadkit agent``: serve the host's health (CPU, memory, network, disk) over HTTP.

Run it beside the system under test; point the Locust master at it with
``--loadkit-agent http://HOST:PORT``. It imports neither Locust nor gevent.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "agent", help="serve this host's CPU/memory/network/disk samples for the Locust master"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port to listen on, 0 for any (default: 9100)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two samples (default: 1)")
    parser.set_defaults(run=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    from loadkit.exceptions import ConfigError
    from loadkit.fleet.agent import start_agent

    if not 0 < args.interval < 86400:  # NaN fails this too
        raise ConfigError(f"--interval must be above 0, got {args.interval:g}: e.g. --interval 1")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: use 1-65535, or 0 to pick a free one")
    try:
        agent = start_agent(args.host, args.port, args.interval)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}): pick another --port") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"loadkit agent serving {agent.url}/samples", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        agent.stop()
    return 0
