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


def test_every_variable_follows_the_naming_rule() -> None:
    """LOADKIT_ + the flag without --/loadkit-, upper-cased: singular as the flag, never plural."""
    for opt in config.OPTIONS:
        name = opt.flag.removeprefix("--").removeprefix("loadkit-")
        assert opt.env_var == "LOADKIT_" + name.replace("-", "_").upper(), opt.flag
    assert {o.flag: o.env_var for o in config.OPTIONS}["--threshold"] == "LOADKIT_THRESHOLD"
    assert set(config.RENAMED.values()) <= {o.env_var for o in config.OPTIONS}


def test_an_old_variable_name_is_read_as_the_new_one_with_one_warning(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"LOADKIT_THRESHOLDS": "p95<50ms", "LOADKIT_AGENTS": "http://a:9100"}
    config.adopt_renamed(environ)
    config.adopt_renamed(environ)  # a second parser of the same process: silent
    assert environ["LOADKIT_THRESHOLD"] == "p95<50ms" and environ["LOADKIT_AGENT"] == "http://a:9100"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "LOADKIT_THRESHOLDS is deprecated" in lines[0] and "LOADKIT_THRESHOLD)" in lines[0]


def test_the_new_name_wins_over_an_old_one() -> None:
    environ = {"LOADKIT_THRESHOLDS": "p95<1ms", "LOADKIT_THRESHOLD": "p95<50ms"}
    config.adopt_renamed(environ)
    assert environ["LOADKIT_THRESHOLD"] == "p95<50ms"


def test_locust_prefix_for_a_loadkit_option_is_refused() -> None:
    """LOCUST_THRESHOLD was ignored without a word (a CI gate that never gated); now one line."""
    with pytest.raises(
        ConfigError, match=r"LOCUST_THRESHOLD is set.*rename it LOADKIT_THRESHOLD \(or pass --threshold\)"
    ):
        config.check_environment({"LOCUST_THRESHOLD": "p95<<50"})
    config.check_environment({"LOCUST_HOST": "http://x", "LOADKIT_THRESHOLD": "p95<50ms"})


def test_no_loadkit_variable_with_locusts_prefix_is_one_of_locusts_own() -> None:
    """check_environment never refuses a variable Locust itself reads."""
    from locust.argument_parser import get_parser

    own = {a.env_var for a in get_parser()._actions if getattr(a, "env_var", None)}
    assert own and not {"LOCUST_" + o.env_var.removeprefix("LOADKIT_") for o in config.OPTIONS} & own


def test_options_are_grouped_by_area_in_locusts_parser() -> None:
    from locust.argument_parser import get_parser

    import loadkit.run.plugin  # noqa: F401  (its listener adds the options, as in a locustfile)

    helptext = get_parser().format_help()
    for group in {o.group for o in config.OPTIONS}:
        assert group.startswith("loadkit: ") and f"\n{group}:\n" in helptext, group
