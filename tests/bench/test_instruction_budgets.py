"""Instructions per call of every user kind stay within bench/budgets.json (+3 %), under callgrind.

Runs bench/instructions.py as the budgets were recorded (200 calls, 40 for streams, after a
warm-up; every variant in turn, one valgrind process each, the two bundled targets shared):
~3-4 minutes on 2 cores, whatever else the machine does. Budgets hold the calling thread's
instructions per call, which repeat within ~0.7 % in runs this short (bidi ~2 %; grpcio's own
threads, whose work depends on timing, are left out of the check); a variant over budget is
measured once more before the test fails, so only a cost that repeats fails it. Marked ``e2e`` too, so the fast loop
(``-m "not e2e"``) leaves it out; the README's test command runs it.

When a change costs instructions on purpose: ``python -m bench.instructions --update-budgets``
and commit the new bench/budgets.json with the change.
"""

from __future__ import annotations

import pytest

from bench import instructions as bench
from tests.support.requirements import need_command

pytestmark = [pytest.mark.bench, pytest.mark.e2e]


@pytest.mark.timeout(1200)
def test_instructions_per_call_within_budgets() -> None:
    need_command("valgrind", "valgrind")
    budgets = bench.load_budgets()
    rounds = bench.measure(bench.ORDER, int(budgets["calls"]), int(budgets["warmup"]))  # type: ignore[call-overload]
    print(bench.table(rounds))
    lines, failures = bench.check(rounds[0], budgets)
    print("\n".join(lines))
    if failures:  # confirm: a real regression exceeds again; a one-off does not
        over = [line.split(" ", 1)[0] for line in failures]
        again = bench.measure(bench.with_references(over), int(budgets["calls"]), int(budgets["warmup"]))  # type: ignore[call-overload]
        print("re-measured:\n" + bench.table(again))
        merged = {r.variant: r for r in rounds[0]} | {r.variant: r for r in again[0]}
        lines, failures = bench.check([merged[v] for v in bench.with_references(over)], budgets)
        print("\n".join(lines))
    assert not failures, (
        "instructions per call above budget (before -> now):\n"
        + "\n".join(failures)
        + "\nIf the cost is deliberate: .venv/bin/python -m bench.instructions --update-budgets"
        + " and commit bench/budgets.json"
    )
