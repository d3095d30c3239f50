"""The ``loadkit`` command: the only code in loadkit that exits.

Each subcommand is a module here with ``add_parser(subparsers)`` and ``run(args) -> int``;
``main`` maps :class:`~loadkit.exceptions.LoadkitError` to a one-line message and an exit
code (see :data:`EXIT_CODES` and the README).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from loadkit import __version__
from loadkit.exceptions import ConfigError, DataError, LoadkitError, ProtoError, TargetError

#: Modules of the subcommands, in help order. Each keeps heavy imports inside ``run``:
#: ``loadkit target grpc`` must not import Locust, which would gevent-patch the server.
SUBCOMMANDS: list[str] = [
    "loadkit.cli.demo",
    "loadkit.cli.proto",
    "loadkit.cli.target",
    "loadkit.cli.agent",
]

#: Exit codes of ``loadkit`` (and of Locust runs with loadkit's plugin), as in the README.
EXIT_OK = 0
EXIT_FAILURES = 1  # Locust's own: requests failed (or a target could not start)
EXIT_USAGE = 2  # bad command line, option, file or expression: nothing was run
EXIT_THRESHOLDS = 99  # thresholds failed (k6 uses the same code)

EXIT_CODES: dict[type[LoadkitError], int] = {
    ConfigError: EXIT_USAGE,
    ProtoError: EXIT_USAGE,
    DataError: EXIT_USAGE,
    TargetError: EXIT_FAILURES,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadkit",
        description="Distributed load testing of HTTP and gRPC services, built on Locust.",
    )
    parser.add_argument("--version", action="version", version=f"loadkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``loadkit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args))
    except KeyboardInterrupt:
        code = 130
    except LoadkitError as exc:
        print(f"loadkit: error: {exc}", file=sys.stderr)
        code = next((c for cls, c in EXIT_CODES.items() if isinstance(exc, cls)), EXIT_FAILURES)
    sys.exit(code)
