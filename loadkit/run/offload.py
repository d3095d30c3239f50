"""Periodic work whose memory the master must not keep: done in a forked child, its result sent back.

Every ``--report-interval`` seconds a master builds its whole report (JSON, JUnit, HTML:
:mod:`loadkit.stats.checkpoint`) and its state file (:mod:`loadkit.fleet.resume`): millions of
short-lived objects, a peak that grows with the run (the timeline, the health histories). Done in
the master's own process, each such peak left memory behind — arenas kept by the few long-lived
objects allocated among the short-lived ones: an hour's soak measured the master +11.5 MiB
(+0.20 MiB/min) with checkpoints, +0.08 MiB/min without. So on Linux :func:`run` forks: the
child sees the master's memory as it was at that instant (copy-on-write: one consistent
snapshot, no copies taken in the loop), does the work, sends the small result back through a
pipe and exits; the master's heap never holds the document, and its CPU is spent beside the
loop, not in it (the loop pays the fork: <1 ms for a small master, a median 5 ms at 200 MiB); an
hour's soak measured the master +3.8 MiB. ``LOADKIT_OFFLOAD=thread`` (and any platform without
``fork``) takes the snapshot in the loop and does the work in gevent's thread pool instead.

**The child never runs the master's greenlets.** A gevent process that forks keeps every greenlet
in the child, and Python runs the at-fork handlers others registered inside ``fork()``: one that
yields (OpenTelemetry's SDK starts a thread in each of its processors' handlers, and a gevent
thread start waits on the hub) hands the child's copy of the hub the master's greenlets — which
then read the master's ZeroMQ sockets in the child (gevent issues #2196, #2202; measured here: 20
forks out of 20 with a yielding handler). Such a child spun at full CPU in a ZeroMQ ``recv`` and
never reached its work. So :func:`_fork` makes a new, empty hub current across the fork (the
original ``os.fork``, not gevent's, which would re-initialise the master's hub in the child):
whatever yields in the child runs on a loop that holds nothing of the master's, and the parent
puts its own hub back at once.

The child runs ``work(take())`` and nothing else: no socket of the master's, default
``SIGTERM``/``SIGINT`` (a ``locust`` process's children also get ``SIGTERM`` when their parent
dies: :mod:`loadkit._locust.forked`), then ``os._exit``. A child that takes longer than
``deadline`` seconds is killed and the call raises :class:`OffloadError`, so a wedged child
(a lock some other thread held at the fork) costs one checkpoint, not the run; the child arms
its own ``SIGALRM`` (default action: end) for a few seconds past that, and a parent whose wait
is interrupted (its greenlet killed) kills the child too, so no child outlives its deadline.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable
from os import _exit  # os._exit, imported by name (an attribute with _ reads as a private one)
from typing import Any, TypeVar

import gevent
import gevent.hub
import gevent.os
from gevent.monkey import get_original

A = TypeVar("A")
T = TypeVar("T")
#: Seconds a child may work before it is killed (a one-hour, 1,000-worker report takes ~0.5 s).
DEADLINE_S = 120.0
#: Seconds past the deadline at which a child ends itself (``SIGALRM``).
_SELF_KILL_AFTER_S = 5
#: The interpreter's own ``os.fork`` (at-fork handlers run; gevent's hub is not touched).
_raw_fork: Callable[[], int] = get_original("os", "fork") if hasattr(os, "fork") else os.getpid


class OffloadError(Exception):
    """The child failed: its exception, a signal, or the deadline (the message says which)."""


def forks() -> bool:
    """Whether :func:`run` forks here: on Linux unless ``LOADKIT_OFFLOAD=thread`` (module docstring)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("LOADKIT_OFFLOAD") != "thread"


def run(take: Callable[[], A], work: Callable[[A], T], deadline: float = DEADLINE_S) -> tuple[T, float]:
    """``work(take())`` away from the loop; ``(its result, seconds the loop spent)`` (module docstring).

    ``take`` reads the live state without yielding; ``work`` may take long. Forked, both run in the
    child; otherwise ``take`` runs in the loop and ``work`` in gevent's thread pool.
    """
    started = time.perf_counter()
    if not forks():
        taken = take()
        in_loop = time.perf_counter() - started
        return gevent.get_hub().threadpool.apply(work, (taken,)), in_loop
    read_fd, write_fd = os.pipe()
    pid = _fork()
    if pid == 0:  # the child
        _child(take, work, read_fd, write_fd, deadline)
    in_loop = time.perf_counter() - started
    os.close(write_fd)
    try:
        data = _read_all(read_fd, deadline)
    except BaseException:  # the deadline, or this greenlet killed: the child must not live on
        _kill(pid)
        raise
    finally:
        os.close(read_fd)
        _reap(pid)
    if not data:
        raise OffloadError("the child ended without a result (killed by a signal?)")
    kind, value = pickle.loads(data)
    if kind != "ok":
        raise OffloadError(str(value))
    return value, in_loop


def _fork() -> int:
    """``os.fork()`` with a new, empty hub current in the child (module docstring); 0 in the child."""
    own = gevent.get_hub()
    empty = gevent.hub.Hub(default=False)  # a loop of its own, not the process's default loop
    gevent.hub.set_hub(empty)
    pid = -1
    try:
        pid = _raw_fork()
    finally:
        if pid != 0:  # the parent (or a failed fork): its own hub back before anything can yield
            gevent.hub.set_hub(own)
            empty.destroy(destroy_loop=True)
    return pid


def _child(take: Callable[[], Any], work: Callable[[Any], Any], read_fd: int, write_fd: int, deadline: float) -> None:
    """In the forked child: the work, its result down the pipe, exit (never returns)."""
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(signum, signal.SIG_DFL)
        signal.alarm(int(deadline) + _SELF_KILL_AFTER_S)
        os.close(read_fd)
        try:
            out: tuple[str, Any] = ("ok", work(take()))
            data = pickle.dumps(out)
        except BaseException as exc:  # whatever it was, the parent says it
            data = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        view = memoryview(len(data).to_bytes(8, "little") + data)
        while view:
            view = view[os.write(write_fd, view) :]
    finally:
        _exit(0)  # no atexit, no finalizers: the master's sockets and files are the master's


def _read_all(fd: int, deadline: float) -> bytes:
    """The child's result (its length first), waiting cooperatively; killed past ``deadline``.

    Read up to its length, not to the pipe's end: waiting for the end hung now and then (1 to 3
    runs in 16 of a test's first fork: the whole result read, the parent's loop never woken by
    the pipe's close until something interrupted its ``epoll_wait``; not understood). With the
    length, 0 in 30.
    """
    gevent.os.make_nonblocking(fd)
    got = bytearray()
    try:
        with gevent.Timeout(deadline):
            while len(got) < 8 or len(got) < 8 + int.from_bytes(got[:8], "little"):
                chunk = gevent.os.nb_read(fd, 65536)
                if not chunk:  # the child ended before its whole result
                    return b""
                got += chunk
    except gevent.Timeout:
        raise OffloadError(f"the child took longer than {deadline:g} s and was killed") from None
    return bytes(got[8:])


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Wait for the child (its result is in: it is exiting; or it was killed), cooperatively.

    Polled with ``WNOHANG``: the child was not forked by gevent, so no child watcher of gevent's
    wakes a blocking wait for it; after 5 s it is killed and waited for.
    """
    delay, waited = 0.001, 0.0
    with contextlib.suppress(ChildProcessError):  # reaped already (gevent's SIGCHLD watcher reaps any child)
        while os.waitpid(pid, os.WNOHANG)[0] == 0:
            if waited > 5:
                _kill(pid)
                os.waitpid(pid, 0)
                return
            gevent.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
