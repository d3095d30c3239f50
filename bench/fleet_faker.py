"""``faker:COUNT`` set-up cost: one Faker call per field per row (before) vs lazy rows (now).

    .venv/bin/python -m bench.fleet_faker

Issue 14 measured 21 s for ``faker:100000`` and ~30 min for ``faker:10000000`` with the
former generator (``Faker().name()/.email()/.city()`` per row, all rows made up front). Both
ways run here on the same machine, so the ratio is the figure; the machine may be shared.
"""

from __future__ import annotations

import statistics
import time

from loadkit.fleet.pool import DataPool
from loadkit.fleet.sources import load_rows

SAMPLE = 5_000


def per_row_faker(count: int) -> float:
    """Seconds the former generator takes for ``count`` rows."""
    from faker import Faker

    start = time.perf_counter()
    fake = Faker()
    fake.seed_instance(0)
    rows = [{"id": i, "name": fake.name(), "email": fake.email(), "city": fake.city()} for i in range(count)]
    assert len(rows) == count
    return time.perf_counter() - start


def lazy_start(count: int) -> float:
    """Seconds from the spec to a pool ready to lease (rows are made when leased)."""
    start = time.perf_counter()
    DataPool(load_rows(f"faker:{count}"), mode="unique")
    return time.perf_counter() - start


def lazy_rows(count: int) -> float:
    """Seconds to make ``count`` rows through the lazy source (what leasing them all costs)."""
    rows = load_rows(f"faker:{count}")
    rows[0]  # the word lists, once
    start = time.perf_counter()
    made = [rows[i] for i in range(count)]
    assert len(made) == count
    return time.perf_counter() - start


ROUNDS = 5


def main() -> None:
    befores, afters = [], []
    for _ in range(ROUNDS):  # alternating, so both ways see the same machine state
        befores.append(per_row_faker(SAMPLE) / SAMPLE)
        afters.append(lazy_rows(SAMPLE) / SAMPLE)
    before, after = statistics.median(befores), statistics.median(afters)
    ratios = [b / a for b, a in zip(befores, afters, strict=True)]
    print(
        f"per row (median of {ROUNDS} rounds, min-max): former {before * 1e6:.0f} us "
        f"({min(befores) * 1e6:.0f}-{max(befores) * 1e6:.0f}), lazy {after * 1e6:.1f} us "
        f"({min(afters) * 1e6:.1f}-{max(afters) * 1e6:.1f}), {statistics.median(ratios):.0f}x "
        f"({min(ratios):.0f}-{max(ratios):.0f}); wall-clock figures on a shared machine carry ±10 % noise"
    )
    print(f"former faker:100000 (extrapolated): {before * 100_000:.1f} s; faker:10000000: {before * 1e7 / 60:.0f} min")
    for count in (100_000, 1_000_000):
        print(f"lazy faker:{count}: pool ready in {lazy_start(count):.2f} s; all rows made in {after * count:.1f} s")


if __name__ == "__main__":
    main()
