"""Locust's users, tasks and request events: what loadkit reads or patches there.

Part of the seam (:mod:`loadkit._locust`); contract tests in ``tests/unit/test_locust_users.py``.

- **calling user**: Locust runs each user in a greenlet whose first argument is the User
  (``greenlet.args[0]``, which Locust itself relies on); :func:`calling_environment` reads
  the environment of the user that called loadkit, for code users call without passing it
  (``loadkit.data.next()``).
- **request fire**: every client (``HttpSession``, ``FastHttpSession``, loadkit's users,
  ``measure``) reports a call through ``environment.events.request.fire(**kwargs)``, keyword
  arguments only, looked up on the one ``EventHook`` instance at call time, so replacing that
  instance's ``fire`` sees every request (:func:`wrap_request_fire`);
- **caught response**: ``FastHttpSession.request(..., catch_response=True)`` returns a
  ``ResponseContextManager`` whose ``request_meta`` holds the ``request`` event's arguments,
  ``exception`` included; ``success()``/``failure(exc)`` + leaving the ``with`` block set that
  exception and fire the event with ``request_meta``. :func:`report_caught` does the same in
  one call (RestUser's hot path), without the context manager's three frames.
- **one task** (the open model): a ``TaskSet`` keeps its scheduled tasks in the deque
  ``_task_queue``; ``schedule_task``/``get_next_task``/``execute_task`` pick and run one; a
  nested TaskSet class is instantiated with its parent (``DefaultTaskSet``: the user); a
  user's ``_state`` is ``LOCUST_STATE_RUNNING`` while it runs tasks (:func:`run_one_task`).
- **task iteration**: both models run each task through ``execute_task(task)`` of the TaskSet
  that scheduled it (``TaskSet`` and ``DefaultTaskSet`` define it; Locust's closed loop in
  ``execute_next_task``, the open model's :func:`run_one_task`), a nested TaskSet class being a
  "task" whose ``run()`` loops over its own; :func:`wrap_execute_task` wraps both methods once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately
from locust.user.task import LOCUST_STATE_RUNNING, DefaultTaskSet, TaskSet

from loadkit._locust.patch import mark_patched, patched


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
    if patched(hook.fire):
        return
    hook.fire = mark_patched(wrapper(hook.fire), hook.fire)


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


# --- task iteration ------------------------------------------------------------------------
def wrap_execute_task(wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``execute_task`` of ``TaskSet`` and ``DefaultTaskSet`` by ``wrapper(original)``, once per process."""
    for cls in (TaskSet, DefaultTaskSet):
        original = cls.__dict__["execute_task"]
        if not patched(original):
            cls.execute_task = mark_patched(wrapper(original), original)  # type: ignore[method-assign]
