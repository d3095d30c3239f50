"""The one module that reads or patches Locust's internals.

loadkit plugs into Locust's public seams (events, ``register_message``, ``User``,
``init_command_line_parser``, the web UI's Flask app). A few things have no seam; they are
all here, each as a small function, and each has a contract test in
``tests/unit/test_locust_compat.py`` named after it, so that a Locust upgrade that breaks
one fails that test with the name of the assumption instead of changing behaviour silently.

Assumptions (section names match the contract tests):

- **worker table**: ``MasterRunner.clients`` is a :class:`locust.runners.WorkerNodes` (a
  mapping id -> ``WorkerNode`` with ``.state``), its ``ready``/``spawning``/``running`` lists
  go through ``get_by_state`` and its storage is ``_worker_nodes``. Worker gating replaces
  the table with :class:`PendingWorkerNodes`, which leaves pending workers out of those lists.
- **forget a worker**: removing a worker is what Locust does on a worker's ``quit``:
  ``del runner.clients[id]`` and ``runner._users_dispatcher.remove_worker(node)``; a worker
  sent ``Message("quit")`` stops and exits (:func:`refuse_worker`).
- **final-report drain**: ``MasterRunner.quit`` sends ``Message("quit")`` to each worker
  and waits a fixed 0.5 s; a worker answers with its last stats report, then ``quit``,
  after which Locust drops it from ``clients``. :func:`drain_workers` sends the same
  message and waits for the drop; ``runner.greenlet`` is the runner's greenlet group.
- **facet routing**: the runner logs each ``request`` event with ``stats.log_request(type,
  name, response_time, length)`` looked up on the ``RequestStats`` instance at every call,
  so wrapping that one instance's method routes entries (:func:`route_request_log`).
- **stats logger**: Locust prints its console table through the logger :data:`STATS_LOGGER`,
  which its log set-up configures (none with ``--skip-log-setup``).
- **Locust's messages**: the text of two start-up failures loadkit rewrites in one line
  (``locust.main`` logs :data:`GAVE_UP_MESSAGE`; the master's bind failure is an ``RPCError``
  starting with :data:`BIND_FAILURE_PREFIX`).
- **caught response**: ``FastHttpSession.request(..., catch_response=True)`` returns a
  ``ResponseContextManager`` whose ``request_meta`` holds the ``request`` event's arguments,
  ``exception`` included; ``success()``/``failure(exc)`` + leaving the ``with`` block set that
  exception and fire the event with ``request_meta``. :func:`report_caught` does the same in
  one call (RestUser's hot path), without the context manager's three frames.

- **rpc sockets and messages** (the fleet secret's CURVE, frame checks, the message gate):
  in :mod:`loadkit._locust_rpc`, this seam's second module (split for size; the same rules).

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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import gevent
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerNode, WorkerNodes
from locust.user.task import LOCUST_STATE_RUNNING, DefaultTaskSet, TaskSet

if TYPE_CHECKING:
    from flask import Flask, Response
    from locust.web import WebUI

log = logging.getLogger("loadkit")

#: Logger of Locust's ``main`` and the line it logs when ``--expect-workers`` was not reached in time.
MAIN_LOGGER = "locust.main"
GAVE_UP_MESSAGE = "Gave up waiting for workers to connect"
#: Start of the ``RPCError`` text when the master cannot bind ``--master-bind-port``.
BIND_FAILURE_PREFIX = "Socket bind failure: "
#: Name of the exception class Locust raises for that failure (``locust.exception.RPCError``).
RPC_ERROR_NAME = "RPCError"
#: The logger Locust prints its stats table through (``locust.stats.console_logger``).
STATS_LOGGER = "locust.stats_logger"


# --- worker table ------------------------------------------------------------------------
class PendingWorkerNodes(WorkerNodes):
    """Locust's table of workers, where one that connected counts only once :meth:`accept`-ed.

    Node states stay Locust's (its ``check_stopped`` reads them); only the lists by state
    that Locust uses to count and dispatch leave pending workers out.
    """

    def __init__(self, nodes: WorkerNodes) -> None:
        super().__init__()
        self._worker_nodes = nodes._worker_nodes  # the same dict: Locust's later writes land in it
        self._accepted: set[str] = set(nodes._worker_nodes)

    def get_by_state(self, state: str) -> list[WorkerNode]:
        nodes = super().get_by_state(state)
        return nodes if state == STATE_MISSING else [n for n in nodes if n.id in self._accepted]

    def pending(self, node_id: str) -> bool:
        return node_id in self._worker_nodes and node_id not in self._accepted

    def accept(self, node_id: str) -> None:
        self._accepted.add(node_id)


def gate_workers(runner: MasterRunner) -> PendingWorkerNodes:
    """Replace the master's worker table by a :class:`PendingWorkerNodes` (idempotent); return it."""
    if not isinstance(runner.clients, PendingWorkerNodes):
        runner.clients = PendingWorkerNodes(runner.clients)
    return runner.clients


def worker_table(runner: Any) -> PendingWorkerNodes | None:
    """The gated worker table of a master, or None (not a master, or not gated)."""
    clients = getattr(runner, "clients", None)
    return clients if isinstance(clients, PendingWorkerNodes) else None


def ready_workers(runner: Any) -> int:
    """How many workers the master counts as ready (``--expect-workers`` counts these)."""
    return len(runner.clients.ready)


def live_workers(runner: Any) -> set[str]:
    """Ids of the master's workers that are connected and not missing (no heartbeat)."""
    return {node.id for node in runner.clients.all if node.state != STATE_MISSING}


def worker_gone(runner: Any, node_id: str) -> bool:
    """True when the master no longer has ``node_id``, or has it as missing (heartbeats stopped)."""
    node = runner.clients.get(node_id)
    return node is None or node.state == STATE_MISSING


def has_worker(runner: Any, node_id: str) -> bool | None:
    """Whether the master knows ``node_id``; None when ``runner`` is no master (no table)."""
    clients = getattr(runner, "clients", None)
    return None if clients is None else node_id in clients


# --- forget a worker -----------------------------------------------------------------------
def forget_worker(runner: MasterRunner, node_id: str) -> None:
    """Drop a worker from the master as Locust does when a worker quits (no users go to it)."""
    node = runner.clients.get(node_id)
    if node is None:
        return
    dispatcher = getattr(runner, "_users_dispatcher", None)  # set once a test started
    if dispatcher is not None:
        dispatcher.remove_worker(node)
    del runner.clients[node_id]


def refuse_worker(runner: MasterRunner, node_id: str) -> None:
    """Forget a worker and send it Locust's ``quit`` (a worker without loadkit obeys that one)."""
    forget_worker(runner, node_id)
    runner.server.send_to_client(Message("quit", None, node_id))


# --- final-report drain --------------------------------------------------------------------
def in_runner_greenlet(runner: Any) -> bool:
    """True when called from one of the runner's own greenlets (which ``quit`` kills)."""
    return gevent.getcurrent() in runner.greenlet


def drain_workers(runner: MasterRunner, timeout: float) -> bool:
    """Ask every live worker to quit and wait until each has sent its final report and gone.

    Returns False when some worker was still there after ``timeout`` s (its last seconds
    may be missing), True otherwise. From the runner's own greenlet it cannot receive the
    replies, so it returns at once (True: nothing to wait for there).
    """
    if in_runner_greenlet(runner):
        return True
    ids = live_workers(runner)  # a missing worker would send nothing: waiting would only delay the end
    for client_id in ids:
        runner.server.send_to_client(Message("quit", None, client_id))
    deadline = time.monotonic() + timeout
    while ids & live_workers(runner):
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True


def users_at_stop(runner: Any) -> int:
    """Users when the test stopped (Locust keeps that count for its report), else the current ones."""
    if runner is None:
        return 0
    at_stop = sum(getattr(runner, "final_user_classes_count", {}).values())
    return int(at_stop or runner.user_count)


def close_master_socket(runner: Any) -> None:
    """Close a master's ZeroMQ socket at once (library mode: the next run binds a new port)."""
    server = getattr(runner, "server", None)
    if server is not None and isinstance(runner, MasterRunner):
        server.close(linger=0)


# --- facet routing -------------------------------------------------------------------------
def route_request_log(stats: Any, apart: Callable[[str], bool]) -> None:
    """Log request types for which ``apart(type)`` is true into their own entry only, not the total.

    Wraps ``stats.log_request`` of this one ``RequestStats`` object (idempotent).
    """
    if getattr(stats.log_request, "_loadkit_routed", False):
        return
    log_request = stats.log_request

    def log_request_routed(method: str, name: str, response_time: float, content_length: int) -> None:
        if apart(method):
            stats.get(name, method).log(response_time, content_length)
        else:
            log_request(method, name, response_time, content_length)

    log_request_routed._loadkit_routed = True  # type: ignore[attr-defined]
    stats.log_request = log_request_routed


# --- web UI and users (see the module docstring) -------------------------------------------
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


# --- caught response -----------------------------------------------------------------------
def report_caught(environment: Any, response: Any, exception: BaseException | None) -> None:
    """Record a ``catch_response=True`` FastHttpSession response as ``success()`` (None) or ``failure(exception)``."""
    meta = response.request_meta
    meta["exception"] = exception
    environment.events.request.fire(**meta)


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
