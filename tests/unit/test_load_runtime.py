"""loadkit.load.runtime: the role is chosen once, from the runner type, and kept in the run context.

Real runners on 127.0.0.1 (the worker connects to the master in this process).
"""

from __future__ import annotations

from locust.env import Environment

from loadkit.load.local import LocalModel
from loadkit.load.master import MasterModel
from loadkit.load.runtime import LOAD, open_model_for, role_for
from loadkit.load.worker import WorkerModel
from loadkit.run.context import run_context
from tests.support.runners import master_and_worker


def test_each_runner_type_gets_its_role() -> None:
    assert role_for(Environment()) is LocalModel  # no runner yet: it only checks the options
    local = Environment()
    local.create_local_runner()
    assert role_for(local) is LocalModel
    with master_and_worker([]) as (master, worker):
        assert role_for(master.environment) is MasterModel and role_for(worker.environment) is WorkerModel
    assert local.runner is not None
    local.runner.quit()


def test_the_model_is_made_once_per_environment_and_kept_in_its_run_context() -> None:
    env = Environment()
    env.create_local_runner()
    model = open_model_for(env)
    assert isinstance(model, LocalModel)
    assert open_model_for(env) is model and run_context(env).get(LOAD) is model
    assert open_model_for(Environment()) is not model  # two environments share nothing
    assert env.runner is not None
    env.runner.quit()
