"""The ``loadkit`` command: argument parsing, and the ``sys.exit`` of the console script.

Each subcommand is a module here with ``add_parser(subparsers)`` and ``run(args) -> int``;
``main`` maps :class:`~loadkit.exceptions.LoadkitError` to a one-line message and an exit
code (:func:`loadkit.exceptions.exit_code_for`, codes in the README). Inside a Locust
process it is Locust's ``main`` that exits; loadkit ends such a run through
:func:`loadkit.run.stop.end_run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from loadkit._version import __version__
from loadkit.exceptions import (
    EXIT_CODES,
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_THRESHOLDS,
    EXIT_USAGE,
    LoadkitError,
    exit_code_for,
)

#: Modules of the subcommands, in help order. Each keeps heavy imports inside ``run``:
#: ``loadkit target grpc`` must not import Locust, which would gevent-patch the server.
SUBCOMMANDS: list[str] = [
    "loadkit.cli.demo",
    "loadkit.cli.proto",
    "loadkit.cli.target",
    "loadkit.cli.agent",
    "loadkit.cli.locust",
]

#: Re-exported for callers that used to import the codes from here (defined in loadkit.exceptions).
__all__ = ["EXIT_CODES", "EXIT_FAILURES", "EXIT_OK", "EXIT_THRESHOLDS", "EXIT_USAGE", "build_parser", "main"]


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
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["locust"]:  # the rest is Locust's command line: argparse would take its options
        args = argparse.Namespace(run=importlib.import_module("loadkit.cli.locust").run_locust, args=given[1:])
    else:
        args = parser.parse_args(given)
    try:
        code = int(args.run(args))
    except KeyboardInterrupt:
        code = 130
    except LoadkitError as exc:
        print(f"loadkit: error: {exc}", file=sys.stderr)
        code = exit_code_for(exc)
    sys.exit(code)
