"""The per-run state: a typed stash for each Locust ``Environment``, knowing none of its users.

Every part that keeps state for the length of a run (the stats controller, test-data leasing,
health, the message gate, the open model, the "run is ending" flag, ...) declares its own
:class:`StashKey` next to its code and keeps its state in the :class:`Stash` of the run's
environment, never in module globals and never as attributes on Locust's ``Environment``::

    from loadkit.run.context import StashKey, run_context

    LEASING: StashKey[Leasing] = StashKey("leasing")      # in loadkit/fleet/leasing.py

    run_context(environment)[LEASING] = Leasing(...)      # at install
    state = run_context(environment).get(LEASING)         # None when the part is not installed

The stash imports nothing and names no part, so no part imports it back into a cycle, and a
new part adds a key in its own module (pytest's ``Stash``/``StashKey`` are the model). Two
runs in one process (library mode runs one after another) have two stashes and share nothing.

The stash is the one attribute loadkit sets on the environment (:data:`ATTRIBUTE`), as pytest
keeps its ``Stash`` on the ``Config``: it goes away with the environment even though parts hold
their environment (a weak map keyed by the environment could not let go of it: its values would).
:func:`current` is the stash of the run loadkit was last installed on: a Locust process has
one ``Environment``; library mode runs one after another in a process, and the latest one is
the current one. ``loadkit.data`` resolves through it on every call (nothing is rebound per run).
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar, cast, overload

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key of the :class:`Stash`, typed by its value; each part declares its own, once.

    Keys compare by identity: two parts can never collide, whatever their names (the name is
    for ``repr`` and error messages only).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


class Stash:
    """One run's state, by :class:`StashKey`; typed reads and writes, nothing else."""

    __slots__ = ("__weakref__", "_values")

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        try:
            return cast(T, self._values[key])
        except KeyError:
            raise KeyError(f"{key!r} is not set in this run's stash (is its part installed?)") from None

    @overload
    def get(self, key: StashKey[T]) -> T | None: ...
    @overload
    def get(self, key: StashKey[T], default: D) -> T | D: ...
    def get(self, key: StashKey[T], default: object = None) -> object:
        """The value of ``key``, or ``default`` when the part never set it."""
        return self._values.get(key, default)

    def setdefault(self, key: StashKey[T], default: T) -> T:
        """The value of ``key``, set to ``default`` first when missing."""
        return cast(T, self._values.setdefault(key, default))

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)


#: The one attribute loadkit sets on a Locust ``Environment``: its run's stash.
ATTRIBUTE = "_loadkit_stash"
_current: weakref.ref[Any] | None = None


def run_context(environment: Any) -> Stash:
    """The :class:`Stash` of ``environment``'s run, created on first use."""
    stash = getattr(environment, ATTRIBUTE, None)
    if stash is None:
        stash = Stash()
        setattr(environment, ATTRIBUTE, stash)
    return stash


def make_current(environment: Any) -> None:
    """Make ``environment``'s run the one :func:`current` returns (at install)."""
    global _current
    _current = weakref.ref(environment)


def current() -> Stash | None:
    """The stash of the environment loadkit was last installed on, if it is still alive."""
    environment = _current() if _current is not None else None
    return None if environment is None else run_context(environment)
