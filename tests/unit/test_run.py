"""One typed context per environment (loadkit.run), nothing set on Locust's Environment."""

from __future__ import annotations

import gc

from locust.env import Environment

from loadkit.run import context as run
from loadkit.run.context import RunContext, run_context
from loadkit.run.plugin import install


def test_one_context_per_environment_created_on_first_use() -> None:
    first, second = Environment(), Environment()
    assert run_context(first) is run_context(first)
    assert run_context(first) is not run_context(second)
    assert isinstance(run_context(first), RunContext)


def test_install_fills_the_context_and_adds_no_attribute_to_the_environment() -> None:
    env = Environment()
    env.create_local_runner()
    before = set(vars(env))
    install(env)
    context = run_context(env)
    assert context.installed and context.stats is not None and context.leasing is not None
    assert context.health is not None
    assert run.current() is context
    assert not {name for name in set(vars(env)) - before if "loadkit" in name}
    context.health.stop()
    context.leasing.stop()
    env.runner.quit()  # type: ignore[union-attr]


def test_a_context_goes_away_with_its_environment() -> None:
    env = Environment()
    run_context(env).stopping = True
    count = len(run._CONTEXTS)
    del env
    gc.collect()
    assert len(run._CONTEXTS) == count - 1
