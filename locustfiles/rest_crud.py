"""REST with login + CRUD on the bundled HTTP target, with RestUser.

    loadkit target http &
    locust -f locustfiles/rest_crud.py --headless -u 20 -r 20 -t 10s

``/items/{item_id}`` is reported as one entry per method, whatever the id.
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import RestUser


class CrudUser(RestUser):
    host = os.environ.get("DEMO_HTTP_HOST", "http://127.0.0.1:8080")
    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        token = self.rest("POST", "/login", json={"username": "demo", "password": "demo"}).data["token"]
        self.headers["Authorization"] = f"Bearer {token}"

    @task(1)
    def me(self) -> None:
        self.rest("GET", "/me", check=lambda body: "username" in body or "no username in /me")

    @task(5)
    def crud(self) -> None:
        created = self.rest("POST", "/items", json={"name": "widget"}, expect=201)
        if not created.ok:
            return
        item_id = created.data["id"]
        self.rest("GET", "/items/{item_id}", item_id=item_id)
        self.rest("PUT", "/items/{item_id}", item_id=item_id, json={"name": "gadget"})
        self.rest("DELETE", "/items/{item_id}", item_id=item_id, expect=204)
