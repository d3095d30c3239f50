"""The system-under-test agent: samples the host with psutil and serves them over HTTP.

Run it beside a target (``loadkit agent --port 9100``) or in-process from a bundled
target (:func:`start_agent`); the Locust master polls ``GET /samples`` of every agent
named by ``--loadkit-agent``. Stdlib only beside psutil: no Locust, no gevent, so it never
patches the target it watches.

``GET /samples`` answers ``{"host": ..., "latest": {...}, "history": [{...}, ...]}``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loadkit.fleet.collectors import AGENT_COLLECTORS, Collector, Sample, collect_all

HISTORY = 600


class Agent:
    """Samples every ``interval`` s in a thread and serves them; ``stop()`` ends both."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, interval: float = 1.0) -> None:
        self.interval = interval
        self.history: deque[Sample] = deque(maxlen=HISTORY)
        self._collectors: list[Collector] = [factory(None) for factory in AGENT_COLLECTORS]
        self._stopped = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.history.append(collect_all(self._collectors))
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="loadkit-agent-http", daemon=True),
            threading.Thread(target=self._sample_loop, name="loadkit-agent-sampler", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]!s}:{self.port}"

    def snapshot(self) -> dict[str, Any]:
        history = list(self.history)
        return {"host": socket.gethostname(), "latest": history[-1] if history else {}, "history": history}

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _sample_loop(self) -> None:
        while not self._stopped.wait(self.interval):
            self.history.append(collect_all(self._collectors))


def _handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/samples":
                self._send(200, agent.snapshot())
            elif self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": f"no such path {self.path}: try /samples"})

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per poll would drown the target's own log

    return Handler


def start_agent(host: str = "127.0.0.1", port: int = 0, interval: float = 1.0) -> Agent:
    """Start an agent in this process (threads); e.g. ``start_agent("127.0.0.1", 9100)``.

    Bundled targets call it for ``--agent-port``. Port 0 picks a free port (``agent.port``).
    """
    return Agent(host, port, interval)
