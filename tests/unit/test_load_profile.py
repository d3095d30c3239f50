"""Rate profiles: parsing, rates over time, and each iteration's intended start (pure)."""

from __future__ import annotations

import math

import pytest

from loadkit.exceptions import ConfigError
from loadkit.load.profile import RateProfile, Stage, parse_duration, parse_rate, parse_stages


def test_constant_rate_due_times_are_absolute() -> None:
    profile = RateProfile.constant(1000)
    assert profile.due(0) == 0.0
    assert profile.due(1) == pytest.approx(0.001)
    # no accumulation: the 3,600,000th iteration is due exactly at one hour
    assert profile.due(3_600_000) == pytest.approx(3600.0, abs=1e-9)
    assert profile.cumulative(2.5) == pytest.approx(2500)
    assert profile.rate_at(10) == 1000
    assert math.isinf(profile.duration)


def test_stages_ramp_linearly_like_k6() -> None:
    profile = RateProfile.ramping(parse_stages("10s:100,10s:100,0s:300,5s:300,5s:0"))
    assert profile.rate_at(5) == pytest.approx(50)  # halfway up the first ramp
    assert profile.rate_at(15) == pytest.approx(100)
    assert profile.rate_at(22) == pytest.approx(300)  # the 0 s stage jumped
    assert profile.rate_at(27.5) == pytest.approx(150)
    assert profile.duration == 30
    assert profile.total == pytest.approx(500 + 1000 + 1500 + 750)
    assert profile.due(math.ceil(profile.total)) is None


@pytest.mark.parametrize("text", ["10s:100,10s:100", "5s:50,5s:500,5s:10,5s:0", "0s:7,3s:7"])
def test_due_inverts_the_cumulative_count(text: str) -> None:
    profile = RateProfile.ramping(parse_stages(text))
    previous = -1.0
    for k in range(int(profile.total)):
        due = profile.due(k)
        assert due is not None and due >= previous  # in order
        assert profile.cumulative(due) == pytest.approx(k, abs=1e-6)
        previous = due


def test_first_due_at_or_after() -> None:
    profile = RateProfile.constant(10)
    assert profile.first_due_at_or_after(0) == 0
    assert profile.first_due_at_or_after(0.25) == 3  # due at 0.3
    assert profile.first_due_at_or_after(0.3) == 3
    ramp = RateProfile.ramping(parse_stages("10s:100"))
    k = ramp.first_due_at_or_after(5.0)
    assert ramp.due(k) >= 5.0 > ramp.due(k - 1)  # type: ignore[operator]


def test_parse_rate_and_duration() -> None:
    assert parse_rate("100") == 100
    assert parse_rate("6000/m") == pytest.approx(100)
    assert parse_rate(2.5) == 2.5
    assert parse_duration("1m30s") == 90
    assert parse_duration("2.5") == 2.5
    assert parse_stages("1m:10") == (Stage(60, 10),)


@pytest.mark.parametrize("text", ["0", "-5", "abc", "nan", "inf", "10/d"])
def test_bad_rates_name_the_value(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--arrival-rate"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "part"),
    [("", "empty"), ("30s", "missing ':'"), ("30x:10", "bad duration"), ("30s:-1", "bad rate"), ("0s:10", "lasts 0 s")],
)
def test_bad_stages_name_the_part(text: str, part: str) -> None:
    with pytest.raises(ConfigError, match=part):
        parse_stages(text)
