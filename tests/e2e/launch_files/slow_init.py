"""A locustfile whose own ``init`` work blocks the process for 2 s without yielding to gevent.

Registered before ``import loadkit``, so loadkit's ``init`` listener runs after it, as a
locustfile's data loading or client set-up usually does: the loop's clock is then 2 s stale when
Locust arms the ``-t`` timer (loadkit._locust.gevent.refresh_clock).
"""

import time

from gevent import monkey
from locust import User, constant, events, task

_blocking_sleep = monkey.get_original("time", "sleep")
_started: list[float] = []


@events.init.add_listener
def _slow_init(**_kw: object) -> None:
    _blocking_sleep(2.0)


import loadkit  # noqa: E402,F401  (after the listener above, on purpose)


@events.test_start.add_listener
def _on_start(**_kw: object) -> None:
    _started.append(time.monotonic())


@events.test_stop.add_listener
def _on_stop(**_kw: object) -> None:
    print(f"ran for {time.monotonic() - _started[0]:.3f} s", flush=True)


class Idle(User):
    wait_time = constant(0.2)

    @task
    def idle(self) -> None:
        pass
