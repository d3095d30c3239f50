"""The bundled gRPC target: ``demo.v1.Demo`` with fault injection, health, reflection, counters.

Start it with ``loadkit target grpc`` or from Python::

    from loadkit.targets.grpc import serve

    server, port = serve("127.0.0.1", 0)
"""

from loadkit.targets.grpc.server import run, serve

__all__ = ["run", "serve"]
