"""The open-model options, read once; a bad rate, stages or pool is one line (pure)."""

from __future__ import annotations

import argparse

import pytest

from loadkit.exceptions import ConfigError
from loadkit.load.settings import DEFAULT_MAX_LATENESS_S, from_options


def options(**values: object) -> argparse.Namespace:
    base = {"arrival_rate": None, "arrival_stages": None, "max_users": None, "max_lateness": None, "num_users": None}
    return argparse.Namespace(**{**base, **values})


def test_settings() -> None:
    assert from_options(options()) is None
    settings = from_options(options(arrival_rate="250", max_users="40"))
    assert settings is not None and settings.rate == 250 and settings.max_users == 40
    assert settings.max_lateness_s == DEFAULT_MAX_LATENESS_S
    ramp = from_options(options(arrival_stages="10s:30,10s:0", max_lateness="2.5"))
    assert ramp is not None and ramp.max_users == 30 and ramp.max_lateness_s == 2.5  # pool default: peak x 1 s
    assert from_options(options(arrival_rate="5", num_users=10)) is not None  # -u only refused on the CLI


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"arrival_rate": "0"}, "--arrival-rate '0' must be a number > 0"),
        ({"arrival_rate": "-3"}, "--arrival-rate '-3'"),
        ({"arrival_stages": "10s:0"}, "never has a rate above 0"),
        ({"arrival_stages": "10s"}, "missing ':'"),
        ({"arrival_rate": "10", "arrival_stages": "1s:1"}, "both given"),
        ({"arrival_rate": "10", "num_users": 5}, "with -u/--users 5"),
        ({"arrival_rate": "10", "max_users": "0"}, "--max-users 0 must be a whole number >= 1"),
        ({"max_users": "5"}, "add --arrival-rate"),
        ({"arrival_rate": "10", "max_lateness": "-1"}, "--max-lateness"),
    ],
)
def test_bad_settings_one_line(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        from_options(options(**values), check_users=True)
    assert "\n" not in str(info.value)
