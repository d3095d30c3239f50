"""loadkit.fleet.version: the refusal line, and the hello/refused messages' payloads."""

from __future__ import annotations

import pytest

from loadkit.fleet.version import mismatch
from loadkit.messages import HELLO, REFUSED, Direction, Hello, MessageError, Refusal


def test_same_version_is_accepted() -> None:
    assert mismatch("w1", "1.2.3", "1.2.3") is None


def test_other_version_is_refused_with_both_versions_and_the_fix() -> None:
    assert mismatch("w1", "1.2.3", "1.3.0") == (
        "worker w1 runs loadkit 1.2.3, master runs 1.3.0: install the same version on every host"
    )


def test_messages_round_trip_and_directions() -> None:
    assert HELLO.direction is Direction.TO_MASTER and REFUSED.direction is Direction.TO_WORKER
    assert HELLO.decode(HELLO.encode(Hello("1.0"))) == Hello("1.0")
    assert REFUSED.decode(REFUSED.encode(Refusal("no"))) == Refusal("no")
    with pytest.raises(MessageError):
        HELLO.decode({"version": ""})
    with pytest.raises(MessageError):
        HELLO.decode({"version": "1", "extra": 1})
