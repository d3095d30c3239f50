"""loadkit.plain: which runs are loadkit runs (a loadkit class or option) and which are plain Locust."""

from __future__ import annotations

import argparse

import pytest
from locust import HttpUser, User

from loadkit import config
from loadkit.plain import environment_uses_loadkit, is_loadkit_class, loadkit_options, uses_loadkit


class PlainUser(HttpUser):
    host = "http://127.0.0.1:1"


def test_defaults_of_every_option_are_a_plain_run() -> None:
    assert loadkit_options(config.defaults()) == []
    assert loadkit_options(None) == []
    assert not uses_loadkit(config.defaults(), [PlainUser, User])


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"threshold": ["p95<50ms"]}, "--threshold"),
        ({"loadkit_preflight": False}, "--loadkit-preflight"),
        ({"web_password": "s3cret-s3cret"}, "--web-password"),
        ({"fleet_secret": "x" * 32}, "--fleet-secret"),
        ({"arrival_rate": 5.0}, "--arrival-rate"),
    ],
)
def test_any_loadkit_option_off_its_default_makes_a_loadkit_run(overrides: dict[str, object], flag: str) -> None:
    options = config.defaults(**overrides)
    assert loadkit_options(options) == [flag]
    assert uses_loadkit(options, [PlainUser])


def test_a_loadkit_user_class_or_a_subclass_of_one_makes_a_loadkit_run() -> None:
    from loadkit import GrpcUser, RestUser

    class Mine(RestUser):
        host = "http://127.0.0.1:1"

    assert is_loadkit_class(GrpcUser) and is_loadkit_class(Mine)
    assert not is_loadkit_class(PlainUser) and not is_loadkit_class(User)
    assert uses_loadkit(config.defaults(), [PlainUser, Mine])


def test_an_environment_without_parsed_options_is_judged_by_its_classes() -> None:
    from locust.env import Environment

    assert not environment_uses_loadkit(Environment(user_classes=[PlainUser]))
    env = Environment(user_classes=[PlainUser], parsed_options=argparse.Namespace(threshold=["p95<1s"]))
    assert environment_uses_loadkit(env)
