"""A worker's view of its master (loadkit.fleet.master_watch): acknowledgement by heartbeat, the timeout (pure)."""

from __future__ import annotations

from loadkit.fleet.master_watch import ACK_MARGIN, KEPT, MasterWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def report(requests: int, failures: int = 0) -> dict[str, object]:
    return {"stats_total": {"num_requests": requests, "num_failures": failures}}


def test_never_connected_is_not_lost() -> None:
    clock = Clock()
    watch = MasterWatch(5.0, clock)
    clock.now += 1000
    assert watch.gone_for() is None


def test_a_heartbeat_acknowledges_reports_sent_long_enough_before_it() -> None:
    clock = Clock()
    watch = MasterWatch(5.0, clock)
    watch.on_heartbeat()
    watch.on_report(report(10, 1))
    clock.now += ACK_MARGIN / 2
    watch.on_report(report(7))
    watch.on_heartbeat()  # too soon after both: proves nothing about them yet
    assert watch.lost() == (17, 1)
    clock.now += ACK_MARGIN / 2
    watch.on_heartbeat()  # the first report is ACK_MARGIN old now
    assert watch.lost() == (7, 0)


def test_gone_only_past_the_timeout_and_the_kept_reports_are_bounded() -> None:
    clock = Clock()
    watch = MasterWatch(5.0, clock)
    watch.on_heartbeat()
    for _ in range(KEPT + 50):
        watch.on_report(report(1))
    clock.now += 5.0
    assert watch.gone_for() is None
    clock.now += 0.5
    assert watch.gone_for() == 5.5
    assert watch.lost() == (KEPT, 0)
    watch.on_report({"stats_total": None})  # a report without totals counts nothing
    assert watch.lost() == (KEPT - 1, 0)
