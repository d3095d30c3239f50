"""Argument checks of ``loadkit target`` (loadkit/cli/target.py), before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadkit.cli import build_parser
from loadkit.cli.target import _check
from loadkit.exceptions import ConfigError


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["target", "http", "--port", "70000"], "--port 70000"),
        (["target", "grpc", "--daemon"], "--daemon needs --pidfile"),
        (["target", "grpc", "--daemon", "--pidfile", "p", "--reload"], "drop --daemon or --reload"),
        (["target", "http", "--logfile", "l"], "--logfile is only used with --daemon"),
        (["target", "http", "--certfile", "c.pem"], "--certfile and --keyfile go together"),
        (["target", "http", "--certfile", "/no/c.pem", "--keyfile", "/no/k.pem"], "--certfile /no/c.pem is not a"),
    ],
)
def test_bad_combinations_name_the_option_and_the_fix(argv: list[str], message: str) -> None:
    args = build_parser().parse_args(argv)
    with pytest.raises(ConfigError, match=message):
        _check(args)


def test_defaults_serve_on_localhost_and_a_free_port() -> None:
    args = build_parser().parse_args(["target", "grpc"])
    _check(args)
    assert (args.kind, args.host, args.port, args.daemon, args.reload) == ("grpc", "127.0.0.1", 50051, False, False)
    args = build_parser().parse_args(["target", "http"])
    _check(args)
    assert args.port == 8080


def test_http2_and_tls_choose_hypercorn() -> None:
    from loadkit.cli.target import _serving
    from loadkit.targets.http.http2 import HttpServing

    assert _serving(build_parser().parse_args(["target", "http"])) is None  # uvicorn, HTTP/1.1
    assert _serving(build_parser().parse_args(["target", "http", "--http2"])) == HttpServing(http2=True)
    served = _serving(build_parser().parse_args(["target", "http", "--certfile", "c", "--keyfile", "k"]))
    assert served.http2 and served.tls and served.certfile.endswith("/c")


def test_stop_and_status_need_a_pidfile() -> None:
    parser = build_parser()
    for action in ("stop", "status"):
        with pytest.raises(SystemExit):
            parser.parse_args(["target", action])


def test_the_target_command_imports_neither_locust_nor_gevent() -> None:
    """A grpcio server in a gevent-patched process serves nothing: keep Locust out of ``loadkit target``."""
    code = (
        "import sys\n"
        "from loadkit.cli import build_parser\n"
        "build_parser()\n"
        "import loadkit.targets.daemon, loadkit.targets.reloader\n"
        "import loadkit.targets.grpc.server, loadkit.targets.http.server\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
