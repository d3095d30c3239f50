"""Locustfile of bench/fleet_scale.py with loadkit: the same synthetic user, loadkit's plugin on.

``SCALE_LEASE=1`` (with ``--loadkit-data`` on the master): each burst takes a leased row, so
the workers send data-lease requests as a real data-driven test does.
"""

from __future__ import annotations

import os
import time
from typing import Any

# isort: off
from bench import _scale_probe  # first: its init listener wraps the socket before loadkit's says hello
import loadkit  # noqa: F401  (the plugin: HDR, health, trust, CURVE, reports)

# isort: on
from bench._scale_users import Synthetic
from loadkit.fleet.leasing import LEASING
from loadkit.run.context import run_context
from loadkit.stats.controller import StatsController

__all__ = ["Synthetic"]


def _take_row(environment: Any) -> Any:
    leasing = run_context(environment).get(LEASING)  # this worker's own client (a simulator process has many)
    if leasing is not None and leasing.client is not None:
        return leasing.client.next()
    return None


if os.environ.get("SCALE_LEASE"):
    Synthetic.take_row = _take_row

_write_reports = StatsController._write_reports


def _timed_write_reports(self: StatsController, *args: Any, **kwargs: Any) -> None:
    start = time.perf_counter()
    _write_reports(self, *args, **kwargs)
    _scale_probe.PROBE["report_write_s"] = time.perf_counter() - start


StatsController._write_reports = _timed_write_reports  # type: ignore[method-assign]
