"""The compatibility seam's second module: Locust's rpc sockets and its master's message loop.

Like :mod:`loadkit._locust` (split from it for size), everything here reads or patches
Locust's internals, each assumption with a contract test in tests/unit/test_locust_rpc.py.

:func:`install` runs once, when :mod:`loadkit.run.plugin` is imported — which is when the
locustfile is imported, before Locust parses the full command line, builds the environment
and creates its runner (and with it the rpc sockets). It patches:

- ``locust.rpc.zmqrpc.Server`` / ``Client`` (``runners.py`` creates them as
  ``rpc.Server(...)`` / ``rpc.Client(...)``, looked up at call time, on start and on every
  reset of the connection) with :class:`Server` / :class:`Client`: the same sockets with
  a fleet secret's CURVE set up before bind/connect (:mod:`loadkit.fleet.security`), a
  message size cap, and a receive that drops malformed frames instead of raising into
  Locust's listener greenlet (:func:`loadkit.fleet.trust.parse`);
- ``MasterRunner.handle_message``: each message passes :class:`loadkit.fleet.trust.Gate`
  first, and an exception of its handler is dropped with one line per offender instead of
  ending Locust's ``client_listener`` greenlet (and with it the run); a new worker's
  ``client_ready`` mid-run no longer hands it users before loadkit accepted it; and a
  registered worker's ``client_ready`` again (it took a stalled master for lost) is acked
  without Locust's new empty node and re-dispatch of the whole fleet;
- ``Environment._create_runner``: reads the fleet secret from the parsed options right
  before the runner (and its sockets) exist; a bad secret is one line and exit 2;
- ``locust.argument_parser.default_args_dict``: computed once per process. A worker calls it
  once *per option* of every ``spawn`` message (a comprehension in ``WorkerRunner``'s message
  handler), each call building Locust's whole parser (~8 ms): ~100 options with loadkit's
  made every spawn message stall the worker's loop ~0.8 s, during which it sends no
  heartbeat (bench/_scale_sim.py, where 20 workers on one loop went "missing").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import zmq.error as zmqerr
import zmq.green as zmq
from locust import argument_parser
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import Message, zmqrpc
from locust.runners import STATE_MISSING, STATE_RUNNING, MasterRunner

from loadkit._locust.patch import mark_patched, patched
from loadkit._locust.runners import worker_table
from loadkit.exceptions import EXIT_USAGE, ConfigError
from loadkit.fleet import security, trust
from loadkit.messages import Offenders, offenders_of
from loadkit.plain import environment_uses_loadkit
from loadkit.run.context import StashKey, run_context

#: Hard cap in ZeroMQ itself: a peer sending more is disconnected before Python sees a byte.
ZMQ_MAX_MESSAGE_BYTES = 2 * trust.MAX_MESSAGE_BYTES


@dataclass
class Sockets:
    """What a runner's sockets need of its run: the fleet settings (CURVE keys) and where drops are told."""

    settings: security.Settings = field(default_factory=security.Settings)
    offenders: Offenders = field(default_factory=Offenders)


#: The run whose runner Locust built last, for its sockets: Locust creates them inside the
#: runner's constructor and again on every reset of the connection, with no way to pass them
#: anything, so :func:`_create_runner` points this at the new run's settings and offenders (both
#: owned by that run's stash) right before. One runner per process at a time, as Locust has.
SOCKETS = Sockets()
#: Set in a ``locust`` command (its parser fired ``init_command_line_parser``), not in library mode.
CLI = {"on": False}
#: The master's message gate, in the run's stash (created on first message).
GATE: StashKey[trust.Gate] = StashKey("gate")
#: A master's filter of workers' stats reports, in its run's stash: ``admit(node_id, data)``
#: False drops the report before Locust merges it (a resumed master drops those it already has).
REPORT_FILTER: StashKey[Callable[[str, Any], bool]] = StashKey("report filter")
#: The run's fleet settings, in its stash (read right before Locust creates the runner).
SECURITY: StashKey[security.Settings] = StashKey("security")


class Server(zmqrpc.Server):
    """Locust's master socket (ROUTER), secured and checked; see the module docstring."""

    def __init__(self, host: str, port: int) -> None:
        # Locust's Server.__init__, with loadkit's set-up between creating the socket and binding it.
        zmqrpc.BaseSocket.__init__(self, zmq.ROUTER, self.ipv4_only(host, port))
        self.socket.setsockopt(zmq.MAXMSGSIZE, ZMQ_MAX_MESSAGE_BYTES)
        self.run = run = SOCKETS
        self.zap = security.secure_server(self.socket, run.settings.keys) if run.settings.keys is not None else None
        security.warn_if_open(host, port, run.settings)
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
                self.run.offenders.drop(dropped.offender, dropped.reason)

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
        self.run = run = SOCKETS
        if run.settings.keys is not None:
            security.secure_client(self.socket, run.settings.keys)
        self.watch = security.HandshakeWatch(self.socket, f"{host}:{port}", run.settings.keys is not None)
        self.socket.connect(f"tcp://{host}:{int(port)}")

    def close(self, linger: Any = None) -> None:
        """Close the socket, and first the watch of its handshake (a worker that rejoins makes a new one)."""
        if self.watch.greenlet is not gevent.getcurrent():
            self.watch.greenlet.kill(block=True, timeout=1)
        super().close(linger=linger)

    def recv(self) -> Message:
        while True:
            try:
                frame = self.socket.recv()
            except zmqerr.ZMQError as e:
                raise RPCError("ZMQ network broken") from e
            try:
                return Message.unserialize(frame)
            except Exception as exc:
                self.run.offenders.drop("the master", f"a frame that is not a Locust message ({type(exc).__name__})")


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


def sockets_before_runner(options: Any) -> None:
    """Secure the sockets Locust opens before any runner exists (a worker's ``-f -`` download).

    ``options`` holds ``fleet_secret``/``fleet_secret_file`` (or neither: the env vars are
    read); :func:`_create_runner` replaces these settings with the run's own later.
    """
    global SOCKETS
    SOCKETS = Sockets(security.settings_from(options))


def gate(runner: MasterRunner) -> trust.Gate:
    """The master runner's gate, in its run's stash (created on first use).

    A plain Locust fleet (no loadkit class or option, :mod:`loadkit.plain`) gets Locust's contract.
    """
    stash = run_context(runner.environment)
    found = stash.get(GATE)
    if found is None:
        settings = stash.get(SECURITY) or security.Settings()
        loadkit_fleet = environment_uses_loadkit(runner.environment)
        offenders = offenders_of(runner.environment)
        found = stash[GATE] = trust.Gate(offenders, settings.max_workers, loadkit_fleet=loadkit_fleet)
    return found


#: The message types Locust's master handles itself (``MasterRunner.handle_message``'s cases).
LOCUST_MESSAGES = frozenset(
    {"client_ready", "locustfile", "client_stopped", "heartbeat", "stats", "spawning", "spawning_complete"}
    | {"logs", "quit", "exception"}
)


def _handle_message(original: Any) -> Any:
    def handle_message(self: MasterRunner, client_id: str, msg: Message) -> None:
        if not gate(self).admit(_Fleet(self), client_id, msg.type, msg.data):
            return
        admit = run_context(self.environment).get(REPORT_FILTER) if msg.type == "stats" else None
        if admit is not None and not admit(client_id, msg.data):
            return
        unknown = msg.type not in LOCUST_MESSAGES and msg.type not in self.custom_messages
        if unknown and gate(self).loadkit_fleet:
            # Locust would warn once per message: a flood of them is a flood of lines
            offenders_of(self.environment).drop(client_id, f"a message of unknown type {msg.type[:40]!r}")
            return
        # Mid-run, Locust hands a new worker users at its client_ready (dispatcher.add_worker, then
        # start): a peer that never says a matching hello would get users. Hide the dispatcher then;
        # loadkit.fleet.version adds the worker to it once it is accepted (dispatch_to_accepted).
        # A master that does not gate its workers (a plain Locust fleet) dispatches as Locust does.
        gated = worker_table(self) is not None
        if gated and msg.type == "client_ready" and _registered(self, client_id):
            # A worker that took this master for lost (silent > loadkit.fleet.rejoin.LOST_AFTER s: a
            # stall) registers again on a new connection; its users never stopped. Locust would give
            # it an empty node and dispatch the whole fleet again: after a stall every worker does
            # that at once, N re-dispatches to N workers. Answer as Locust does, keep the node.
            self.send_message("ack", client_id=client_id, data={"index": self.get_worker_index(client_id)})
            return
        hide = gated and msg.type == "client_ready" and client_id not in self.clients
        hide = hide and self._users_dispatcher is not None
        dispatcher = self._users_dispatcher
        if hide:
            self._users_dispatcher = None
        try:
            original(self, client_id, msg)
        except Exception as exc:  # a bad payload must not end Locust's client_listener greenlet
            offenders_of(self.environment).drop(
                client_id, f"a {msg.type!r} message its handler failed on ({type(exc).__name__})"
            )
        finally:
            if hide and self._users_dispatcher is None:  # (with rebalancing, Locust made a new one)
                self._users_dispatcher = dispatcher

    return mark_patched(handle_message, original)


def _registered(runner: MasterRunner, client_id: str) -> bool:
    """``client_id`` is a worker this master has registered and not declared missing."""
    node = runner.clients.get(client_id)
    return node is not None and node.state != STATE_MISSING


def _create_runner(original: Any) -> Any:
    def create_runner(self: Environment, runner_class: Any, *args: Any, **kwargs: Any) -> Any:
        global SOCKETS
        try:
            settings = security.settings_from(self.parsed_options)
        except ConfigError as exc:
            if not CLI["on"]:
                raise  # library mode: LoadTest raises, as for any bad option
            # `locust`: nothing between its option parsing and this call can end it more cleanly.
            print(f"loadkit: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(EXIT_USAGE)
        run_context(self)[SECURITY] = settings
        SOCKETS = Sockets(settings, offenders_of(self))
        return original(self, runner_class, *args, **kwargs)

    return mark_patched(create_runner, original)


def dispatch_to_accepted(runner: MasterRunner, node_id: str) -> None:
    """A worker was accepted mid-run: give it users as Locust does for a new worker (see above)."""
    dispatcher, node = runner._users_dispatcher, runner.clients.get(node_id)
    if dispatcher is None or node is None:
        return
    dispatcher.add_worker(worker_node=node)
    if not dispatcher.dispatch_in_progress and runner.state == STATE_RUNNING:
        runner.start(runner.target_user_count, runner.spawn_rate)


def _default_args_once(original: Any) -> Any:
    computed: dict[str, Any] = {}

    def default_args_dict() -> dict[str, Any]:
        if not computed:
            computed.update(original())
        return dict(computed)  # a copy: the caller owns what it gets, as with the original

    return mark_patched(default_args_dict, original)


def install() -> None:
    """Patch Locust once per process (see the module docstring); idempotent."""
    if patched(MasterRunner.handle_message):
        return
    argument_parser.default_args_dict = _default_args_once(argument_parser.default_args_dict)
    zmqrpc.Server = Server  # type: ignore[misc]
    zmqrpc.Client = Client  # type: ignore[misc]
    MasterRunner.handle_message = _handle_message(MasterRunner.handle_message)  # type: ignore[method-assign]
    Environment._create_runner = _create_runner(Environment._create_runner)  # type: ignore[method-assign]
