"""The master's pool of test-data rows and the leases held by each worker (pure, no I/O).

Rows are numbered (their *seq*, 0..n-1). A worker leases a batch, hands rows to its users
and acknowledges the seqs its users took. Guarantees, per mode:

- ``unique``: each row goes to one user only while its worker lives (**exactly once**).
  When a worker goes missing, the rows it leased but has not acknowledged go back to the
  front of the pool and to other workers: a row the dead worker used just before dying,
  whose ack was lost, is used again (**at-least-once on worker death**). When every row
  was used, the ``exhausted`` policy decides: ``stop-user``, ``stop-test`` or ``recycle``
  (start over). While rows are still out on other workers, a request waits rather than
  hearing "exhausted": they may come back.
- ``cyclic``: rows are handed out round-robin for ever; nothing is tracked per row.

>>> pool = DataPool([{"id": 1}, {"id": 2}], mode="unique", exhausted="stop-user")
>>> pool.lease("w1", 5).rows
[(0, {'id': 1}), (1, {'id': 2})]
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loadkit.exceptions import ConfigError

Row = dict[str, Any]
MODES = ("unique", "cyclic")
POLICIES = ("stop-user", "stop-test", "recycle")
Status = Literal["ok", "wait", "exhausted"]


def check_mode(mode: str, exhausted: str) -> None:
    """Raise ``ConfigError`` for an unknown mode or exhaustion policy."""
    if mode not in MODES:
        raise ConfigError(f"unknown test-data mode {mode!r}: use one of {', '.join(MODES)}")
    if exhausted not in POLICIES:
        raise ConfigError(f"unknown exhausted-pool policy {exhausted!r}: use one of {', '.join(POLICIES)}")


@dataclass(frozen=True)
class Lease:
    """Answer to a lease request: rows (may be empty) and why not more."""

    rows: list[tuple[int, Row]]
    status: Status


@dataclass
class WorkerLeases:
    """What one worker holds: seqs leased but not acknowledged, and running totals."""

    outstanding: set[int] = field(default_factory=set)
    leased: int = 0
    used: int = 0
    returned: int = 0


class DataPool:
    """Rows of one source, leased to workers by id (``"local"`` for a local run)."""

    def __init__(self, rows: Sequence[Row], mode: str = "unique", exhausted: str = "stop-user") -> None:
        check_mode(mode, exhausted)
        if not rows:
            raise ConfigError("a test-data pool needs at least one row")
        self.rows = rows  # not copied: a generated source makes each row when it is leased
        self.mode = mode
        self.exhausted_policy = exhausted
        self.workers: dict[str, WorkerLeases] = {}
        self.rounds = 1
        self._available: deque[int] = deque(range(len(self.rows)))
        self._cycle = itertools.cycle(range(len(self.rows)))

    # --- leasing ------------------------------------------------------------------
    def lease(self, worker: str, count: int) -> Lease:
        """Up to ``count`` rows for ``worker``."""
        holder = self.workers.setdefault(worker, WorkerLeases())
        if self.mode == "cyclic":
            seqs = [next(self._cycle) for _ in range(max(count, 0))]
            holder.leased += len(seqs)
            return Lease([(s, self.rows[s]) for s in seqs], "ok")
        if not self._available and not self.outstanding and self.exhausted_policy == "recycle":
            self._available.extend(range(len(self.rows)))
            self.rounds += 1
        seqs = [self._available.popleft() for _ in range(min(count, len(self._available)))]
        holder.outstanding.update(seqs)
        holder.leased += len(seqs)
        status: Status = "ok"
        if not seqs:
            status = "wait" if self.outstanding or self.exhausted_policy == "recycle" else "exhausted"
        return Lease([(s, self.rows[s]) for s in seqs], status)

    def ack(self, worker: str, seqs: Iterable[int]) -> None:
        """``worker``'s users took ``seqs``: they will not be leased again (in ``unique`` mode)."""
        holder = self.workers.setdefault(worker, WorkerLeases())
        for seq in seqs:
            if self.mode == "cyclic":
                holder.used += 1
            elif seq in holder.outstanding:
                holder.outstanding.discard(seq)
                holder.used += 1

    def release(self, worker: str, seqs: Iterable[int] | None = None) -> int:
        """Give ``worker``'s unused ``seqs`` (all it holds if None: it died) back; return how many.

        Returned rows go to the front of the pool, so the next lease gets them first.
        """
        holder = self.workers.get(worker)
        if holder is None or self.mode == "cyclic":
            return 0
        back = sorted(holder.outstanding if seqs is None else holder.outstanding.intersection(seqs))
        holder.outstanding.difference_update(back)
        holder.returned += len(back)
        self._available.extendleft(reversed(back))
        return len(back)

    # --- figures ------------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        """Rows leased and not yet acknowledged, over all workers."""
        return sum(len(h.outstanding) for h in self.workers.values())

    @property
    def available(self) -> int:
        return len(self._available) if self.mode == "unique" else len(self.rows)

    def holders(self) -> list[str]:
        """Workers holding unacknowledged rows."""
        return [w for w, h in self.workers.items() if h.outstanding]

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals and per-worker figures (for the web UI and reports)."""
        return {
            "mode": self.mode,
            "exhausted_policy": self.exhausted_policy,
            "rows": len(self.rows),
            "available": self.available,
            "outstanding": self.outstanding,
            "rounds": self.rounds,
            "workers": {
                w: {"leased": h.leased, "used": h.used, "returned": h.returned, "outstanding": len(h.outstanding)}
                for w, h in self.workers.items()
            },
        }
