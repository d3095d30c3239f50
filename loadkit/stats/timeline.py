"""Latency over time: per-interval HDR distributions, exact across workers, bounded in size.

Every node cuts its samples into one-second slots (:data:`BASE_S`, aligned on the epoch) as
they are recorded (:class:`~loadkit.stats.hdr.HdrRecorder`); a slot holds, per entry, a
sparse HDR distribution — ``{value_us: count}`` with each value replaced by the lowest
value of its HdrHistogram bucket (:func:`bucket`, 3 significant digits, the same buckets
as the run's histograms) — and the failures. A worker sends its slots with each report
(:func:`loadkit.stats.slot_codec.encode_slots`); the master adds them into its :class:`Timeline`
(:meth:`Timeline.merge_columns`: kept as they came and counted in bulk every few seconds or
when read, :mod:`loadkit.stats.columns`). Adding bucket counts is exact, so a slot's
p50/p90/p99/max equal those of one histogram fed every sample of that interval on every
worker (:func:`percentiles_us` follows HdrHistogram's own rule, value for value).

Bounded for long runs: the master's slots widen as the run grows — 1 s for the first
:data:`POINTS_PER_WIDTH` slots, then 2 s for as many, then 4 s, … (a one-hour run has
1,215 slots; the report's ``timeline`` of 50 entries stays near 2 MB, see
``bench/hdr_overhead.py``) — and a slot that ended more than :data:`SETTLE_S` ago keeps
only its figures (count, failures, p50, p90, p99, max), not its distribution, packed
(:mod:`loadkit.stats.slot`: ~75 bytes per entry and slot, what a long run's master grows by). A delta that
arrives for a settled slot (a worker stalled longer than that) still adds to its count
and failures and is counted in :attr:`Timeline.late`; its percentiles stay as they were.

Slot times come from each worker's clock: workers on other hosts need synchronised clocks
(NTP) for their slots to line up. Pure: no Locust, no gevent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loadkit.stats.columns import Columns
from loadkit.stats.hdr import TOTAL_KEY, Counts, EntryKey
from loadkit.stats.slot import FIGURES, Slot, percentiles_us
from loadkit.stats.slot_codec import parse_key

__all__ = ["FIGURES", "Timeline", "percentiles_us", "series_columns", "slot_of"]

BASE_S = 1
SETTLE_S = 20.0
POINTS_PER_WIDTH = 360
#: Distinct sets of entries a timeline shares between its settled slots; beyond that each keeps its own.
_MAX_INTERNED = 1_000


def slot_of(t: int, start: int) -> tuple[int, int]:
    """``(slot start, width)`` holding base slot ``t`` (epoch s) of a run started at ``start``.

    Phase k has slots of 2**k s, :data:`POINTS_PER_WIDTH` of them, so the count of slots
    grows with the log of the run's length.
    """
    elapsed = max(t - start, 0)
    phase_start, width = 0, BASE_S
    while elapsed >= phase_start + POINTS_PER_WIDTH * width:
        phase_start += POINTS_PER_WIDTH * width
        width *= 2
    return start + phase_start + (elapsed - phase_start) // width * width, width


class Timeline:
    """The master's (or local runner's) slots; see the module docstring::

    tl = Timeline(start=1_700_000_000)
    tl.add(1_700_000_003, ("GET", "/items"), {412: 3, 980: 1}, failures=0)
    tl.series()["entries"]["GET /items"]["p99"]   # ms per slot
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = int(start if start is not None else time.time())
        self._slots: dict[int, Slot] = {}
        self._key_ids: dict[EntryKey, int] = {}  # entries numbered for the state file (it names each once)
        #: One copy of each set of entries (and of each entry key), shared by the settled slots.
        self._interned: dict[Any, Any] = {}
        #: Deltas that arrived for an already settled slot (counted, percentiles unchanged).
        self.late = 0

    def reset(self, start: float | None = None) -> None:
        self.__init__(start)  # type: ignore[misc]

    def add(
        self, t: int, key: EntryKey, counts: Mapping[int, int], failures: int = 0, also: Counts | None = None
    ) -> None:
        """Add a base slot's distribution of one entry (``t``: the base slot's epoch second)."""
        begin, width = slot_of(t, self.start)
        slot = self._slots.get(begin)
        if slot is None:
            slot = self._slots[begin] = Slot(width)
        if not slot.add(key, counts, failures, also):
            self.late += 1

    def merge(
        self,
        slots: Mapping[int, Mapping[EntryKey, tuple[Counts, int]]],
        also: Callable[[EntryKey], Counts] | None = None,
    ) -> None:
        """Add slots as :func:`~loadkit.stats.slot_codec.decode_slots` (or ``HdrRecorder.take_slots``) gives them.

        ``also(key)``: a dict each entry's bucketed counts are added to as well, in the same pass
        (only tests pass one now: a master merges workers' columns with :meth:`merge_columns`).
        """
        for t, entries in slots.items():
            for key, (counts, failures) in entries.items():
                self.add(t, key, counts, failures, also(key) if also is not None else None)

    def merge_columns(
        self,
        slots: Mapping[int, Mapping[EntryKey, Columns]],
        also: Callable[[EntryKey], list[Columns]] | None = None,
    ) -> None:
        """:meth:`merge` for :func:`~loadkit.stats.slot_codec.decode_columns` output (a master, each report).

        Each entry's samples join the slot's list (:meth:`_Slot.add_columns`); ``also(key)``: a list
        the columns are appended to as well (the master's histograms, ``HdrRecorder.pending_columns``).
        """
        for t, entries in slots.items():
            begin, width = slot_of(t, self.start)
            slot = self._slots.get(begin)
            if slot is None:
                slot = self._slots[begin] = Slot(width)
            if slot.settled:  # counts and failures only
                from loadkit.stats.column_math import count_of  # numpy: a master's path (rare: a late report)

                for key, columns in entries.items():
                    slot.add_late(key, count_of(columns), columns[2])
                    if also is not None:
                        also(key).append(columns)
                self.late += len(entries)
                continue
            for key, columns in entries.items():
                slot.add_columns(key, columns)
                if also is not None:
                    also(key).append(columns)

    def settle(self, now: float | None = None) -> None:
        """Keep only the figures of slots that ended more than :data:`SETTLE_S` ago (all: ``now=inf``)."""
        now = time.time() if now is None else now
        for begin, slot in self._slots.items():
            if not slot.settled and begin + slot.width + SETTLE_S < now:
                slot.settle(self._intern)

    def _intern(self, keys: tuple[EntryKey, ...]) -> tuple[EntryKey, ...]:
        """The shared copy of ``keys`` (and of each key in it): a settled slot holds no tuples of its own."""
        interned = self._interned
        found = interned.get(keys)
        if found is not None:
            return found
        if len(interned) >= _MAX_INTERNED:
            return keys
        shared = tuple(interned.setdefault(key, key) for key in keys)
        interned[keys] = shared
        return shared

    def series(self, now: float | None = None) -> dict[str, Any]:
        """Columns for charts and reports, ms with µs precision::

        {"start": epoch s, "t": [slot starts], "w": [widths s], "late": n,
         "entries": {"GET /items": {"count": [...], "failures": [...], "p50": [...], "p90": [...],
                                    "p99": [...], "max": [...]}, "Aggregated": {...}}}

        Percentiles of a slot without requests of that entry are ``None``.
        """
        return series_columns(self.series_parts(now))

    def series_parts(self, now: float | None = None) -> SeriesParts:
        """What :meth:`series` draws from, copied (settles first): the columns can be built later, elsewhere.

        A checkpoint takes these in the gevent loop and builds the columns in a thread
        (:func:`series_columns`), so a one-hour timeline does not stall the loop for a second.
        """
        self.settle(now)
        begins = sorted(self._slots)
        per_slot = [self._slots[b].compute() for b in begins]
        return SeriesParts(self.start, begins, [self._slots[b].width for b in begins], self.late, per_slot)

    def state(self) -> dict[str, Any]:
        """The whole timeline, JSON-ready, for a master's state file (:mod:`loadkit.fleet.resume`).

        Entries are named once (``keys``) and numbered in the slots. A settled slot keeps its
        figures only (``[entry, count, failures, p50, p90, p99, max]`` each), made once and kept
        (made again from the packed figures at each write: kept beside them they would double what a
        settled slot costs); a slot
        still open keeps its distributions (``[entry, [values], [counts], failures]``), so the
        reports a resumed master gets after the restart add to it exactly. Bounded as the
        report's timeline is (the open slots are the last :data:`SETTLE_S` seconds).
        """
        ids = self._key_ids
        slots: list[list[Any]] = []
        for begin in sorted(self._slots):
            slot = self._slots[begin]
            if slot.settled:
                rows = [[ids.setdefault(k, len(ids)), *row] for k, row in slot.compute().items()]
                slots.append([begin, slot.width, rows, None])
                continue
            open_ = [[ids.setdefault(k, len(ids)), v, c, f] for k, v, c, f in slot.open_rows()]
            slots.append([begin, slot.width, None, open_])
        return {"start": self.start, "late": self.late, "keys": [_raw(k) for k in ids], "slots": slots}

    def restore(self, saved: Any) -> None:
        """Start again from :meth:`state` (at a resumed run's start); ``ValueError``, nothing kept, when malformed."""
        try:
            keys = [parse_key(k) for k in saved["keys"]]
            restored: dict[int, Slot] = {}
            for begin, width, figures, open_ in saved["slots"]:
                slot = restored[int(begin)] = Slot(int(width))
                if figures is not None:
                    slot.restore_figures({keys[row[0]]: row[1:] for row in figures}, self._intern)
                    continue
                for kid, values, numbers, failures in open_:
                    slot.counts[keys[kid]] = Counter({int(v): int(c) for v, c in zip(values, numbers, strict=True)})
                    slot.failures[keys[kid]] = int(failures)
            start, late = int(saved["start"]), int(saved["late"])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"timeline: not a saved timeline ({exc})") from exc
        interned = self._interned  # the restored slots share its tuples
        self.reset(start)
        self._slots, self.late, self._interned = restored, late, interned


def _raw(key: EntryKey) -> str:
    return f"{key[0]}\t{key[1]}"


@dataclass(frozen=True)
class SeriesParts:
    """A timeline's slots as figures (:meth:`Timeline.series_parts`)."""

    start: int
    begins: list[int]
    widths: list[int]
    late: int
    per_slot: list[dict[EntryKey, list[int]]]


def series_columns(parts: SeriesParts) -> dict[str, Any]:
    """:meth:`Timeline.series` from its parts (pure: a thread may run it)."""
    per_slot = parts.per_slot
    keys = sorted({k for figures in per_slot for k in figures if k != TOTAL_KEY})
    entries: dict[str, dict[str, list[Any]]] = {}
    for key in [*keys, TOTAL_KEY]:
        columns: dict[str, list[Any]] = {name: [] for name in FIGURES}
        for figures in per_slot:
            row = figures.get(key)
            count = row[0] if row else 0
            columns["count"].append(count)
            columns["failures"].append(row[1] if row else 0)
            for i, name in enumerate(FIGURES[2:], start=2):
                columns[name].append(round(row[i] / 1000.0, 3) if row and count and row[i] else None)
        if any(columns["count"]):
            entries[_label(key)] = columns
    return {"start": parts.start, "t": parts.begins, "w": parts.widths, "late": parts.late, "entries": entries}


def _label(key: EntryKey) -> str:
    return f"{key[0]} {key[1]}" if key[0] else key[1]
