"""The open model at run time: one class per role behind one protocol, chosen once.

A Locust process plays one role for its whole life, so the role is a class, picked once from
the runner type when loadkit is installed (:func:`open_model_for`, called by
:func:`loadkit.run.plugin.install`), as pytest-xdist splits its controller (``DSession``) from
its workers (``WorkerInteractor``) instead of asking "am I a worker?" on every line:

- :class:`~loadkit.load.local.LocalModel` (local runner): at ``test_start`` it runs the whole
  schedule itself (slot 0 of 1);
- :class:`~loadkit.load.master.MasterModel`: owns the schedule, splits it over the live
  workers, re-splits when one comes or goes, merges their counts;
- :class:`~loadkit.load.worker.WorkerModel`: runs the share its master's plan gives it
  (:class:`~loadkit.load.node.NodeScheduler`) and sends its counts.

What they share is in :mod:`loadkit.load.base`. Every request fired inside an iteration is
re-timed from the iteration's intended start (:func:`loadkit.load.node.correct_latency`); for a
late iteration its uncorrected time is also kept as a facet entry (``<type>-service``, left
out of totals like ``grpc-ttfm``).
"""

from __future__ import annotations

from typing import Any, Protocol

from locust.runners import MasterRunner, WorkerRunner

from loadkit.load.base import BaseModel
from loadkit.load.local import LocalModel
from loadkit.load.master import MasterModel
from loadkit.load.node import NodeScheduler
from loadkit.load.profile import RateProfile
from loadkit.load.settings import ArrivalSettings
from loadkit.load.worker import WorkerModel
from loadkit.run.context import StashKey, run_context


class OpenModel(Protocol):
    """What :func:`loadkit.run.plugin.install` wires, whatever the role.

    ``install`` checks the options (ConfigError before any load) and registers the role's
    messages; the ``on_*`` methods are listeners of the Locust events of the same name (a role
    ignores those that never fire for it); ``summary`` is the ``load`` section of the reports
    and the web UI's row; ``busy`` tells the stats controller to drain workers that run
    iterations with no Locust users; ``checkpoint``/``restore`` keep the schedule in a master's
    state file and take it back (:mod:`loadkit.load.restart`).
    """

    node: NodeScheduler | None
    #: The run's options (None: a closed-model run, or a worker, whose master owns the schedule).
    settings: ArrivalSettings | None
    profile: RateProfile | None

    def install(self, check_users: bool) -> None: ...
    def on_test_start(self, environment: Any, **_kw: Any) -> None: ...
    def on_test_stopping(self, environment: Any, **_kw: Any) -> None: ...
    def on_test_stop(self, environment: Any, **_kw: Any) -> None: ...
    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None: ...
    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None: ...
    def summary(self) -> dict[str, Any]: ...
    def busy(self) -> bool: ...
    def checkpoint(self) -> dict[str, Any] | None: ...
    def restore(self, data: Any) -> None: ...


def role_for(environment: Any) -> type[BaseModel]:
    """The open-model class for ``environment``'s runner (no runner yet: the local one, which only checks options)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return MasterModel
    if isinstance(runner, WorkerRunner):
        return WorkerModel
    return LocalModel


#: This part's key in the run's stash (:mod:`loadkit.run.context`).
LOAD: StashKey[OpenModel] = StashKey("load")


def open_model_for(environment: Any) -> OpenModel:
    """The environment's open model (in its run's stash under :data:`LOAD`), created on first use.

    The role is chosen here, once (:func:`role_for`): a process keeps its runner type.
    """
    stash = run_context(environment)
    model = stash.get(LOAD)
    if model is None:
        model = stash[LOAD] = role_for(environment)(environment)
    return model
