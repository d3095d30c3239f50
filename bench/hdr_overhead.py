"""What does loadkit's HDR recording cost a worker, and how big is a long run's report?

1. **Listener CPU per request** (the robust measure): request events fired in a tight loop
   into loadkit's listener, with what a worker does between them — a new one-second slot
   every ``--rate`` events, a report (HDR deltas + slots, encoded) every 3 s of them —
   timed with ``time.process_time``; the current recorder (per-interval slots) against the
   previous one (cumulative histograms only, rebuilt here), alternating, ``--rounds`` each:
   median (min-max) µs per request.
2. **A request's CPU on a worker**: a FastHttpUser against the bundled HTTP target (its own
   process) for a few seconds; this process's CPU seconds over its requests.
3. The per-interval part's share of a request is (1) new - old over (2); the goal is <= 2 %.
   Also the master's CPU to check and merge one worker's report.
4. **Report size** of a synthetic 1-hour run with 50 entries (the JSON and the HTML report),
   and the master's timeline memory while it runs (``tracemalloc`` peak).

    .venv/bin/python -m bench.hdr_overhead            # all of it (~1 min)
    .venv/bin/python -m bench.hdr_overhead --wall     # also RPS rounds with/without slots

``--wall`` alternates the two recorders under a real FastHttpUser load and prints the median
RPS ratio. On this shared 2-core machine wall-clock ratios carry at least ±10 % of noise (other
processes take the CPU between rounds; rounds from 0.47 to 1.24 were seen on a busy day): read
them as a sanity check, not as the figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import msgpack

from loadkit._locust.gevent import init_gevent

init_gevent()

import gevent  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.user import task  # noqa: E402
from locust.user.wait_time import constant  # noqa: E402

import loadkit  # noqa: E402
from loadkit.stats import hdr_cells  # noqa: E402
from loadkit.stats.buckets import HIGHEST_US  # noqa: E402
from loadkit.stats.controller import controller_for  # noqa: E402
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder, new_histogram  # noqa: E402
from loadkit.stats.html import to_html  # noqa: E402
from loadkit.stats.reports import dumps_json  # noqa: E402
from loadkit.stats.slot_codec import decode_slots, encode_slots  # noqa: E402
from loadkit.stats.timeline import Timeline  # noqa: E402
from loadkit.targets.launcher import launch  # noqa: E402


class CumulativeOnly(HdrRecorder):
    """The recorder before per-interval slots: one pending dict, folded into the histograms."""

    def on_request(self, request_type: str, name: str, response_time: float | None, **_kw: Any) -> None:
        if response_time is None:
            return
        value = int(response_time * 1000.0 + 0.5)
        pending = self._pending.get((request_type, name))
        if pending is None:
            pending = self._pending[(request_type, name)] = {}
        pending[value] = pending.get(value, 0) + 1

    def _fold(self) -> None:
        if not self._pending:
            return
        total = self._histograms[TOTAL_KEY]
        for key, counts in self._pending.items():
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = new_histogram()
            for value, count in counts.items():
                clamped = min(max(value, 0), HIGHEST_US)
                histogram.record_value(clamped, count)
                total.record_value(clamped, count)
        self._pending = {}


def _report_new(rec: HdrRecorder) -> None:
    msgpack.dumps([rec.take_deltas(), encode_slots(rec.take_slots())])  # as Locust sends a report


def _report_old(rec: HdrRecorder) -> None:
    msgpack.dumps(rec.take_deltas())


def listener_cpu_us(recorder: type[HdrRecorder], report: Callable[[HdrRecorder], None], rate: int, n: int) -> float:
    """CPU µs per request of ``recorder``'s listener fired through Locust's event, reports included."""
    env = Environment()
    rec = recorder()
    env.events.request.add_listener(rec.on_request)
    fire = env.events.request.fire
    rng = random.Random(7)
    times = [rng.lognormvariate(0.0, 0.8) for _ in range(4096)]  # ~1 ms median, HTTP-like spread
    names = [f"/entry/{i}" for i in range(10)]
    start = time.process_time()
    for i in range(n):
        fire(request_type="GET", name=names[i % 10], response_time=times[i & 4095], response_length=0, exception=None)
        if i % rate == rate - 1:
            rec._slot_end = 0.0  # the next event starts a new slot, as a second passing would
            if i % (3 * rate) == 3 * rate - 1:
                report(rec)  # Locust's worker reports every 3 s
    report(rec)
    return (time.process_time() - start) / n * 1e6


class ItemsUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/health", name="/health")


def request_cpu_us(url: str, seconds: float, users: int = 10) -> tuple[float, float]:
    """CPU µs per request of this process running FastHttpUsers (loadkit attached), and its RPS."""
    env = Environment(user_classes=[ItemsUser], host=url)
    runner = env.create_local_runner()
    loadkit.attach(env)
    runner.start(users, spawn_rate=users)
    try:
        gevent.sleep(1.0)  # warm-up: connections
        before, cpu, wall = runner.stats.total.num_requests, time.process_time(), time.perf_counter()
        gevent.sleep(seconds)
        done = runner.stats.total.num_requests - before
        return (time.process_time() - cpu) / done * 1e6, done / (time.perf_counter() - wall)
    finally:
        runner.quit()


def wall_rounds(url: str, rounds: int, seconds: float, users: int = 10) -> list[float]:
    """RPS ratio current/previous recorder, per round (alternating order within a pair)."""
    env = Environment(user_classes=[ItemsUser], host=url)
    runner = env.create_local_runner()
    loadkit.attach(env)
    controller = controller_for(env)
    old = CumulativeOnly()
    runner.start(users, spawn_rate=users)
    ratios = []
    try:
        gevent.sleep(1.0)
        for i in range(rounds):
            rps = {}
            for current in (True, False) if i % 2 == 0 else (False, True):
                for listener in (controller.on_request, old.on_request):
                    with suppress(ValueError):  # not subscribed yet
                        env.events.request.remove_listener(listener)
                env.events.request.add_listener(controller.on_request if current else old.on_request)
                before, start = runner.stats.total.num_requests, time.perf_counter()
                gevent.sleep(seconds)
                rps[current] = (runner.stats.total.num_requests - before) / (time.perf_counter() - start)
            ratios.append(rps[True] / rps[False])
            print(f"  wall round {i + 1}: with slots {rps[True]:7.0f} req/s, without {rps[False]:7.0f} req/s")
        return ratios
    finally:
        runner.quit()


def master_merge_us(rate: int, rounds: int) -> list[tuple[float, float]]:
    """CPU µs the master spends merging one worker's 3-second report: (HDR deltas, slots)."""
    worker, master = HdrRecorder(), HdrRecorder()
    timeline = Timeline()
    rng = random.Random(11)
    costs = []
    for _ in range(rounds):
        for i in range(3 * rate):  # 3 s of a worker at `rate` req/s, 10 entries
            worker.on_request("GET", f"/entry/{i % 10}", rng.lognormvariate(0.0, 0.8))
            if i % rate == rate - 1:
                worker._slot_end = 0.0
        payload = msgpack.loads(msgpack.dumps([worker.take_deltas(), encode_slots(worker.take_slots())]))
        start = time.process_time()
        master.merge_deltas(payload[0])
        middle = time.process_time()
        timeline.merge(decode_slots(payload[1]))
        timeline.settle()
        costs.append(((middle - start) * 1e6, (time.process_time() - middle) * 1e6))
    return costs


def long_run_report(entries: int = 50, seconds: int = 3600, workers: int = 4) -> dict[str, Any]:
    """Bytes of the JSON and HTML reports of a synthetic run, and the timeline's peak memory."""
    start = 1_700_000_000
    rng = random.Random(3)
    shapes = [{int(rng.lognormvariate(7.0, 0.7)): 1 + rng.randrange(3) for _ in range(40)} for _ in range(16)]
    tracemalloc.start()
    timeline = Timeline(start)
    for t in range(start, start + seconds):
        for e in range(entries):
            timeline.add(t, ("GET", f"/api/v1/resource-{e:02d}/{{id}}"), shapes[(t + e) % 16], failures=(t + e) % 2)
        if t % 5 == 0:
            timeline.settle(now=t)  # the master's pump, every few seconds
    series = timeline.series(now=float("inf"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    histogram = new_histogram()
    for value, count in shapes[0].items():
        histogram.record_value(value, count * 100_000)
    dist = hdr_cells.distribution(histogram)
    rows = [
        {"type": "GET", "name": k, "key": k, "count": 1, "failures": 0, "rps": 1.0, "percentiles_ms": {}}
        for k in series["entries"]
    ]
    health = [
        {
            "time": start + 3.0 * i,
            "cpu_percent": 50.0,
            "rss_mb": 80.0,
            "loop_lag_ms": 3.0,
            "users": 100.0,
            "connections": 100.0,
            "net_sent_bps": 1e6,
            "net_recv_bps": 1e6,
            "rps": 500.0,
            "fail_per_s": 0.0,
            "requests": 1e6,
        }
        for i in range(1000)
    ]  # HealthStore keeps the last 1000 samples per worker
    document = {
        "run": {"start_time_iso": "2026-01-01T00:00:00+00:00", "duration_s": float(seconds)},
        "entries": rows[1:],
        "total": rows[0],
        "thresholds": [],
        "timeline": series,
        "distribution": dict.fromkeys(series["entries"], dist),
        "fleet": {"health": {"workers": {f"worker-{w}": health for w in range(workers)}}},
    }
    return {
        "slots": len(series["t"]),
        "json_bytes": len(dumps_json(document).encode()),
        "timeline_json_bytes": len(dumps_json({"timeline": series}).encode()),
        "html_bytes": len(to_html(document).encode()),
        "timeline_peak_bytes": peak,
    }


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} µs ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description="Cost of loadkit's HDR recording; size of a long run's report.")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--events", type=int, default=200_000, help="request events per listener round")
    parser.add_argument("--rate", type=int, default=2000, help="requests per second of the simulated worker")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the request-cost measurement")
    parser.add_argument("--wall", action="store_true", help="also RPS rounds with/without slots (noisy)")
    args = parser.parse_args()

    new, old = [], []
    for i in range(args.rounds):
        order = ((HdrRecorder, _report_new), (CumulativeOnly, _report_old))
        for recorder, report in order if i % 2 == 0 else order[::-1]:
            cost = listener_cpu_us(recorder, report, args.rate, args.events)
            (new if recorder is HdrRecorder else old).append(cost)
    print(f"listener CPU per request, {args.rounds} rounds, {args.rate} req/s, 10 entries, reports every 3 s:")
    print(f"  with per-interval slots  {_spread(new)}")
    print(f"  cumulative only (before) {_spread(old)}")
    with launch("http") as running:
        per_request, rps = request_cpu_us(running.url, args.seconds)
        ratios = wall_rounds(running.url, args.rounds, 2.0) if args.wall else []
    added = statistics.median(new) - statistics.median(old)
    share = 100 * added / per_request
    print(f"a request's CPU on a worker (FastHttpUser, bundled HTTP target): {per_request:.1f} µs ({rps:.0f} req/s)")
    print(
        f"per-interval slots add {added:.2f} µs per request = {share:.2f} % of a request "
        f"({'within' if share <= 2 else 'ABOVE'} the 2 % budget); the whole HDR listener: "
        f"{100 * statistics.median(new) / per_request:.2f} %"
    )
    if ratios:
        print(
            f"wall clock: median RPS with/without slots {statistics.median(ratios):.3f} "
            f"(rounds {min(ratios):.2f}-{max(ratios):.2f}: other processes' load, not the slots; use the CPU figure)"
        )
    merge = master_merge_us(args.rate, args.rounds)
    deltas, slots = [d for d, _ in merge], [s for _, s in merge]
    print(
        f"master, per worker report (3 s, {3 * args.rate} requests, 10 entries): HDR deltas "
        f"{statistics.median(deltas) / 1000:.2f} ms ({min(deltas) / 1000:.2f}-{max(deltas) / 1000:.2f}), "
        f"per-interval slots {statistics.median(slots) / 1000:.2f} ms ({min(slots) / 1000:.2f}-{max(slots) / 1000:.2f})"
    )
    size = long_run_report()
    print(
        f"1-hour run, 50 entries, 4 workers: {size['slots']} slots; JSON report {size['json_bytes'] / 1e6:.2f} MB "
        f"(its timeline {size['timeline_json_bytes'] / 1e6:.2f} MB), HTML report {size['html_bytes'] / 1e6:.2f} MB "
        f"(budget 5 MB); master's timeline peak {size['timeline_peak_bytes'] / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
