"""Catalogue of every custom message loadkit sends between master and workers.

A message is declared once here as a :class:`MessageType`: a namespaced name
(``loadkit:...``, so it never collides with Locust's or a user's), the frozen dataclass
of its payload, and its direction. Handlers register against these declarations (see
:mod:`loadkit.plugin`); :func:`decode` validates a payload on receipt and raises
:class:`MessageError`, which the receiving side logs and drops.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

P = TypeVar("P")


class Direction(Enum):
    TO_WORKER = "master->worker"
    TO_MASTER = "worker->master"


class MessageError(ValueError):
    """A received payload does not match its declaration."""


@dataclass(frozen=True)
class MessageType(Generic[P]):
    name: str
    payload: type[P]
    direction: Direction

    def __post_init__(self) -> None:
        if not self.name.startswith("loadkit:"):
            raise ValueError(f"message name {self.name!r} must start with 'loadkit:'")

    def encode(self, payload: P) -> dict[str, Any]:
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} carries {self.payload.__name__}, not {type(payload).__name__}")
        return dataclasses.asdict(payload)  # type: ignore[call-overload]

    def decode(self, data: Any) -> P:
        if not isinstance(data, dict):
            raise MessageError(f"{self.name}: payload must be a mapping, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(self.payload)}  # type: ignore[arg-type]
        unknown = set(data) - fields
        if unknown:
            raise MessageError(f"{self.name}: unknown field(s) {sorted(unknown)}")
        try:
            return self.payload(**data)
        except (TypeError, ValueError) as exc:
            raise MessageError(f"{self.name}: {exc}") from exc


#: Every declared message, by name. Declare with :func:`declare`.
CATALOGUE: dict[str, MessageType[Any]] = {}


def declare(name: str, payload: type[P], direction: Direction) -> MessageType[P]:
    """Declare a message once; a second declaration of the same name is a bug."""
    if name in CATALOGUE:
        raise ValueError(f"message {name!r} is declared twice")
    msg = MessageType(name, payload, direction)
    CATALOGUE[name] = msg
    return msg


# --- declarations -------------------------------------------------------------------
# (one block per feature: payload dataclass(es), then declare(...))
