"""The per-run stash (loadkit.run.context): typed keys, one stash per environment, nothing shared."""

from __future__ import annotations

import gc
import weakref

import pytest
from locust.env import Environment

from loadkit.fleet.health import HEALTH_STATE
from loadkit.fleet.leasing import LEASING
from loadkit.messages import offenders_of
from loadkit.run import context as run
from loadkit.run.context import Stash, StashKey, run_context
from loadkit.run.plugin import INSTALLED, install
from loadkit.stats.controller import STATS


def test_a_stash_is_read_and_written_by_typed_key() -> None:
    stash, count, name = Stash(), StashKey[int]("count"), StashKey[str]("name")
    assert stash.get(count) is None and stash.get(count, 7) == 7 and count not in stash
    stash[count] = 1
    assert stash[count] == 1 and count in stash and len(stash) == 1
    assert stash.setdefault(count, 5) == 1 and stash.setdefault(name, "a") == "a"
    del stash[count]
    with pytest.raises(KeyError, match=r"StashKey\('count'\) is not set in this run's stash"):
        stash[count]


def test_keys_compare_by_identity_so_two_parts_never_collide() -> None:
    stash, mine, theirs = Stash(), StashKey[int]("same"), StashKey[int]("same")
    stash[mine] = 1
    assert theirs not in stash and stash.get(theirs) is None


def test_one_stash_per_environment_created_on_first_use() -> None:
    first, second = Environment(), Environment()
    assert run_context(first) is run_context(first)
    assert run_context(first) is not run_context(second)


def test_install_fills_the_stash_and_adds_one_attribute_to_the_environment() -> None:
    env = Environment()
    env.create_local_runner()
    install(env)
    stash = run_context(env)
    assert stash[INSTALLED] and stash.get(STATS) is not None and stash.get(LEASING) is not None
    assert run.current() is stash
    assert {name for name in vars(env) if "loadkit" in name} == {run.ATTRIBUTE}, "one attribute: the stash"
    stash[HEALTH_STATE].stop()
    stash[LEASING].stop()
    env.runner.quit()  # type: ignore[union-attr]


def test_two_runs_in_one_process_share_nothing() -> None:
    """The first run's dropped messages are not reported by the second (was a process-wide counter)."""
    first, second = Environment(), Environment()
    offenders_of(first).drop("rogue", "a bad frame")
    assert offenders_of(first).summary() is not None
    assert offenders_of(second).summary() is None and offenders_of(second) is not offenders_of(first)


def test_a_stash_goes_away_with_its_environment() -> None:
    env = Environment()
    stash = run_context(env)
    stash[StashKey[Environment]("env")] = env  # even a part that holds its environment keeps nothing alive
    alive, sizes = weakref.ref(env), weakref.ref(stash)
    del env, stash
    gc.collect()
    assert alive() is None and sizes() is None
