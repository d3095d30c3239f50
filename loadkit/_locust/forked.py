"""Workers forked by ``locust --processes`` end when the process that forked them is gone.

Locust's rule is that workers exit when their master is gone (its
``test_workers_shut_down_if_master_is_gone``): a worker that stops hearing heartbeats quits.
That rule has a hole with ``--processes``: a child that connected but never got a heartbeat
(the master ended at start-up, e.g. on a bad option) waits for ever, and Locust's
``kill_workers`` at the master's exit does not signal children it thinks have exited
(``os.waitpid(pid, WNOHANG)`` answers ``(0, 0)`` for a running child, which it takes for an
exit). Re-parented to init, such workers outlive every run; measured: 11 of them 35 minutes
after Locust's own test suite.

:func:`install` (at plugin import, in a ``locust`` command only) registers an after-fork hook:
in each child Locust forks, the kernel is asked to send ``SIGTERM`` when the parent dies
(Linux ``prctl(PR_SET_PDEATHSIG)``), and a child whose parent died before that is set ends at
once. ``SIGTERM`` is what Locust's own worker shuts down on (gracefully, once its handler is
installed; before, the default action ends the process). Only ``os.fork`` runs the hook
(``subprocess`` does not), and only in a process that ``locust`` started. Elsewhere than
Linux nothing is installed: Locust's own heartbeat rule is then the only one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: ``prctl`` option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1

_installed = False


def _libc() -> ctypes.CDLL | None:
    """The C library already in this process (``dlopen(NULL)``): no search, which would fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl  # noqa: B018 - a libc without prctl is no Linux libc: install nothing
    except (OSError, AttributeError):
        return None
    return libc


def die_with_parent(parent: int, libc: ctypes.CDLL) -> bool:
    """In a forked child: end on SIGTERM when ``parent`` is gone (now or later); True if set up.

    Runs between fork and the child's first Python line: nothing here may fork or block.
    """
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before prctl: the kernel will send nothing
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def install() -> None:
    """Register the after-fork hook of the module docstring (once per process; Linux only)."""
    global _installed
    libc = _libc()  # loaded here, in the parent: the child only calls it
    if _installed or libc is None:
        return
    _installed = True
    parent = os.getpid()

    def in_child() -> None:
        die_with_parent(parent, libc)

    def in_parent() -> None:  # a parent that itself forked again: its children watch it
        nonlocal parent
        parent = os.getpid()

    os.register_at_fork(before=in_parent, after_in_child=in_child)
