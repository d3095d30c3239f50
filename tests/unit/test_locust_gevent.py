"""loadkit._locust.gevent: the loop's cached clock, which libev timers are armed from."""

from __future__ import annotations

import gevent
from gevent import monkey

from loadkit._locust.gevent import refresh_clock

_blocking_sleep = monkey.get_original("time", "sleep")


def test_refresh_clock_brings_a_stale_loop_clock_up_to_date() -> None:
    loop = gevent.get_hub().loop
    gevent.sleep(0)  # one iteration: the cached clock is fresh
    before = loop.now()
    _blocking_sleep(0.3)  # no iteration: the cached clock stands still, as during a blocking init
    assert loop.now() == before
    refresh_clock()
    assert loop.now() - before >= 0.3


_SIGINT_SCRIPT = """
import os, signal, sys, gevent
from gevent import monkey
monkey.patch_all()
from loadkit._locust.gevent import install_sigint
assert install_sigint()
busy_done = []
def busy():
    for _ in range(20000):
        sum(range(20000))  # Python bytecode: where a plain SIGINT would land
        gevent.sleep(0)
    busy_done.append(True)
worker = gevent.spawn(busy)
gevent.spawn_later(0.1, print, "ready", flush=True)
try:
    gevent.sleep(10)
    print("not interrupted")
except KeyboardInterrupt:
    print("main interrupted", "busy alive" if not worker.dead else "busy dead")
"""


def test_sigint_interrupts_the_main_greenlet_and_leaves_the_others_alone() -> None:
    """Ctrl-C from outside while a greenlet is busy: the main greenlet gets it, the busy one goes on."""
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _SIGINT_SCRIPT], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGINT)  # from outside, as Ctrl-C: it lands wherever the child is
    out, _ = child.communicate(timeout=60)
    assert out.strip() == "main interrupted busy alive", out


def test_sigint_is_installed_only_over_the_default_handler() -> None:
    import signal

    from loadkit._locust import gevent as seam

    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. a background job of a shell script
        assert seam.install_sigint() is False and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert seam.install_sigint() is True and signal.getsignal(signal.SIGINT) is seam._interrupt_main
    finally:
        signal.signal(signal.SIGINT, before)
