"""Stop the whole run when a user hits a mistake in the locustfile that every call would repeat.

An unknown gRPC method name is no failed request (nothing was sent) and no reason to run
for ``--run-time`` logging the same traceback per call: the process logs one line, ends
its run and exits 2 (usage), like a bad option caught before the start.
"""

from __future__ import annotations

import logging

import gevent
from locust.env import Environment
from locust.exception import StopUser

from loadkit.cli import EXIT_USAGE
from loadkit.exceptions import LoadkitError

log = logging.getLogger("loadkit.users")
_STOPPING_ATTR = "_loadkit_stopping"


def stop_run(environment: Environment, error: LoadkitError) -> StopUser:
    """Log ``error`` once, set exit code 2, quit the runner; return the StopUser to raise in the user."""
    if not getattr(environment, _STOPPING_ATTR, False):
        setattr(environment, _STOPPING_ATTR, True)
        log.error("loadkit: error: %s", error)
        environment.process_exit_code = EXIT_USAGE
        runner = environment.runner
        if runner is not None:
            gevent.spawn(runner.quit)  # not from the user's greenlet: quit kills every user greenlet
    return StopUser()
