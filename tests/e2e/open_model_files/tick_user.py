"""A user whose task costs next to nothing: the rate tests measure the scheduler, not a target.

Each iteration is one ``measure()`` event, so the fleet's per-second starts are the
scheduler's own precision on a shared 2-core machine, not a target's capacity.
"""

from locust import User, task

from loadkit import measure


class Tick(User):
    @task
    def tick(self) -> None:
        with measure(self, "noop", "tick"):
            pass
