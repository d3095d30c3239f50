"""The open model on a master: it owns the schedule and splits it over the live workers.

At ``test_start`` it picks the schedule's epoch (:data:`START_LEAD_S` ahead, so every plan
arrives first), splits rate and pool over the live workers (:mod:`loadkit.load.split`) and
sends each its ``loadkit:arrival_plan``. Every :data:`~loadkit.load.base.POLL_S` it re-checks
who is live — connected as Locust counts workers
(:func:`loadkit._locust.runners.connected_workers`) and heard from
(``loadkit:arrival_status``) within :data:`STALE_AFTER_S` — and on any change sends new plans
that take effect :data:`RESPLIT_LEAD_S` ahead, from one iteration index for everyone. Locust
itself never moves users to survivors (without ``--enable-rebalancing``): this split does not
depend on it. The workers' counts arrive with their status messages and stats reports
(cumulative, so nothing is lost or counted twice).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from loadkit import messages
from loadkit._locust.runners import connected_workers
from loadkit.load.base import REPORT_KEY, LeadModel
from loadkit.load.settings import ArrivalSettings
from loadkit.load.split import Share, split_fleet

log = logging.getLogger("loadkit.load")

#: The schedule's epoch, this far after ``test_start`` (s): every worker has its plan by then.
START_LEAD_S = 0.5
#: A re-split takes effect this far ahead (s): the workers' new plans arrive first.
RESPLIT_LEAD_S = 0.3
#: A worker given a share and silent this long (s) is left out of the next split.
STALE_AFTER_S = 2.0


class MasterModel(LeadModel):
    """The master's open model: the split, the plans, the workers' counts."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.shares: dict[str, Share] = {}
        self._assigned_at: dict[str, float] = {}
        self._heard: dict[str, float] = {}

    def busy(self) -> bool:
        return bool(self.run)

    def _wire(self, runner: Any) -> None:
        messages.register_handler(runner, messages.ARRIVAL_STATUS, self._on_status)

    def _start(self, settings: ArrivalSettings) -> None:
        self.epoch = time.time() + START_LEAD_S
        self.shares, self._assigned_at, self._heard = {}, {}, {}
        self._resplit(self._live_workers(), 0)

    def _check_fleet(self) -> None:
        live = self._live_workers()
        if set(live) != set(self.shares):
            self._resplit(live)

    def _workers(self) -> int | None:
        return None  # no split yet: no worker was live at the start

    def on_test_stop(self, environment: Any, **_kw: Any) -> None:
        self.on_test_stopping(environment)
        if self.run:  # a closed-model run has no schedule (and ArrivalPlan refuses run="")
            stop = messages.ArrivalPlan(self.run, False)
            for worker in self.shares:
                messages.send(self.environment.runner, messages.ARRIVAL_PLAN, stop, worker)
            self.shares = {}
        self._stop_all()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        part = data.get(REPORT_KEY)
        if part is None or not self.run:
            return
        try:
            if not isinstance(part, dict) or part.get("run") != self.run:
                return  # another schedule's (or not a mapping: checked below)
            self._merge_report(client_id, part.get("totals"), part.get("timeline", {}))
        except (ValueError, TypeError) as exc:
            log.warning("dropped malformed open-model report from worker %s: %s", client_id, exc)

    def _on_status(self, environment: Any, status: messages.ArrivalStatus, node_id: str) -> None:
        if status.run != self.run:
            return
        try:
            self._merge_report(node_id, status.totals, status.timeline)
        except ValueError as exc:
            log.warning("dropped malformed open-model status from worker %s: %s", node_id, exc)
            return
        self._heard[node_id] = time.monotonic()

    def _live_workers(self) -> list[str]:
        now = time.monotonic()
        live = []
        for node in connected_workers(self.environment.runner):
            since = self._assigned_at.get(node.id)
            if since is not None and now - max(self._heard.get(node.id, since), since) > STALE_AFTER_S:
                continue  # given a share but silent since: dead or stuck (Locust notices only after ~4 s)
            live.append(node.id)
        return live

    def _resplit(self, live: list[str], from_iteration: int | None = None) -> None:
        assert self.settings is not None and self.profile is not None
        now_s = time.time() - self.epoch
        if from_iteration is None:
            from_iteration = self.profile.first_due_at_or_after(max(now_s + RESPLIT_LEAD_S, 0.0))
        shares = split_fleet(live, self.settings.max_users)
        gone = [w for w in self.shares if w not in shares]
        for worker in gone:
            self._send_plan(worker, Share(None, 0, 0), from_iteration)
        for worker, share in shares.items():
            self._send_plan(worker, share, from_iteration)
            self._assigned_at.setdefault(worker, time.monotonic())
        self.shares = shares
        self.resplits.append({"at_s": round(now_s, 3), "workers": len(shares), "from_iteration": from_iteration})
        log.info(
            "loadkit: open model split over %d worker(s) from iteration %d: pools %s",
            len(shares),
            from_iteration,
            sorted(s.pool for s in shares.values()),
        )

    def _send_plan(self, worker: str, share: Share, from_iteration: int) -> None:
        assert self.settings is not None
        settings = self.settings
        plan = messages.ArrivalPlan(
            run=self.run,
            active=True,
            epoch=self.epoch,
            rate=settings.rate,
            stages=[[s.duration, s.target] for s in settings.stages],
            max_lateness_s=settings.max_lateness_s,
            from_iteration=from_iteration,
            slot=-1 if share.slot is None else share.slot,
            slots=share.slots,
            pool=share.pool,
            host=self.environment.host or "",
        )
        messages.send(self.environment.runner, messages.ARRIVAL_PLAN, plan, worker)
