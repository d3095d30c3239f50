"""Latency over time: per-interval HDR distributions, exact across workers, bounded in size.

Every node cuts its samples into one-second slots (:data:`BASE_S`, aligned on the epoch) as
they are recorded (:class:`~loadkit.stats.hdr.HdrRecorder`); a slot holds, per entry, a
sparse HDR distribution — ``{value_us: count}`` with each value replaced by the lowest
value of its HdrHistogram bucket (:func:`bucket`, 3 significant digits, the same buckets
as the run's histograms) — and the failures. A worker sends its slots with each report
(:func:`encode_slots`); the master adds them into its :class:`Timeline`. Adding bucket
counts is exact, so a slot's p50/p90/p99/max equal those of one histogram fed every
sample of that interval on every worker (:func:`percentiles_us` follows HdrHistogram's
own rule, value for value).

Bounded for long runs: the master's slots widen as the run grows — 1 s for the first
:data:`POINTS_PER_WIDTH` slots, then 2 s for as many, then 4 s, … (a one-hour run has
1,215 slots; the report's ``timeline`` of 50 entries stays near 2 MB, see
``bench/hdr_overhead.py``) — and a slot that ended more than :data:`SETTLE_S` ago keeps
only its figures (count, failures, p50, p90, p99, max), not its distribution, packed in an
``array`` with the entry keys shared between slots (~50 bytes per entry and slot, not ~400:
an hour of 20 entries is ~1.5 MB less on the master). A delta that
arrives for a settled slot (a worker stalled longer than that) still adds to its count
and failures and is counted in :attr:`Timeline.late`; its percentiles stay as they were.

Slot times come from each worker's clock: workers on other hosts need synchronised clocks
(NTP) for their slots to line up. Pure: no Locust, no gevent.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import HIGHEST_US, TOTAL_KEY, Counts, EntryKey, add_counts, bucket_highest

BASE_S = 1
SETTLE_S = 20.0
POINTS_PER_WIDTH = 360
#: The figures of a slot, per entry, in this order.
FIGURES = ("count", "failures", "p50", "p90", "p99", "max")
_PCTS = (50.0, 90.0, 99.0)
# Bounds on a worker's payload (hostile input): slots per report, entries per slot, buckets per entry.
MAX_SLOTS = 900
MAX_ENTRIES = 2000
MAX_BUCKETS = 24_000
MAX_REPORT_BUCKETS = 2_000_000  # in all, per report: a worker sends a few thousand
_CLOCK_SLACK_S = 86_400


def percentiles_us(counts: Mapping[int, int], pcts: Iterable[float] = _PCTS) -> list[int]:
    """Values at ``pcts`` and the max, as HdrHistogram's ``get_value_at_percentile`` gives them.

    Its rule: the target count is ``int(pct * total / 100 + 0.5)`` (at least 1); the value
    is the highest equivalent value of the first bucket whose running count reaches it.
    """
    total = sum(counts.values())
    if total == 0:
        return [0] * (len(tuple(pcts)) + 1)
    ordered = sorted(counts.items())
    out = []
    for pct in pcts:
        target = max(int(min(pct, 100.0) * total / 100 + 0.5), 1)
        running = 0
        for value, count in ordered:
            running += count
            if running >= target:
                out.append(bucket_highest(value))
                break
    out.append(bucket_highest(ordered[-1][0]))
    return out


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


class _Slot:
    """One slot: distributions while it may still change, then only its figures, packed."""

    __slots__ = ("counts", "failures", "keys", "packed", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.counts: dict[EntryKey, Counts] = {}
        self.failures: dict[EntryKey, int] = {}
        #: Once settled: the entries, and their FIGURES one after the other (8 bytes each).
        self.keys: tuple[EntryKey, ...] = ()
        self.packed: array[int] | None = None

    def add(self, key: EntryKey, counts: Mapping[int, int], failures: int, also: Counts | None = None) -> bool:
        """Add (the bucketed counts to ``also`` too); False when settled (only count and failures could be added)."""
        packed = self.packed
        if packed is None:
            add_counts(self.counts.setdefault(key, {}), counts, also)
            self.failures[key] = self.failures.get(key, 0) + failures
            return True
        if also is not None:
            add_counts(also, counts)
        for target in (key, TOTAL_KEY) if not is_facet(key[0]) else (key,):
            i = self._row(target)
            packed[i] += sum(counts.values())
            packed[i + 1] += failures
        return False

    def _row(self, key: EntryKey) -> int:
        """Where ``key``'s figures start in :attr:`packed` (a row of zeros added for a new entry)."""
        assert self.packed is not None
        try:
            return self.keys.index(key) * len(FIGURES)
        except ValueError:
            self.keys = (*self.keys, key)
            self.packed.extend([0] * len(FIGURES))
            return (len(self.keys) - 1) * len(FIGURES)

    def compute(self) -> dict[EntryKey, list[int]]:
        n = len(FIGURES)
        if self.packed is not None:
            packed = self.packed
            return {key: packed[i * n : (i + 1) * n].tolist() for i, key in enumerate(self.keys)}
        figures: dict[EntryKey, list[int]] = {}
        total: Counts = {}
        total_failures = 0
        for key, counts in self.counts.items():
            failures = self.failures.get(key, 0)
            figures[key] = [sum(counts.values()), failures, *percentiles_us(counts)]
            if not is_facet(key[0]):
                for value, count in counts.items():
                    total[value] = total.get(value, 0) + count
                total_failures += failures
        if total:
            figures[TOTAL_KEY] = [sum(total.values()), total_failures, *percentiles_us(total)]
        return figures

    def settle(self, intern: Callable[[tuple[EntryKey, ...]], tuple[EntryKey, ...]]) -> None:
        """Keep only the figures, packed: ~50 bytes per entry instead of a list of int objects."""
        figures = self.compute()
        self.keys = intern(tuple(figures))
        self.packed = array("q", [value for key in self.keys for value in figures[key]])
        self.counts, self.failures = {}, {}


#: Distinct sets of entries a timeline shares between its slots; more are kept per slot.
_MAX_INTERNED = 1_000


class Timeline:
    """The master's (or local runner's) slots; see the module docstring::

    tl = Timeline(start=1_700_000_000)
    tl.add(1_700_000_003, ("GET", "/items"), {412: 3, 980: 1}, failures=0)
    tl.series()["entries"]["GET /items"]["p99"]   # ms per slot
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = int(start if start is not None else time.time())
        self._slots: dict[int, _Slot] = {}
        #: One copy of each entry key and each set of entries, shared by the settled slots.
        self._interned: dict[Any, Any] = {}
        self._key_ids: dict[EntryKey, int] = {}  # entries numbered for the state file (it names each once)
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
            slot = self._slots[begin] = _Slot(width)
        if not slot.add(key, counts, failures, also):
            self.late += 1

    def merge(
        self,
        slots: Mapping[int, Mapping[EntryKey, tuple[Counts, int]]],
        also: Callable[[EntryKey], Counts] | None = None,
    ) -> None:
        """Add slots as :func:`decode_slots` (or ``HdrRecorder.take_slots``) gives them.

        ``also(key)``: a dict each entry's bucketed counts are added to as well, in the same
        pass (the master's histograms, ``HdrRecorder.merge_target``).
        """
        for t, entries in slots.items():
            for key, (counts, failures) in entries.items():
                self.add(t, key, counts, failures, also(key) if also is not None else None)

    def settle(self, now: float | None = None) -> None:
        """Keep only the figures of slots that ended more than :data:`SETTLE_S` ago (all: ``now=inf``)."""
        now = time.time() if now is None else now
        for begin, slot in self._slots.items():
            if slot.packed is None and begin + slot.width + SETTLE_S < now:
                slot.settle(self._intern)

    def _intern(self, keys: tuple[EntryKey, ...]) -> tuple[EntryKey, ...]:
        """The shared copy of ``keys`` (and of each key in it): a settled slot holds no strings of its own."""
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
        per_slot = [dict(self._slots[b].compute()) for b in begins]
        return SeriesParts(self.start, begins, [self._slots[b].width for b in begins], self.late, per_slot)

    def state(self) -> dict[str, Any]:
        """The whole timeline, JSON-ready, for a master's state file (:mod:`loadkit.fleet.resume`).

        Entries are named once (``keys``) and numbered in the slots. A settled slot keeps its
        figures only (``[entry, count, failures, p50, p90, p99, max]`` each), made from its packed
        figures at each call (kept as lists they cost the master as much memory again); a slot
        still open keeps its distributions (``[entry, [values], [counts], failures]``), so the
        reports a resumed master gets after the restart add to it exactly. Bounded as the
        report's timeline is (the open slots are the last :data:`SETTLE_S` seconds).
        """
        ids = self._key_ids
        slots: list[list[Any]] = []
        for begin in sorted(self._slots):
            slot = self._slots[begin]
            if slot.packed is not None:
                values, n = slot.packed.tolist(), len(FIGURES)
                rows = [[ids.setdefault(k, len(ids)), *values[i * n : (i + 1) * n]] for i, k in enumerate(slot.keys)]
                slots.append([begin, slot.width, rows, None])
                continue
            open_ = []
            for key, counts in slot.counts.items():
                ordered = sorted(counts.items())
                values, numbers = [v for v, _ in ordered], [c for _, c in ordered]
                open_.append([ids.setdefault(key, len(ids)), values, numbers, slot.failures.get(key, 0)])
            slots.append([begin, slot.width, None, open_])
        return {"start": self.start, "late": self.late, "keys": [_raw(k) for k in ids], "slots": slots}

    def restore(self, saved: Any) -> None:
        """Start again from :meth:`state` (at a resumed run's start); ``ValueError``, nothing kept, when malformed."""
        try:
            keys = [_key(k) for k in saved["keys"]]
            restored: dict[int, _Slot] = {}
            for begin, width, figures, open_ in saved["slots"]:
                slot = restored[int(begin)] = _Slot(int(width))
                if figures is not None:
                    rows = {keys[row[0]]: [int(v) for v in row[1:]] for row in figures}
                    if any(len(row) != len(FIGURES) for row in rows.values()):
                        raise ValueError(f"a slot's figures are not {', '.join(FIGURES)}")
                    slot.keys = tuple(rows)  # the keys list's tuples: shared between slots already
                    slot.packed = array("q", [v for row in rows.values() for v in row])
                    continue
                for kid, values, numbers, failures in open_:
                    slot.counts[keys[kid]] = {int(v): int(c) for v, c in zip(values, numbers, strict=True)}
                    slot.failures[keys[kid]] = int(failures)
            start, late = int(saved["start"]), int(saved["late"])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ValueError(f"timeline: not a saved timeline ({exc})") from exc
        self.reset(start)
        self._slots, self.late = restored, late


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


# --- transport: a worker's slots in its report -----------------------------------------
def encode_slots(slots: Mapping[int, Mapping[EntryKey, tuple[Counts, int]]]) -> list[list[Any]]:
    """``[[t, {"TYPE\\tNAME": [[values], [counts], failures]}], ...]`` (msgpack-friendly)."""
    out = []
    for t, entries in slots.items():
        encoded = {}
        for (request_type, name), (counts, failures) in entries.items():
            ordered = sorted(counts.items())
            encoded[f"{request_type}\t{name}"] = [[v for v, _ in ordered], [c for _, c in ordered], failures]
        out.append([t, encoded])
    return out


def decode_slots(payload: Any, now: float | None = None) -> dict[int, dict[EntryKey, tuple[Counts, int]]]:
    """Check and decode :func:`encode_slots` output; ``ValueError`` (nothing merged) when malformed."""
    now = time.time() if now is None else now
    if not isinstance(payload, list) or len(payload) > MAX_SLOTS:
        raise ValueError(f"timeline: expected a list of at most {MAX_SLOTS} slots")
    slots: dict[int, dict[EntryKey, tuple[Counts, int]]] = {}
    budget = MAX_REPORT_BUCKETS
    for item in payload:
        if not (isinstance(item, list | tuple) and len(item) == 2 and type(item[0]) is int):
            raise ValueError("timeline: a slot is [epoch_seconds, {entry: [...]}]")
        t, entries = item
        if abs(t - now) > _CLOCK_SLACK_S or not isinstance(entries, dict) or len(entries) > MAX_ENTRIES:
            raise ValueError(f"timeline: slot {t!r} is out of range or has too many entries")
        decoded = slots.setdefault(t, {})
        for raw_key, value in entries.items():
            counts, _failures = decoded[_key(raw_key)] = _entry(raw_key, value)
            budget -= len(counts)
            if budget < 0:
                raise ValueError(f"timeline: more than {MAX_REPORT_BUCKETS} buckets in one report")
    return slots


def _key(raw_key: Any) -> EntryKey:
    if not isinstance(raw_key, str) or "\t" not in raw_key:
        raise ValueError(f"timeline: bad entry key {raw_key!r}")
    request_type, _, name = raw_key.partition("\t")
    return request_type, name


def _entry(raw_key: str, value: Any) -> tuple[Counts, int]:
    if not (isinstance(value, list | tuple) and len(value) == 3):
        raise ValueError(f"timeline: entry {raw_key!r} is not [values, counts, failures]")
    values, counts, failures = value
    if not (isinstance(values, list | tuple) and isinstance(counts, list | tuple)) or len(values) != len(counts):
        raise ValueError(f"timeline: entry {raw_key!r}: values and counts differ in length")
    if len(values) > MAX_BUCKETS:
        raise ValueError(f"timeline: entry {raw_key!r} has more than {MAX_BUCKETS} buckets")
    # The types and ranges checked in C (set, min, max): a master does this for every report.
    ints = not values or (
        set(map(type, values)) | set(map(type, counts)) <= _INT_ONLY
        and min(values) >= 0
        and max(values) <= HIGHEST_US
        and min(counts) > 0
    )
    if not ints or type(failures) is not int or not 0 <= failures <= sum(counts):
        raise ValueError(f"timeline: entry {raw_key!r} holds values out of range")
    decoded = dict(zip(values, counts, strict=True))  # in C; whoever adds them buckets them (add_counts)
    if len(decoded) != len(values):  # a value repeated (not from a loadkit worker): its counts add up
        decoded = {}
        for v, c in zip(values, counts, strict=True):
            decoded[v] = decoded.get(v, 0) + c
    return decoded, failures


_INT_ONLY = {int}
