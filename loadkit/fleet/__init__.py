"""Fleet behaviour on top of Locust's master/worker: test-data leasing and health.

- :mod:`~loadkit.fleet.sources`: rows from a CSV/JSONL file or a seeded Faker generator;
- :mod:`~loadkit.fleet.pool`: the master-side pool of rows and the leases per worker (pure);
- :mod:`~loadkit.fleet.client`: the worker-side client users call (``loadkit.data.next()``);
- :mod:`~loadkit.fleet.leasing`: the messages between them, wired by :mod:`loadkit.run.plugin`;
- :mod:`~loadkit.fleet.health`: load-generator health collectors and the master's store;
- :mod:`~loadkit.fleet.agent`: the system-under-test agent (``loadkit agent``), no Locust.
"""
