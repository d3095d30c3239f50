"""Leasing on a real (in-process) Locust master runner: handlers registered, dead holders reaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from locust.env import Environment
from locust.runners import MasterRunner

from loadkit import config
from loadkit.fleet import leasing
from tests.support import free_port


@pytest.fixture
def master() -> Iterator[Environment]:
    env = Environment(parsed_options=config.defaults(loadkit_data="faker:100", loadkit_data_batch=10))
    env.create_master_runner("127.0.0.1", free_port())
    try:
        yield env
    finally:
        assert env.runner is not None
        env.runner.quit()


def test_master_owns_the_pool_and_listens_for_requests(master: Environment) -> None:
    state = leasing.install(master)
    assert isinstance(master.runner, MasterRunner)
    assert state.pool is not None and state.client is None
    assert "loadkit:data_request" in master.runner.custom_messages
    state.stop()


def test_rows_of_a_worker_the_master_does_not_know_go_back(master: Environment) -> None:
    state = leasing.install(master)
    assert state.pool is not None and isinstance(master.runner, MasterRunner)
    state.pool.lease("ghost", 10)
    state.pool.ack("ghost", [0, 1])
    assert leasing.reap(master.runner, state) == 8
    assert state.reaped[0][0] == "ghost" and state.reaped[0][2] == 8
    assert leasing.reap(master.runner, state) == 0
    assert leasing.figures(state)["reaped"] == [{"worker": "ghost", "rows": 8}]
    state.stop()
