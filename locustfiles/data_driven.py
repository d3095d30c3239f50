"""Data-driven test: every user takes the next row of a shared data set and writes it.

Each row goes to exactly one user across all workers (``--loadkit-data-mode unique``, the
default): the master owns the data, workers lease rows in batches. Run it against the
bundled HTTP target (``loadkit target http``)::

    locust -f locustfiles/data_driven.py --host http://127.0.0.1:8080 \\
        --loadkit-data faker:1000:42 --loadkit-data-exhausted stop-test --headless -u 20

or with your own file: ``--loadkit-data users.csv`` (header line) / ``users.jsonl``.
``GET /items`` on the target then shows how often each id was written (``creates``).
"""

from __future__ import annotations

from locust import HttpUser, constant, task

import loadkit


class DataWriter(HttpUser):
    wait_time = constant(0.01)

    @task
    def write_next_row(self) -> None:
        row = loadkit.data.next()
        self.client.post("/items", json={**row, "id": f"row-{row['id']}"}, name="/items")
