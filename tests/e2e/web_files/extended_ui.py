"""A locustfile that extends the web UI as Locust's examples/extend_web_ui.py does.

Its ``after_request`` hook *sets* ``extended_stats`` (the example's way); loadkit's tabs must
stay filled. Users fire synthetic request events (no network), so the HDR tab has rows.
"""

import json

from flask import request
from locust import User, constant, events, task

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)


class Synthetic(User):
    wait_time = constant(0.05)

    @task
    def tick(self) -> None:
        self.environment.events.request.fire(
            request_type="synthetic",
            name="web probe",
            response_time=2.0,
            response_length=10,
            exception=None,
            context={},
        )


@events.init.add_listener
def locust_init(environment, **_kwargs):  # type: ignore[no-untyped-def]
    if environment.web_ui is None:
        return
    environment.web_ui.template_args.setdefault("extended_tabs", []).append({"title": "Content", "key": "content"})
    environment.web_ui.template_args.setdefault("extended_tables", []).append(
        {"key": "content", "structure": [{"key": "name", "title": "Name"}, {"key": "bytes", "title": "Bytes"}]}
    )

    @environment.web_ui.app.after_request
    def extend_stats_response(response):  # type: ignore[no-untyped-def]
        if not request.path.endswith("/stats/requests") or response.status_code != 200:
            return response
        rows = [{"name": "extension row", "bytes": "42"}]
        response.set_data(json.dumps({**response.json, "extended_stats": [{"key": "content", "data": rows}]}))
        return response
