"""The one module that reads or patches Locust's internals (each assumption has a contract
test in tests/unit/test_locust_compat.py, so a Locust upgrade fails one clear test).

:func:`install` runs once, when :mod:`loadkit.plugin` is imported — which is when the
locustfile is imported, before Locust parses the full command line, builds the
environment and creates its runner (and with it the rpc sockets). It patches:

- ``locust.rpc.zmqrpc.Server`` / ``Client`` (``runners.py`` creates them as
  ``rpc.Server(...)`` / ``rpc.Client(...)``, looked up at call time, on start and on every
  reset of the connection) with :class:`Server` / :class:`Client`: the same sockets with
  a fleet secret's CURVE set up before bind/connect (:mod:`loadkit.fleet.security`), a
  message size cap, and a receive that drops malformed frames instead of raising into
  Locust's listener greenlet (:func:`loadkit.fleet.trust.parse`);
- ``MasterRunner.handle_message``: each message passes :class:`loadkit.fleet.trust.Gate`
  first, and an exception of its handler is dropped with one line per offender instead of
  ending Locust's ``client_listener`` greenlet (and with it the run);
- ``Environment._create_runner``: reads the fleet secret from the parsed options right
  before the runner (and its sockets) exist; a bad secret is one line and exit 2.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Any

import zmq.error as zmqerr
import zmq.green as zmq
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message, zmqrpc
from locust.runners import MasterRunner

from loadkit.cli import EXIT_USAGE
from loadkit.exceptions import ConfigError
from loadkit.fleet import security, trust

log = logging.getLogger("loadkit.fleet")

#: Hard cap in ZeroMQ itself: a peer sending more is disconnected before Python sees a byte.
ZMQ_MAX_MESSAGE_BYTES = 2 * trust.MAX_MESSAGE_BYTES
DEFAULT_MAX_WORKERS = 1000


class Process:
    """What this process's sockets need to know, set from the options before the runner exists."""

    keys: security.FleetKeys | None = None
    max_workers: int = DEFAULT_MAX_WORKERS
    warned_open_bind = False


def _loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Server(zmqrpc.Server):
    """Locust's master socket (ROUTER), secured and checked; see the module docstring."""

    def __init__(self, host: str, port: int) -> None:
        # Locust's Server.__init__, with loadkit's set-up between creating the socket and binding it.
        zmqrpc.BaseSocket.__init__(self, zmq.ROUTER, self.ipv4_only(host, port))
        self.socket.setsockopt(zmq.MAXMSGSIZE, ZMQ_MAX_MESSAGE_BYTES)
        self.zap = security.secure_server(self.socket, Process.keys) if Process.keys is not None else None
        if Process.keys is None and not _loopback(host) and not Process.warned_open_bind:
            Process.warned_open_bind = True
            log.warning(
                "loadkit: the master listens on %s:%s without a fleet secret: whoever reaches this port can join "
                "as a worker, read the test data and send load where it says; set LOADKIT_FLEET_SECRET on every node",
                host,
                port,
            )
        if port == 0:
            self.port = self.socket.bind_to_random_port(f"tcp://{host}")
        else:
            try:
                self.socket.bind(f"tcp://{host}:{int(port)}")
                self.port = port
            except zmqerr.ZMQError as e:
                raise RPCError(f"Socket bind failure: {e}") from e

    def recv_from_client(self) -> tuple[str, Message]:
        while True:
            try:
                frames = self.socket.recv_multipart()
            except zmqerr.ZMQError as e:
                raise RPCError("ZMQ network broken") from e
            try:
                return trust.parse(frames)
            except trust.Dropped as dropped:
                trust.OFFENDERS.drop(dropped.offender, dropped.reason)

    def close(self, linger: Any = None) -> None:
        if self.zap is not None:
            self.zap.close()
        super().close(linger=linger)


class Client(zmqrpc.Client):
    """Locust's worker socket (DEALER), secured, watching its handshake; see the module docstring."""

    def __init__(self, host: str, port: int, identity: str) -> None:
        zmqrpc.BaseSocket.__init__(self, zmq.DEALER, self.ipv4_only(host, port))
        self.socket.setsockopt(zmq.IDENTITY, identity.encode())
        self.socket.setsockopt(zmq.MAXMSGSIZE, ZMQ_MAX_MESSAGE_BYTES)
        if Process.keys is not None:
            security.secure_client(self.socket, Process.keys)
        self.watch = security.HandshakeWatch(self.socket, f"{host}:{port}", Process.keys is not None)
        self.socket.connect(f"tcp://{host}:{int(port)}")

    def recv(self) -> Message:
        while True:
            try:
                frame = self.socket.recv()
            except zmqerr.ZMQError as e:
                raise RPCError("ZMQ network broken") from e
            try:
                return Message.unserialize(frame)
            except Exception as exc:
                trust.OFFENDERS.drop("the master", f"a frame that is not a Locust message ({type(exc).__name__})")


class _Fleet:
    """The master's table of workers as the gate sees it."""

    def __init__(self, runner: MasterRunner) -> None:
        self.clients = runner.clients

    def registered(self, node_id: str) -> bool:
        return node_id in self.clients

    def pending(self, node_id: str) -> bool:
        pending = getattr(self.clients, "pending", None)  # loadkit.fleet.version.PendingWorkerNodes
        return bool(pending(node_id)) if pending is not None else False

    def count(self) -> int:
        return len(self.clients)


_GATE_ATTR = "_loadkit_gate"


def gate(runner: MasterRunner) -> trust.Gate:
    """The master runner's gate (one per runner, created on first use)."""
    found = runner.__dict__.get(_GATE_ATTR)
    if found is None:
        found = trust.Gate(trust.OFFENDERS, Process.max_workers)
        runner.__dict__[_GATE_ATTR] = found
    return found


def _handle_message(original: Any) -> Any:
    def handle_message(self: MasterRunner, client_id: str, msg: Message) -> None:
        if not gate(self).admit(_Fleet(self), client_id, msg.type, msg.data):
            return
        try:
            original(self, client_id, msg)
        except Exception as exc:  # a bad payload must not end Locust's client_listener greenlet
            trust.OFFENDERS.drop(client_id, f"a {msg.type!r} message its handler failed on ({type(exc).__name__})")

    handle_message._loadkit = True  # type: ignore[attr-defined]
    return handle_message


def _create_runner(original: Any) -> Any:
    def create_runner(self: Environment, runner_class: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            configure(self.parsed_options)
        except ConfigError as exc:
            print(f"loadkit: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(EXIT_USAGE)
        return original(self, runner_class, *args, **kwargs)

    create_runner._loadkit = True  # type: ignore[attr-defined]
    return create_runner


def configure(options: Any) -> None:
    """Read the fleet settings of this process from ``options`` (raises ConfigError)."""
    Process.keys = security.keys_from_options(options)
    Process.max_workers = int(getattr(options, "fleet_max_workers", None) or DEFAULT_MAX_WORKERS)


def install() -> None:
    """Patch Locust once per process (see the module docstring); idempotent."""
    if getattr(MasterRunner.handle_message, "_loadkit", False):
        return
    zmqrpc.Server = Server  # type: ignore[misc]
    zmqrpc.Client = Client  # type: ignore[misc]
    MasterRunner.handle_message = _handle_message(MasterRunner.handle_message)  # type: ignore[method-assign]
    Environment._create_runner = _create_runner(Environment._create_runner)  # type: ignore[method-assign]
