"""loadkit's Locust users: ``GrpcUser``, ``RestUser`` and ``measure()``.

Importing this package prepares the process for grpcio under gevent — the one call
to :func:`loadkit._locust.gevent.init_gevent`, before any channel exists — and imports
:mod:`loadkit.run.plugin`, so loadkit's listeners are active in any locustfile that
imports a loadkit user (``locust -f``, workers and library mode alike).
"""

from __future__ import annotations

from loadkit._locust.gevent import init_gevent

init_gevent()

import loadkit.run.plugin  # noqa: E402,F401  - registers loadkit's Locust listeners
from loadkit.users._events import MeasureFailure, Measurement, measure  # noqa: E402
from loadkit.users.grpc_calls import GrpcCallError, ResponseStream  # noqa: E402
from loadkit.users.grpc_client import GrpcClient  # noqa: E402
from loadkit.users.grpc_user import GrpcUser  # noqa: E402
from loadkit.users.rest_user import RestError, RestUser  # noqa: E402

__all__ = [
    "GrpcCallError",
    "GrpcClient",
    "GrpcUser",
    "MeasureFailure",
    "Measurement",
    "ResponseStream",
    "RestError",
    "RestUser",
    "measure",
]
