"""The one module that reads or patches Locust's internals.

Everything loadkit relies on inside Locust that is not a documented extension point lives
here, each assumption with a contract test in ``tests/unit/test_locust_compat.py`` that
fails with a clear message when a Locust upgrade breaks it.

Web UI (:class:`locust.web.WebUI`, a Flask app):

- Locust registers its pages on a blueprint named ``locust`` with ``url_prefix`` the
  ``--web-base-path``; :func:`web_base_path` reads the prefix back from the URL map (the
  WebUI keeps no attribute for it) and :func:`is_stats_request` recognises the page's
  polling endpoint (``locust.request_stats``) whatever the prefix;
- Flask runs ``after_request`` hooks in reverse order of registration, so the hook
  registered first runs last: :func:`after_request_last` puts loadkit's hooks there, after
  any hook a locustfile adds (Locust's ``examples/extend_web_ui.py`` *replaces*
  ``extended_stats``; loadkit appends after it);
- Locust calls ``CORS(app)`` (flask-cors, every origin); :func:`restrict_cors` removes the
  CORS headers from every answer to an origin not allowed;
- ``--web-login`` is read once, when the WebUI is built (``web_ui.web_login`` and its
  ``LoginManager``); ``auth_required_if_enabled`` reads ``web_ui.web_login`` per request.
  :func:`enable_login` turns login on afterwards, as ``--web-login`` would have;
  :func:`user_loader` tells whether a locustfile replaced loadkit's ``user_loader``
  (flask-login keeps it in a private attribute).

Users: Locust runs each user in a greenlet whose first argument is the User
(``greenlet.args[0]``, which Locust itself relies on); :func:`calling_environment` reads
the environment of the user that called loadkit, for code users call without passing it
(``loadkit.data.next()``).

Open model (:mod:`loadkit.load`):

- **request fire**: every client (``HttpSession``, ``FastHttpSession``, loadkit's users,
  ``measure``) reports a call through ``environment.events.request.fire(**kwargs)``, keyword
  arguments only, looked up on the one ``EventHook`` instance at call time, so replacing that
  instance's ``fire`` sees every request (:func:`wrap_request_fire`);
- **one task**: a ``TaskSet`` keeps its scheduled tasks in the deque ``_task_queue``;
  ``schedule_task``/``get_next_task``/``execute_task`` pick and run one; a nested TaskSet
  class is instantiated with its parent (``DefaultTaskSet``: the user); a user's ``_state`` is
  ``LOCUST_STATE_RUNNING`` while it runs tasks (:func:`run_one_task`);
- **runner start**: the web UI's ``/swarm`` and ``locust.main`` (headless) start a run with
  ``runner.start(user_count, spawn_rate)`` looked up on the runner instance
  (:func:`override_user_count`).

Fleet sockets and messages: :func:`install` runs once, when :mod:`loadkit.plugin` is imported — which is when the
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

import sys
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import zmq.error as zmqerr
import zmq.green as zmq
from locust.env import Environment
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, RPCError
from locust.rpc import Message, zmqrpc
from locust.runners import STATE_RUNNING, MasterRunner
from locust.user.task import LOCUST_STATE_RUNNING, DefaultTaskSet, TaskSet

from loadkit.cli import EXIT_USAGE
from loadkit.exceptions import ConfigError
from loadkit.fleet import security, trust

if TYPE_CHECKING:
    from flask import Flask, Response
    from locust.web import WebUI

#: Endpoint of the page Locust's UI polls for its tables (``extended_stats`` rides on it).
STATS_ENDPOINT = "locust.request_stats"
#: Endpoints of Locust's index and login pages.
INDEX_ENDPOINT = "locust.index"
LOGIN_ENDPOINT = "locust.login"


def web_base_path(app: Flask) -> str:
    """``--web-base-path`` of the UI served by ``app`` ("" at the root, else e.g. "/locust")."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == INDEX_ENDPOINT:
            return str(rule.rule).rstrip("/")
    raise LookupError(f"Locust's web UI has no {INDEX_ENDPOINT!r} endpoint: loadkit does not know this Locust")


def is_stats_request(endpoint: str | None) -> bool:
    """True for the request endpoint of Locust's ``/stats/requests`` (under any base path)."""
    return endpoint == STATS_ENDPOINT


def after_request_last(app: Flask, hook: Callable[[Response], Response]) -> None:
    """Register ``hook`` to run after every ``after_request`` hook registered so far or later."""
    app.after_request_funcs.setdefault(None, []).insert(0, hook)


_CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Private-Network",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


def restrict_cors(app: Flask, allowed: Collection[str]) -> None:
    """Keep Locust's CORS headers only on answers to an ``Origin`` in ``allowed``."""
    from flask import request

    def strip(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            for name in _CORS_HEADERS:
                response.headers.pop(name, None)
        response.vary.add("Origin")
        return response

    after_request_last(app, strip)


def enable_login(web_ui: WebUI) -> Any:
    """Turn on login as ``--web-login`` does at start-up; return the UI's ``LoginManager``."""
    if not web_ui.web_login:
        from flask_login import LoginManager

        manager = LoginManager()
        manager.init_app(web_ui.app)
        manager.login_view = LOGIN_ENDPOINT
        web_ui.login_manager = manager
        web_ui.web_login = True
    return web_ui.login_manager


def user_loader(manager: Any) -> Any:
    """The ``user_loader`` callback set on a flask-login ``LoginManager`` (None if none)."""
    return getattr(manager, "_user_callback", None)


def calling_environment() -> Any:
    """The ``Environment`` of the User whose greenlet is running, or None outside a user."""
    import gevent
    from locust import User

    args = getattr(gevent.getcurrent(), "args", None) or ()
    user = args[0] if args else None
    return user.environment if isinstance(user, User) else None


# --- request fire --------------------------------------------------------------------------
def wrap_request_fire(environment: Any, wrapper: Callable[[Callable[..., None]], Callable[..., None]]) -> None:
    """Replace ``environment.events.request.fire`` by ``wrapper(original)``; once per environment."""
    hook = environment.events.request
    if getattr(hook.fire, "_loadkit_wrapped", False):
        return
    wrapped = wrapper(hook.fire)
    wrapped._loadkit_wrapped = True  # type: ignore[attr-defined]
    hook.fire = wrapped


# --- one task ------------------------------------------------------------------------------
class TaskStack:
    """A user's root ``DefaultTaskSet`` and the nested TaskSets it entered, innermost last."""

    def __init__(self, user: Any) -> None:
        user._state = LOCUST_STATE_RUNNING
        self.user = user
        self.stack: list[TaskSet] = [DefaultTaskSet(user)]


def run_one_task(tasks: TaskStack) -> None:
    """Run ONE task of the innermost TaskSet, with Locust's own selection and weights.

    A task that is a TaskSet class is entered (instantiated as Locust does, its
    ``on_start`` run) and its first task runs in the same iteration; it stays entered for
    the next iterations until it raises ``InterruptTaskSet`` (``self.interrupt()``).
    ``StopUser``/``StopTest`` and other exceptions propagate to the caller.
    """
    while True:
        current = tasks.stack[-1]
        try:
            if not current._task_queue:
                current.schedule_task(current.get_next_task())
            task = current._task_queue.popleft()
            if isinstance(task, type) and issubclass(task, TaskSet):
                nested = task(tasks.user if isinstance(current, DefaultTaskSet) else current)  # type: ignore[arg-type]
                tasks.stack.append(nested)
                nested.on_start()
                continue
            current.execute_task(task)
            return
        except InterruptTaskSet:
            if len(tasks.stack) > 1:
                left = tasks.stack.pop()
                left.on_stop()
            return
        except (RescheduleTask, RescheduleTaskImmediately):
            return


# --- runner start --------------------------------------------------------------------------
def override_user_count(runner: Any, user_count: Callable[[int], int]) -> None:
    """Make ``runner.start(n, rate)`` start ``user_count(n)`` users instead (once per runner)."""
    start = runner.start
    if getattr(start, "_loadkit_wrapped", False):
        return

    def start_with(count: int, spawn_rate: float, *args: Any, **kwargs: Any) -> Any:
        return start(user_count(count), spawn_rate, *args, **kwargs)

    start_with._loadkit_wrapped = True  # type: ignore[attr-defined]
    runner.start = start_with


# --- fleet: rpc sockets and messages (loadkit.fleet.security, loadkit.fleet.trust) -----
#: Hard cap in ZeroMQ itself: a peer sending more is disconnected before Python sees a byte.
ZMQ_MAX_MESSAGE_BYTES = 2 * trust.MAX_MESSAGE_BYTES
SETTINGS = security.SETTINGS


class Server(zmqrpc.Server):
    """Locust's master socket (ROUTER), secured and checked; see the module docstring."""

    def __init__(self, host: str, port: int) -> None:
        # Locust's Server.__init__, with loadkit's set-up between creating the socket and binding it.
        zmqrpc.BaseSocket.__init__(self, zmq.ROUTER, self.ipv4_only(host, port))
        self.socket.setsockopt(zmq.MAXMSGSIZE, ZMQ_MAX_MESSAGE_BYTES)
        self.zap = security.secure_server(self.socket, SETTINGS.keys) if SETTINGS.keys is not None else None
        security.warn_if_open(host, port)
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
        if SETTINGS.keys is not None:
            security.secure_client(self.socket, SETTINGS.keys)
        self.watch = security.HandshakeWatch(self.socket, f"{host}:{port}", SETTINGS.keys is not None)
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
        found = trust.Gate(trust.OFFENDERS, SETTINGS.max_workers)
        runner.__dict__[_GATE_ATTR] = found
    return found


def _handle_message(original: Any) -> Any:
    def handle_message(self: MasterRunner, client_id: str, msg: Message) -> None:
        if not gate(self).admit(_Fleet(self), client_id, msg.type, msg.data):
            return
        # Mid-run, Locust hands a new worker users at its client_ready (dispatcher.add_worker, then
        # start): a peer that never says a matching hello would get users. Hide the dispatcher then;
        # loadkit.fleet.version adds the worker to it once it is accepted (dispatch_to_accepted).
        hide = msg.type == "client_ready" and client_id not in self.clients and self._users_dispatcher is not None
        dispatcher = self._users_dispatcher
        if hide:
            self._users_dispatcher = None
        try:
            original(self, client_id, msg)
        except Exception as exc:  # a bad payload must not end Locust's client_listener greenlet
            trust.OFFENDERS.drop(client_id, f"a {msg.type!r} message its handler failed on ({type(exc).__name__})")
        finally:
            if hide and self._users_dispatcher is None:  # (with rebalancing, Locust made a new one)
                self._users_dispatcher = dispatcher

    handle_message._loadkit = True  # type: ignore[attr-defined]
    return handle_message


def _create_runner(original: Any) -> Any:
    def create_runner(self: Environment, runner_class: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            security.configure(self.parsed_options)
        except ConfigError as exc:
            if not SETTINGS.cli:
                raise  # library mode: LoadTest raises, as for any bad option
            # `locust`: nothing between its option parsing and this call can end it more cleanly.
            print(f"loadkit: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(EXIT_USAGE)
        return original(self, runner_class, *args, **kwargs)

    create_runner._loadkit = True  # type: ignore[attr-defined]
    return create_runner


def dispatch_to_accepted(runner: MasterRunner, node_id: str) -> None:
    """A worker was accepted mid-run: give it users as Locust does for a new worker (see above)."""
    dispatcher, node = runner._users_dispatcher, runner.clients.get(node_id)
    if dispatcher is None or node is None:
        return
    dispatcher.add_worker(worker_node=node)
    if not dispatcher.dispatch_in_progress and runner.state == STATE_RUNNING:
        runner.start(runner.target_user_count, runner.spawn_rate)


def install() -> None:
    """Patch Locust once per process (see the module docstring); idempotent."""
    if getattr(MasterRunner.handle_message, "_loadkit", False):
        return
    zmqrpc.Server = Server  # type: ignore[misc]
    zmqrpc.Client = Client  # type: ignore[misc]
    MasterRunner.handle_message = _handle_message(MasterRunner.handle_message)  # type: ignore[method-assign]
    Environment._create_runner = _create_runner(Environment._create_runner)  # type: ignore[method-assign]
