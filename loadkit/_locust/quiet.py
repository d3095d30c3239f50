"""Quiet Locust's user-count log lines in an open-model run, where the count is always 0.

The open model starts iterations from its own pool, so Locust's runner is told to start 0
users and logs "Ramping to 0 users at a rate of ..." and "All users spawned: {"CrudUser": 0}
(0 total users)": noise that reads like a broken run. :func:`hide_zero_user_lines` drops
exactly those records of the ``locust.runners`` logger (other lines pass).

Assumption (tests/unit/test_locust_quiet.py checks it): Locust logs them through
``logging.getLogger("locust.runners")`` with those words.
"""

from __future__ import annotations

import logging

LOGGER = "locust.runners"


class _ZeroUsers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Ramping to 0 users"):
            return False
        return not (message.startswith(("All users spawned", "Spawning is complete")) and "(0 total users)" in message)


def hide_zero_user_lines() -> None:
    """Drop Locust's 0-user ramp and spawn lines in this process (once)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, _ZeroUsers) for f in logger.filters):
        logger.addFilter(_ZeroUsers())
