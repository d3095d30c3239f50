"""Parsing of the gRPC target's fault-injection metadata (targets/grpc/faults.py)."""

from __future__ import annotations

import random

import grpc
import pytest

from loadkit.targets.grpc.faults import BadFaultMetadata, Faults, parse_faults, parse_status


def test_no_metadata_means_no_faults() -> None:
    assert parse_faults(None) == Faults()
    assert parse_faults([("user-agent", "x"), ("x-other", "1")]) == Faults()


def test_all_keys_are_read() -> None:
    faults = parse_faults(
        [("x-delay-ms", "250"), ("x-status", "ABORTED"), ("x-fail-percent", "12.5"), ("x-fail-after", "3")]
    )
    assert faults == Faults(delay_s=0.25, status=grpc.StatusCode.ABORTED, fail_percent=12.5, fail_after=3)


def test_binary_metadata_values_are_ignored() -> None:
    assert parse_faults([("x-delay-ms-bin", b"\x00")]) == Faults()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NOT_FOUND", grpc.StatusCode.NOT_FOUND),
        (" not_found ", grpc.StatusCode.NOT_FOUND),
        ("14", grpc.StatusCode.UNAVAILABLE),
        ("0", grpc.StatusCode.OK),
    ],
)
def test_status_by_name_or_number(text: str, code: grpc.StatusCode) -> None:
    assert parse_status(text) == code


@pytest.mark.parametrize("text", ["NOPE", "17", "-1", ""])
def test_unknown_status_names_the_key_and_the_fix(text: str) -> None:
    with pytest.raises(BadFaultMetadata, match=r"x-status .* NOT_FOUND or 0-16"):
        parse_status(text)


@pytest.mark.parametrize(
    ("key", "value"),
    [("x-delay-ms", "-1"), ("x-delay-ms", "later"), ("x-fail-percent", "101"), ("x-fail-after", "-2")],
)
def test_out_of_range_numbers_are_rejected_with_the_key(key: str, value: str) -> None:
    with pytest.raises(BadFaultMetadata, match=key):
        parse_faults([(key, value)])


def test_roll_unavailable_follows_the_percentage() -> None:
    rng = random.Random(7)
    assert not any(Faults(fail_percent=0).roll_unavailable(rng) for _ in range(100))
    assert all(Faults(fail_percent=100).roll_unavailable(rng) for _ in range(100))
    hits = sum(Faults(fail_percent=30).roll_unavailable(rng) for _ in range(10_000))
    assert 2_500 < hits < 3_500


def test_streams_fail_with_x_status_or_internal() -> None:
    assert Faults(fail_after=1).stream_status == grpc.StatusCode.INTERNAL
    assert Faults(fail_after=1, status=grpc.StatusCode.ABORTED).stream_status == grpc.StatusCode.ABORTED
