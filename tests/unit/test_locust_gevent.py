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
