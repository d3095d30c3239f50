"""Host parsing, TLS credentials and the reference-counted shared channels."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from loadkit import ConfigError
from loadkit.users.grpc_channel import ChannelSpec, SharedChannels, channel_options, credentials, parse_host


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("grpc://127.0.0.1:50051", ("127.0.0.1:50051", False)),
        ("grpcs://example.org:443/", ("example.org:443", True)),
        ("127.0.0.1:1", ("127.0.0.1:1", False)),
    ],
)
def test_parse_host(host: str, expected: tuple[str, bool]) -> None:
    assert parse_host(host) == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (None, "needs a host"),
        ("http://x:1", "scheme 'http'"),
        ("grpc://x:1/path", "not HOST:PORT"),
        ("grpc://", "not HOST:PORT"),
    ],
)
def test_bad_hosts_say_how_to_fix(host: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_host(host)


def test_mtls_needs_cert_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both client_cert and client_key"):
        credentials(ChannelSpec("x:1", True, client_cert=str(tmp_path / "c.pem")))


def test_unreadable_root_ca_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"root_certificates .*missing\.pem"):
        credentials(ChannelSpec("x:1", True, root_certificates=str(tmp_path / "missing.pem")))


def test_tls_credentials_from_system_roots() -> None:
    assert isinstance(credentials(ChannelSpec("x:1", True)), grpc.ChannelCredentials)


def test_shared_channels_are_reference_counted() -> None:
    pool = SharedChannels()
    spec = ChannelSpec("127.0.0.1:9")
    first, second = pool.acquire(spec), pool.acquire(spec)
    other = pool.acquire(ChannelSpec("127.0.0.1:9", options=(("grpc.max_send_message_length", 10),)))
    assert first is second and other is not first
    pool.release(spec)
    assert len(pool) == 2
    pool.release(spec)
    pool.release(spec)  # once too often: ignored
    assert len(pool) == 1
    pool.release(ChannelSpec("127.0.0.1:9", options=(("grpc.max_send_message_length", 10),)))
    assert len(pool) == 0


def test_reconnect_backoff_defaults_suit_load_tests() -> None:
    """A restarted target is retried within ~1 s, not after gRPC's default backoff of up to 120 s."""
    options = dict(channel_options(ChannelSpec("x:1")))
    assert options["grpc.initial_reconnect_backoff_ms"] == 200
    assert options["grpc.max_reconnect_backoff_ms"] == 1000


def test_user_channel_options_override_the_defaults() -> None:
    spec = ChannelSpec("x:1", options=(("grpc.max_reconnect_backoff_ms", 30000), ("grpc.lb_policy_name", "pick_first")))
    options = channel_options(spec)
    assert dict(options)["grpc.max_reconnect_backoff_ms"] == 30000
    assert dict(options)["grpc.initial_reconnect_backoff_ms"] == 200
    assert ("grpc.lb_policy_name", "pick_first") in options
    assert len(options) == len(dict(options)), "each option once"
