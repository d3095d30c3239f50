"""``loadkit locust ARGS``: the ``locust`` command with loadkit loaded first (see :mod:`loadkit.run.launch`).

Needed for ``--worker -f -`` against a master with a fleet secret; any other ``locust`` command
works the same both ways. Arguments after ``locust`` are Locust's (``loadkit locust --help``).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "locust",
        add_help=False,
        help="run Locust's own command with loadkit loaded first (e.g. a secured worker's -f -)",
        description="Locust's command with loadkit loaded before Locust's first socket.",
    )
    # loadkit.cli.main hands everything after `locust` over as is (options included): this is for --help
    parser.add_argument("args", nargs=argparse.REMAINDER, help="Locust's arguments, unchanged")
    parser.set_defaults(run=run_locust)


def run_locust(args: argparse.Namespace) -> int:
    from loadkit.run.launch import main

    return main(args.args)
