"""The fleet's section of the JSON report: worker health history, agents, data leasing."""

from __future__ import annotations

from typing import Any

from locust.env import Environment

from loadkit.fleet import leasing
from loadkit.fleet.view import fleet_view


def report_section(environment: Environment) -> dict[str, Any]:
    """``{"health": {workers: {id: [samples]}, warnings, agents}, "data": {...} | None}``."""
    view = fleet_view(environment)
    health, state = view.health, view.leasing
    data = None
    if state is not None and state.pool is not None:
        data = {**state.pool.summary(), "figures": leasing.figures(state)}
    return {"health": health.store.report() if health is not None else None, "data": data}
