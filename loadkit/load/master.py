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

With a state file (:mod:`loadkit.fleet.resume`) it keeps the schedule there (:meth:`MasterModel.checkpoint`);
restarted with the same command it takes it back (:meth:`MasterModel.restore`): the same ``run``
and epoch, a re-split from the first iteration due after the restart, and the gap's share that
no worker ran counted as dropped (:mod:`loadkit.load.restart`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from loadkit import messages
from loadkit._locust.runners import connected_workers
from loadkit.load.base import REPORT_KEY, LeadModel
from loadkit.load.restart import Gap, ScheduleState, gap_at_resume
from loadkit.load.settings import ArrivalSettings
from loadkit.load.split import Share, split_fleet

log = logging.getLogger("loadkit.load")

#: The schedule's epoch, this far after ``test_start`` (s): every worker has its plan by then.
START_LEAD_S = 0.5
#: A re-split takes effect this far ahead (s): the workers' new plans arrive first.
RESPLIT_LEAD_S = 0.3
#: A worker given a share and silent this long (s) is left out of the next split (4 status intervals in big fleets).
STALE_AFTER_S = 2.0
#: Status messages a second the whole fleet sends at most: beyond 200 workers each sends less often.
FLEET_STATUS_PER_S = 400.0


def status_interval(workers: int) -> float:
    """Seconds between a worker's ``loadkit:arrival_status`` in a fleet of ``workers``.

    Every 0.5 s a worker (:data:`loadkit.load.worker.STATUS_INTERVAL_S`) up to 200 workers; beyond,
    the fleet's :data:`FLEET_STATUS_PER_S` shared out (1,000 workers: 2.5 s), so the master's message
    load stops growing with the fleet — at 0.5 s the status was two thirds of the messages a
    master got from an open-model fleet and its CPU per worker 1.8x the closed model's
    (``bench/fleet_scale.py --open``). The price: a worker's death is noticed after 4 intervals
    (:func:`stale_after`), and a SIGKILL loses up to one interval of its starts from the counts.
    """
    return min(max(0.5, workers / FLEET_STATUS_PER_S), 30.0)


def stale_after(interval_s: float) -> float:
    """Seconds of silence after which a worker with a share is left out of the next split."""
    return max(STALE_AFTER_S, 4 * interval_s)


class MasterModel(LeadModel):
    """The master's open model: the split, the plans, the workers' counts."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.shares: dict[str, Share] = {}
        self._assigned_at: dict[str, float] = {}
        self._heard: dict[str, float] = {}
        self._heard_at: dict[str, float] = {}  # wall-clock time of each worker's last counts
        self._from_iteration = 0  # the split in force took effect from this iteration
        self._resuming: ScheduleState | None = None
        self.gaps: list[Gap] = []
        self._earlier_gaps: list[dict[str, Any]] = []
        self._interval = status_interval(0)  # the status interval of the plans in force
        self._silent_s = STALE_AFTER_S  # silence that leaves a worker out (see _resplit)

    def busy(self) -> bool:
        return bool(self.run)

    def _wire(self, runner: Any) -> None:
        messages.register_handler(runner, messages.ARRIVAL_STATUS, self._on_status)

    def begin_run(self) -> str:
        if self._resuming is None:
            self._heard_at, self.gaps, self._earlier_gaps = {}, [], []
            return super().begin_run()
        return self._resuming.run  # its counts were restored (and reports for it merged since)

    def _start(self, settings: ArrivalSettings) -> None:
        self.shares, self._assigned_at, self._heard = {}, {}, {}
        state, self._resuming = self._resuming, None
        if state is None:
            self.epoch = time.time() + START_LEAD_S
            self._resplit(self._live_workers(), 0)
            return
        assert self.profile is not None
        self.epoch = state.epoch
        live = self._live_workers()
        self._resplit(live)
        gap = gap_at_resume(self.profile, state, live, self._from_iteration, time.time() - self.epoch)
        self.gaps.append(gap)
        log.warning(
            "loadkit: open model resumed: schedule %s, same epoch, from iteration %d (%.1f s); "
            "%d worker(s) carried on, %d share(s) nobody ran since the last checkpoint: %d iterations dropped",
            self.run,
            self._from_iteration,
            gap.to_s,
            len(gap.carried_on),
            len(gap.orphans),
            gap.dropped(self.profile),
        )

    # --- the state file (loadkit.fleet.resume writes it; loadkit.load.restart says what is kept) ---
    def checkpoint(self) -> dict[str, Any] | None:
        if not self.run or self.profile is None:
            return None
        state = ScheduleState(
            run=self.run,
            epoch=self.epoch,
            written_s=time.time() - self.epoch,
            from_iteration=self._from_iteration,
            shares=dict(self.shares),
            heard={node: at - self.epoch for node, at in self._heard_at.items()},
            nodes={node: dict(totals) for node, totals in self.fleet.nodes.items()},
            timeline=dict(self.fleet.timeline),
            reported=dict(self.fleet.reported),
            resplits=list(self.resplits),
            gaps=self._gap_summary().get("master_gaps", []),
        )
        return state.to_json()

    def restore(self, data: Any) -> None:
        if data is None:
            return  # the run that wrote the file had no schedule (a closed-model run)
        try:
            state = ScheduleState.from_json(data)
        except ValueError as exc:
            log.warning("loadkit: open model: the state file's schedule is not taken (%s): it starts afresh", exc)
            return
        self._resuming = state
        self.fleet.reset()
        for node, totals in state.nodes.items():
            self.fleet.update(node, totals)
        self.fleet.timeline.update(state.timeline)
        self.fleet.reported.update(state.reported)
        self.resplits[:] = state.resplits
        self._heard_at = {node: state.epoch + at for node, at in state.heard.items()}
        self._earlier_gaps = list(state.gaps)

    def _run_now(self) -> str:
        """The schedule counts are taken for: this one, or before the resumed run starts, the restored one."""
        return self.run or (self._resuming.run if self._resuming is not None else "")

    def _gap_dropped(self) -> int:
        assert self.profile is not None
        earlier = sum(int(gap.get("iterations_dropped", 0)) for gap in self._earlier_gaps)
        return earlier + sum(gap.dropped(self.profile) for gap in self.gaps)

    def _gap_summary(self) -> dict[str, Any]:
        if self.profile is None or not (self.gaps or self._earlier_gaps):
            return {}
        return {"master_gaps": [*self._earlier_gaps, *(gap.describe(self.profile) for gap in self.gaps)]}

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
        if part is None or not self._run_now():
            return
        try:
            if not isinstance(part, dict) or part.get("run") != self._run_now():
                return  # another schedule's (or not a mapping: checked below)
            self._merge_report(client_id, part.get("totals"), part.get("timeline", {}), reported=True)
        except (ValueError, TypeError) as exc:
            log.warning("dropped malformed open-model report from worker %s: %s", client_id, exc)
            return
        self._counted(client_id)

    def _on_status(self, environment: Any, status: messages.ArrivalStatus, node_id: str) -> None:
        if not status.run or status.run != self._run_now():
            return
        try:
            self._merge_report(node_id, status.totals, status.timeline)
        except ValueError as exc:
            log.warning("dropped malformed open-model status from worker %s: %s", node_id, exc)
            return
        self._heard[node_id] = time.monotonic()
        self._counted(node_id)

    def _counted(self, node_id: str) -> None:
        """``node_id``'s counts for this schedule arrived: when, and (after a resume) that it carried on."""
        self._heard_at[node_id] = time.time()
        for gap in self.gaps:
            gap.heard(node_id)

    def _live_workers(self) -> list[str]:
        now = time.monotonic()
        live = []
        silent = self._silent_s
        for node in connected_workers(self.environment.runner):
            since = self._assigned_at.get(node.id)
            if since is not None and now - max(self._heard.get(node.id, since), since) > silent:
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
        interval = status_interval(len(shares))
        # a worker may sleep out its old plan's interval before it sends at the new one
        self._silent_s, self._interval = stale_after(max(interval, self._interval)), interval
        for worker in gone:
            self._send_plan(worker, Share(None, 0, 0), from_iteration, interval)
        for worker, share in shares.items():
            self._send_plan(worker, share, from_iteration, interval)
            self._assigned_at.setdefault(worker, time.monotonic())
        self.shares, self._from_iteration = shares, from_iteration
        self.resplits.append({"at_s": round(now_s, 3), "workers": len(shares), "from_iteration": from_iteration})
        log.info(
            "loadkit: open model split over %d worker(s) from iteration %d: pools %s",
            len(shares),
            from_iteration,
            sorted(s.pool for s in shares.values()),
        )

    def _send_plan(self, worker: str, share: Share, from_iteration: int, status_interval_s: float) -> None:
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
            status_interval_s=status_interval_s,
        )
        messages.send(self.environment.runner, messages.ARRIVAL_PLAN, plan, worker)
