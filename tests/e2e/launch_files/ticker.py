"""One user that records a request event every 50 ms, with no target (the download is what is tested)."""

from locust import User, constant, task

import loadkit  # noqa: F401  (loadkit's listeners: HDR, the JSON report)


class Ticker(User):
    wait_time = constant(0.05)

    @task
    def tick(self) -> None:
        self.environment.events.request.fire(
            request_type="tick", name="tick", response_time=1.0, response_length=0, exception=None, context={}
        )
