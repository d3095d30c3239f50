"""The web UI's access policy (pure): when login is on, which secret, which origins."""

from __future__ import annotations

import argparse

import pytest

from loadkit.exceptions import ConfigError
from loadkit.web.access import is_loopback, policy


def opts(**values: object) -> argparse.Namespace:
    base: dict[str, object] = {"web_user": "loadkit", "web_password": None, "web_token": None}
    base.update(web_no_login=False, web_cors_origin=None, web_login=False)
    return argparse.Namespace(**{**base, **values})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True)],
        *[("", False), ("*", False), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("ui.example", False)],
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_login_is_on_out_of_the_box_wherever_other_hosts_can_reach_the_ui() -> None:
    for bind in ("", "0.0.0.0", "::", "10.0.0.5"):
        access = policy(opts(), bind)
        assert access.login and access.generated and len(access.secrets[0]) >= 20, bind
    assert policy(opts(), "").secrets != policy(opts(), "").secrets  # a new token per process


def test_loopback_without_a_secret_has_no_login_and_a_secret_turns_it_on() -> None:
    assert not policy(opts(), "127.0.0.1").login
    token = policy(opts(web_token="t0k"), "127.0.0.1")
    assert token.login and token.secrets == ("t0k",) and not token.generated
    both = policy(opts(web_password="pw", web_token="t0k", web_user="ops"), "0.0.0.0")
    assert both.secrets == ("pw", "t0k") and both.user == "ops"


def test_no_login_is_explicit_and_does_not_mix_with_secrets() -> None:
    assert not policy(opts(web_no_login=True), "0.0.0.0").login
    with pytest.raises(ConfigError, match="--web-no-login with --web-login, --web-password or --web-token: choose one"):
        policy(opts(web_no_login=True, web_token="x"), "0.0.0.0")


def test_locusts_web_login_alone_means_the_locustfiles_own_auth() -> None:
    assert not policy(opts(web_login=True), "0.0.0.0").login
    assert policy(opts(web_login=True, web_password="pw"), "0.0.0.0").login


def test_origins_are_normalised() -> None:
    assert policy(opts(web_cors_origin=["https://a.example/"]), "127.0.0.1").origins == ("https://a.example",)
