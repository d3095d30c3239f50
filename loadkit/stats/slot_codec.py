"""A worker's one-second slots in its stats report: encoding, and the master's checks on the way in.

A worker sends ``[[t, {"TYPE\\tNAME": [values, counts, failures]}], ...]``, each distribution as
packed columns (:func:`loadkit.stats.columns.pack`: little-endian uint32 bytes, counts ``b""``
when all are 1; :func:`encode_slots`). The master checks every report before any of it is merged
— sizes, types, ranges, its clock (hostile input is refused whole: ``ValueError``) — and keeps
each entry's columns as they came (:func:`decode_columns`, for
:meth:`loadkit.stats.timeline.Timeline.merge_columns`); :func:`decode_slots` gives them as dicts
(``{µs: count}``), for :meth:`Timeline.merge`. Pure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import lru_cache
from itertools import chain, repeat
from operator import and_, gt, mul, ne, rshift
from typing import Any

from loadkit.stats.columns import WIDTH, Columns, joined, pack, unpack
from loadkit.stats.hdr import Counts, EntryKey

# Bounds on a worker's payload (hostile input): slots per report, entries per slot, buckets per entry.
MAX_SLOTS = 900
MAX_ENTRIES = 2000
MAX_BUCKETS = 24_000
MAX_REPORT_BUCKETS = 2_000_000  # in all, per report: a worker sends a few thousand
_CLOCK_SLACK_S = 86_400


def encode_slots(slots: Mapping[int, Mapping[EntryKey, tuple[Counts, int]]]) -> list[list[Any]]:
    """``[[t, {"TYPE\\tNAME": [values, counts, failures]}], ...]``, columns packed (msgpack-friendly)."""
    out = []
    for t, entries in slots.items():
        encoded = {}
        for (request_type, name), (counts, failures) in entries.items():
            if counts:  # a loadkit worker's entries always hold samples
                encoded[f"{request_type}\t{name}"] = [*pack(counts), failures]
        out.append([t, encoded])
    return out


def decode_slots(payload: Any, now: float | None = None) -> dict[int, dict[EntryKey, tuple[Counts, int]]]:
    """Check and decode :func:`encode_slots` output; ``ValueError`` (nothing merged) when malformed.

    Each entry as a dict (a value repeated by a hostile sender: its counts add up).
    """
    return {
        t: {key: (unpack(values, counts), failures) for key, (values, counts, failures) in entries.items()}
        for t, entries in decode_columns(payload, now).items()
    }


def decode_columns(payload: Any, now: float | None = None) -> dict[int, dict[EntryKey, Columns]]:
    """Check :func:`encode_slots` output and keep each entry's columns as they came (``ValueError`` when malformed).

    What the master does with every report (:meth:`Timeline.merge_columns`), so the whole report is
    checked at once: the shapes of every entry of every slot in C (``set``, ``map``), the numbers in
    numpy (:mod:`loadkit.stats.column_math`); nothing is copied. When a check fails, :func:`_entry`
    finds the entry to name.
    """
    now = time.time() if now is None else now
    if not isinstance(payload, list) or len(payload) > MAX_SLOTS:
        raise ValueError(f"timeline: expected a list of at most {MAX_SLOTS} slots")
    kept: list[tuple[int, dict[Any, Any]]] = []
    for item in payload:
        if not (isinstance(item, list | tuple) and len(item) == 2 and type(item[0]) is int):
            raise ValueError("timeline: a slot is [epoch_seconds, {entry: [...]}]")
        t, entries = item
        if abs(t - now) > _CLOCK_SLACK_S or not isinstance(entries, dict) or len(entries) > MAX_ENTRIES:
            raise ValueError(f"timeline: slot {t!r} is out of range or has too many entries")
        if entries:
            kept.append((t, entries))
    if not kept:
        return {}
    columns = _checked(kept)
    slots: dict[int, dict[EntryKey, Columns]] = {}
    at = 0
    for t, entries in kept:
        part = columns[at : at + len(entries)]
        at += len(entries)
        decoded = slots.get(t)
        if decoded is None:
            slots[t] = dict(zip(map(parse_key, entries), part, strict=True))
            continue
        for key, more in zip(map(parse_key, entries), part, strict=True):  # the same second twice in one payload
            before = decoded.get(key)
            decoded[key] = more if before is None else joined([before, more])
    return slots


def _checked(kept: list[tuple[int, dict[Any, Any]]]) -> list[Columns]:
    """Every entry of every slot as columns, checked together (one failed: the entry named)."""
    rows = list(chain.from_iterable([entries.values() for _, entries in kept]))
    if set(map(type, rows)) <= _ROW and set(map(len, rows)) == {3}:
        values, counts, failures = zip(*rows, strict=True)
        sizes, counted = list(map(len, values)), list(map(len, counts))
        if (
            set(map(type, values)) | set(map(type, counts)) <= _BYTES
            and min(sizes) > 0
            and max(sizes) <= MAX_BUCKETS * WIDTH
            and not any(map(and_, sizes, repeat(WIDTH - 1)))
            and not any(map(mul, map(ne, counted, sizes), counted))  # counts: b"" or as long as the values
            and set(map(type, failures)) <= _INT_ONLY
            and min(failures) >= 0
        ):
            if sum(sizes) > MAX_REPORT_BUCKETS * WIDTH:
                raise ValueError(f"timeline: more than {MAX_REPORT_BUCKETS} buckets in one report")
            if _numbers_fine(values, counts, failures, sizes, counted):
                return list(zip(values, counts, failures, strict=True))
    for _, entries in kept:  # one is malformed: say which
        for raw_key, value in entries.items():
            parse_key(raw_key)
            _entry(raw_key, value)
    raise ValueError("timeline: malformed entries")  # not reached: _entry found it


def _numbers_fine(
    values: tuple[bytes, ...],
    counts: tuple[bytes, ...],
    failures: tuple[int, ...],
    sizes: list[int],
    counted: list[int],
) -> bool:
    """Values in range, counts > 0, no entry with more failures than samples: numpy over the whole report."""
    import loadkit.stats.column_math as column_math  # numpy: a master's path only (see that module)

    if column_math.out_of_range(b"".join(values), b"".join(counts)) is not None:
        return False
    values_only = list(map(rshift, sizes, repeat(2)))  # WIDTH 4; each count is at least 1
    if not any(map(gt, failures, values_only)) or not any(counted):
        return not any(map(gt, failures, values_only))
    summed = iter(column_math.sums(b"".join(counts), [n >> 2 for n in counted if n]))  # rare: sum the counts
    samples = [next(summed) if n else s for s, n in zip(values_only, counted, strict=True)]
    return not any(map(gt, failures, samples))


@lru_cache(maxsize=4096)  # the same few names in every report; a failed parse is not cached
def parse_key(raw_key: Any) -> EntryKey:
    """``"TYPE\\tNAME"`` as ``(type, name)`` (``ValueError`` for anything else)."""
    if not isinstance(raw_key, str) or "\t" not in raw_key:
        raise ValueError(f"timeline: bad entry key {raw_key!r}")
    request_type, _, name = raw_key.partition("\t")
    return request_type, name


def _entry(raw_key: str, value: Any) -> Columns:
    """One entry checked alone (slow, clear): the first problem named, with the entry."""
    from loadkit.stats import column_math

    if not (isinstance(value, list | tuple) and len(value) == 3):
        raise ValueError(f"timeline: entry {raw_key!r} is not [values, counts, failures]")
    values, counts, failures = value
    if not (isinstance(values, bytes) and isinstance(counts, bytes)) or len(values) % WIDTH:
        raise ValueError(f"timeline: entry {raw_key!r}: values and counts are packed uint32 (bytes)")
    if not values or len(counts) not in (0, len(values)):
        raise ValueError(f"timeline: entry {raw_key!r}: values and counts differ in length")
    if len(values) > MAX_BUCKETS * WIDTH:
        raise ValueError(f"timeline: entry {raw_key!r} has more than {MAX_BUCKETS} buckets")
    problem = column_math.out_of_range(values, counts)
    if problem is None and type(failures) is int and 0 <= failures <= column_math.count_of((values, counts, 0)):
        return values, counts, failures
    raise ValueError(f"timeline: entry {raw_key!r} holds values out of range ({problem or 'failures'})")


_INT_ONLY = {int}
_ROW = {list, tuple}
_BYTES = {bytes}
