"""A distribution as two packed columns, ``values`` and ``counts``: what a worker sends, what a master keeps.

A worker's report carries each one-second slot's distribution of each entry
(:func:`loadkit.stats.slot_codec.encode_slots`). As lists of msgpack ints, every sample cost the
master an object to unpack, then several Python-level passes to check, count and sort it — most
of what loadkit added to a master's CPU per worker (~0.8 µs a sample). So a distribution travels
as two byte strings of little-endian ``uint32`` (:func:`pack`): the values (bucketed µs, sorted)
and their counts, ``b""`` when every count is 1 (nearly always, at one-second, µs resolution);
an entry's :data:`Columns` are ``(values, counts, failures)``. msgpack hands the master a bytes
object per column, not an object per sample; the master keeps them as they came and does the
arithmetic over many at once in numpy (:mod:`loadkit.stats.column_math`: checks, histogram
counts, percentiles).

This module is numpy-free on purpose: workers and local runners pack and unpack with the
standard library (``array``) and never import numpy; only a master's merge path does.

    >>> values, counts = pack({250: 1, 100: 2})
    >>> unpack(values, counts)
    {100: 2, 250: 1}
    >>> pack({7: 1})[1]   # every count 1: no counts column
    b''
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence

from loadkit.stats.buckets import HIGHEST_US, Columns

__all__ = ["WIDTH", "Columns", "joined", "ones", "pack", "unpack"]
#: Bytes per packed number.
WIDTH = 4
_SWAP = sys.byteorder != "little"


def _bytes(numbers: list[int]) -> bytes:
    packed = array("I", numbers)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def _numbers(data: bytes) -> list[int]:
    packed = array("I")
    packed.frombytes(data)
    if _SWAP:
        packed.byteswap()
    return packed.tolist()


def pack(counts: Mapping[int, int]) -> tuple[bytes, bytes]:
    """``(values, counts)`` of ``{µs: count}``, values sorted; counts ``b""`` when all are 1.

    Values are clamped to loadkit's range (0 .. one hour): a request that took longer than the
    histograms can hold is counted at their highest value, not a reason to drop a whole report.
    """
    ordered = sorted(counts.items())
    if ordered and (ordered[0][0] < 0 or ordered[-1][0] > HIGHEST_US):
        clamped: dict[int, int] = {}
        for value, count in ordered:
            value = min(max(value, 0), HIGHEST_US)
            clamped[value] = clamped.get(value, 0) + count
        ordered = sorted(clamped.items())
    values = _bytes([v for v, _ in ordered])
    ones = all(c == 1 for _, c in ordered)
    return values, b"" if ones else _bytes([c for _, c in ordered])


def unpack(values: bytes, counts: bytes) -> dict[int, int]:
    """``{µs: count}`` of :func:`pack`'s columns (a value repeated: its counts added)."""
    numbers = _numbers(values)
    out: dict[int, int] = {}
    for value, count in zip(numbers, _numbers(counts) if counts else [1] * len(numbers), strict=True):
        out[value] = out.get(value, 0) + count
    return out


def joined(columns: Sequence[Columns]) -> Columns:
    """``columns`` as one (failures added); counts ``b""`` only when every part's are."""
    values, counts = b"".join([c[0] for c in columns]), b""
    if any([c[1] for c in columns]):
        counts = b"".join([c[1] or ones(len(c[0]) // WIDTH) for c in columns])
    return values, counts, sum([c[2] for c in columns])


def ones(size: int) -> bytes:
    """A counts column of ``size`` ones (to join columns with and without counts)."""
    return _ONE * size


_ONE = (1).to_bytes(WIDTH, "little")
