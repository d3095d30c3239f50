"""Instructions per call of every user kind stay within bench/budgets.json, under callgrind.

Runs bench/instructions.py as the budgets were recorded (200 calls, 40 for streams, after a
warm-up; each variant in a process of its own, forked three at a time by one valgrind process
that imported gevent, grpc and Locust once: bench/_zygote.py; the bundled targets shared):
71-85 s on 2 cores shared with other work (104-124 s of CPU; one valgrind process per variant,
two at a time, took 144 s). Each variant is judged on its ratio to its bare reference in the
same run (the calling thread's instructions per call; grpcio's own threads, whose work depends
on timing, are left out), within a tolerance of three times its recorded spread (at least 2 %);
absolute counts fail only when the reference did not move or beyond +20 % (:mod:`bench._budgets`).
A variant that fails is measured once more, with its reference, before the test fails, so only
a cost that repeats fails it. Marked ``e2e`` too, so the fast loop (``-m "not e2e"``) leaves it
out; the README's test command runs it.

When a change costs instructions on purpose: ``python -m bench.instructions --update-budgets
--repeat 3`` and commit the new bench/budgets.json with the change.
"""

from __future__ import annotations

import pytest

from bench import instructions as bench
from tests.support.requirements import need_command

pytestmark = [pytest.mark.bench, pytest.mark.e2e]


@pytest.mark.timeout(1500)
def test_instructions_per_call_within_budgets() -> None:
    need_command("valgrind", "valgrind")
    budgets = bench.load_budgets()
    calls, warmup = int(budgets["calls"]), int(budgets["warmup"])
    rounds = bench.measure(bench.ORDER, calls, warmup)
    print(bench.table(rounds))
    lines, failures = bench.check(rounds[0], budgets)
    print("\n".join(lines))
    if failures:  # confirm: a real regression exceeds again; a one-off does not
        over = [line.split(" ", 1)[0] for line in failures]
        again = bench.measure(bench.with_references(over), calls, warmup)
        print("re-measured:\n" + bench.table(again))
        lines, failures = bench.check(again[0], budgets)
        print("\n".join(lines))
    assert not failures, (
        "instructions per call above budget (before -> now):\n"
        + "\n".join(failures)
        + "\nIf the cost is deliberate: .venv/bin/python -m bench.instructions --update-budgets --repeat 3"
        + " and commit bench/budgets.json"
    )
