"""End a whole run from inside it, for a mistake that carrying on would only repeat.

An unknown gRPC method name (every call would fail the same way, nothing is sent) and a
worker the master refused (another loadkit version) are usage errors, not failed
requests: the process logs one line, ends its run and exits 2, like a bad option caught
before the start.
"""

from __future__ import annotations

import logging

import gevent
from locust.env import Environment
from locust.exception import StopUser

from loadkit.cli import EXIT_USAGE
from loadkit.exceptions import LoadkitError

log = logging.getLogger("loadkit")
_STOPPING_ATTR = "_loadkit_stopping"


def stop_run(environment: Environment, error: LoadkitError) -> StopUser:
    """Log ``error`` once, set exit code 2, quit the runner; return the StopUser a user raises."""
    if not getattr(environment, _STOPPING_ATTR, False):
        setattr(environment, _STOPPING_ATTR, True)
        log.error("loadkit: error: %s", error)
        environment.process_exit_code = EXIT_USAGE
        runner = environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)  # not from the caller's greenlet: quit kills the runner's greenlets
    return StopUser()
