"""A TLS (optionally mTLS) demo gRPC server for tests: ``python tls_server.py CERT KEY [CA]``.

Run as its own (unpatched) process; prints "listening on 127.0.0.1:PORT" when ready and
serves until SIGTERM. With CA given, clients must present a certificate signed by it.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc

from loadkit.gen.demo.v1 import demo_pb2_grpc
from loadkit.targets.grpc.servicer import DemoServicer


def main() -> None:
    cert, key = Path(sys.argv[1]).read_bytes(), Path(sys.argv[2]).read_bytes()
    ca = Path(sys.argv[3]).read_bytes() if len(sys.argv) > 3 else None
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    demo_pb2_grpc.add_DemoServicer_to_server(DemoServicer(), server)
    credentials = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
