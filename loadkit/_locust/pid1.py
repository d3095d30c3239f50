"""SIGTERM for a ``locust`` process that is PID 1: a container without an init (Kubernetes has none).

The kernel applies no default action to a signal sent to PID 1: one it has no handler for is
ignored. Locust installs its SIGTERM handler only once its runner exists, and a worker waits
for its master inside the runner's constructor (every 5 s, 60 times): until the master
answers, ``docker stop`` or a pod deletion waited its whole grace period and killed the worker
(exit 137). :func:`install` gives such a process what any other process has by default:
SIGTERM ends it, exit code 143 (128 + 15), with one line. Locust's own handler replaces this
one as soon as the runner exists, so a connected node still stops gracefully (final stats,
reports). Outside PID 1 nothing is installed: the default action already does the same.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

_LINE = b"loadkit: SIGTERM before Locust's own handler was installed (e.g. waiting for the master): exiting\n"


def install() -> bool:
    """Make SIGTERM end this process if it is PID 1 and nothing handles SIGTERM yet; True if installed."""
    if os.getpid() != 1 or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _terminated)
    return True


def _terminated(signum: int, _frame: FrameType | None) -> None:
    # As the default action would: no clean-up (nothing has started), the conventional code.
    # os.write, not logging: a signal handler may interrupt a logging call holding its lock.
    os.write(2, _LINE)
    os._exit(128 + signum)
