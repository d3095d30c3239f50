"""loadkit._locust.forked: a child Locust forks ends when its parent is gone (Linux, real fork and prctl).

The forks happen in a fresh interpreter, not in the test process: late in a full suite the test
process carries threads and at-fork hooks of earlier tests (an exporter's thread, gevent's pool),
and a fork taken while one of them holds a lock can hang the child (CI, 2026-12-05: the middle
process never wrote its line; the read waited for pytest-timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")


def run(script: str) -> str:
    """Run ``script`` in a fresh Python with loadkit importable; its stdout (fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


_PRELUDE = """
import os, signal, time
from loadkit._locust import forked as _forked

def wait_exit(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise SystemExit(f"child {pid} still alive after {timeout:g}s")

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

libc = _forked._libc()
assert libc is not None
"""


def test_a_child_whose_parent_dies_gets_sigterm() -> None:
    """A middle process forks a grandchild that sleeps, then exits: the grandchild ends at once."""
    out = run(
        _PRELUDE
        + """
read, write = os.pipe()
middle = os.fork()
if middle == 0:  # the middle process: a forked Locust master in miniature
    try:
        os.close(read)
        parent = os.getpid()
        grandchild = os.fork()
        if grandchild == 0:
            try:
                _forked.die_with_parent(parent, libc)
                os.write(write, b"set\\n")
                time.sleep(30)
            finally:
                os._exit(0)
        os.write(write, f"{grandchild}\\n".encode())
    finally:
        os._exit(0)
os.close(write)
with os.fdopen(read) as lines:
    first, second = lines.readline().strip(), lines.readline().strip()
grandchild = int(first if first != "set" else second)
wait_exit(middle)
deadline = time.monotonic() + 10
while alive(grandchild):  # not our child: poll for it to end (a zombie has ended)
    if time.monotonic() > deadline:
        os.kill(grandchild, signal.SIGKILL)
        raise SystemExit("the grandchild outlived its parent")
    time.sleep(0.02)
print("ended")
"""
    )
    assert out.strip() == "ended"


def test_a_child_whose_parent_died_before_the_hook_ends_at_once() -> None:
    out = run(
        _PRELUDE
        + """
child = os.fork()
if child == 0:
    _forked.die_with_parent(os.getppid() + 1_000_000, libc)  # a parent that is not ours any more
    time.sleep(30)
    os._exit(0)
status = wait_exit(child)
print(os.WIFSIGNALED(status) and os.WTERMSIG(status))
"""
    )
    assert out.strip() == str(int(signal.SIGTERM))


def test_locust_forks_its_processes_workers_with_a_plain_fork() -> None:
    """The after-fork hook runs only for os.fork (gevent.fork calls it); Locust's --processes uses that."""
    import inspect

    import locust.main

    assert "gevent.fork()" in inspect.getsource(locust.main.main), (
        "locust.main no longer forks its --processes workers with gevent.fork(): "
        "loadkit._locust.forked's after-fork hook may not run in them"
    )
