"""The open model on a worker: it runs the share of the schedule its master's plan gives it.

A ``loadkit:arrival_plan`` starts (or, for the same ``run``, re-assigns) this process's
:class:`~loadkit.load.node.NodeScheduler`; an inactive one stops it. The worker sends its
counts every ``status_interval_s`` of its plan (``loadkit:arrival_status``; :data:`STATUS_INTERVAL_S`
unless the master widened it for a big fleet, :func:`loadkit.load.master.status_interval`) and with each stats
report, cumulative, so nothing is lost or counted twice (per-second starts: each channel its
own deltas, :mod:`loadkit.load.accounting`).
"""

from __future__ import annotations

from typing import Any

import gevent

from loadkit import messages
from loadkit.load.base import REPORT_KEY, BaseModel
from loadkit.load.profile import RateProfile, Stage
from loadkit.load.schedule import Assignment

#: How often a worker sends its counts to the master (s) when its plan does not say; a SIGKILL loses at most this much.
STATUS_INTERVAL_S = 0.5


class WorkerModel(BaseModel):
    """A worker's open model: its plan's share of the iterations, its counts to the master."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.status_interval_s = STATUS_INTERVAL_S  # the plan's, once one came

    def install(self, check_users: bool) -> None:
        runner = self.environment.runner
        if runner is not None:
            messages.register_handler(runner, messages.ARRIVAL_PLAN, self._on_plan)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        node = self.node or self._finished_node
        if node is not None:
            timeline = node.counters.take_timeline("report")
            data[REPORT_KEY] = {"run": node.run, "totals": node.counters.totals(), "timeline": timeline}

    def _on_plan(self, environment: Any, plan: messages.ArrivalPlan, node_id: str) -> None:
        if not plan.active:
            if self.node is not None and self.node.run == plan.run:
                self._stop_all()
            return
        assignment = Assignment(plan.from_iteration, plan.slot if plan.slot >= 0 else None, plan.slots)
        self.status_interval_s = plan.status_interval_s
        if self.node is not None and self.node.run == plan.run:
            self.node.reassign(assignment, plan.pool)
            return
        self._stop_all()
        if plan.host:  # as Locust's worker applies its spawn message's host, before any user exists
            environment.host = plan.host
            for user_class in environment.user_classes:
                user_class.host = plan.host
        self.run, self.epoch = plan.run, plan.epoch
        stages = tuple(Stage(float(d), float(t)) for d, t in plan.stages)
        self.profile = RateProfile.constant(plan.rate) if plan.rate is not None else RateProfile.ramping(stages)
        self.node = self._scheduler(assignment, plan.pool, plan.max_lateness_s)
        self._greenlets.append(gevent.spawn(self._send_status, plan.run))

    def _send_status(self, run: str) -> None:
        runner = self.environment.runner
        while self.node is not None and self.node.run == run:
            counters = self.node.counters  # a SIGKILL loses at most this interval's starts
            status = messages.ArrivalStatus(run, counters.totals(), counters.take_timeline("status"))
            messages.send(runner, messages.ARRIVAL_STATUS, status)
            gevent.sleep(self.status_interval_s)
