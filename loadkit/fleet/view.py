"""One view of the fleet that the Fleet tab, the JSON report and Prometheus all read.

The master's fleet state lives in two parts, each in the run's stash: worker/agent health
(:mod:`loadkit.fleet.health`) and test-data leasing (:mod:`loadkit.fleet.leasing`). Readers
take a :class:`FleetView` instead of walking the stash themselves, so a change to where the
fleet keeps a figure changes one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadkit.fleet.health import HEALTH_STATE, Health, HealthStore
from loadkit.fleet.leasing import LEASING, Leasing
from loadkit.fleet.pool import DataPool
from loadkit.run.context import run_context


@dataclass(frozen=True)
class FleetView:
    """The fleet parts of one run (either may be missing: not installed, or a worker's)."""

    health: Health | None
    leasing: Leasing | None

    @property
    def store(self) -> HealthStore | None:
        """Worker samples, saturation and agents (the master's), or None."""
        return self.health.store if self.health is not None else None

    @property
    def pool(self) -> DataPool | None:
        """The master's (or a local run's) test-data pool, or None without ``--loadkit-data``."""
        return self.leasing.pool if self.leasing is not None else None


def fleet_view(environment: Any) -> FleetView:
    """The :class:`FleetView` of ``environment``'s run."""
    stash = run_context(environment)
    return FleetView(stash.get(HEALTH_STATE), stash.get(LEASING))
