"""Instructions per call of every user kind stay within bench/budgets.json (+3 %), under callgrind.

Runs bench/instructions.py as the budgets were recorded (300 calls, 60 for streams, after a
warm-up; every variant in turn, one valgrind process each, the two bundled targets shared):
~3 minutes on 2 cores, whatever else the machine does (instruction counts do not depend on
load; the spread between runs is below 0.5 %). Marked ``e2e`` too, so the fast loop
(``-m "not e2e"``) leaves it out; the README's test command runs it.

When a change costs instructions on purpose: ``python bench/instructions.py --update-budgets``
and commit the new bench/budgets.json with the change.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.e2e]


def load_bench() -> object:
    """bench/instructions.py as a module (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("loadkit_bench_instructions", ROOT / "bench" / "instructions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        message = "valgrind is not installed: apt-get install valgrind (the instruction-count budgets need it)"
        if os.environ.get("LOADKIT_TESTS_STRICT") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.timeout(1200)
def test_instructions_per_call_within_budgets() -> None:
    require_valgrind()
    bench = load_bench()
    budgets = bench.load_budgets()  # type: ignore[attr-defined]
    rounds = bench.measure(bench.ORDER, int(budgets["calls"]), int(budgets["warmup"]))  # type: ignore[attr-defined]
    print(bench.table(rounds))  # type: ignore[attr-defined]
    lines, failures = bench.check(rounds[0], budgets)  # type: ignore[attr-defined]
    print("\n".join(lines))
    assert not failures, (
        "instructions per call above budget (before -> now):\n"
        + "\n".join(failures)
        + "\nIf the cost is deliberate: python bench/instructions.py --update-budgets, and commit bench/budgets.json"
    )
