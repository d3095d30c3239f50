"""The open model on a local runner: one process owns the schedule and runs all of it.

At ``test_start`` the schedule starts :data:`LOCAL_LEAD_S` ahead and this process's node runs
every iteration (slot 0 of 1); its counts are the fleet's, under the node name ``local``.
"""

from __future__ import annotations

import time

from loadkit.load.base import LeadModel
from loadkit.load.node import NodeScheduler
from loadkit.load.schedule import Assignment
from loadkit.load.settings import ArrivalSettings

#: The schedule's epoch, this far after ``test_start`` (s): the pool's first user exists by then.
LOCAL_LEAD_S = 0.05


class LocalModel(LeadModel):
    """The local runner's open model: the whole schedule on its own pool."""

    def _start(self, settings: ArrivalSettings) -> None:
        self.epoch = time.time() + LOCAL_LEAD_S
        self.node = self._scheduler(Assignment(0, 0, 1), settings.max_users, settings.max_lateness_s)
        self.node.counters.channels = 1  # its counts go nowhere else: what it took is forgotten

    def _node_stopped(self, node: NodeScheduler) -> None:
        self._take_counts(node)

    def _refresh(self) -> None:
        if self.node is not None:
            self._take_counts(self.node)

    def _take_counts(self, node: NodeScheduler) -> None:
        self.fleet.update("local", node.counters.totals(), {})
        for second, count in node.counters.take_timeline().items():
            self.fleet.timeline[int(second)] += count

    def iterations_started(self) -> int:
        if self.node is not None:
            return self.node.counters.started
        return super().iterations_started()
