"""Splitting the fleet's arrival rate and user pool across workers, exactly.

Pure. The rate is split by iteration index: of ``slots`` active workers, the one holding
``slot`` runs iterations ``k`` with ``k % slots == slot``. Every iteration of the fleet's
schedule belongs to exactly one worker, so the fleet total is the profile's, to the
iteration, and workers interleave instead of firing in bursts. The pool (``--max-users``)
is split by largest remainder (:func:`largest_remainder`), so the shares add up to the
pool. A worker whose pool share would be 0 gets no slot (it could never start an
iteration).

A new split takes effect from an iteration index (:attr:`Plan.from_iteration`) a little
in the future, so every worker switches at the same iteration whatever the message delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Integers proportional to ``weights`` that add up to ``total`` (Hamilton's method).

    ``largest_remainder(20, [1, 1, 1]) == [7, 7, 6]``; ties go to the earlier weight.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    weight_sum = float(sum(weights))
    if not weights or weight_sum <= 0:
        return [0] * len(weights)
    quotas = [total * w / weight_sum for w in weights]
    shares = [int(q) for q in quotas]
    left = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class Share:
    """One worker's part: iterations ``k % slots == slot`` (no slot: None) and ``pool`` users."""

    slot: int | None
    slots: int
    pool: int

    @property
    def rate_fraction(self) -> float:
        return 0.0 if self.slot is None or self.slots == 0 else 1.0 / self.slots


def split_fleet(workers: Sequence[str], max_users: int) -> dict[str, Share]:
    """Each worker's share of the rate and of a pool of ``max_users`` (workers in a stable order)."""
    ordered = sorted(workers)
    pools = largest_remainder(max_users, [1.0] * len(ordered))
    active = [w for w, p in zip(ordered, pools, strict=True) if p > 0]
    shares = {}
    for worker, pool in zip(ordered, pools, strict=True):
        slot = active.index(worker) if pool > 0 else None
        shares[worker] = Share(slot, len(active), pool)
    return shares


def next_owned(k: int, slot: int, slots: int) -> int:
    """The smallest index >= ``k`` with ``index % slots == slot``."""
    return k + (slot - k) % slots
