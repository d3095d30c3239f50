"""One run: its typed state, the wiring of loadkit's parts to Locust's events, and its end.

- :mod:`~loadkit.run.context`: the per-run stash (a typed key per part; imports nothing);
- :mod:`~loadkit.run.plugin`: the only subscriber to ``locust.events``, which installs each part;
- :mod:`~loadkit.run.stop`: the one way a run ends, and the one writer of its exit code;
- :mod:`~loadkit.run.preflight`: the checks before any load;
- ``worker_locustfile.py``: what library mode's worker processes load.

This ``__init__`` imports nothing, so ``loadkit.run.context`` stays free of Locust.
"""
