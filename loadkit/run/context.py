"""The one typed per-run state: what loadkit keeps for a Locust ``Environment``.

Every part that needs state for the length of a run (the stats controller, test-data
leasing, health, the "run is ending" flag, ...) keeps it in the :class:`RunContext` of
its environment, never as attributes on Locust's ``Environment``::

    from loadkit.run.context import run_context

    context = run_context(environment)   # created on first use, one per environment
    if context.leasing is not None: ...

A new part adds a typed field here (default ``None``) and sets it from its ``install``.

Contexts are held in a weak map keyed by the environment, so they go away with it and
Locust's object carries nothing of loadkit's. :func:`current` is the context of the run
loadkit was last installed on: a Locust process has one ``Environment``; library mode runs
one after another in a process, and the latest one is the current one. ``loadkit.data``
resolves through it on every call (nothing is rebound per run).

Pure: imports neither Locust nor gevent (the part types are for type checkers only).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadkit.fleet.health import Health
    from loadkit.fleet.leasing import Leasing
    from loadkit.fleet.trust import Gate
    from loadkit.load.runtime import OpenModel
    from loadkit.stats.controller import StatsController


@dataclass(eq=False)
class RunContext:
    """loadkit's state for one environment (one run, or a web UI's runs one after another)."""

    #: :func:`loadkit.run.plugin.install` ran for this environment (it wires each part once).
    installed: bool = False
    #: HDR recording, thresholds and reports (:mod:`loadkit.stats.controller`).
    stats: StatsController | None = None
    #: Test-data leasing: the master's pool or a worker's client (:mod:`loadkit.fleet.leasing`).
    leasing: Leasing | None = None
    #: Worker and agent health (:mod:`loadkit.fleet.health`).
    health: Health | None = None
    #: The master's message gate: who may send what, repeated client_ready (:mod:`loadkit.fleet.trust`).
    gate: Gate | None = None
    #: The open model: arrival-rate scheduling, fleet split, late/dropped counts (:mod:`loadkit.load`).
    load: OpenModel | None = None
    #: :func:`loadkit.run.stop.end_run` stopped or quit the runner (reset when a new test starts).
    stopping: bool = False
    #: Lines :func:`loadkit.run.stop.end_run` logged, so each is logged once.
    end_lines: set[str] = field(default_factory=set)


_CONTEXTS: weakref.WeakKeyDictionary[Any, RunContext] = weakref.WeakKeyDictionary()
_current: weakref.ref[Any] | None = None


def run_context(environment: Any) -> RunContext:
    """The :class:`RunContext` of ``environment``, created on first use."""
    context = _CONTEXTS.get(environment)
    if context is None:
        context = _CONTEXTS[environment] = RunContext()
    return context


def make_current(environment: Any) -> None:
    """Make ``environment``'s run the one :func:`current` returns (at install)."""
    global _current
    _current = weakref.ref(environment)


def current() -> RunContext | None:
    """The context of the environment loadkit was last installed on, if it is still alive."""
    environment = _current() if _current is not None else None
    return None if environment is None else run_context(environment)
