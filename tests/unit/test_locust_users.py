"""Contract tests of loadkit._locust.users: the calling user's greenlet, ``events.request.fire``,
one task of a ``TaskSet``, ``catch_response``'s ``request_meta``; each assumption by name.

A Locust (or Flask, flask-cors, flask-login) upgrade that breaks one fails here with a
message naming the assumption and the loadkit feature it breaks, instead of silently
emptying a tab, opening the UI or changing a run.
"""

from __future__ import annotations

from typing import Any

import gevent
import locust
import pytest
from locust import User, task
from locust.env import Environment
from locust.exception import RescheduleTaskImmediately

from loadkit._locust import users as locust_users

LOCUST = f"Locust {locust.__version__}"


class Idle(User):
    @task
    def nothing(self) -> None:
        pass


def test_a_users_greenlet_carries_the_user_as_its_first_argument() -> None:
    from gevent.pool import Group
    from locust import constant

    environment = Environment(user_classes=[Idle])
    seen: list[object] = []

    class Probe(User):
        wait_time = constant(0)

        @task
        def look(self) -> None:
            seen.append(locust_users.calling_environment())
            self.stop()

    Probe(environment).start(Group()).join(timeout=5)
    assert seen == [environment], "Locust no longer spawns a user's greenlet with the User as args[0]"
    assert gevent.spawn(locust_users.calling_environment).get(timeout=5) is None


# --- open model (loadkit.load) ---------------------------------------------------------------
def test_request_fire_is_one_hook_every_client_looks_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.clients import HttpSession

    environment = Environment(user_classes=[Idle])
    seen: list[dict[str, object]] = []

    def wrapper(fire: object) -> object:
        def wrapped(**kwargs: object) -> None:
            seen.append(kwargs)

        return wrapped

    locust_users.wrap_request_fire(environment, wrapper)  # type: ignore[arg-type]
    session = HttpSession("http://127.0.0.1:9", environment.events.request, user=None)
    with session, pytest.raises(Exception):  # noqa: B017 - nothing listens on port 9; the event still fires
        session.get("/", catch_response=False).raise_for_status()
    assert seen and "response_time" in seen[0], "HttpSession no longer fires events.request.fire(**kwargs)"


def test_one_task_runs_with_locusts_own_selection() -> None:
    from locust import TaskSet

    calls: list[str] = []

    class Inner(TaskSet):
        @task
        def inner(self) -> None:
            calls.append("inner")
            self.interrupt()

    class Mixed(User):
        tasks = {Inner: 1}

    environment = Environment(user_classes=[Mixed])
    stack = locust_users.TaskStack(Mixed(environment))
    locust_users.run_one_task(stack)  # enters Inner and runs its first task, which interrupts
    assert calls == ["inner"], "TaskSet._task_queue / schedule_task / execute_task changed"
    assert len(stack.stack) == 1, "InterruptTaskSet no longer leaves the nested TaskSet"


def test_every_task_run_goes_through_execute_task_of_taskset_or_defaulttaskset(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.user.task import DefaultTaskSet, TaskSet

    for cls in (TaskSet, DefaultTaskSet):
        assert "execute_task" in cls.__dict__, f"{cls.__name__}.execute_task is gone"
        monkeypatch.setattr(cls, "execute_task", cls.__dict__["execute_task"])  # restored after the test
    ran: list[str] = []
    calls: list[str] = []

    def wrapper(original: Any) -> Any:
        def execute_task(taskset: Any, task_: Any) -> Any:
            calls.append(type(taskset).__name__)
            return original(taskset, task_)

        return execute_task

    class Inner(TaskSet):
        @task
        def inner(self) -> None:
            ran.append("inner")
            self.interrupt()

    class Mixed(User):
        tasks = {Inner: 1}

        @task
        def outer(self) -> None:
            ran.append("outer")

    locust_users.wrap_execute_task(wrapper)
    locust_users.wrap_execute_task(wrapper)  # once per process: a second call wraps nothing more
    user = Mixed(Environment(user_classes=[Mixed]))
    root = DefaultTaskSet(user)
    root.execute_task(Mixed.outer)  # Locust's closed loop: execute_next_task -> execute_task
    with pytest.raises(RescheduleTaskImmediately):  # interrupt() leaves the nested TaskSet this way
        root.execute_task(Inner)  # a nested TaskSet: its run() runs its own tasks through execute_task
    assert ran == ["outer", "inner"] and calls == ["DefaultTaskSet", "DefaultTaskSet", "Inner"]


# --- caught response ---------------------------------------------------------------------------
def test_caught_response_fires_its_request_meta_with_the_outcome_as_the_with_block_does() -> None:
    from locust.contrib.fasthttp import ResponseContextManager

    env = Environment()
    fired: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: fired.append(kw))
    meta = {"request_type": "GET", "name": "/x", "response_time": 1.5, "response_length": 3, "context": {"a": 1}}

    class Response:  # what ResponseContextManager copies its attributes from (a FastResponse)
        pass

    error = ValueError("bad body")
    for outcome in (None, error):
        with ResponseContextManager(Response(), env.events.request, {**meta, "exception": None}, True) as r:
            r.success() if outcome is None else r.failure(outcome)
        caught = ResponseContextManager(Response(), env.events.request, {**meta, "exception": None}, True)
        locust_users.report_caught(env, caught, outcome)
        assert fired[-1] == fired[-2], (
            f"{LOCUST}: success()/failure() in a with-block no longer fires request_meta with the outcome "
            "(RestUser reports through loadkit._locust.report_caught)"
        )
        assert fired[-1]["exception"] is outcome
    assert len(fired) == 4
