"""``loadkit locust ARGS``: Locust's own command, with loadkit loaded before Locust's first socket.

A worker started as ``locust --worker -f -`` downloads its locustfile from the master before
it imports any locustfile, so before ``import loadkit`` could patch Locust's sockets: against a
master with a fleet secret its plain socket is refused (and Locust waits 5 minutes before it
gives up). ``loadkit locust --worker -f - ...`` runs the same ``locust`` command with
:mod:`loadkit.run.plugin` loaded first and the fleet secret (``--fleet-secret-file``,
``--fleet-secret`` or their ``LOADKIT_*`` env vars) read before the download, so the download
speaks CURVE like the runner's sockets will. Every other argument is Locust's, unchanged; on
Kubernetes this saves a ConfigMap for single-file tests (deploy/kubernetes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loadkit import config

_SECRET_DESTS = ("fleet_secret", "fleet_secret_file")


def secret_options(argv: Sequence[str]) -> argparse.Namespace:
    """The fleet-secret options in ``argv`` (the rest is Locust's, left alone); env vars are read later."""
    parser = argparse.ArgumentParser(add_help=False)
    for option in config.OPTIONS:
        if option.dest in _SECRET_DESTS:
            parser.add_argument(option.flag)
    known, _rest = parser.parse_known_args(list(argv))
    return known


def main(argv: Sequence[str]) -> int:
    """Run Locust's ``main`` with ``argv`` after loadkit's plugin and the fleet secret; returns its exit code."""
    import loadkit.run.plugin  # noqa: F401  (patches Locust's sockets and registers loadkit's listeners)
    from loadkit._locust import rpc

    rpc.sockets_before_runner(secret_options(argv))  # raises ConfigError on a bad secret: one line, exit 2
    from locust.main import main as locust_main

    sys.argv = ["locust", *argv]
    try:
        locust_main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
