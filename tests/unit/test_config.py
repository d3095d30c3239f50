"""Option declarations: every numeric option has a range, and check() refuses values outside it."""

from __future__ import annotations

import math

import pytest

from loadkit import config
from loadkit.exceptions import ConfigError


def test_every_numeric_option_declares_its_range() -> None:
    numeric = [opt for opt in config.OPTIONS if opt.type in (int, float)]
    assert numeric, "no numeric options found"
    assert [opt.flag for opt in numeric if opt.minimum is None] == []
    config.check(config.defaults())  # the defaults themselves are in range


@pytest.mark.parametrize(
    ("dest", "value", "line"),
    [
        (
            "loadkit_health_interval",
            -1.0,
            r"--loadkit-health-interval -1 is out of range: give a number from 0\.1 to 3600",
        ),
        ("loadkit_health_interval", math.nan, r"--loadkit-health-interval nan is out of range"),
        ("loadkit_health_interval", math.inf, r"--loadkit-health-interval inf is out of range"),
        ("loadkit_data_batch", 0, r"--loadkit-data-batch 0 is out of range: give a number from 1 to 10000"),
        ("threshold_grace", -5.0, r"--threshold-grace -5 is out of range"),
        ("grpc_timeout", -1.0, r"--grpc-timeout -1 is out of range.*\(--grpc-timeout or LOADKIT_GRPC_TIMEOUT\)"),
    ],
)
def test_out_of_range_values_name_option_value_range_and_env_var(dest: str, value: float, line: str) -> None:
    with pytest.raises(ConfigError, match=line):
        config.check(config.defaults(**{dest: value}))


def test_bounds_are_inclusive() -> None:
    config.check(config.defaults(loadkit_health_interval=0.1, loadkit_data_batch=1, grpc_timeout=0.0))
