"""loadkit._locust.forked: a child Locust forks ends when its parent is gone (Linux, real fork and prctl)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from loadkit._locust import forked as _forked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")


def wait_exit(pid: int, timeout: float = 10.0) -> int:
    """The exit status of child ``pid`` (waits for it; fails at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} still alive after {timeout:g}s")


def test_a_child_whose_parent_dies_gets_sigterm() -> None:
    """A middle process forks a grandchild that sleeps, then exits: the grandchild ends at once."""
    libc = _forked._libc()
    assert libc is not None
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle process: a forked Locust master in miniature
        # SIGTERM's default action, not a handler inherited from the test process: a Python handler
        # that raised would carry this fork on into pytest (holding the pipe: the reads hang).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.close(read)
            parent = os.getpid()
            grandchild = os.fork()
            if grandchild == 0:
                try:
                    _forked.die_with_parent(parent, libc)
                    os.write(write, b"set\n")
                    time.sleep(30)
                finally:
                    os._exit(0)
            os.write(write, f"{grandchild}\n".encode())
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
            raise AssertionError("the grandchild outlived its parent")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_child_whose_parent_died_before_the_hook_ends_at_once() -> None:
    libc = _forked._libc()
    assert libc is not None
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _forked.die_with_parent(os.getppid() + 1_000_000, libc)  # a parent that is not ours any more
        time.sleep(30)
        os._exit(0)
    status = wait_exit(child)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_locust_forks_its_processes_workers_with_a_plain_fork() -> None:
    """The after-fork hook runs only for os.fork (gevent.fork calls it); Locust's --processes uses that."""
    import inspect

    import locust.main

    assert "gevent.fork()" in inspect.getsource(locust.main.main), (
        "locust.main no longer forks its --processes workers with gevent.fork(): "
        "loadkit._locust.forked's after-fork hook may not run in them"
    )
