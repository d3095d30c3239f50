"""loadkit.run.offload: periodic work in a forked child (its memory never the master's), or a thread."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest

from loadkit.run import offload


@pytest.fixture(autouse=True)
def _forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking is the default on Linux; set here so that a LOADKIT_OFFLOAD=thread outside changes nothing."""
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


#: A master-like process: gevent, greenlets that write their pid to a file (as the master's greenlets
#: read its sockets), and a real OpenTelemetry SDK processor, whose at-fork handler starts a thread:
#: under gevent that yields inside fork(). argv: the file, then "offload" or "gevent" (the control).
_STRANGERS = r"""
import gevent.monkey; gevent.monkey.patch_all()
import os, sys
import gevent
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from loadkit.run import offload

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=open(os.devnull, "w"))))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
stop = []

def greenlet_of_the_master():
    while not stop:
        gevent.sleep(0.002)
        os.write(fd, b"%d\n" % os.getpid())

greenlets = [gevent.spawn(greenlet_of_the_master) for _ in range(3)]
gevent.sleep(0.05)
results = 0
for _ in range(20):
    if sys.argv[2] == "offload":
        value, _ = offload.run(lambda: 20, lambda taken: taken + 1)
        results += value == 21
    else:
        pid = os.fork()  # gevent's, monkey-patched
        if pid == 0:
            os._exit(0)
        while os.waitpid(pid, os.WNOHANG)[0] == 0:
            gevent.sleep(0.005)
        results += 1
stop.append(1)
gevent.joinall(greenlets)
print(results, os.getpid())
"""


@pytest.mark.parametrize("how", ["gevent", "offload"])
def test_a_child_never_runs_the_masters_greenlets_even_when_an_at_fork_handler_yields(tmp_path: Path, how: str) -> None:
    """gevent issues #2196/#2202, with OpenTelemetry's SDK as the handler: the control shows the hazard."""
    pids = tmp_path / "pids"
    pids.touch()
    env = {**os.environ, "LOADKIT_OFFLOAD": "fork"}
    done = subprocess.run(
        [sys.executable, "-c", _STRANGERS, str(pids), how], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and done.stdout.split()[0] == "20", done.stderr[-2000:]
    strangers = {int(line) for line in pids.read_text().split()} - {int(done.stdout.split()[1])}
    if how == "gevent":
        assert strangers, "gevent's own fork no longer resumes the parent's greenlets: this control is moot"
    else:
        assert not strangers, f"{len(strangers)} forked children ran the master's greenlets"
