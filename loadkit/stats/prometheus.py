"""Live metrics for Prometheus: ``--prometheus-port PORT`` on the master (or a local run).

A small HTTP server (prometheus-client's, on ``--prometheus-host``, 127.0.0.1 by default)
serves ``/metrics``. Its :class:`LoadkitCollector` sits in a registry of its own — never
the global one, so runs in one process (library mode) never see each other's metrics — and
reads loadkit's state when scraped: nothing is kept twice, nothing costs between scrapes.

What it exposes (Prometheus conventions: base units, ``_total`` counters)::

    loadkit_requests_total{type,name}                  requests per entry (Locust's counts)
    loadkit_request_failures_total{type,name}          failed requests per entry
    loadkit_request_errors_total{type,name,error}      failures by error (gRPC: the status), 50 series at most
    loadkit_request_duration_seconds{type,name,quantile}  HDR quantiles .5 .9 .95 .99 .999 .9999, _count, _sum
    loadkit_request_duration_all_seconds{quantile}     the same over every request (facets left out)
    loadkit_request_latency_seconds{type,name,le}      the same as a histogram, OpenMetrics exemplars (trace ids)
    loadkit_users, loadkit_workers, loadkit_run_info{state,version}
    loadkit_thresholds_passed                          1/0 on the current numbers (when thresholds are set)
    loadkit_worker_cpu_ratio{worker} (1 = one core), loadkit_worker_memory_bytes,
    loadkit_worker_loop_lag_seconds, loadkit_worker_users, loadkit_worker_connections,
    loadkit_worker_saturated, loadkit_worker_network_{sent,received}_bytes_per_second
        (per worker: the WORKER_SERIES worst only, so a 1,000-worker fleet stays a few hundred series)
    loadkit_fleet_workers, loadkit_fleet_saturated_workers, and loadkit_fleet_cpu_ratio{stat},
    loadkit_fleet_memory_bytes{stat}, ... for every worker figure above, stat = min p50 p90 max sum
    loadkit_data_rows, loadkit_data_rows_available, loadkit_data_rows_outstanding, loadkit_data_rounds_total,
    loadkit_fleet_data_rows_{leased,used,returned}_total   over every worker
    loadkit_data_rows_{leased,used,returned}_total{worker}
        (per worker: the WORKER_SERIES holding the most rows outstanding, then the most leased)
    loadkit_open_model_{target,achieved}_iterations_per_second, ..._iterations_{started,late,dropped}_total

The quantiles are the merged HDR percentiles the reports and thresholds use, so a scrape
after the run equals ``--report-json``'s ``percentiles_ms`` (divided by 1000).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from locust.env import Environment
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from loadkit._locust import runners as locust_runners
from loadkit._version import __version__
from loadkit.exceptions import ConfigError
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import PERCENTILES, TOTAL_KEY

log = logging.getLogger("loadkit.stats")

MAX_ERROR_SERIES = 50
_QUANTILES = {label: f"{pct / 100.0:.6g}" for label, pct in PERCENTILES.items()}  # "0.999", not 0.9990000000000001
#: Workers with their own ``loadkit_worker_*`` series (the worst); the ``loadkit_fleet_*`` ones cover all.
WORKER_SERIES = 20
_HEALTH = (  # sample field, metric suffix, help, scale to base unit
    ("cpu_percent", "cpu_ratio", "CPU of the worker process (1 = one core busy)", 0.01),
    ("rss_mb", "memory_bytes", "Resident memory of the worker process", 2**20),
    ("loop_lag_ms", "loop_lag_seconds", "Worst gevent loop lag in the last sample interval", 0.001),
    ("users", "users", "Users running on the worker", 1.0),
    ("connections", "connections", "Open inet connections of the worker process", 1.0),
    ("net_sent_bps", "network_sent_bytes_per_second", "Bytes/s sent by the worker's host", 1.0),
    ("net_recv_bps", "network_received_bytes_per_second", "Bytes/s received by the worker's host", 1.0),
)


class LoadkitCollector(Collector):
    """Reads one environment's loadkit state at scrape time (see the module docstring)."""

    def __init__(self, environment: Environment, fleet: Callable[[], Any] | None = None) -> None:
        self.environment = environment
        self.fleet = fleet  # () -> loadkit.fleet.view.FleetView, given by loadkit.run.plugin

    def collect(self) -> Iterator[Metric]:
        from loadkit.stats.controller import controller_for

        controller = controller_for(self.environment)
        document = controller.summary()
        yield from self._requests()
        yield from _durations(controller, document)
        yield from _latency_histograms(self.environment, controller.recorder)
        yield from self._run(document)
        if self.fleet is not None:
            view = self.fleet()
            yield from _health(view.health)
            yield from _data(view.leasing)
        yield from _open_model((document.get("run") or {}).get("load") or {})

    def _requests(self) -> Iterator[Metric]:
        runner = self.environment.runner
        stats = runner.stats if runner is not None else self.environment.stats
        requests = CounterMetricFamily("loadkit_requests", "Requests per entry", labels=["type", "name"])
        failures = CounterMetricFamily("loadkit_request_failures", "Failed requests per entry", labels=["type", "name"])
        for (name, method), entry in sorted(stats.entries.items()):
            if is_facet(method):  # part of a request counted on its own entry
                continue
            requests.add_metric([method, name], entry.num_requests)
            failures.add_metric([method, name], entry.num_failures)
        errors = CounterMetricFamily(
            "loadkit_request_errors", "Failed requests per entry and error", labels=["type", "name", "error"]
        )
        rows: dict[tuple[str, str, str], int] = {}
        for i, error in enumerate(sorted(stats.errors.values(), key=lambda e: -e.occurrences)):
            message = str(error.error)[:200] if i < MAX_ERROR_SERIES else "other"
            key = (str(error.method), str(error.name), message)
            rows[key] = rows.get(key, 0) + int(error.occurrences)
        for labels, count in rows.items():
            errors.add_metric(list(labels), count)
        yield from (requests, failures, errors)

    def _run(self, document: Mapping[str, Any]) -> Iterator[Metric]:
        runner = self.environment.runner
        users = GaugeMetricFamily("loadkit_users", "Users running now")
        users.add_metric([], float(runner.user_count if runner is not None else 0))
        workers = GaugeMetricFamily("loadkit_workers", "Workers connected to the master")
        workers.add_metric([], float(locust_runners.worker_count(runner)))
        info = GaugeMetricFamily("loadkit_run_info", "The run's state and loadkit version", labels=["state", "version"])
        info.add_metric([str(getattr(runner, "state", "none")), __version__], 1.0)
        yield from (users, workers, info)
        results = document.get("thresholds") or []
        if results:
            passed = GaugeMetricFamily("loadkit_thresholds_passed", "1 when every threshold passes on the numbers now")
            passed.add_metric([], 0.0 if any(r.get("passed") is False for r in results) else 1.0)
            yield passed


def _latency_histograms(environment: Environment, recorder: Any) -> Iterator[Metric]:
    """The per-entry histogram whose buckets carry exemplars (:mod:`loadkit.stats.prometheus_exemplars`)."""
    from loadkit.stats.exemplar_part import recorder_for
    from loadkit.stats.prometheus_exemplars import latency_histograms

    yield from latency_histograms(recorder, recorder_for(environment).entries())


def _durations(controller: Any, document: Mapping[str, Any]) -> Iterator[Metric]:
    entries = SummaryMetricFamily(
        "loadkit_request_duration_seconds", "Response time per entry (HDR, merged)", labels=["type", "name"]
    )
    locust_sum = _locust_sums(controller.environment)
    for row in document.get("entries") or []:
        labels = {"type": row["type"], "name": row["name"]}
        _summary(entries, labels, row, locust_sum.get((row["type"], row["name"]), 0.0))
    yield entries
    total = document.get("total") or {}
    everything = SummaryMetricFamily("loadkit_request_duration_all_seconds", "Response time over every request (HDR)")
    _summary(everything, {}, total, locust_sum.get(TOTAL_KEY, 0.0))
    yield everything


def _summary(family: SummaryMetricFamily, labels: dict[str, str], row: Mapping[str, Any], sum_s: float) -> None:
    name = family.name
    for label, quantile in _QUANTILES.items():
        value = (row.get("percentiles_ms") or {}).get(label)
        if value is not None and row.get("hdr_count"):
            family.add_sample(name, {**labels, "quantile": quantile}, float(value) / 1000.0)
    family.add_sample(f"{name}_count", labels, float(row.get("hdr_count", 0)))
    family.add_sample(f"{name}_sum", labels, sum_s)


def _locust_sums(environment: Environment) -> dict[tuple[str, str], float]:
    """Seconds of response time per entry (Locust's sums: HDR histograms keep no sum)."""
    runner = environment.runner
    stats = runner.stats if runner is not None else environment.stats
    sums = {(method, name): entry.total_response_time / 1000.0 for (name, method), entry in stats.entries.items()}
    sums[TOTAL_KEY] = stats.total.total_response_time / 1000.0
    return sums


def _health(health: Any) -> Iterator[Metric]:
    store = getattr(health, "store", None)
    if store is None:
        return
    families = {
        field: GaugeMetricFamily(f"loadkit_worker_{suffix}", text, labels=["worker"])
        for field, suffix, text, _scale in _HEALTH
    }
    saturated = GaugeMetricFamily(
        "loadkit_worker_saturated", "1 while the worker counts as saturated", labels=["worker"]
    )
    for worker in sorted(store.worst(WORKER_SERIES)):
        sample = store.latest[worker]
        for field, _suffix, _text, scale in _HEALTH:
            if field in sample:
                families[field].add_metric([worker], float(sample[field]) * scale)
        saturated.add_metric([worker], 1.0 if worker in store.saturated else 0.0)
    yield from families.values()
    yield saturated
    summary = store.summary()
    yield GaugeMetricFamily("loadkit_fleet_workers", "Workers that sent a health sample", value=summary["workers"])
    yield GaugeMetricFamily(
        "loadkit_fleet_saturated_workers", "Workers counting as saturated", value=summary["saturated"]
    )
    for field, suffix, text, scale in _HEALTH:
        figures = summary.get(field)
        if not isinstance(figures, dict):
            continue
        family = GaugeMetricFamily(f"loadkit_fleet_{suffix}", f"{text}: over the fleet", labels=["stat"])
        for stat in ("min", "p50", "p90", "max", "sum"):
            family.add_metric([stat], float(figures[stat]) * scale)
        yield family


def _data(leasing: Any) -> Iterator[Metric]:
    pool = getattr(leasing, "pool", None)
    if pool is None:
        return
    summary = pool.summary()
    for key, metric, text in (
        ("rows", "loadkit_data_rows", "Rows in the test data"),
        ("available", "loadkit_data_rows_available", "Rows not leased now"),
        ("outstanding", "loadkit_data_rows_outstanding", "Rows leased and not yet used"),
    ):
        family = GaugeMetricFamily(metric, text)
        family.add_metric([], float(summary.get(key, 0)))
        yield family
    rounds = CounterMetricFamily("loadkit_data_rounds", "Times the data was handed out in full (recycle, cyclic)")
    rounds.add_metric([], float(summary.get("rounds", 0)))
    yield rounds
    workers: dict[str, dict[str, int]] = summary.get("workers", {})
    shown = sorted(data_worst(workers, WORKER_SERIES))
    for key in ("leased", "used", "returned"):
        fleet = CounterMetricFamily(f"loadkit_fleet_data_rows_{key}", f"Rows {key}, over every worker")
        fleet.add_metric([], float(sum(figures.get(key, 0) for figures in workers.values())))
        yield fleet
        per_worker = CounterMetricFamily(
            f"loadkit_data_rows_{key}", f"Rows {key} per worker (the {WORKER_SERIES} busiest)", labels=["worker"]
        )
        for worker in shown:
            per_worker.add_metric([worker], float(workers[worker].get(key, 0)))
        yield per_worker


def data_worst(workers: Mapping[str, Mapping[str, int]], limit: int) -> list[str]:
    """Up to ``limit`` workers with their own data series: most rows outstanding, then most leased, then by id."""
    ranked = sorted(workers, key=lambda w: (-workers[w].get("outstanding", 0), -workers[w].get("leased", 0), w))
    return ranked[: max(limit, 0)]


def _open_model(load: Mapping[str, Any]) -> Iterator[Metric]:
    """Open-model figures, when the run's ``load`` section says ``"model": "open"``."""
    if load.get("model") != "open":
        return
    for key, metric, text in (
        ("target_rate_now", "target_iterations_per_second", "Arrival rate the schedule asks for now"),
        ("achieved_rate_now", "achieved_iterations_per_second", "Arrival rate achieved lately"),
    ):
        if load.get(key) is not None:
            family = GaugeMetricFamily(f"loadkit_open_model_{metric}", text)
            family.add_metric([], float(load[key]))
            yield family
    for key, metric in (
        ("iterations_started", "started"),
        ("iterations_late", "late"),
        ("iterations_dropped", "dropped"),
    ):
        if load.get(key) is not None:
            counter = CounterMetricFamily(f"loadkit_open_model_iterations_{metric}", f"Iterations {metric}")
            counter.add_metric([], float(load[key]))
            yield counter


class MetricsServer:
    """The running ``/metrics`` server of one environment; :meth:`stop` at ``quitting``."""

    def __init__(self, environment: Environment, host: str, port: int, fleet: Callable[[], Any] | None = None) -> None:
        from prometheus_client import start_http_server

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LoadkitCollector(environment, fleet))
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"--prometheus-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}): "
                "give a free port (or 0 for any)"
            ) from exc
        self.port = int(self._server.server_port)
        self.url = f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def install(environment: Environment, fleet: Callable[[], Any] | None = None) -> MetricsServer | None:
    """Serve ``/metrics`` when ``--prometheus-port`` is set (not on a worker: the master has the numbers).

    ``fleet`` returns the run's :class:`~loadkit.fleet.view.FleetView` at scrape time (passed in, so
    stats never imports fleet).
    """
    from locust.runners import WorkerRunner

    options = environment.parsed_options
    port = getattr(options, "prometheus_port", None)
    if port is None or isinstance(environment.runner, WorkerRunner):
        return None
    host = str(getattr(options, "prometheus_host", None) or "127.0.0.1")
    server = MetricsServer(environment, host, int(port), fleet)
    log.info("loadkit: Prometheus metrics on %s", server.url)
    return server
