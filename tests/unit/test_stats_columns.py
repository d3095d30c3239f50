"""Packed columns (pure, no numpy): what a worker sends for a distribution, and back."""

from __future__ import annotations

import random
import subprocess
import sys

from loadkit.stats.buckets import HIGHEST_US
from loadkit.stats.columns import WIDTH, ones, pack, unpack


def test_pack_and_unpack_round_trip_with_and_without_counts() -> None:
    rng = random.Random(3)
    for _ in range(50):
        counts = {rng.randrange(0, HIGHEST_US): rng.choice([1, 1, 1, 7]) for _ in range(rng.randrange(1, 60))}
        values, packed_counts = pack(counts)
        assert len(values) == WIDTH * len(counts)
        assert (packed_counts == b"") == all(c == 1 for c in counts.values())
        assert unpack(values, packed_counts) == counts
        assert list(unpack(values, packed_counts)) == sorted(counts)  # values go sorted


def test_values_beyond_the_range_are_clamped_not_refused() -> None:
    values, counts = pack({-5: 1, 10: 2, HIGHEST_US * 2: 3, HIGHEST_US * 3: 1})
    assert unpack(values, counts) == {0: 1, 10: 2, HIGHEST_US: 4}


def test_ones_is_a_counts_column_of_ones() -> None:
    assert unpack(pack({1: 1, 2: 1, 3: 1})[0], ones(3)) == {1: 1, 2: 1, 3: 1}
    assert ones(0) == b""


def test_a_worker_packs_without_importing_numpy() -> None:
    """numpy is for masters (~60 ms, ~14 MB to import): a worker's stats path never loads it."""
    code = (
        "import sys, loadkit, loadkit.stats.controller\n"
        "from loadkit.stats.hdr import HdrRecorder\n"
        "from loadkit.stats.slot_codec import encode_slots\n"
        "r = HdrRecorder(); r.keep_histograms = False\n"
        "[r.record('GET', '/a', 1.5) for _ in range(10)]\n"
        "encode_slots(r.take_slots())\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_joined_columns_fill_ones_only_when_some_part_has_counts() -> None:
    from loadkit.stats.columns import joined

    a, b = (*pack({1: 1, 2: 1}), 1), (*pack({3: 4}), 2)
    assert joined([a, a]) == (a[0] + a[0], b"", 2)
    values, counts, failures = joined([a, b])
    assert unpack(values, counts) == {1: 1, 2: 1, 3: 4} and failures == 3
