"""loadkit's Locust users: ``GrpcUser``, ``RestUser``, ``Http2User``, ``WebSocketUser`` and ``measure()``.

Importing this package has no side effect of its own beyond importing Locust (which
patches the process, as under ``locust -f``): grpcio is hooked into gevent when the first
channel opens (:func:`loadkit.users.grpc_channel.open_channel`), and loadkit's listeners
are loaded by ``import loadkit`` in a Locust process (see :mod:`loadkit`), by ``LoadTest``
and ``attach`` in library mode, and by the workers' locustfile.
"""

from __future__ import annotations

from loadkit.users._events import MeasureFailure, Measurement, measure
from loadkit.users.grpc_calls import GrpcCallError, ResponseStream
from loadkit.users.grpc_client import GrpcClient
from loadkit.users.grpc_user import GrpcUser
from loadkit.users.http2_user import Http2User
from loadkit.users.rest_user import RestError, RestUser
from loadkit.users.ws_session import WebSocketError, WebSocketSession
from loadkit.users.ws_user import WebSocketUser

__all__ = [
    "GrpcCallError",
    "GrpcClient",
    "GrpcUser",
    "Http2User",
    "MeasureFailure",
    "Measurement",
    "ResponseStream",
    "RestError",
    "RestUser",
    "WebSocketError",
    "WebSocketSession",
    "WebSocketUser",
    "measure",
]
