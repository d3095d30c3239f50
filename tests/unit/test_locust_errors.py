"""loadkit._locust.errors: Locust's start-up failures as one line, and the contract test of the
Locust texts it rewrites (a Locust upgrade that changes one fails here, naming it)."""

from __future__ import annotations

import inspect
import logging

import locust
from locust.exception import RPCError

from loadkit._locust import errors as locust_errors
from loadkit._locust.errors import ExpectWorkersHint, bind_failure_line, gave_up_line

LOCUST = f"Locust {locust.__version__}"


def test_bind_failure_line_names_port_reason_and_fix() -> None:
    exc = RPCError("Socket bind failure: Address already in use (addr='tcp://127.0.0.1:5557')")
    assert bind_failure_line(exc) == (
        "loadkit: error: the master cannot listen on --master-bind-port 5557 (Address already in use): "
        "stop what listens there or pass another --master-bind-port (and the same --master-port to the workers)"
    )


def test_bind_failure_line_ignores_other_errors() -> None:
    assert bind_failure_line(RPCError("ZMQ sent failure")) is None
    assert bind_failure_line(OSError("Socket bind failure: x")) is None


def test_gave_up_line() -> None:
    assert gave_up_line(1, 3, 60).startswith(
        "Gave up waiting for workers to connect: 1 of --expect-workers 3 ready within --expect-workers-max-wait 60s: "
        "start the missing workers"
    )


def test_hint_rewrites_only_the_give_up_record() -> None:
    hint = ExpectWorkersHint(lambda: 0, 2, 1.5)
    gave_up = logging.LogRecord(
        "locust.main", logging.ERROR, __file__, 1, "Gave up waiting for workers to connect", None, None
    )
    other = logging.LogRecord("locust.main", logging.INFO, __file__, 1, "Starting Locust %s", ("2",), None)
    assert hint.filter(gave_up) and hint.filter(other)
    assert gave_up.getMessage() == gave_up_line(0, 2, 1.5)
    assert other.getMessage() == "Starting Locust 2"


def test_locust_messages_loadkit_rewrites() -> None:
    import locust.main
    import locust.rpc.zmqrpc

    assert locust_errors.GAVE_UP_MESSAGE in inspect.getsource(locust.main), (
        f"{LOCUST}: locust.main no longer logs {locust_errors.GAVE_UP_MESSAGE!r}; loadkit's --expect-workers "
        "hint (loadkit._locust.errors) would never fire: update loadkit._locust.GAVE_UP_MESSAGE"
    )
    assert logging.getLogger(locust_errors.MAIN_LOGGER) is logging.getLogger(locust.main.__name__)
    source = inspect.getsource(locust.rpc.zmqrpc)
    assert (
        f'RPCError(f"{locust_errors.BIND_FAILURE_PREFIX}' in source
        and RPCError.__name__ == locust_errors.RPC_ERROR_NAME
    ), (
        f"{LOCUST}: the master's bind failure is no longer RPCError('{locust_errors.BIND_FAILURE_PREFIX}...'); "
        "loadkit._locust.errors would print Locust's traceback instead of one line"
    )
