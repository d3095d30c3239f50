"""Judging instruction counts against bench/budgets.json: pure functions, no valgrind (tested in tests/unit).

What a budget protects is loadkit's cost over a bare loop doing the same work, so a variant is
judged on its **ratio to its reference** measured in the same run (``grpc-unary+plugin`` over
``bare-unary``): both run the same Python, gRPC and machine, so what moves both (a different
CPU's ``memcpy``, a library patch) cancels out. A re-measure on a fresh machine saw ``bare-bidi``
+2.2 % and ``grpc-bidi`` +3.0 %, ratio +0.8 %: that passes here; it failed a flat 3 % limit on
the absolute count.

Absolute counts are reported, and fail only

- when the reference did not move (within its own tolerance) while the variant grew beyond
  its tolerance: then nothing around it changed and the excess is the variant's own, or
- beyond :data:`WIDE` (+20 %), whatever the reference did: re-record the budgets then.

Both need the machine to match the budgets' ``environment`` (Python build, library versions);
on another, ratios only.

Tolerances come from each variant's measured spread: ``--update-budgets --repeat N`` records
half the range over N runs (``spread`` for the count, ``ratio_spread`` for the ratio); the
tolerance is :data:`SPREADS` times that, never below :data:`FLOOR`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: No tolerance below this (two runs of one build never agree better than ~0.3 %).
FLOOR = 0.02
#: Tolerance = this many measured spreads (half-ranges), at least FLOOR.
SPREADS = 3.0
#: An absolute count this far over budget fails even when its reference moved as much.
WIDE = 0.20


def tolerance(spread: float | None) -> float:
    """Allowed excess for a figure whose runs spread by ``spread`` (relative half-range)."""
    return max(FLOOR, SPREADS * (spread or 0.0))


def spread(values: Sequence[float]) -> float:
    """Half the range of ``values``, relative to their median."""
    mid = sorted(values)[len(values) // 2]
    return (max(values) - min(values)) / 2 / mid


def judge(
    now: Mapping[str, float],
    budgets: Mapping[str, Mapping[str, Any]],
    references: Mapping[str, str],
    same_env: bool,
) -> tuple[list[str], list[str]]:
    """Compare instructions per call ``now`` (variant -> count) with ``budgets``; returns (report lines, failures).

    ``budgets[variant]``: ``instructions``, and ``ratio`` for a variant with a reference in
    ``references``, plus optional ``spread`` / ``ratio_spread`` (see :func:`tolerance`).
    """
    lines: list[str] = []
    failures: list[str] = []
    for variant, got in now.items():
        budget = budgets.get(variant)
        if budget is None:
            lines.append(f"{variant}: {got:,.0f} instr/call, no budget")
            continue
        ref = references.get(variant)
        has_ratio = ref in now and ref in budgets and "ratio" in budget
        if has_ratio:
            assert ref is not None
            ratio = got / now[ref]
            limit = tolerance(budget.get("ratio_spread"))
            line = _line(variant, f"ratio to {ref}", budget["ratio"], ratio, limit)
            lines.append(line)
            if ratio / budget["ratio"] - 1 > limit:
                failures.append(f"{line}: over")
        excess = got / budget["instructions"] - 1
        limit = tolerance(budget.get("spread"))
        line = _line(variant, "instr/call", budget["instructions"], got, limit)
        if not same_env:
            lines.append(line + " (not judged: other environment)")
            continue
        ref_moved = _moved(ref, now, budgets) if has_ratio else None
        if excess > WIDE:
            lines.append(line)
            failures.append(f"{line}: over the wide bound +{100 * WIDE:.0f} % (re-record the budgets?)")
        elif excess > limit and ref_moved is False:
            lines.append(line)
            failures.append(f"{line}: over while {ref} did not move")
        elif excess > limit:
            why = f"{ref} moved {100 * ref_moved:+.1f} %" if ref_moved else "reference-free: wide bound only"
            lines.append(f"{line} (not judged: {why})")
        else:
            lines.append(line)
    return lines, failures


def _moved(ref: str | None, now: Mapping[str, float], budgets: Mapping[str, Mapping[str, Any]]) -> float | bool:
    """How far ``ref`` moved from its budget (relative), or False when within its own tolerance."""
    assert ref is not None
    entry = budgets[ref]
    change = now[ref] / entry["instructions"] - 1
    return change if abs(change) > tolerance(entry.get("spread")) else False


def _line(variant: str, what: str, before: float, after: float, limit: float) -> str:
    return (
        f"{variant} {what}: budget {before:,.4g} now {after:,.4g} ({100 * (after / before - 1):+.1f} %, "
        f"tolerance {100 * limit:.1f} %)"
    )


def entries(
    rounds: Sequence[Mapping[str, float]], references: Mapping[str, str], order: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Budget entries from ``rounds`` (each variant -> instructions per call): medians and spreads."""
    entry: dict[str, dict[str, Any]] = {}
    for variant in order:
        values = [r[variant] for r in rounds if variant in r]
        if not values:
            continue
        e: dict[str, Any] = {"instructions": round(sorted(values)[len(values) // 2])}
        if len(values) > 1:
            e["spread"] = round(spread(values), 4)
        ref = references.get(variant)
        ratios = [r[variant] / r[ref] for r in rounds if variant in r and ref in r]
        if ref is not None and ratios:
            e["ratio"] = round(sorted(ratios)[len(ratios) // 2], 4)
            if len(ratios) > 1:
                e["ratio_spread"] = round(spread(ratios), 4)
        entry[variant] = e
    return entry
