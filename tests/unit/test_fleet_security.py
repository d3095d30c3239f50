"""The fleet secret: reading it, deriving the CURVE keys (pure parts of loadkit.fleet.security)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest
import zmq

from loadkit.exceptions import ConfigError
from loadkit.fleet import security

SECRET = "a" * 32


def test_keys_are_deterministic_distinct_and_valid() -> None:
    keys = security.derive_keys(SECRET)
    assert keys == security.derive_keys(SECRET)
    assert keys.server_public != keys.client_public
    assert zmq.curve_public(keys.server_secret) == keys.server_public
    assert zmq.curve_public(keys.client_secret) == keys.client_public
    other = security.derive_keys(SECRET + "b")
    assert {other.server_public, other.client_public}.isdisjoint({keys.server_public, keys.client_public})


def test_secret_from_value_or_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    assert security.read_secret(SECRET, None) == SECRET
    assert security.read_secret(None, str(path)) == SECRET
    assert security.read_secret("", "") is None  # an empty variable is an unset one


@pytest.mark.parametrize(
    ("value", "path", "line"),
    [
        ("short", None, r"has 5 characters, needs 16 to 64: generate one with python3 -c"),
        ("x" * 65, None, r"has 65 characters"),
        (SECRET, "/x", r"both LOADKIT_FLEET_SECRET and --fleet-secret-file are set: keep one"),
        (None, "/no/such/file", r"cannot read --fleet-secret-file '/no/such/file' \(No such file or directory\)"),
    ],
)
def test_bad_secret_is_one_line_naming_the_fix(value: str | None, path: str | None, line: str) -> None:
    with pytest.raises(ConfigError, match=line):
        security.read_secret(value, path)


def test_keys_from_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOADKIT_FLEET_SECRET", raising=False)
    monkeypatch.delenv("LOADKIT_FLEET_SECRET_FILE", raising=False)
    assert security.keys_from_options(Namespace(fleet_secret=None, fleet_secret_file=None)) is None
    monkeypatch.setenv("LOADKIT_FLEET_SECRET", SECRET)  # library mode: options hold defaults, the env var counts
    assert security.keys_from_options(Namespace(fleet_secret=None, fleet_secret_file=None)) == security.derive_keys(
        SECRET
    )
    assert security.keys_from_options(Namespace(fleet_secret=SECRET, fleet_secret_file=None)) == security.derive_keys(
        SECRET
    )


def test_closing_the_zap_handler_ends_the_servers_greenlets_and_its_monitor() -> None:
    """Left running they outlived every master, and ran on in forks of the process (loadkit.run.offload)."""
    import gevent
    import zmq.green as green

    context = green.Context()
    server = context.socket(zmq.ROUTER)
    try:
        zap = security.secure_server(server, security.derive_keys(SECRET))
        server.bind("tcp://127.0.0.1:*")
        gevent.sleep(0.01)
        assert zap.watch is not None and not zap.watch.dead and not zap.greenlet.dead
        zap.close()
        with gevent.Timeout(5):
            zap.watch.join()
            zap.greenlet.join()
        assert zap.watch.dead and zap.greenlet.dead
    finally:
        server.close(linger=0)
        context.term()
