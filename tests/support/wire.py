"""Hand-made worker payloads for the master's decoder tests: numbers packed as a worker packs them.

A loadkit worker sends each distribution as little-endian uint32 bytes
(:func:`loadkit.stats.columns.pack`); tests of hostile or odd senders need columns a worker would
never make (unsorted, repeated, not bucketed), so they pack lists as given.
"""

from __future__ import annotations

from typing import Any


def u32(numbers: list[int]) -> bytes:
    """``numbers`` as little-endian uint32, in the order given."""
    return b"".join(n.to_bytes(4, "little") for n in numbers)


def packed(payload: list[Any]) -> list[Any]:
    """``[[t, {key: [[values], [counts], failures]}]]`` with each list of ints packed (:func:`u32`)."""
    return [
        [
            t,
            {
                k: [u32(v), u32(c), f] if isinstance(v, list) and isinstance(c, list) else [v, c, f]
                for k, (v, c, f) in e.items()
            },
        ]
        for t, e in payload
    ]
