"""Periodic work whose memory the master must not keep: done in a forked child, its result sent back.

Every ``--report-interval`` seconds a master builds its whole report (JSON, JUnit, HTML:
:mod:`loadkit.stats.checkpoint`) and its state file (:mod:`loadkit.fleet.resume`): millions of
short-lived objects, a peak that grows with the run (the timeline, the health histories). Done in
the master's own process, each such peak left memory behind — arenas kept by the few long-lived
objects allocated among the short-lived ones: an hour's soak measured the master +11.5 MiB
(+0.20 MiB/min) with checkpoints, +0.08 MiB/min without. So with ``LOADKIT_OFFLOAD=fork`` (Linux)
:func:`run` forks: the
child sees the master's memory as it was at that instant (copy-on-write: one consistent
snapshot, no copies taken in the loop), does the work, sends the small result back through a
pipe and exits; the master's heap never holds the document, and its CPU is spent beside the
loop, not in it (the loop pays the fork: a few ms); an hour's soak measured the master +3.8 MiB.
**Off by default** (an experiment, not a user option yet): in full test-suite runs a forked copy of
the pytest process was seen spinning in gevent's loop, running the parent's greenlets (a ZeroMQ
watch), with SIGALRM caught — so it had not reached :func:`_child`'s set-up; not understood. A child
of a master that ran the master's greenlets could write on sockets it shares with the master. By
default the snapshot is taken in the loop and the work runs in gevent's thread pool, as before.

The child runs ``work(take())`` and nothing else: no greenlet switch, no socket, default
``SIGTERM``/``SIGINT`` (a ``locust`` process's children also get ``SIGTERM`` when their parent
dies: :mod:`loadkit._locust.forked`), then ``os._exit``. A child that takes longer than
``deadline`` seconds is killed and the call raises :class:`OffloadError`, so a wedged child
(a lock some other thread held at the fork) costs one checkpoint, not the run; and the child
arms its own ``SIGALRM`` (default action: end) for a few seconds past that, so no child outlives
its deadline whatever happens to it or to the parent that should have killed it.
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
import gevent.os

A = TypeVar("A")
T = TypeVar("T")
#: Seconds a child may work before it is killed (a one-hour, 1,000-worker report takes ~0.5 s).
DEADLINE_S = 120.0
#: Seconds past the deadline at which a child ends itself (``SIGALRM``).
_SELF_KILL_AFTER_S = 5


class OffloadError(Exception):
    """The child failed: its exception, a signal, or the deadline (the message says which)."""


def forks() -> bool:
    """Whether :func:`run` forks here (Linux with ``LOADKIT_OFFLOAD=fork``; module docstring)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("LOADKIT_OFFLOAD") == "fork"


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
    pid = gevent.os.fork()
    if pid == 0:  # the child
        _child(take, work, read_fd, write_fd, deadline)
    in_loop = time.perf_counter() - started
    os.close(write_fd)
    try:
        data = _read_all(read_fd, pid, deadline)
    finally:
        os.close(read_fd)
        _reap(pid)
    if not data:
        raise OffloadError("the child ended without a result (killed by a signal?)")
    kind, value = pickle.loads(data)
    if kind != "ok":
        raise OffloadError(str(value))
    return value, in_loop


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
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    finally:
        _exit(0)  # no atexit, no finalizers: the master's sockets and files are the master's


def _read_all(fd: int, pid: int, deadline: float) -> bytes:
    """The child's whole result (until it closes the pipe), waiting cooperatively; killed past ``deadline``."""
    gevent.os.make_nonblocking(fd)
    chunks: list[bytes] = []
    try:
        with gevent.Timeout(deadline):
            while chunk := gevent.os.nb_read(fd, 65536):
                chunks.append(chunk)
    except gevent.Timeout:
        os.kill(pid, signal.SIGKILL)
        raise OffloadError(f"the child took longer than {deadline:g} s and was killed") from None
    return b"".join(chunks)


def _reap(pid: int) -> None:
    """Wait for the child (it closed its pipe: it is exiting, or was killed)."""
    with contextlib.suppress(ChildProcessError):  # reaped already (gevent's SIGCHLD watcher)
        gevent.os.waitpid(pid, 0)
