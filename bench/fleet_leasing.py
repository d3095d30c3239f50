"""Figures of test-data leasing: rows/s, message overhead per worker, re-lease time after a kill.

    .venv/bin/python -m bench.fleet_leasing

1. the pool alone (lease + ack in batches of 50, in-process);
2. a real master + 3 ``locust --worker`` processes whose users only take rows
   (bench/fleet_take.py): rows leased per second, lease messages and bytes per worker per
   second (plus one health message per worker every ``--loadkit-health-interval`` s);
3. the same with one worker SIGKILLed: seconds from the kill to its rows being back in the
   pool (Locust marks a worker missing after ~3 missed 1-s heartbeats).

The machine may be shared: read the figures as orders of magnitude.
"""

from __future__ import annotations

import json
import time

import msgpack

from loadkit.fleet.pool import DataPool
from loadkit.fleet.sources import fake_rows
from loadkit.messages import DATA_GRANT, DATA_REQUEST, DataGrant, DataRequest
from tests.support.procs import ROOT, Procs

LOCUSTFILE = str(ROOT / "bench" / "fleet_take.py")
BATCH = 50


def pool_alone(rows: int = 200_000) -> float:
    pool = DataPool([{"id": i} for i in range(rows)])
    start = time.perf_counter()
    while True:
        lease = pool.lease("w", BATCH)
        if not lease.rows:
            break
        pool.ack("w", [s for s, _ in lease.rows])
    return rows / (time.perf_counter() - start)


def message_bytes() -> tuple[int, int]:
    rows = fake_rows(BATCH, seed=1)
    grant = DATA_GRANT.encode(DataGrant(rows=[[i, r] for i, r in enumerate(rows)], status="ok"))
    request = DATA_REQUEST.encode(DataRequest(want=BATCH, acks=list(range(10_000, 10_000 + BATCH)), releases=[]))
    return len(msgpack.packb(request)), len(msgpack.packb(grant))


def fleet(rows: int, kill: bool) -> dict[str, object]:
    procs = Procs()
    try:
        master, port = procs.master(
            LOCUSTFILE,
            3,
            *("-u", "30", "-r", "30", "-t", "120s", "--loadkit-data", f"faker:{rows}:1"),
            *("--loadkit-data-exhausted", "stop-test", "--loadkit-data-batch", str(BATCH)),
        )
        workers = [procs.worker(LOCUSTFILE, port) for _ in range(3)]
        killed_at = None
        if kill:
            deadline = time.monotonic() + 60
            while not master.find("All users spawned") and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # let the victim lease and use rows (a bench, not a test)
            workers[0].kill()
            killed_at = time.monotonic()
        master.wait(timeout=180)
        line = master.find("loadkit data: ")[-1][1]
        figures: dict[str, object] = json.loads(line.split("loadkit data: ", 1)[1])
        if killed_at is not None:
            gone = master.find("is gone: ")
            figures["release_s"] = round(gone[0][0] - killed_at, 2) if gone else None
        return figures
    finally:
        procs.close()


def main() -> None:
    rates = sorted(pool_alone() for _ in range(5))
    print(
        f"pool alone: {rates[2]:,.0f} rows/s leased+acked (batches of {BATCH}; median of 5 rounds, "
        f"{rates[0]:,.0f}-{rates[-1]:,.0f}; wall-clock figures on a shared machine carry ±10 % noise)"
    )
    req, grant = message_bytes()
    print(f"message sizes (msgpack): request with {BATCH} acks {req} B, grant of {BATCH} fake users {grant} B")
    figures = fleet(20_000, kill=False)
    seconds, requests, workers = float(figures["seconds"]), int(figures["requests"]), int(figures["workers"])  # type: ignore[arg-type]
    per_worker = requests / seconds / workers
    print(f"fleet (3 workers, 30 users, rows only): {figures['rows_per_s']} rows/s leased over {seconds}s")
    print(
        f"  lease messages: {per_worker:.1f} requests + {per_worker:.1f} grants per worker per second"
        f" (~{per_worker * (req + grant) / 1024:.0f} KiB/s per worker), + 1 health message per interval"
    )
    killed = fleet(100_000, kill=True)
    print(f"one worker SIGKILLed: its rows back in the pool after {killed.get('release_s')} s; {killed['reaped']}")


if __name__ == "__main__":
    main()
