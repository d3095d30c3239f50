"""When a load generator is saturated: the rule the master's health store and the charts share (pure).

Response times measured on a saturated worker include its own queueing and must be
distrusted: CPU above :data:`CPU_LIMIT` or gevent loop lag above :data:`LAG_LIMIT_MS`. A
worker's first :data:`WARMUP_SAMPLES` samples cover its start (imports, the runner and the
first users starting: loop lags of 130-220 ms were seen on idle workers) and never count;
after that it is saturated only when :data:`CONSECUTIVE` samples in a row say so.
"""

from __future__ import annotations

from collections.abc import Mapping

CPU_LIMIT = 90.0
LAG_LIMIT_MS = 100.0
#: Samples of each worker that cover its start-up and never make a verdict.
WARMUP_SAMPLES = 1
#: Saturated samples in a row before a worker counts as saturated (and a warning is logged).
CONSECUTIVE = 2


def saturation(sample: Mapping[str, float]) -> str | None:
    """Why ``sample`` shows a saturated worker, or None.

    >>> saturation({"cpu_percent": 97.0, "loop_lag_ms": 20.0})
    'CPU 97% > 90%'
    """
    reasons = []
    if sample.get("cpu_percent", 0.0) > CPU_LIMIT:
        reasons.append(f"CPU {sample['cpu_percent']:.0f}% > {CPU_LIMIT:.0f}%")
    if sample.get("loop_lag_ms", 0.0) > LAG_LIMIT_MS:
        reasons.append(f"loop lag {sample['loop_lag_ms']:.0f} ms > {LAG_LIMIT_MS:.0f} ms")
    return ", ".join(reasons) or None
