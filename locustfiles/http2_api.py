"""REST over HTTP/2 with Http2User: the same rest() as RestUser, one multiplexed connection per user.

    loadkit target http --http2 --port 8080 &
    locust -f locustfiles/http2_api.py --headless -u 10 -r 10 -t 10s

``http://`` is cleartext HTTP/2 with prior knowledge (h2c); ``https://`` negotiates h2 through
ALPN (serve it with ``loadkit target http --certfile cert.pem --keyfile key.pem``). Every
request event's context says ``http_version``; an HTTP/1.1 answer is a failure unless the
class sets ``http1_fallback = True``.
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import Http2User


class Http2Api(Http2User):
    host = os.environ.get("DEMO_HTTP_HOST", "http://127.0.0.1:8080")
    wait_time = between(0.01, 0.05)

    @task(5)
    def crud(self) -> None:
        created = self.rest("POST", "/items", json={"name": "widget"}, expect=201)
        if not created.ok:
            return
        item_id = created.data["id"]
        self.rest("GET", "/items/{item_id}", item_id=item_id)
        self.rest("DELETE", "/items/{item_id}", item_id=item_id, expect=204)

    @task(1)
    def health(self) -> None:
        self.rest("GET", "/health", check=lambda body: body.get("status") == "ok" or "not ok")
