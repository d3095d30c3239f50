"""What the master accepts from its port: nothing it has not checked (STYLE habit 16).

Anyone who reaches the master's port can send it frames, with or without a fleet secret
(without one, anyone; with one, a worker holding it). Locust believes what arrives: it
merges stats from nodes it never saw, takes the ``node_id`` a message claims, and a frame
it cannot decode kills its listener greenlet (the master then hears nothing and "the last
worker went missing"). loadkit checks every message before Locust or loadkit's handlers
see it, in two steps, both pure (the wiring is in :mod:`loadkit._locust`):

1. :func:`parse` — the frames: exactly ``[identity, payload]``, a UTF-8 identity, at most
   :data:`MAX_MESSAGE_BYTES`, a payload that decodes to Locust's ``(type, data, node_id)``
   and whose ``node_id`` is the ROUTER identity of the connection it came on. ZeroMQ
   refuses a second connection that claims an identity already connected, so a message
   cannot speak for another connected worker.
2. :meth:`Gate.admit` — the sender: only ``client_ready`` (and Locust's ``locustfile``
   request) from a node that never registered; a pending node (no matching
   ``loadkit:hello`` yet, :mod:`loadkit.fleet.version`) only says hello, heartbeats or
   leaves; at most ``--fleet-max-workers`` workers; a repeated ``client_ready`` at most
   every :data:`CLIENT_READY_INTERVAL` s (each one makes Locust re-dispatch every user);
   stats with at most :data:`MAX_ENTRIES` entries.

   In a plain Locust fleet (the master uses no loadkit class or option, :mod:`loadkit.plain`)
   the gate keeps Locust's contract instead: a node that never registered may send anything
   but what changes the run's numbers (:data:`VERDICT_MESSAGES`: stats, exceptions); a
   repeated ``client_ready`` and any number of workers are Locust's to handle, and a message
   of unknown type reaches Locust, which warns about it as it always does. Frames are still
   checked (step 1) and stats still capped: those only replace a crash.

Everything dropped is told by the run's :class:`~loadkit.messages.Offenders`: one warning line
per offender (its connection identity), never one per message, and a count at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from locust.rpc import Message

from loadkit.messages import Offenders

#: Bytes of one message; Locust's stats of ~1,000 entries with HDR deltas take ~2 MB.
MAX_MESSAGE_BYTES = 32 * 2**20
#: Entries in one stats report (Locust's rows, errors, loadkit's HDR deltas).
MAX_ENTRIES = 10_000
#: A registered worker re-sends ``client_ready`` only when it got no ack within 5 s.
CLIENT_READY_INTERVAL = 4.0
#: What a registered but not yet accepted worker may send (see loadkit.fleet.version).
PENDING_OK = frozenset({"loadkit:hello", "heartbeat", "quit", "client_stopped", "client_ready", "logs"})
#: What a node that never registered may send: Locust's registration and its locustfile request (``-f -``).
UNREGISTERED_OK = frozenset({"client_ready", "locustfile"})
#: What a worker may still send after its ``client_stopped`` (Locust then forgets it until its next
#: ``client_ready``): its last stats report carries the requests of the users it just stopped.
STOPPED_OK = frozenset({"stats", "quit", "logs", "heartbeat", "exception", "client_stopped"})
#: Seconds a stopped worker stays known without a new ``client_ready``.
STOPPED_FOR_S = 120.0
#: What a node that never registered may not send even to a plain Locust fleet: Locust would merge it into
#: the run's numbers (stats) or its report (exceptions). Locust answers the rest itself (e.g. ``quit``).
VERDICT_MESSAGES = frozenset({"stats", "exception"})


class Dropped(Exception):
    """A message the master does not take: who sent it and why."""

    def __init__(self, offender: str, reason: str) -> None:
        super().__init__(f"{offender}: {reason}")
        self.offender = offender
        self.reason = reason


def peer_name(identity: bytes) -> str:
    """A printable, bounded name for a connection identity."""
    return identity[:80].decode("utf-8", "backslashreplace")


def parse(frames: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES) -> tuple[str, Message]:
    """``(identity, message)`` from a ROUTER's frames, or raise :class:`Dropped` (pure).

    >>> parse([b"w1", Message("heartbeat", {}, "w1").serialize()])[0]
    'w1'
    """
    if not frames:
        raise Dropped("?", "an empty message")
    offender = peer_name(frames[0])
    if len(frames) != 2:
        raise Dropped(offender, f"{len(frames)} frames instead of 2")
    try:
        addr = frames[0].decode()
    except UnicodeDecodeError:
        raise Dropped(offender, "a connection identity that is not UTF-8 (not a Locust worker)") from None
    if len(frames[1]) > max_bytes:
        raise Dropped(offender, f"a message of {len(frames[1])} bytes (at most {max_bytes})")
    try:
        message = Message.unserialize(frames[1])  # msgpack, then Message(*decoded)
    except Exception as exc:  # msgpack and the unpacking raise assorted types on garbage
        raise Dropped(offender, f"a frame that is not Locust's [type, data, node_id] ({type(exc).__name__})") from None
    kind, node_id = message.type, message.node_id
    if not isinstance(kind, str) or not isinstance(node_id, str):
        raise Dropped(offender, "a message whose type or node id is not a string")
    if node_id != addr:
        raise Dropped(offender, f"a {kind[:40]!r} message claiming node id {node_id[:80]!r}")
    return addr, message


class Fleet(Protocol):
    """What the gate needs to know of the master's table of workers."""

    def registered(self, node_id: str) -> bool: ...
    def pending(self, node_id: str) -> bool: ...
    def count(self) -> int: ...


@dataclass
class Gate:
    """Admission of a well-formed message by what its sender is allowed to send (pure)."""

    offenders: Offenders
    max_workers: int
    clock: Callable[[], float] = time.monotonic
    #: False for a plain Locust fleet: only the checks of the module docstring's last paragraph.
    loadkit_fleet: bool = True
    _ready_at: dict[str, float] = field(default_factory=dict)
    #: Workers that said ``client_stopped`` while registered, and when (see :data:`STOPPED_OK`).
    _stopped: dict[str, float] = field(default_factory=dict)

    def admit(self, fleet: Fleet, node_id: str, kind: str, data: Any) -> bool:
        reason = self._refusal(fleet, node_id, kind, data)
        if reason is None:
            if kind == "client_stopped" and fleet.registered(node_id):
                self._stop(node_id)
            return True
        self.offenders.drop(node_id, reason)
        return False

    def _stop(self, node_id: str) -> None:
        now = self.clock()
        if len(self._stopped) >= 2 * self.max_workers:  # bounded: forget the long stopped
            self._stopped = {n: t for n, t in self._stopped.items() if now - t < STOPPED_FOR_S}
        self._stopped[node_id] = now

    def _refusal(self, fleet: Fleet, node_id: str, kind: str, data: Any) -> str | None:
        if kind == "client_ready":
            return self._ready(fleet, node_id, data) if self.loadkit_fleet else None
        if not fleet.registered(node_id):
            stopped = self._stopped.get(node_id)
            if stopped is not None and kind in STOPPED_OK and self.clock() - stopped < STOPPED_FOR_S:
                return _stats_refusal(data) if kind == "stats" else None
            allowed = kind in UNREGISTERED_OK or not (self.loadkit_fleet or kind in VERDICT_MESSAGES)
            return None if allowed else f"a {kind[:40]!r} message from a node that never registered"
        if fleet.pending(node_id) and kind not in PENDING_OK:
            return f"a {kind[:40]!r} message before its loadkit:hello was accepted"
        if kind == "stats":
            return _stats_refusal(data)
        return None

    def _ready(self, fleet: Fleet, node_id: str, data: Any) -> str | None:
        if not isinstance(data, str) and data != -1:
            return "a client_ready without a Locust version"
        now = self.clock()
        if fleet.registered(node_id):
            last = self._ready_at.get(node_id)
            if last is not None and now - last < CLIENT_READY_INTERVAL:
                return f"a repeated client_ready (at most one per {CLIENT_READY_INTERVAL:g} s)"
        elif fleet.count() >= self.max_workers:
            return f"a client_ready while the fleet has {self.max_workers} workers (--fleet-max-workers)"
        if len(self._ready_at) >= 2 * self.max_workers:  # forget nodes that are gone
            self._ready_at = {n: t for n, t in self._ready_at.items() if fleet.registered(n)}
        self._ready_at[node_id] = now
        return None


def _stats_refusal(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "a stats report that is not a mapping"
    for key in ("stats", "errors", "loadkit_hdr"):
        part = data.get(key)
        if part is not None and (not isinstance(part, list | dict) or len(part) > MAX_ENTRIES):
            return f"a stats report whose {key!r} is not a collection of at most {MAX_ENTRIES} entries"
    return None
