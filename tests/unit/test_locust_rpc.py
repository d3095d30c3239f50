"""Contract tests of loadkit._locust.rpc: what it assumes about Locust's rpc sockets and messages.

The fleet's CURVE sockets and the master's frame checks and sender gate sit inside Locust's
own socket creation and listener loop; a Locust upgrade that moves either fails here, naming
the assumption and what of loadkit's fleet security it breaks (the seam's other areas have
theirs in tests/unit/test_locust_runners.py, test_locust_users.py, test_locust_web.py).
"""

from __future__ import annotations

from locust.env import Environment

from loadkit._locust import rpc as locust_rpc
from loadkit._locust.patch import patched


def test_runners_create_their_sockets_through_the_rpc_module_at_call_time() -> None:
    import inspect

    from locust import runners

    locust_rpc.install()
    master = inspect.getsource(runners.MasterRunner.__init__) + inspect.getsource(runners.MasterRunner.reset_connection)
    worker = inspect.getsource(runners.WorkerRunner)
    assert "rpc.Server(" in master, "Locust's master no longer creates rpc.Server(...): loadkit's CURVE is not applied"
    assert "rpc.Client(" in worker, "Locust's worker no longer creates rpc.Client(...): loadkit's CURVE is not applied"
    from locust.rpc import zmqrpc

    assert zmqrpc.Server is locust_rpc.Server and zmqrpc.Client is locust_rpc.Client, (
        "loadkit's sockets are not installed"
    )


def test_locusts_server_init_is_base_socket_then_bind() -> None:
    import inspect

    source = inspect.getsource(locust_rpc.Server.__mro__[1].__init__)  # Locust's own Server.__init__
    assert "BaseSocket.__init__(self, zmq.ROUTER" in source and "bind" in source, (
        "Locust's Server.__init__ changed: loadkit.locust_rpc.Server re-implements it (CURVE before bind)"
    )
    client = inspect.getsource(locust_rpc.Client.__mro__[1].__init__)
    assert "zmq.IDENTITY" in client and "connect" in client, "Locust's Client.__init__ changed: see loadkit._locust"


def test_the_master_listener_hands_each_message_to_handle_message() -> None:
    import inspect

    from locust import runners

    locust_rpc.install()
    source = inspect.getsource(runners.MasterRunner.client_listener)
    assert "self.server.recv_from_client()" in source and "self.handle_message(client_id, msg)" in source, (
        "Locust's client_listener changed: loadkit's frame checks and gate no longer sit in its path"
    )
    assert patched(runners.MasterRunner.handle_message), "the gate is not installed"


def test_the_master_handles_exactly_these_message_types() -> None:
    import inspect
    import re

    from locust import runners

    locust_rpc.install()
    cases = set(re.findall(r'case "([a-z_]+)"', inspect.getsource(runners.MasterRunner.handle_message.__wrapped__)))
    assert cases == locust_rpc.LOCUST_MESSAGES, (
        f"Locust's master handles {sorted(cases)}: update loadkit.locust_rpc.LOCUST_MESSAGES (others are dropped)"
    )


def test_a_message_is_type_data_node_id_in_msgpack() -> None:
    import msgpack
    from locust.rpc import Message

    assert msgpack.loads(Message("heartbeat", {"a": 1}, "w1").serialize()) == ["heartbeat", {"a": 1}, "w1"], (
        "Locust's wire format changed: loadkit.fleet.trust.parse and the security tests' attacker assume it"
    )


def test_environment_creates_every_runner_through_create_runner() -> None:
    import inspect

    source = inspect.getsource(Environment.create_master_runner) + inspect.getsource(Environment.create_worker_runner)
    assert source.count("self._create_runner(") == 2, (
        "Locust's Environment no longer creates runners via _create_runner: the fleet secret is not read first"
    )


def test_workers_look_up_the_default_options_per_spawn_message_and_loadkit_computes_them_once() -> None:
    import inspect

    from locust import argument_parser, runners

    locust_rpc.install()
    handler = inspect.getsource(runners.WorkerRunner)
    assert "argument_parser.default_args_dict()" in handler, (
        "Locust's worker no longer calls argument_parser.default_args_dict() on a spawn message: "
        "loadkit's once-per-process copy (loadkit._locust.rpc) is moot, drop it"
    )
    assert patched(argument_parser.default_args_dict)
    first = argument_parser.default_args_dict()
    assert first == argument_parser.default_args_dict.__wrapped__() and "num_users" in first
    first["num_users"] = "changed"  # a caller's copy: the next caller gets the defaults again
    assert argument_parser.default_args_dict()["num_users"] != "changed"


def test_locust_answers_client_ready_with_an_ack_and_replaces_a_known_workers_node() -> None:
    """What loadkit keeps (the ack with the worker's index) and skips (a new empty node, re-dispatch)
    when a registered worker says ``client_ready`` again (loadkit._locust.rpc: handle_message)."""
    import inspect

    from locust import runners

    locust_rpc.install()
    source = inspect.getsource(runners.MasterRunner.handle_message.__wrapped__)
    ready = source[source.index('case "client_ready"') : source.index('case "locustfile"')]
    assert 'self.send_message("ack", client_id=client_id, data={"index": self.get_worker_index(client_id)})' in ready
    assert "self.clients[client_id] = WorkerNode(" in ready and "self.start(" in ready
    assert callable(runners.MasterRunner.get_worker_index) and hasattr(runners, "STATE_MISSING")
