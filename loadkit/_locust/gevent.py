"""The one place loadkit prepares gevent for grpcio.

grpcio's C core does its own polling; under gevent it must be told to cooperate
(``grpc.experimental.gevent.init_gevent``) before the first channel exists, or calls
block the whole hub. Locust monkey-patches the process when it is imported; this module
makes sure that has happened, then initialises grpc's gevent integration once.

Every loadkit channel is opened by :func:`loadkit.users.grpc_channel.open_channel`, which
calls :func:`init_gevent` first (a flag check after the first time), so it runs for
``locust -f``, library mode and worker processes alike, and importing loadkit patches
nothing. Bundled targets never call it: they serve from unpatched processes.
"""

from __future__ import annotations

_done = False


def init_gevent() -> None:
    """Patch the process for gevent (as Locust does) and hook grpcio into gevent's hub.

    Idempotent; safe to call from every entry point.
    """
    global _done
    if _done:
        return
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()
    import grpc.experimental.gevent

    grpc.experimental.gevent.init_gevent()
    _done = True


def refresh_clock() -> None:
    """Bring the gevent loop's cached clock up to date before Locust arms its ``-t`` timer.

    libev computes a timer's deadline from the time it cached at its last iteration. A headless
    local run creates the hub, then imports, parses, builds the runner and fires ``init`` (all of
    loadkit's wiring) without ever yielding, and ``locust.main`` arms ``gevent.spawn_later(
    run_time, ...)`` right after: the deadline is computed from a clock seconds old, so a
    ``-t 3s`` run stopped after ~1.7 s (measured: the clock was 1.3 s stale with loadkit, 0.6 s
    with plain Locust). Called last in loadkit's ``init`` listener.
    """
    import gevent

    gevent.get_hub().loop.update_now()
