"""A worker's one-second slots in its stats report: encoding, and the master's checks on the way in.

A worker sends ``[[t, {"TYPE\\tNAME": [[values], [counts], failures]}], ...]`` (msgpack-friendly,
:func:`encode_slots`). The master checks every report before any of it is merged — sizes, types,
ranges, its clock (hostile input is refused whole: ``ValueError``) — and keeps each entry's
columns as they came (:func:`decode_columns`, for :meth:`loadkit.stats.timeline.Timeline.merge_columns`);
:func:`decode_slots` gives them as dicts (``{µs: count}``), for :meth:`Timeline.merge`. Pure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import lru_cache
from itertools import chain
from operator import gt
from typing import Any

from loadkit.stats.columns import Columns
from loadkit.stats.hdr import HIGHEST_US, Counts, EntryKey

# Bounds on a worker's payload (hostile input): slots per report, entries per slot, buckets per entry.
MAX_SLOTS = 900
MAX_ENTRIES = 2000
MAX_BUCKETS = 24_000
MAX_REPORT_BUCKETS = 2_000_000  # in all, per report: a worker sends a few thousand
_CLOCK_SLACK_S = 86_400


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
    """Check and decode :func:`encode_slots` output; ``ValueError`` (nothing merged) when malformed.

    Each entry as a dict (a value repeated by a hostile sender: its counts add up).
    """
    out: dict[int, dict[EntryKey, tuple[Counts, int]]] = {}
    for t, entries in decode_columns(payload, now).items():
        decoded = out[t] = {}
        for key, (values, counts, failures) in entries.items():
            as_dict = dict(zip(values, counts, strict=True))
            if len(as_dict) != len(values):
                as_dict = {}
                for v, c in zip(values, counts, strict=True):
                    as_dict[v] = as_dict.get(v, 0) + c
            decoded[key] = (as_dict, failures)
    return out


def decode_columns(payload: Any, now: float | None = None) -> dict[int, dict[EntryKey, Columns]]:
    """Check :func:`encode_slots` output and keep each entry's columns as they came (``ValueError`` when malformed).

    What the master does with every report (:meth:`Timeline.merge_columns`), so the checks run
    over a whole slot at once, in C (``zip``, ``set``, ``map``, ``min``, ``max``, ``sum``), and
    nothing is copied; when one fails, :func:`_entry` finds the entry to name.
    """
    now = time.time() if now is None else now
    if not isinstance(payload, list) or len(payload) > MAX_SLOTS:
        raise ValueError(f"timeline: expected a list of at most {MAX_SLOTS} slots")
    slots: dict[int, dict[EntryKey, Columns]] = {}
    budget = MAX_REPORT_BUCKETS
    for item in payload:
        if not (isinstance(item, list | tuple) and len(item) == 2 and type(item[0]) is int):
            raise ValueError("timeline: a slot is [epoch_seconds, {entry: [...]}]")
        t, entries = item
        if abs(t - now) > _CLOCK_SLACK_S or not isinstance(entries, dict) or len(entries) > MAX_ENTRIES:
            raise ValueError(f"timeline: slot {t!r} is out of range or has too many entries")
        if not entries:
            continue
        columns = _checked(entries)
        budget -= sum(map(len, (c[0] for c in columns)))
        if budget < 0:
            raise ValueError(f"timeline: more than {MAX_REPORT_BUCKETS} buckets in one report")
        decoded = slots.get(t)
        if decoded is None:
            slots[t] = dict(zip(map(parse_key, entries), columns, strict=True))
            continue
        for key, more in zip(map(parse_key, entries), columns, strict=True):  # the same second twice in one payload
            before = decoded.get(key)
            decoded[key] = more if before is None else _joined(before, more)
    return slots


def _checked(entries: dict[Any, Any]) -> list[Columns]:
    """Every entry of one slot as columns, checked together (one check failed: the entry named)."""
    rows = list(entries.values())
    if set(map(type, rows)) <= _ROW and set(map(len, rows)) == {3}:
        values, counts, failures = zip(*rows, strict=True)
        sizes = list(map(len, values))
        if (
            set(map(type, values)) | set(map(type, counts)) <= _ROW
            and sizes == list(map(len, counts))
            and max(sizes) <= MAX_BUCKETS
            and set(map(type, failures)) <= _INT_ONLY
            and min(failures) >= 0
            and not any(map(gt, failures, map(sum, counts)))
        ):
            flat_values = list(chain.from_iterable(values))
            flat_counts = list(chain.from_iterable(counts))
            if not flat_values or (
                set(map(type, flat_values)) | set(map(type, flat_counts)) <= _INT_ONLY
                and min(flat_values) >= 0
                and max(flat_values) <= HIGHEST_US
                and min(flat_counts) > 0
            ):
                return list(zip(values, counts, failures, strict=True))
    for raw_key, value in entries.items():  # one is malformed: say which
        parse_key(raw_key)
        _entry(raw_key, value)
    raise ValueError("timeline: malformed entries")  # not reached: _entry found it


def _joined(a: Columns, b: Columns) -> Columns:
    return [*a[0], *b[0]], [*a[1], *b[1]], a[2] + b[2]


@lru_cache(maxsize=4096)  # the same few names in every report; a failed parse is not cached
def parse_key(raw_key: Any) -> EntryKey:
    """``"TYPE\\tNAME"`` as ``(type, name)`` (``ValueError`` for anything else)."""
    if not isinstance(raw_key, str) or "\t" not in raw_key:
        raise ValueError(f"timeline: bad entry key {raw_key!r}")
    request_type, _, name = raw_key.partition("\t")
    return request_type, name


def _entry(raw_key: str, value: Any) -> Columns:
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
    return values, counts, failures


_INT_ONLY = {int}
_ROW = {list, tuple}
