"""A simulated fleet against a real master: what the master pays per worker, plain Locust vs loadkit.

    nice .venv/bin/python -m bench.fleet_scale --workers 100,300,1000 [--secret] [--profile DIR]

For each fleet size and each mode (``plain``: Locust alone; ``loadkit``: the plugin on master
and workers) it starts a real ``locust --master`` (web UI on, ``--autostart``) and
``--processes`` simulator processes (bench/_scale_sim.py: real ``WorkerRunner`` objects, one
ZeroMQ socket and identity each, one synthetic user each firing ``SCALE_EVENTS`` request
events a second over ``SCALE_ENTRIES`` entries), waits until every worker has its user, then:

- master CPU per worker per second: utime+stime from ``/proc/<pid>/stat`` over a steady
  window (CPU time, not wall time: the machine may be shared);
- loop lag p99 and max (a 50 ms sleep's overshoot, measured inside the master, bench/_scale_probe.py)
  over the steady window, and p99 over the whole run (start-up's handshakes and the end's reports in it);
- workers the master declared missing (its "failed to send heartbeat" lines);
- seconds from the last worker connected to the last worker with its user;
- master RSS at the end of the window; latency of ``/stats/requests``, ``/loadkit/fleet`` and
  the Prometheus scrape (median of 5, after the CPU window so they are not in it);
- the final reports' size and write time, and their size for a one-hour run of the same fleet
  (bench/_scale_hour.py: what grows with time, scaled); the requests in the report against the
  sum of what the simulated workers sent (exact);
- with ``--state``: the master also writes the resume state file every ``--report-interval`` and
  acks each worker (``loadkit:checkpointed``); each write's loop CPU (state taken, acks sent),
  thread CPU (encoded, written), wall time and size (bench/_scale_probe.py);
- the load average at the end of the window (a shared machine: wall-clock figures wait for a core).

With ``--open`` (loadkit only) the master runs loadkit's open model: ``--arrival-rate`` of workers x
``--events`` / ``--entries``, ``--max-users`` one per worker; each worker runs its share (one burst of the
same events per iteration) and sends a real open-model worker's messages (``loadkit:arrival_status`` at
its plan's interval, counts in each stats report); "has its user" means "has started iterations".

The modes run one after the other in one invocation, so a ratio compares one machine state. The
simulator processes run at ``nice`` ``--sim-nice`` (default 10): they stand for other machines, so on
a small one the master's loop lag is its own work's, not a wait for a core the simulators hold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._scale_hour import hour_estimate

ROOT = Path(__file__).resolve().parent.parent
LOCUST = str(Path(sys.executable).with_name("locust"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
MISSING = re.compile(r"failed to send heartbeat, setting state to missing")
#: Seconds a web request may take before it counts as failed (recorded as this long).
WEB_TIMEOUT = 15.0
SECRET = "bench-fleet-scale-secret-0123456789"
#: Simulated workers per process at most by default: with CURVE each worker's sockets and handshake
#: monitor take ~7 file descriptors, and ZeroMQ's select() fails beyond descriptor 1024 (seen at 250).
PER_PROCESS = 125


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its threads included) and of its children it waited for, from /proc.

    The children count: a loadkit master writes its checkpoints in forked children
    (:mod:`loadkit.run.offload`), CPU the machine spends for the master all the same.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def sims_cpu_seconds(sims: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds of the simulator processes still running (one that gave up is left out)."""
    total = 0.0
    for sim in sims:
        with contextlib.suppress(OSError):
            total += cpu_seconds(sim.pid)
    return total


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """utime + stime of each thread of ``pid`` (the main thread's id is ``pid``)."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get_json(url: str, timeout: float = 10.0) -> tuple[float, Any]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = resp.read()
    elapsed = time.perf_counter() - start
    try:
        return elapsed, json.loads(body)
    except ValueError:
        return elapsed, body


def wait_for(check: Any, deadline_s: float, what: str, procs: list[subprocess.Popen[bytes]]) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[:3]} ended with {proc.returncode} while waiting for {what}")
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


class Fleet:
    """One master and its simulated workers for one (size, mode) measurement."""

    def __init__(self, workers: int, mode: str, args: argparse.Namespace, work: Path) -> None:
        self.workers, self.mode, self.args = workers, mode, args
        self.dir = work / f"{mode}-{workers}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port, self.web = free_port(), free_port()
        self.prometheus = free_port()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "SCALE_EVENTS": str(args.events)}
        self.env["SCALE_ENTRIES"] = str(args.entries)
        if args.secret:
            self.env["LOADKIT_FLEET_SECRET"] = SECRET
        if args.state and mode == "loadkit":
            self.env["SCALE_STATE"] = "1"
        self.master: subprocess.Popen[bytes] | None = None
        self.sims: list[subprocess.Popen[bytes]] = []
        self.window_wall = [0.0, 0.0]  # the CPU window's wall-clock start and end (the lag samples' clock)

    def start(self) -> None:
        locustfile = ROOT / "bench" / ("_scale_loadkit.py" if self.mode == "loadkit" else "_scale_users.py")
        cmd = [LOCUST, "-f", str(locustfile), "--master", "--master-bind-host", "127.0.0.1"]
        cmd += ["--master-bind-port", str(self.port), "--web-host", "127.0.0.1", "--web-port", str(self.web)]
        cmd += ["--autostart", "--autoquit", "1", *self.load_options()]
        cmd += ["--expect-workers", str(self.workers), "--loglevel", "INFO"]
        if self.mode == "loadkit":
            cmd += ["--report-json", str(self.dir / "report.json"), "--report-html", str(self.dir / "report.html")]
            cmd += ["--prometheus-port", str(self.prometheus), "--fleet-max-workers", str(self.workers + 10)]
        env = {**self.env, "SCALE_PROBE_OUT": str(self.dir / "probe.json")}
        if self.args.profile and self.mode == "loadkit":
            env["SCALE_PROFILE"] = str(Path(self.args.profile) / f"master-{self.mode}-{self.workers}.prof")
        self.log = open(self.dir / "master.log", "wb")  # noqa: SIM115  (closed in stop)
        self.master = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        processes = self.args.processes or max(4, -(-self.workers // PER_PROCESS))
        per, rest = divmod(self.workers, processes)
        for i in range(processes):
            count = per + (1 if i < rest else 0)
            if count == 0:
                continue
            sim = [sys.executable, "-m", "bench._scale_sim", "--port", str(self.port), "--workers", str(count)]
            sim += ["--mode", self.mode, "--out", str(self.dir / f"sim{i}.json")]
            err = open(self.dir / f"sim{i}.log", "wb")  # noqa: SIM115  (the process holds it)
            niced = ["nice", "-n", str(self.args.sim_nice)] if self.args.sim_nice else []
            self.sims.append(
                subprocess.Popen([*niced, *sim], cwd=ROOT, env=self.env, stdout=err, stderr=subprocess.STDOUT)
            )

    def load_options(self) -> list[str]:
        """One user per worker (closed), or the rate that gives each worker as many events (``--open``)."""
        if not self.args.open:
            return ["-u", str(self.workers), "-r", str(max(self.workers // 4, 1))]
        rate = self.workers * self.args.events / self.args.entries  # one iteration = one burst of --entries
        return ["--arrival-rate", f"{rate:g}", "--max-users", str(self.workers)]

    def users(self) -> int:
        """Workers with their load: Locust's user count, or (open model) workers that started iterations."""
        if self.args.open:
            _, body = get_json(f"http://127.0.0.1:{self.web}/loadkit/load")
            return sum(1 for started in (body.get("nodes") or {}).values() if started > 0)
        _, body = get_json(f"http://127.0.0.1:{self.web}/stats/requests")
        return int(body.get("user_count", 0))

    def measure(self) -> dict[str, Any]:
        assert self.master is not None
        procs = [self.master, *self.sims]
        began = time.monotonic()
        wait_for(lambda: self.users() >= self.workers, 120 + self.workers * 0.3, "every worker's user", procs)
        row: dict[str, Any] = {"workers": self.workers, "mode": self.mode, "all_users_s": time.monotonic() - began}
        row["model"] = "open" if self.args.open else "closed"
        time.sleep(self.args.settle)
        self.window_wall[0] = time.time()
        cpu0, t0 = cpu_seconds(self.master.pid), time.monotonic()
        main0 = thread_cpu_seconds(self.master.pid).get(self.master.pid, 0.0)
        sims0 = sims_cpu_seconds(self.sims)
        profiled = bool(self.args.profile and self.mode == "loadkit")
        if profiled:
            self.master.send_signal(signal.SIGUSR1)  # the probe profiles the window only
        time.sleep(self.args.window)
        if profiled:
            self.master.send_signal(signal.SIGUSR2)
        cpu1, t1 = cpu_seconds(self.master.pid), time.monotonic()
        self.window_wall[1] = time.time()
        main1 = thread_cpu_seconds(self.master.pid).get(self.master.pid, 0.0)
        # the gevent loop's thread vs the others (report checkpoints, state file, Prometheus' server)
        row["main_thread_cpu_pct"] = 100 * (main1 - main0) / (t1 - t0)
        row["load_average"] = os.getloadavg()[0]
        row["sim_cpu_pct"] = 100 * (sims_cpu_seconds(self.sims) - sims0) / (t1 - t0)
        row["master_cpu_pct"] = 100 * (cpu1 - cpu0) / (t1 - t0)
        row["cpu_ms_per_worker_s"] = 1000 * (cpu1 - cpu0) / (t1 - t0) / self.workers
        row["rss_mib"] = rss_mib(self.master.pid)
        urls = {"stats_requests_ms": f"http://127.0.0.1:{self.web}/stats/requests"}
        if self.mode == "loadkit":
            urls["fleet_ms"] = f"http://127.0.0.1:{self.web}/loadkit/fleet"
            urls["prometheus_ms"] = f"http://127.0.0.1:{self.prometheus}/metrics"
        for key, url in urls.items():
            times, size = [], 0
            for _ in range(5):
                try:
                    elapsed, body = get_json(url, timeout=WEB_TIMEOUT)
                except OSError:  # a saturated master: counted as the timeout
                    elapsed, body = WEB_TIMEOUT, b""
                times.append(elapsed * 1000)
                size = max(size, len(json.dumps(body)) if not isinstance(body, bytes) else len(body))
                time.sleep(2.1)  # /stats/requests is cached for 2 s by Locust
            row[key] = statistics.median(times)
            row[key.replace("_ms", "_kb")] = size / 1024
        return row

    def stop(self, row: dict[str, Any]) -> dict[str, Any]:
        assert self.master is not None
        self.master.send_signal(signal.SIGTERM)  # drains the workers, writes the reports
        try:
            self.master.wait(timeout=120 + self.workers * 0.2)
            for sim in self.sims:
                sim.wait(timeout=60)
        finally:
            for proc in [self.master, *self.sims]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            self.log.close()
        text = (self.dir / "master.log").read_text(errors="replace")
        row["missing"] = len(MISSING.findall(text))
        probe = self.dir / "probe.json"
        if probe.exists():
            data = json.loads(probe.read_text())
            row["lag_p99_run_ms"] = data.get("lag_p99_ms")
            begin, end = self.window_wall
            window = sorted(lag for t, lag in data.get("lag") or [] if begin <= t <= end)
            if window:
                row["lag_p99_ms"] = window[min(len(window) - 1, int(len(window) * 0.99))]
                row["lag_max_ms"] = window[-1]
            for path, times in (data.get("web_cpu_ms") or {}).items():  # CPU per request, median
                key = {"/stats/requests": "stats_cpu_ms", "/loadkit/fleet": "fleet_cpu_ms"}.get(path)
                if key and times:
                    row[key] = statistics.median(times)
            row["report_write_s"] = data.get("report_write_s")
            writes = data.get("state_writes") or []
            if writes:
                row["state_writes"] = len(writes)
                for key in ("take_cpu_ms", "ack_cpu_ms", "thread_cpu_ms", "write_wall_ms", "bytes"):
                    row[f"state_{key}"] = statistics.median(w.get(key, 0.0) for w in writes)
        sent = 0
        for i in range(len(self.sims)):
            out = self.dir / f"sim{i}.json"
            if out.exists():
                sent += sum(w["requests"] for w in json.loads(out.read_text())["workers"])
        row["sent"] = sent
        report = self.dir / "report.json"
        if report.exists():
            data = json.loads(report.read_text())
            row["report_requests"] = data["total"]["count"]
            load = data["run"].get("load") or {}
            if load.get("model") == "open":
                row["iterations_dropped"], row["resplits"] = load["iterations_dropped"], len(load["resplits"])
            row["report_json_kb"] = report.stat().st_size / 1024
            row["report_html_kb"] = (self.dir / "report.html").stat().st_size / 1024
            hour = hour_estimate(report, self.dir / "report.html")
            row["hour_json_mb"], row["hour_html_mb"] = hour["json_mb"], hour.get("html_mb")
        return row


def run_one(workers: int, mode: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    fleet = Fleet(workers, mode, args, work)
    fleet.start()
    try:
        row = fleet.measure()
    except BaseException:
        fleet.stop({})
        raise
    return fleet.stop(row)


COLUMNS = [
    ("workers", "workers", "{}"),
    ("mode", "mode", "{}"),
    ("model", "model", "{}"),
    ("cpu_ms_per_worker_s", "CPU ms/worker/s", "{:.3f}"),
    ("master_cpu_pct", "master CPU %", "{:.1f}"),
    ("main_thread_cpu_pct", "of it loop thread %", "{:.1f}"),
    ("lag_p99_ms", "lag p99 ms", "{:.1f}"),
    ("lag_max_ms", "lag max ms", "{:.0f}"),
    ("lag_p99_run_ms", "lag p99 ms (whole run)", "{:.1f}"),
    ("missing", "missing", "{}"),
    ("all_users_s", "all users s", "{:.1f}"),
    ("rss_mib", "RSS MiB", "{:.0f}"),
    ("stats_requests_ms", "/stats/requests ms", "{:.0f}"),
    ("fleet_ms", "Fleet JSON ms", "{:.0f}"),
    ("fleet_kb", "Fleet JSON KB", "{:.0f}"),
    ("stats_cpu_ms", "/stats/requests CPU ms", "{:.1f}"),
    ("fleet_cpu_ms", "Fleet JSON CPU ms", "{:.1f}"),
    ("prometheus_ms", "Prometheus ms", "{:.0f}"),
    ("prometheus_kb", "Prometheus KB", "{:.0f}"),
    ("report_json_kb", "JSON report KB", "{:.0f}"),
    ("report_html_kb", "HTML report KB", "{:.0f}"),
    ("report_write_s", "report write s", "{:.2f}"),
    ("hour_json_mb", "1 h JSON MB (est.)", "{:.1f}"),
    ("hour_html_mb", "1 h HTML MB (est.)", "{:.1f}"),
    ("state_take_cpu_ms", "state: loop CPU ms", "{:.1f}"),
    ("state_ack_cpu_ms", "acks CPU ms", "{:.1f}"),
    ("state_thread_cpu_ms", "state: thread CPU ms", "{:.1f}"),
    ("state_write_wall_ms", "state write ms", "{:.0f}"),
    ("state_bytes", "state bytes", "{:.0f}"),
    ("load_average", "load avg", "{:.1f}"),
    ("sent", "requests sent", "{}"),
    ("report_requests", "in report", "{}"),
    ("iterations_dropped", "iterations dropped", "{}"),
    ("resplits", "re-splits", "{}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="100,300,1000", help="fleet sizes, comma-separated")
    parser.add_argument("--modes", default="plain,loadkit")
    parser.add_argument(
        "--processes", type=int, default=0, help=f"simulator processes (default: 4, or one per {PER_PROCESS} workers)"
    )
    parser.add_argument("--events", type=float, default=100.0, help="request events per worker per second")
    parser.add_argument("--entries", type=int, default=10, help="distinct entries (name) per worker")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after all users before the window")
    parser.add_argument("--window", type=float, default=30.0, help="seconds of the CPU window")
    parser.add_argument("--secret", action="store_true", help="a fleet secret: CURVE on every socket")
    parser.add_argument("--state", action="store_true", help="loadkit master: write the resume state file too")
    parser.add_argument("--profile", help="directory: cProfile the loadkit master into it")
    parser.add_argument("--sim-nice", type=int, default=10, help="nice value of the simulator processes (0: none)")
    parser.add_argument("--open", action="store_true", help="loadkit's open model (arrival rate), loadkit mode only")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.open and "plain" in args.modes.split(","):
        parser.error(f"--open with --modes {args.modes}: plain Locust has no open model; add --modes loadkit")
    work = Path(tempfile.mkdtemp(prefix="fleet-scale-"))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for workers in [int(n) for n in args.workers.split(",")]:
        for mode in args.modes.split(","):
            row = run_one(workers, mode, args, work)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                Path(args.out).write_text(json.dumps(rows, indent=1))
        by_mode = {r["mode"]: r for r in rows if r["workers"] == workers}
        if "plain" in by_mode and "loadkit" in by_mode:
            ratio = by_mode["loadkit"]["cpu_ms_per_worker_s"] / by_mode["plain"]["cpu_ms_per_worker_s"]
            print(f"{workers} workers: loadkit/plain master CPU per worker = {ratio:.2f}x", flush=True)
    print(table(rows))
    knee = next(
        (r for r in rows if r["mode"] == "loadkit" and (r.get("missing") or (r.get("lag_p99_ms") or 0) > 100)), None
    )
    print(f"knee: {knee['workers']} workers (loadkit)" if knee else "knee: not reached at these sizes (loadkit)")
    print(f"(CPU time from /proc, not wall time; the machine may be shared; runs in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
