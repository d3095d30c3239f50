"""Exemplars: for each entry, the requests behind its numbers, named by their trace ids.

"p99 is 1.8 s on GetItem" leads to "which requests?": a tracing backend answers that if the
report names them. Per entry (``(request_type, name)``, as in :mod:`loadkit.stats.hdr`) an
:class:`ExemplarSet` keeps, of the requests that carried a trace id (``context["trace_id"]``,
:mod:`loadkit.users.tracing`):

- the :data:`SLOWEST` slowest, ordered by ``(latency, trace id)`` (the trace id breaks ties,
  so the order is total and the same on every node);
- in each latency band (powers of 4 in µs: [1 ms, 4 ms), [4 ms, 16 ms), ...; :func:`band`),
  the :data:`PER_BAND` requests with the smallest trace ids. Trace ids are random, so that is a
  uniform sample of the band — a few typical requests at each latency, not just the worst.

Both are "the best k of a total order", so **merging is exact**: the set of the union of two
streams is the merge of their two sets (a test checks it against computing on the union), and a
master merging workers' deltas ends with what one process seeing every request would have.
Memory is bounded: at most ``SLOWEST + PER_BAND * BANDS`` exemplars per entry and
:data:`MAX_ENTRIES` entries (more entries keep none).

Each :class:`Exemplar` has the latency (ms), trace id, wall-clock time of its end, worker (the
reporting node's id, stamped by the master from the connection it came on) and error (the
failure's text, at most :data:`MAX_ERROR` characters, or None). Pure: no Locust, no gevent.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

#: Slowest requests kept per entry.
SLOWEST = 10
#: Requests kept per latency band and entry.
PER_BAND = 3
#: Bands: [0, 1 µs), then [4**(b-1), 4**b) µs for b = 1..BANDS-1 (the last one open-ended).
BANDS = 20
#: Entries that keep exemplars; requests of more entries keep none (bounded memory).
MAX_ENTRIES = 1_000
MAX_ERROR = 200
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")

EntryKey = tuple[str, str]


class Exemplar(NamedTuple):
    """One request: ``latency_ms``, ``trace_id``, ``time`` (unix s, its end), ``worker``, ``error``."""

    latency_ms: float
    trace_id: str
    time: float
    worker: str
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "latency_ms": round(self.latency_ms, 3),
            "time": round(self.time, 3),
            "worker": self.worker,
            "error": self.error,
        }


def band(latency_ms: float) -> int:
    """The latency band of ``latency_ms``: 0 below 1 µs, b for [4**(b-1), 4**b) µs, capped at BANDS-1."""
    return min((int(latency_ms * 1000.0).bit_length() + 1) >> 1, BANDS - 1)


def band_label(b: int) -> str:
    """``"[1 ms, 4 ms)"`` for the band's range (µs below 1 ms, s from 1 s)."""
    if b == 0:
        return "[0, 1 µs)"
    low, high = 4 ** (b - 1), 4**b
    return f"[{_duration(low)}, {_duration(high) if b < BANDS - 1 else '∞'})"


def _duration(us: int) -> str:
    if us < 1000:
        return f"{us} µs"
    if us < 1_000_000:
        return f"{us / 1000:g} ms"
    return f"{us / 1_000_000:g} s"


class ExemplarSet:
    """One entry's exemplars: the slowest, and a few per latency band (see the module docstring)."""

    __slots__ = ("_band_limit", "bands", "floor", "slowest")

    def __init__(self) -> None:
        #: Slowest first, at most SLOWEST.
        self.slowest: list[Exemplar] = []
        #: Band -> smallest trace ids first, at most PER_BAND each.
        self.bands: dict[int, list[Exemplar]] = {}
        #: A request slower than this is among the slowest (-inf until SLOWEST are kept).
        self.floor = -math.inf
        #: Band -> the largest trace id kept, once the band is full: a smaller one gets in.
        self._band_limit: dict[int, str] = {}

    def wants(self, latency_ms: float, trace_id: str) -> bool:
        """Whether a request would be kept (cheap: the recorder asks before building an Exemplar)."""
        if latency_ms >= self.floor:
            return True
        limit = self._band_limit.get(band(latency_ms))
        return limit is None or trace_id < limit

    def add(self, exemplar: Exemplar) -> None:
        """Keep ``exemplar`` where it ranks (a no-op when it ranks nowhere)."""
        key = (exemplar.latency_ms, exemplar.trace_id)
        ranks = key > (self.floor, "") or len(self.slowest) < SLOWEST
        if ranks and all(e.trace_id != exemplar.trace_id or e.latency_ms != exemplar.latency_ms for e in self.slowest):
            kept = sorted([*self.slowest, exemplar], key=_slow_key, reverse=True)[:SLOWEST]
            self.slowest = kept
            self.floor = kept[-1].latency_ms if len(kept) == SLOWEST else -math.inf
        b = band(exemplar.latency_ms)
        members = self.bands.get(b, [])
        if any(e.trace_id == exemplar.trace_id for e in members):
            return
        if len(members) < PER_BAND or exemplar.trace_id < members[-1].trace_id:
            members = sorted([*members, exemplar], key=_id_key)[:PER_BAND]
            self.bands[b] = members
            if len(members) == PER_BAND:
                self._band_limit[b] = members[-1].trace_id

    def merge(self, other: ExemplarSet) -> None:
        """Add every exemplar of ``other``: the result is the set of both streams together."""
        for exemplar in other.all():
            self.add(exemplar)

    def all(self) -> list[Exemplar]:
        """Every exemplar kept, each once (slowest first, then by band)."""
        seen: dict[str, Exemplar] = {}
        for exemplar in [*self.slowest, *(e for b in sorted(self.bands) for e in self.bands[b])]:
            seen.setdefault(exemplar.trace_id, exemplar)
        return list(seen.values())

    def report(self) -> dict[str, Any]:
        """JSON-ready: ``slowest`` and ``bands`` (each with its ``range``), fastest band first."""
        return {
            "slowest": [e.as_dict() for e in self.slowest],
            "bands": [
                {"range": band_label(b), "exemplars": [e.as_dict() for e in self.bands[b]]} for b in sorted(self.bands)
            ],
        }


def _slow_key(e: Exemplar) -> tuple[float, str]:
    return (e.latency_ms, e.trace_id)


def _id_key(e: Exemplar) -> str:
    return e.trace_id


def error_text(exception: Any) -> str | None:
    """The failure as an exemplar keeps it: its text (or type name), cut at MAX_ERROR characters."""
    if exception is None:
        return None
    text = str(exception) or type(exception).__name__
    return text[:MAX_ERROR]


class ExemplarRecorder:
    """Exemplars of every entry; the ``request`` listener, worker deltas and the master's merge."""

    def __init__(self, worker: str = "local") -> None:
        #: Stamped on the exemplars recorded here (a worker's are stamped by the master instead).
        self.worker = worker
        self._sets: dict[EntryKey, ExemplarSet] = {}

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: Any = None,
        context: Mapping[str, Any] | None = None,
        **_kw: Any,
    ) -> None:
        """Listener for Locust's ``request`` event: requests with a trace id may become exemplars."""
        trace_id = context.get("trace_id") if context else None
        if trace_id is None or response_time is None:
            return
        entry = self._sets.get((request_type, name))
        if entry is None:
            if len(self._sets) >= MAX_ENTRIES:
                return
            entry = self._sets[(request_type, name)] = ExemplarSet()
        if entry.wants(response_time, trace_id):
            entry.add(Exemplar(float(response_time), str(trace_id), time.time(), self.worker, error_text(exception)))

    def entries(self) -> dict[EntryKey, ExemplarSet]:
        return self._sets

    def reset(self) -> None:
        self._sets = {}

    def take_deltas(self) -> dict[str, list[list[Any]]]:
        """What was kept since the last call, as ``{"TYPE\\tNAME": [[ms, trace_id, time, error], ...]}`` (worker)."""
        deltas = {
            f"{key[0]}\t{key[1]}": [[e.latency_ms, e.trace_id, e.time, e.error] for e in entry.all()]
            for key, entry in self._sets.items()
            if entry.slowest
        }
        self._sets = {}
        return deltas

    def merge_deltas(self, deltas: Any, worker: str) -> None:
        """Merge a worker's :meth:`take_deltas`, stamped with ``worker``; ValueError before merging any of a bad one."""
        decoded = decode_deltas(deltas, worker)
        for key, exemplars in decoded:
            entry = self._sets.get(key)
            if entry is None:
                if len(self._sets) >= MAX_ENTRIES:
                    continue
                entry = self._sets[key] = ExemplarSet()
            for exemplar in exemplars:
                entry.add(exemplar)

    def merge(self, entries: Iterable[tuple[EntryKey, ExemplarSet]]) -> None:
        for key, other in entries:
            self._sets.setdefault(key, ExemplarSet()).merge(other)

    def report(self, name_of: Any = None) -> dict[str, Any]:
        """Per entry (``"TYPE name"``, or ``name_of(key)``): :meth:`ExemplarSet.report`."""
        return {
            (name_of(key) if name_of else f"{key[0]} {key[1]}"): entry.report()
            for key, entry in sorted(self._sets.items())
            if entry.slowest
        }


#: Most exemplars one worker entry may carry (what :class:`ExemplarSet` can hold).
MAX_PER_ENTRY = SLOWEST + PER_BAND * BANDS


def decode_deltas(deltas: Any, worker: str) -> list[tuple[EntryKey, list[Exemplar]]]:
    """A worker's exemplar payload, checked (nothing from a socket is trusted); ValueError names the fault."""
    if not isinstance(deltas, dict) or len(deltas) > MAX_ENTRIES:
        raise ValueError(f"exemplars: expected a mapping of at most {MAX_ENTRIES} entries")
    out: list[tuple[EntryKey, list[Exemplar]]] = []
    for raw_key, rows in deltas.items():
        request_type, sep, name = raw_key.partition("\t") if isinstance(raw_key, str) else ("", "", "")
        if not sep or len(raw_key) > 1000:
            raise ValueError(f"exemplars: bad entry key {str(raw_key)[:80]!r}")
        if not isinstance(rows, list) or len(rows) > MAX_PER_ENTRY:
            raise ValueError(f"exemplars of {raw_key!r}: expected a list of at most {MAX_PER_ENTRY}")
        exemplars = []
        for row in rows:
            if not (isinstance(row, list | tuple) and len(row) == 4):
                raise ValueError(f"exemplars of {raw_key!r}: a row is not [ms, trace_id, time, error]")
            latency, trace_id, when, error = row
            ok = (
                isinstance(latency, int | float)
                and math.isfinite(latency)
                and 0 <= latency <= 3_600_000
                and isinstance(trace_id, str)
                and _TRACE_ID.match(trace_id) is not None
                and isinstance(when, int | float)
                and math.isfinite(when)
                and (error is None or (isinstance(error, str) and len(error) <= MAX_ERROR))
            )
            if not ok:
                raise ValueError(f"exemplars of {raw_key!r}: a malformed row")
            exemplars.append(Exemplar(float(latency), trace_id, float(when), worker, error))
        out.append(((request_type, name), exemplars))
    return out
