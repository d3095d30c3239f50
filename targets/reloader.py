"""``--reload``: a parent process that restarts the target whenever a watched file changes.

As werkzeug's reloader does, the parent never imports the target: it runs it as a child
process (the same ``loadkit target`` command without ``--reload``), polls the mtimes of the
``*.py`` files below the watched folder, and on a change stops the child gracefully and
starts a fresh one, which imports the edited code. One mechanism for both target kinds.

Example::

    run_with_reload([sys.executable, "-m", "loadkit.cli", "target", "http"], Path("targets"))
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

#: Folder watched by default: the ``targets`` package itself.
TARGETS_DIR = Path(__file__).resolve().parent
POLL_SECONDS = 0.5
STOP_SECONDS = 10.0


def snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    """(mtime ns, size) of every ``*.py`` file below ``folder``; a changed dict means a changed source.

    The size catches an edit within the filesystem's coarse timestamp tick.
    """
    mtimes: dict[Path, tuple[int, int]] = {}
    for path in folder.rglob("*.py"):
        try:
            stat = path.stat()
            mtimes[path] = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:  # removed while we walked
            continue
    return mtimes


def _terminate(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("target pid %d ignored SIGTERM for %.0f s; killing it", child.pid, STOP_SECONDS)
            child.kill()
            child.wait()


def run_with_reload(child_argv: Sequence[str], folder: Path = TARGETS_DIR, poll: float = POLL_SECONDS) -> int:
    """Run ``child_argv`` and restart it on every change below ``folder`` until SIGTERM/SIGINT.

    Returns the first child's exit code when it exits on its own before any change (a port
    in use, say); after a restart, a crashing child is restarted on the next change.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    mtimes = snapshot(folder)
    child = subprocess.Popen(child_argv)
    restarted = False
    reported_exit = False
    try:
        while not stop.wait(poll):
            code = child.poll()
            if code is not None and not restarted:
                return code
            if code is not None and not reported_exit:
                log.warning("target exited with %d; waiting for a change below %s", code, folder)
                reported_exit = True
            current = snapshot(folder)
            if current != mtimes:
                changed = sorted(str(p) for p in current.keys() | mtimes.keys() if current.get(p) != mtimes.get(p))
                log.info("change in %s; restarting the target", ", ".join(changed[:3]))
                mtimes = current
                _terminate(child)
                child = subprocess.Popen(child_argv)
                restarted, reported_exit = True, False
        return 0
    finally:
        _terminate(child)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
