"""Shared harness of bench.grpc_user and bench.rest_user (not a benchmark itself).

The parent starts a bundled target (``loadkit target KIND --port 0``) and runs each
variant in its own child process (one process each, same user count, same duration),
alternating variants over rounds so they share the machine's state. A child reports
completed calls and its own CPU seconds; the parent prints calls/s and CPU µs per call,
and each variant's ratio to the reference: the median of the rounds with their min-max.

Wall-clock and CPU-time ratios on a shared machine carry ±10 % noise (three runs of the same
code measured 1.09x, 1.18x and 1.29x): for a figure that holds, use bench/instructions.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from loadkit.targets.launcher import launch

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def target(kind: str) -> Iterator[str]:
    """Run ``loadkit target KIND`` on a free port; yields "127.0.0.1:PORT"."""
    with launch(kind) as running:
        yield running.address


def run_child(module: str, variant: str, address: str, users: int, seconds: float) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        module,
        "--child",
        variant,
        "--address",
        address,
        "--users",
        str(users),
        "--seconds",
        str(seconds),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed: {out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def compare(
    module: str,
    address: str,
    groups: Sequence[tuple[str, Sequence[str]]],
    users: int,
    seconds: float,
    rounds: int,
    pairs: Sequence[tuple[str, str]] = (),
) -> None:
    """Run every group's variants ``rounds`` times; the first of a group is its reference; ``pairs`` compared too."""
    for title, variants in groups:
        print(f"\n== {title}: {users} users, {seconds:g} s per run, {rounds} rounds, 1 process each")
        rows: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for _ in range(rounds):
            for variant in variants:
                rows[variant].append(run_child(module, variant, address, users, seconds))
        ref = variants[0]
        for variant in variants:
            rps = [r["calls"] / r["wall"] for r in rows[variant]]
            cpu = [r["cpu"] / r["calls"] * 1e6 for r in rows[variant]]
            ratios = [a / b for a, b in zip(rps, (r["calls"] / r["wall"] for r in rows[ref]), strict=True)]
            cpu_ratios = [a / b for a, b in zip(cpu, (r["cpu"] / r["calls"] * 1e6 for r in rows[ref]), strict=True)]
            print(
                f"{variant:>14}: {spread(rps, '.0f')} calls/s  {spread(cpu, '.1f')} µs CPU/call  "
                f"RPS ratio vs {ref}: {spread(ratios, '.2f')}  CPU/call ratio: {spread(cpu_ratios, '.2f')}"
            )
        for mine, theirs in pairs:
            if mine in rows and theirs in rows:
                ratio = [
                    (a["calls"] / a["wall"]) / (b["calls"] / b["wall"])
                    for a, b in zip(rows[mine], rows[theirs], strict=True)
                ]
                print(f"{mine} / {theirs} RPS ratio: {spread(ratio, '.2f')}")
    print(NOISE)


#: Printed under every wall-clock result.
NOISE = (
    "(median of rounds, min-max in brackets; wall-clock ratios on a shared machine carry ±10 % noise: "
    "bench/instructions.py counts instructions instead)"
)


def spread(values: Sequence[float], fmt: str) -> str:
    """``median (min-max)`` of ``values``."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main(
    module: str,
    kind: str,
    groups: Sequence[tuple[str, Sequence[str]]],
    child: Callable[[str, str, int, float], None],
    pairs: Sequence[tuple[str, str]] = (),
    before: Callable[[], None] | None = None,
) -> None:
    """The command line of a user benchmark: as parent it compares ``groups``; as child runs one variant."""
    parser = argparse.ArgumentParser(description=(sys.modules["__main__"].__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child")
    parser.add_argument("--address")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.address, args.users, args.seconds)
        return
    if before is not None:
        before()
    with target(kind) as address:
        compare(module, address, groups, args.users, args.seconds, args.rounds, pairs=pairs)


def child_report(calls: int, wall: float, cpu: float) -> None:
    print(json.dumps({"calls": calls, "wall": wall, "cpu": cpu}))


def run_locust_users(user_class: type, users: int, seconds: float, count: Callable[[], int]) -> None:
    """Run ``user_class`` in a local runner for ``seconds`` and print the child report."""
    import os

    import gevent
    from locust.env import Environment

    env = Environment(user_classes=[user_class])
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    while runner.user_count < users:
        gevent.sleep(0.01)
    gevent.sleep(1.0)  # warm-up: connections made
    start_calls, start, start_cpu = count(), time.perf_counter(), os.times()
    gevent.sleep(seconds)
    calls, wall, end_cpu = count() - start_calls, time.perf_counter() - start, os.times()
    runner.quit()
    child_report(calls, wall, (end_cpu.user + end_cpu.system) - (start_cpu.user + start_cpu.system))
