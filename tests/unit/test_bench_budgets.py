"""The budget check of bench/instructions.py (pure: made-up results, no valgrind)."""

from __future__ import annotations

from typing import Any

from bench import _callgrind, instructions


def bench() -> Any:
    return instructions


def budgets(b: Any, same_env: bool) -> dict[str, Any]:
    env = b.environment() if same_env else {**b.environment(), "grpcio": "0.0.1"}
    return {
        "calls": 300,
        "warmup": 50,
        "environment": env,
        "variants": {
            "bare-unary": {"instructions": 400_000},
            "grpc-unary+plugin": {"instructions": 440_000, "ratio": 1.10},
        },
    }


def results(b: Any, bare: int, grpc: int) -> list[Any]:
    return [b.Result("bare-unary", bare * 10, 10, 1.0), b.Result("grpc-unary+plugin", grpc * 10, 10, 1.0)]


def test_within_three_percent_passes() -> None:
    b = bench()
    lines, failures = b.check(results(b, 404_000, 452_000), budgets(b, same_env=True))
    assert failures == []
    assert any("grpc-unary+plugin instr/call: budget 4.4e+05 now 4.52e+05 (+2.7 %)" in line for line in lines), lines


def test_above_three_percent_fails_naming_before_and_after() -> None:
    b = bench()
    _lines, failures = b.check(results(b, 400_000, 460_000), budgets(b, same_env=True))
    assert len(failures) == 2  # instructions and ratio both +4.5 %
    assert "budget 4.4e+05 now 4.6e+05 (+4.5 %)" in failures[0]


def test_other_environment_checks_ratios_only() -> None:
    b = bench()
    # 10 % more instructions everywhere (another grpcio) but the same ratio: passes.
    lines, failures = b.check(results(b, 440_000, 484_000), budgets(b, same_env=False))
    assert failures == []
    assert "checking ratios only" in lines[0] and "grpcio" in lines[0]
    _lines, failures = b.check(results(b, 440_000, 500_000), budgets(b, same_env=False))
    assert len(failures) == 1 and "ratio to bare-unary" in failures[0]


def test_client_requests_are_no_ops_outside_valgrind() -> None:
    assert _callgrind.running_on_valgrind() is False
    _callgrind.start_window()  # nothing happens on a real CPU
    _callgrind.end_window()
