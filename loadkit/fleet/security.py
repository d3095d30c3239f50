"""The fleet secret: master and workers prove it to each other and encrypt everything (CURVE).

With ``LOADKIT_FLEET_SECRET`` (or ``--fleet-secret-file``) set on every node, Locust's
ZeroMQ sockets speak CurveZMQ: the master's ROUTER is a CURVE server, each worker's DEALER
a CURVE client. Both keypairs are derived from the one secret (:func:`derive_keys`), so
there is one value to hand out (a compose ``.env``, a Kubernetes Secret) and no key files:

- a worker can only complete the handshake if it knows the server's public key, which is
  never sent on the wire: a peer without the secret cannot even say hello, and a process
  posing as the master without the secret cannot answer one (the worker notices, below);
- the master's ZAP handler (:class:`ZapHandler`, a greenlet: Locust's sockets are
  ``zmq.green`` ones, and pyzmq's ``ThreadAuthenticator`` polls with a real blocking call)
  admits only the fleet's client public key, and tells each refused address once.

A refused worker hears nothing back (CURVE fails silently for a client): its monitor
(:class:`HandshakeWatch`) ends the process with exit 2 and one line once the handshake
failed or did not succeed within :data:`HANDSHAKE_DEADLINE` s of a TCP connection.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import greenlet
import zmq
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from loadkit.exceptions import EXIT_USAGE, ConfigError

log = logging.getLogger("loadkit.fleet")

#: Characters a secret needs at least: it is the only thing between the port and the fleet.
MIN_SECRET_CHARS = 16
#: Seconds a worker waits for a handshake after its TCP connection before it gives up.
HANDSHAKE_DEADLINE = 10.0
#: Handshake failures a worker tolerates before it gives up (a master restarting mid-handshake).
FAILURES = 3
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
DOMAIN = b"loadkit-fleet"
FIX = "give every node the same LOADKIT_FLEET_SECRET (or --fleet-secret-file)"
_FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH


@dataclass(frozen=True)
class FleetKeys:
    """The fleet's two CURVE keypairs, Z85-encoded as ZeroMQ takes them."""

    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes


def _keypair(secret: str, role: bytes) -> tuple[bytes, bytes]:
    # BLAKE2b keyed by the secret, one personalisation per role: two independent 32-byte
    # Curve25519 secret keys; ZeroMQ clamps them and derives the public keys.
    raw = hashlib.blake2b(role, key=secret.encode()[:64], digest_size=32, person=b"loadkit-fleet").digest()
    private = z85.encode(raw)
    return zmq.curve_public(private), private


def derive_keys(secret: str) -> FleetKeys:
    """Both keypairs of a fleet from its secret (pure, deterministic).

    >>> derive_keys("correct horse battery staple") == derive_keys("correct horse battery staple")
    True
    """
    server_public, server_secret = _keypair(secret, b"server")
    client_public, client_secret = _keypair(secret, b"client")
    return FleetKeys(server_public, server_secret, client_public, client_secret)


def read_secret(value: str | None, path: str | None) -> str | None:
    """The fleet secret from ``LOADKIT_FLEET_SECRET``'s value or a file, or None; ConfigError if unusable."""
    value, path = value or None, path or None  # an empty variable is an unset one
    if value and path:
        raise ConfigError("both LOADKIT_FLEET_SECRET and --fleet-secret-file are set: keep one")
    where = "LOADKIT_FLEET_SECRET"
    if path:
        where = f"--fleet-secret-file {path!r}"
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {where} ({exc.strerror}): give a readable file holding the secret") from exc
    if value is None:
        return None
    value = value.strip()
    if len(value) < MIN_SECRET_CHARS or len(value) > 64:
        raise ConfigError(
            f"the fleet secret in {where} has {len(value)} characters, needs {MIN_SECRET_CHARS} to 64: generate one "
            "with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


@dataclass
class Settings:
    """One run's fleet settings, read from its options right before Locust creates its runner."""

    keys: FleetKeys | None = None
    max_workers: int = 1000
    warned_open_bind: bool = False


def settings_from(options: Any) -> Settings:
    """The fleet settings ``options`` ask for (raises ConfigError on a bad secret)."""
    settings = Settings(keys=keys_from_options(options))
    settings.max_workers = int(getattr(options, "fleet_max_workers", None) or settings.max_workers)
    return settings


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_open(host: str, port: int, settings: Settings) -> None:
    """Once per run: a master without a secret that listens beyond loopback says what that means."""
    if settings.keys is None and not _loopback(host) and not settings.warned_open_bind:
        settings.warned_open_bind = True
        log.warning(
            "loadkit: the master listens on %s:%s without a fleet secret: whoever reaches this port can join "
            "as a worker, read the test data and send load where it says; set LOADKIT_FLEET_SECRET on every node",
            host,
            port,
        )


def keys_from_options(options: Any) -> FleetKeys | None:
    """The fleet's keys from parsed options (library mode: the env var too), or None without a secret."""
    value = getattr(options, "fleet_secret", None) if options is not None else None
    path = getattr(options, "fleet_secret_file", None) if options is not None else None
    if value is None and path is None:
        value = os.environ.get("LOADKIT_FLEET_SECRET") or None
        path = os.environ.get("LOADKIT_FLEET_SECRET_FILE") or None
    secret = read_secret(value, path)
    return derive_keys(secret) if secret is not None else None


class ZapHandler:
    """ZeroMQ's authentication requests of one context, answered in a greenlet.

    Admits a CURVE peer whose public key is the fleet's client key; logs each refused
    address once (a refused worker retries every ~100 ms).
    """

    def __init__(self, context: Any, client_public: bytes) -> None:
        self.client_key = z85.decode(client_public)
        self.refused: dict[str, int] = {}
        self.socket = context.socket(zmq.REP)
        self.socket.linger = 0
        self.socket.bind(ZAP_ENDPOINT)
        self.greenlet = gevent.spawn(self._serve)
        self.watch: gevent.Greenlet | None = None  # the server socket's handshake watch (secure_server)

    def _serve(self) -> None:
        while True:
            frames = self.socket.recv_multipart()
            version, request_id = frames[0], frames[1]
            address, mechanism = frames[3].decode(errors="replace"), frames[5]
            ok = mechanism == b"CURVE" and len(frames) > 6 and frames[6] == self.client_key
            if not ok:
                self.refused[address] = self.refused.get(address, 0) + 1
                if self.refused[address] == 1:
                    log.warning("loadkit: refused a worker from %s: its key is not this fleet's: %s", address, FIX)
            status = (b"200", b"OK") if ok else (b"400", b"not a key of this fleet")
            self.socket.send_multipart([version, request_id, *status, b"", b""])

    def close(self) -> None:
        """End both greenlets: left running, they outlive the master (and run on in any fork of it)."""
        self.greenlet.kill(block=False)
        if self.watch is not None:
            self.watch.kill(block=False)
        self.socket.close(linger=0)


def secure_server(socket: Any, keys: FleetKeys) -> ZapHandler:
    """Make a ROUTER socket (not yet bound) a CURVE server of the fleet; watch failed handshakes."""
    zap = ZapHandler(socket.context, keys.client_public)
    socket.curve_server = True
    socket.curve_publickey = keys.server_public
    socket.curve_secretkey = keys.server_secret
    socket.zap_domain = DOMAIN
    failed = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    zap.watch = gevent.spawn(_watch_server, socket.get_monitor_socket(failed))
    return zap


def _watch_server(monitor: Any) -> None:
    # A peer with another secret or none fails before ZAP (it cannot encrypt to this server):
    # the monitor is the only place that sees it; it does not name the peer, so one line in all.
    told = False
    try:
        while True:
            parse_monitor_message(monitor.recv_multipart())
            if not told:
                told = True
                log.warning("loadkit: refused a connection that has no or another fleet secret: %s", FIX)
    finally:  # killed by ZapHandler.close
        monitor.close(linger=0)


def secure_client(socket: Any, keys: FleetKeys) -> None:
    """Make a DEALER socket (not yet connected) a CURVE client of the fleet."""
    socket.curve_serverkey = keys.server_public
    socket.curve_publickey = keys.client_public
    socket.curve_secretkey = keys.client_secret


class HandshakeWatch:
    """A worker's view of its connection to the master: ends the process when the master refuses it.

    ``secured`` says whether this worker has a secret (only changes the line).
    """

    def __init__(self, socket: Any, endpoint: str, secured: bool, deadline: float = HANDSHAKE_DEADLINE) -> None:
        self.endpoint = endpoint
        self.secured = secured
        self.deadline = deadline
        self.failures = 0
        self.succeeded = False
        self.connected_at: float | None = None
        self.exit: Callable[[str], None] = _exit_process(greenlet.getcurrent())
        events = zmq.EVENT_CONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | _FAILED
        self.greenlet = gevent.spawn(self._watch, socket.get_monitor_socket(events))

    def line(self) -> str:
        if self.secured:
            return (
                f"loadkit: error: the master at {self.endpoint} did not accept this worker's fleet secret "
                f"(or is not the fleet's master): {FIX}"
            )
        return (
            f"loadkit: error: the master at {self.endpoint} refused this worker's connection: it needs a fleet "
            f"secret: {FIX}"
        )

    def _watch(self, monitor: Any) -> None:
        while True:
            timeout = None
            if self.connected_at is not None and not self.succeeded:
                timeout = max(self.connected_at + self.deadline - time.monotonic(), 0.0)
            # gevent waits on the socket's descriptor (epoll): Socket.poll would use select(), which
            # fails past descriptor 1024 (seen with 125 workers in one process, bench/_scale_sim.py).
            raw = gevent.with_timeout(timeout, monitor.recv_multipart, timeout_value=None)
            if raw is None:
                self.exit(self.line())  # connected, but no handshake within the deadline
                return
            event = parse_monitor_message(raw)["event"]
            if event == zmq.EVENT_CONNECTED and self.connected_at is None:
                self.connected_at = time.monotonic()
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.succeeded, self.failures = True, 0
            elif event & _FAILED:
                # Refused by ZAP, or another mechanism (no secret on one side): final at once. No
                # detail (another secret: the master drops the connection unread): after a few tries.
                self.failures += 1 if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL else FAILURES
                if self.failures >= FAILURES:
                    self.exit(self.line())
                    return


def _exit_process(main: Any) -> Callable[[str], None]:
    """Print ``line`` and raise SystemExit(2) in ``main`` (the greenlet that created the socket).

    A refused worker is still inside Locust's ``connect_to_master`` (in ``main``), waiting
    for an ack that never comes: SystemExit there ends ``locust`` with code 2, no traceback.
    """

    def exit_(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        gevent.get_hub().loop.run_callback(main.throw, SystemExit(EXIT_USAGE))

    return exit_
