"""``loadkit target http|grpc|stop|status|check``: run the bundled targets, in the foreground or as daemons.

Examples::

    loadkit target grpc --port 50051                       # foreground, Ctrl-C stops
    loadkit target http --port 0 --daemon --pidfile t.pid  # prints the port, then detaches
    loadkit target http --http2                            # HTTP/1.1 + HTTP/2 cleartext (h2c), hypercorn
    loadkit target http --certfile c.pem --keyfile k.pem   # TLS, ALPN h2 then http/1.1
    loadkit target status --pidfile t.pid                  # exit 0 running, 3 not running
    loadkit target stop --pidfile t.pid
    loadkit target check grpc 127.0.0.1:50051              # exit 0 healthy, 1 not (healthchecks)

Must not import Locust or gevent (directly or not): the gRPC server serves nothing from a
gevent-patched process. Targets are imported only inside the run functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from loadkit.exceptions import ConfigError

#: ``loadkit target status`` exit codes, as in LSB init scripts.
STATUS_RUNNING = 0
STATUS_NOT_RUNNING = 3
#: ``loadkit target check`` exit code of an unhealthy target (Docker healthchecks: 1 = unhealthy).
UNHEALTHY = 1
#: Env var naming the folder ``--reload`` watches (default: the ``targets`` package).
RELOAD_DIR_ENV = "LOADKIT_RELOAD_DIR"
#: Ports used when ``--port`` is not given: grpc's examples' and the usual HTTP development port.
DEFAULT_PORTS = {"grpc": 50051, "http": 8080}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadkit target http|grpc``; other parts may add theirs here."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on; 0 picks a free one (default: 50051 for grpc, 8080 for http)",
    )
    parser.add_argument("--daemon", action="store_true", help="detach and run in the background (needs --pidfile)")
    parser.add_argument("--pidfile", type=Path, default=None, help="PID lock file of the target")
    parser.add_argument("--logfile", type=Path, default=None, help="daemon log (default: the pidfile with .log)")
    parser.add_argument(
        "--reload",
        action="store_true",
        help=f"restart the target when a .py file under targets/ (or ${RELOAD_DIR_ENV}) changes",
    )
    parser.add_argument(
        "--agent-port",
        type=int,
        default=None,
        help="also serve this host's health (as `loadkit agent`) on this port, for --loadkit-agent (foreground)",
    )


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``loadkit target http`` alone: how it serves (HTTP/2, TLS)."""
    parser.add_argument(
        "--http2",
        action="store_true",
        help="serve with hypercorn: HTTP/1.1 and HTTP/2 cleartext (h2c, prior knowledge or upgrade) on one port",
    )
    parser.add_argument(
        "--certfile",
        type=Path,
        default=None,
        help="serve TLS with this PEM certificate (ALPN h2, http/1.1); implies --http2",
    )
    parser.add_argument("--keyfile", type=Path, default=None, help="PEM private key of --certfile")


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("target", help="run a bundled target (http or grpc)")
    actions = parser.add_subparsers(dest="target_command", metavar="ACTION", required=True)
    for kind, what in (("http", "FastAPI items/login/metrics"), ("grpc", "demo.v1.Demo + health + reflection")):
        serve = actions.add_parser(kind, help=f"serve the {kind} target ({what})")
        add_serve_arguments(serve)
        if kind == "http":
            add_http_arguments(serve)
        serve.set_defaults(run=run_serve, kind=kind)
    stop = actions.add_parser("stop", help="stop the daemon holding a pidfile, and wait for it to exit")
    stop.add_argument("--pidfile", type=Path, required=True, help="PID lock file given to --daemon")
    stop.add_argument("--timeout", type=float, default=15.0, help="seconds to wait before killing (default: 15)")
    stop.set_defaults(run=run_stop)
    status = actions.add_parser("status", help="exit 0 when the daemon holding a pidfile runs, 3 when not")
    status.add_argument("--pidfile", type=Path, required=True, help="PID lock file given to --daemon")
    status.set_defaults(run=run_status)
    check = actions.add_parser("check", help="exit 0 when a target answers its health check, 1 when not")
    check.add_argument("check_kind", choices=("http", "grpc"), metavar="KIND", help="http or grpc")
    check.add_argument("address", help="HOST:PORT of the target, e.g. 127.0.0.1:50051")
    check.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer (default: 2)")
    check.add_argument(
        "--cafile", type=Path, help="probe an HTTP target served with --certfile over TLS, trusting this PEM bundle"
    )
    check.set_defaults(run=run_check)


def _check(args: argparse.Namespace) -> None:
    """Reject unusable option combinations before anything starts; fill in the kind's default port."""
    if args.port is None:
        args.port = DEFAULT_PORTS[args.kind]
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: use 1-65535, or 0 to pick a free one")
    if args.daemon and args.pidfile is None:
        raise ConfigError("--daemon needs --pidfile FILE, so that `loadkit target stop --pidfile FILE` can find it")
    if args.daemon and args.reload:
        raise ConfigError("--reload is for development in the foreground: drop --daemon or --reload")
    if args.logfile is not None and not args.daemon:
        raise ConfigError("--logfile is only used with --daemon; in the foreground the target logs to stderr")
    if getattr(args, "agent_port", None) is not None and (args.daemon or args.reload):
        raise ConfigError("--agent-port runs in the foreground only: drop it and run `loadkit agent` beside the daemon")
    certfile, keyfile = getattr(args, "certfile", None), getattr(args, "keyfile", None)
    if (certfile is None) != (keyfile is None):
        raise ConfigError("--certfile and --keyfile go together: pass both PEM files to serve TLS, or neither")
    for flag, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if path is not None and not path.is_file():
            raise ConfigError(f"{flag} {path} is not a readable file: pass the PEM file's path")


def _serving(args: argparse.Namespace) -> Any:
    """The HTTP target's :class:`~loadkit.targets.http.http2.HttpServing` (None: uvicorn, HTTP/1.1)."""
    certfile, keyfile = getattr(args, "certfile", None), getattr(args, "keyfile", None)
    if not getattr(args, "http2", False) and certfile is None:
        return None
    from loadkit.targets.http.http2 import HttpServing

    return HttpServing(
        http2=True,
        certfile=str(certfile.resolve()) if certfile else None,
        keyfile=str(keyfile.resolve()) if keyfile else None,
    )


def run_serve(args: argparse.Namespace) -> int:
    from loadkit.targets import daemon

    _check(args)
    if args.daemon:
        _, port = daemon.start_daemon(
            args.kind, args.host, args.port, args.pidfile, args.logfile, serving=_serving(args)
        )
        print(daemon.ready_line(args.kind, args.host, port), file=sys.stderr, flush=True)
        return 0
    if args.reload:
        return _run_reloading(args)
    agent = _start_agent(args)
    try:
        daemon.run_foreground(args.kind, args.host, args.port, args.pidfile, _serving(args))
    finally:
        if agent is not None:
            agent.stop()
    return 0


def _start_agent(args: argparse.Namespace) -> Any:
    """The in-process health agent of ``--agent-port`` (stdlib threads; no Locust, no gevent)."""
    if args.agent_port is None:
        return None
    from loadkit.fleet.agent import start_agent

    try:
        agent = start_agent(args.host, args.agent_port)
    except OSError as exc:
        raise ConfigError(f"--agent-port {args.agent_port}: cannot listen ({exc.strerror}): pick another port") from exc
    print(f"loadkit agent serving {agent.url}/samples", file=sys.stderr, flush=True)
    return agent


def _run_reloading(args: argparse.Namespace) -> int:
    from loadkit.targets import daemon, reloader

    daemon.configure_logging()
    folder = Path(os.environ.get(RELOAD_DIR_ENV) or reloader.TARGETS_DIR)
    if not folder.is_dir():
        raise ConfigError(f"{RELOAD_DIR_ENV}={folder} is not a folder: point it at the sources to watch")
    argv = [sys.executable, "-m", "loadkit.cli", "target", args.kind, "--host", args.host, "--port", str(args.port)]
    if args.pidfile is not None:
        argv += ["--pidfile", str(args.pidfile)]
    if getattr(args, "http2", False):
        argv.append("--http2")
    if getattr(args, "certfile", None) is not None:
        argv += ["--certfile", str(args.certfile), "--keyfile", str(args.keyfile)]
    return reloader.run_with_reload(argv, folder)


def run_stop(args: argparse.Namespace) -> int:
    from loadkit.targets import daemon

    pid = daemon.stop(args.pidfile, args.timeout)
    print(f"loadkit target stopped (pid {pid})" if pid else f"loadkit target not running ({args.pidfile})")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from loadkit.targets import daemon

    pid = daemon.running_pid(args.pidfile)
    if pid is None:
        print(f"loadkit target not running ({args.pidfile})")
        return STATUS_NOT_RUNNING
    print(f"loadkit target running (pid {pid})")
    return STATUS_RUNNING


def run_check(args: argparse.Namespace) -> int:
    from loadkit.targets.probe import probe

    if args.cafile is not None and args.check_kind != "http":
        raise ConfigError("--cafile is for `check http` (a target served with --certfile): the gRPC target has no TLS")
    if args.cafile is not None and not args.cafile.is_file():
        raise ConfigError(f"--cafile {args.cafile} is not a readable file: pass the CA bundle's PEM path")
    problem = probe(args.check_kind, args.address, args.timeout, str(args.cafile) if args.cafile else None)
    if problem is not None:
        print(f"loadkit target unhealthy: {problem}")
        return UNHEALTHY
    print(f"loadkit target healthy: {args.check_kind} {args.address}")
    return STATUS_RUNNING
