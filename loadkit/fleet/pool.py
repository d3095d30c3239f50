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

Across a master restart the ledger (:meth:`DataPool.state`) is restored and reconciled with what
the rejoining workers hold (:meth:`DataPool.reconcile`, :mod:`loadkit.fleet.ledger`): the same
guarantees.

>>> pool = DataPool([{"id": 1}, {"id": 2}], mode="unique", exhausted="stop-user")
>>> pool.lease("w1", 5).rows
[(0, {'id': 1}), (1, {'id': 2})]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
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


@dataclass
class Declaration:
    """What a rejoining worker says it holds (``held``) and used (``done``), row numbers."""

    held: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def ack(self, seqs: Iterable[int]) -> None:
        """Its users took ``seqs`` (an acknowledgement while the ledger is reconciled)."""
        taken = set(seqs)
        self.held -= taken
        self.done |= taken

    def release(self, seqs: Iterable[int]) -> None:
        """It gave ``seqs`` back unused."""
        self.held -= set(seqs)


def _ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[[start, end), ...]`` runs of consecutive numbers, in order (a fresh pool is one run)."""
    out: list[list[int]] = []
    for s in seqs:
        if out and out[-1][1] == s:
            out[-1][1] = s + 1
        else:
            out.append([s, s + 1])
    return out


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
        # Available rows: those given back (first in line), then the never leased ones of this round,
        # _fresh..n-1 (a number, not a million-entry deque: the ledger's state is written every interval).
        self._returned: deque[int] = deque()
        self._fresh = 0
        self.cursor = 0  # cyclic: the next row handed out

    # --- leasing ------------------------------------------------------------------
    def lease(self, worker: str, count: int) -> Lease:
        """Up to ``count`` rows for ``worker``."""
        holder = self.workers.setdefault(worker, WorkerLeases())
        if self.mode == "cyclic":
            seqs = [(self.cursor + i) % len(self.rows) for i in range(max(count, 0))]
            self.cursor = (self.cursor + len(seqs)) % len(self.rows)
            holder.leased += len(seqs)
            return Lease([(s, self.rows[s]) for s in seqs], "ok")
        if not self.available and not self.outstanding and self.exhausted_policy == "recycle":
            self._fresh = 0
            self.rounds += 1
        seqs = [self._returned.popleft() for _ in range(min(count, len(self._returned)))]
        fresh = min(count - len(seqs), len(self.rows) - self._fresh)
        seqs += range(self._fresh, self._fresh + fresh)
        self._fresh += fresh
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
        self._returned.extendleft(reversed(back))
        return len(back)

    # --- the ledger in a state file (loadkit.fleet.ledger) ------------------------------
    def state(self) -> dict[str, Any]:
        """The ledger, JSON-ready: rows out per worker, the cursor, what is left (as ranges), totals."""
        return {
            "mode": self.mode,
            "rows": len(self.rows),
            "rounds": self.rounds,
            "cursor": self.cursor,
            "available": [
                *_ranges(self._returned),
                *([[self._fresh, len(self.rows)]] if self._fresh < len(self.rows) else []),
            ],
            "workers": {
                w: {"outstanding": sorted(h.outstanding), "leased": h.leased, "used": h.used, "returned": h.returned}
                for w, h in self.workers.items()
            },
        }

    def restore(self, state: Any) -> None:
        """Take the ledger :meth:`state` gave back; ``ValueError`` (nothing changed) when it does not fit."""
        n = len(self.rows)
        if not isinstance(state, dict) or state.get("mode") != self.mode or state.get("rows") != n:
            raise ValueError(f"it is not a ledger of {n} rows in mode {self.mode}")
        available = [s for a, b in state["available"] for s in range(int(a), int(b))]
        workers = {
            str(w): WorkerLeases(
                {int(s) for s in h["outstanding"]}, int(h["leased"]), int(h["used"]), int(h["returned"])
            )
            for w, h in state["workers"].items()
        }
        seen = available + [s for h in workers.values() for s in h.outstanding]
        if len(seen) != len(set(seen)) or any(not 0 <= s < n for s in seen):
            raise ValueError("a row is out of range, or both out and available")
        tail = state["available"][-1] if state["available"] else [n, n]
        fresh = int(tail[0]) if int(tail[1]) == n else n
        rounds, cursor = int(state["rounds"]), int(state["cursor"]) % n
        self._returned, self._fresh, self.workers = deque(s for s in available if s < fresh), fresh, workers
        self.rounds, self.cursor = rounds, cursor

    def reconcile(self, declared: Mapping[str, Declaration], missing: Collection[str]) -> dict[str, int]:
        """Match the restored ledger with what rejoining workers hold (``unique`` mode; see
        :mod:`loadkit.fleet.ledger`); ``missing`` workers never came back: their rows go back.

        A declared row that is out with nobody and still available was leased after the ledger
        was written: it goes to its holder (``claimed``), or counts as used (``done``). A row out
        with a worker that did not declare it goes back to the pool (``returned``). A row two
        workers declare stays with the one the ledger names, else with the first (``refused``: the
        other's claim).
        """
        counts = {"kept": 0, "claimed": 0, "done": 0, "returned": 0, "refused": 0}
        if self.mode == "cyclic":
            return counts
        owner = {s: w for w, h in self.workers.items() for s in h.outstanding}
        claims: dict[int, str] = {}  # row -> the one worker that keeps it: its owner if it declares it, else the first
        for worker in sorted(declared):
            for seq in declared[worker].held | declared[worker].done:
                if not (isinstance(seq, int) and 0 <= seq < len(self.rows)):
                    continue
                first = claims.get(seq)
                if first is not None:
                    counts["refused"] += 1
                    if owner.get(seq) != worker:
                        continue
                claims[seq] = worker
        pool, taken = set(self._returned), set()
        for seq, worker in sorted(claims.items()):
            holder = self.workers.setdefault(worker, WorkerLeases())
            used, was = seq in declared[worker].done, owner.get(seq)
            if was is None and seq not in pool and seq < self._fresh:
                continue  # used already, as the ledger says: nothing to change
            if was != worker:  # leased after the ledger was written (from the pool, or from a worker since lost)
                if was is None:
                    taken.add(seq)
                    pool.discard(seq)
                else:
                    self.workers[was].outstanding.discard(seq)
                    self.workers[was].returned += 1
                holder.leased += 1
                holder.outstanding.add(seq)
                counts["claimed" if not used else "done"] += 1
            elif not used:
                counts["kept"] += 1
            else:
                counts["done"] += 1
            if used:
                holder.outstanding.discard(seq)
                holder.used += 1
        back: list[int] = []
        for worker, holder in self.workers.items():
            if worker in declared:
                gone = {s for s in holder.outstanding if claims.get(s) != worker}
            elif worker in missing:
                gone = set(holder.outstanding)
            else:
                continue
            holder.outstanding -= gone
            holder.returned += len(gone)
            back.extend(gone)
        counts["returned"] = len(back)
        last = max((s for s in taken if s >= self._fresh), default=None)
        if last is not None:  # rows of the never leased ones taken: those before them wait behind the given back
            pool.update(range(self._fresh, last + 1))
            self._fresh = last + 1
        self._returned = deque(s for s in [*self._returned, *sorted(pool - set(self._returned))] if s not in taken)
        self._returned.extendleft(sorted(back, reverse=True))
        return counts

    # --- figures ------------------------------------------------------------------
    @property
    def outstanding(self) -> int:
        """Rows leased and not yet acknowledged, over all workers."""
        return sum(len(h.outstanding) for h in self.workers.values())

    @property
    def available(self) -> int:
        return len(self._returned) + len(self.rows) - self._fresh if self.mode == "unique" else len(self.rows)

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
