"""loadkit.run.offload: periodic work in a forked child (its memory never the master's), or a thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

import gevent
import pytest

from loadkit.run import offload


@pytest.fixture(autouse=True)
def _forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking is opt-in (loadkit.run.offload's docstring): these tests opt in."""
    monkeypatch.setenv("LOADKIT_OFFLOAD", "fork")


def test_the_work_runs_in_a_child_on_the_snapshot_taken_there() -> None:
    state = {"n": 1}

    def take() -> tuple[int, int]:
        state["n"] += 1  # in the child: the parent's state is not touched
        return state["n"], os.getpid()

    (value, pid), in_loop = offload.run(take, lambda taken: (taken[0] * 10, taken[1]))
    assert (value, state["n"]) == (20, 1) and pid != os.getpid()
    assert in_loop >= 0


def test_the_loop_goes_on_while_the_child_works(tmp_path: Path) -> None:
    """The child waits for a file only a greenlet of the loop writes: it appears only if the loop runs."""
    flag = tmp_path / "flag"

    def wait_for_the_loop(_: None) -> bool:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return flag.exists()

    writer = gevent.spawn_later(0.05, flag.write_text, "the loop ran")
    try:
        seen, _ = offload.run(lambda: None, wait_for_the_loop)
    finally:
        writer.kill()
    assert seen


def test_a_failing_child_raises_with_its_reason_and_a_wedged_one_is_killed() -> None:
    with pytest.raises(offload.OffloadError, match="ZeroDivisionError"):
        offload.run(lambda: 0, lambda taken: 1 / taken)
    with pytest.raises(offload.OffloadError, match=r"longer than 0\.5 s and was killed"):
        offload.run(lambda: None, lambda _: time.sleep(600), deadline=0.5)


def test_a_child_ends_itself_past_its_deadline_even_if_nobody_kills_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own SIGALRM: the parent's kill is disabled here, and the call still returns (it reaps the child)."""
    monkeypatch.setattr(offload, "_SELF_KILL_AFTER_S", 1)
    monkeypatch.setattr(offload.os, "kill", lambda pid, sig: None)
    with pytest.raises(offload.OffloadError, match="longer than 1 s"):
        offload.run(lambda: None, lambda _: time.sleep(600), deadline=1.0)  # returns once the child is gone
