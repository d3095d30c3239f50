"""A soak: one real master and one real worker for a long time, their memory over time.

    nice .venv/bin/python -m bench.soak --minutes 30 [--users 10 --rate 20] [--tracemalloc]
    nice .venv/bin/python -m bench.soak --minutes 3 --burn 200 [--plain]   # a saturated worker

It starts the bundled gRPC and HTTP targets (``loadkit target``, 127.0.0.1, free ports), a
headless ``locust --master`` (``-t`` the duration, JSON and HTML reports) and one
``locust --worker``, all on bench/_soak_users.py: ``locustfiles/mixed.py``'s users
(GrpcUser + RestUser) with ``constant_throughput(--rate)`` each, so the run offers
``users x rate`` iterations a second whatever the machine (reproducible, and it does not peg
a shared machine). Every ``--every`` seconds it reads VmRSS and utime+stime of both from
``/proc`` and prints a row; at the end, each process's RSS at ``--after`` minutes and at the
end, the growth between them and its slope (least squares, MiB/min) over that part.

``--tracemalloc``: both processes trace allocations (10 frames); each writes a snapshot 2
minutes after its first user started and the latest one every minute; at the end the top
growths between the two, grouped by traceback, are printed (``--top``). Tracing slows the
processes down and adds its own memory: RSS figures of such a run are not the product's.

``--burn MS``: CPU-bound users instead (a busy loop of MS per task, no yield): the worker is
saturated. The master records each worker heartbeat it receives; printed: the gaps between
two (p50/p99/max, over 3 s — Locust declares a worker missing after ~4 s without one) and the
"missing" lines of the master's log. ``--plain``: the same user with no loadkit at all, the
baseline. ``--health-interval S``: loadkit's health sampling every S s (the default is
loadkit's own).
"""

from __future__ import annotations

import argparse
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
import tracemalloc
from pathlib import Path
from typing import Any

from loadkit.targets import launcher

ROOT = Path(__file__).resolve().parent.parent
LOCUST = str(Path(sys.executable).with_name("locust"))
LOCUSTFILE = ROOT / "bench" / "_soak_users.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MISSING = re.compile(r"failed to send heartbeat, setting state to missing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB, from /proc (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(minute, MiB)`` points, MiB per minute (0 with fewer than 2)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def growth(samples: list[tuple[float, float]], after_min: float) -> dict[str, float]:
    """RSS at ``after_min`` (the first sample at or after it) and at the end, growth and slope between."""
    tail = [(t, r) for t, r in samples if t >= after_min and r > 0]
    if not tail:
        return {}
    return {"at": tail[0][1], "end": tail[-1][1], "growth": tail[-1][1] - tail[0][1], "slope": slope(tail)}


def top_growth(directory: Path, role: str, top: int) -> list[str]:
    """The ``top`` tracebacks whose allocations grew most between the first and the last snapshot."""
    first, last = directory / f"{role}-first.snap", directory / f"{role}-last.snap"
    if not (first.exists() and last.exists()):
        return [f"{role}: no snapshots (the run was shorter than the first snapshot's time?)"]
    old, new = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    noise = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib.*")]
    old, new = old.filter_traces(noise), new.filter_traces(noise)
    total = sum(s.size for s in new.statistics("filename")) - sum(s.size for s in old.statistics("filename"))
    lines = [f"{role}: traced memory {total / 2**20:+.2f} MiB between the snapshots; top growth by traceback:"]
    for stat in new.compare_to(old, "traceback")[:top]:
        lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks")
        frames = [f for f in stat.traceback if "site-packages/gevent" not in f.filename][-6:]
        for frame in reversed(frames):
            lines.append(f"      {frame.filename.replace(str(ROOT) + '/', '')}:{frame.lineno}")
    return lines


def heartbeat_lines(path: Path, master_log: str) -> list[str]:
    missing = len(MISSING.findall(master_log))
    if not path.exists():
        return [f"heartbeats: no record; 'missing' lines in the master's log: {missing}"]
    gaps = sorted(json.loads(path.read_text())["gaps_ms"])
    if not gaps:
        return [f"heartbeats: none received; 'missing' lines: {missing}"]
    p = lambda q: gaps[min(len(gaps) - 1, int(len(gaps) * q))]  # noqa: E731
    over = sum(1 for g in gaps if g > 3000)
    return [
        f"heartbeat gaps at the master: n={len(gaps)} p50={p(0.5):.0f} ms p99={p(0.99):.0f} ms "
        f"max={gaps[-1]:.0f} ms, over 3 s: {over}; 'missing' lines in the master's log: {missing}"
    ]


class Soak:
    """The processes of one soak and their samples."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.targets: list[launcher.TargetProcess] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Any] = []
        self.samples: dict[str, list[tuple[float, float]]] = {"master": [], "worker": []}

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SOAK_RATE": str(self.args.rate)}
        env["SOAK_HEARTBEATS"] = str(self.work / "heartbeats.json")
        if self.args.burn:
            env.update(SOAK_USERS="burn", SOAK_BURN_MS=str(self.args.burn))
        if self.args.plain:
            env["SOAK_PLAIN"] = "1"
        if self.args.tracemalloc:
            env.update(SOAK_TRACEMALLOC=str(self.work), SOAK_SNAP_FIRST=str(self.args.snap_first))
        if self.args.steady:
            env["SOAK_STEADY"] = "1"
        if self.args.gc:
            env.update(SOAK_GC=str(self.work), SOAK_SNAP_EVERY=str(self.args.every))
        if self.args.health_interval is not None:
            env["LOADKIT_HEALTH_INTERVAL"] = str(self.args.health_interval)
        if not self.args.burn:
            grpc, http = (launcher.launch(kind) for kind in ("grpc", "http"))
            self.targets += [grpc, http]
            env.update(DEMO_GRPC_HOST=grpc.url, DEMO_HTTP_HOST=http.url)
        return env

    def start(self) -> None:
        env, port = self.env(), free_port()
        common = ["-f", str(LOCUSTFILE), "--loglevel", "INFO"]
        master = [LOCUST, *common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
        master += ["--headless", "-u", str(self.args.users), "-r", str(self.args.users), "--expect-workers", "1"]
        master += ["-t", f"{int(self.args.minutes * 60)}s", "--stop-timeout", "5"]
        if not self.args.plain:
            master += ["--report-json", str(self.work / "report.json"), "--report-html", str(self.work / "report.html")]
        worker = [LOCUST, *common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        master += self.args.classes
        worker += self.args.classes
        for role, cmd in (("master", master), ("worker", worker)):
            log = open(self.work / f"{role}.log", "wb")  # noqa: SIM115  (closed in stop)
            self.logs.append(log)
            self.procs[role] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def run(self) -> None:
        began = time.monotonic()
        end = began + self.args.minutes * 60 + 120  # the master's -t, its drain and report writing
        print(f"{'min':>6} {'master MiB':>11} {'worker MiB':>11} {'master CPU%':>12} {'worker CPU%':>12}", flush=True)
        last_cpu = {role: (cpu_seconds(p.pid), time.monotonic()) for role, p in self.procs.items()}
        while self.procs["master"].poll() is None and time.monotonic() < end:
            time.sleep(min(self.args.every, max(end - time.monotonic(), 0.1)))
            minute = (time.monotonic() - began) / 60
            row = [f"{minute:6.1f}"]
            cpus = []
            for role in ("master", "worker"):
                pid = self.procs[role].pid
                rss = rss_mib(pid)
                self.samples[role].append((minute, rss))
                row.append(f"{rss:11.1f}")
                cpu, at = cpu_seconds(pid), time.monotonic()
                cpus.append(f"{100 * (cpu - last_cpu[role][0]) / max(at - last_cpu[role][1], 1e-9):12.0f}")
                last_cpu[role] = (cpu, at)
            print(" ".join(row + cpus), flush=True)

    def stop(self) -> None:
        master = self.procs.get("master")
        if master is not None and master.poll() is None:
            master.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for target in self.targets:
            target.stop()
        for log in self.logs:
            log.close()

    def summary(self) -> None:
        print(f"\nRSS after the first {self.args.after:g} min (MiB): at -> end, growth, slope")
        for role, samples in self.samples.items():
            g = growth(samples, self.args.after)
            if g:
                print(f"  {role:6}: {g['at']:.1f} -> {g['end']:.1f}, {g['growth']:+.1f} MiB, {g['slope']:+.3f} MiB/min")
        report = self.work / "report.json"
        if report.exists():
            total = json.loads(report.read_text()).get("total", {})
            size = report.stat().st_size / 1024
            html = (self.work / "report.html").stat().st_size / 1024 if (self.work / "report.html").exists() else 0
            print(f"requests: {total.get('count')}, failures: {total.get('failures')}; ", end="")
            print(f"report JSON {size:.0f} KiB, HTML {html:.0f} KiB")
        master_log = (self.work / "master.log").read_text(errors="replace")
        print(*heartbeat_lines(self.work / "heartbeats.json", master_log), sep="\n")
        if self.args.tracemalloc:
            for role in ("worker", "master"):
                print(*top_growth(self.work, role, self.args.top), sep="\n")
        print(f"logs and snapshots: {self.work}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run (the master's -t)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="iterations a second per user")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between two RSS samples")
    parser.add_argument("--after", type=float, default=5.0, help="growth is measured from this minute")
    parser.add_argument("--tracemalloc", action="store_true", help="trace allocations, print the top growth")
    parser.add_argument("--steady", action="store_true", help="a POST replaces one item: GET /items keeps its size")
    parser.add_argument("--gc", action="store_true", help="log objects by type and gc activity (<role>-gc.jsonl)")
    parser.add_argument("--snap-first", type=float, default=120.0, help="seconds to the first snapshot")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--burn", type=float, default=0.0, help="CPU-bound users: ms of busy loop per task")
    parser.add_argument("--plain", action="store_true", help="with --burn: no loadkit at all")
    parser.add_argument("--health-interval", type=float, default=None, help="LOADKIT_HEALTH_INTERVAL")
    parser.add_argument("classes", nargs="*", help="user classes to run (all by default), e.g. GrpcReader")
    parser.add_argument("--dir", default=None, help="keep logs, reports and snapshots here")
    args = parser.parse_args(argv)
    if args.plain and not args.burn:
        parser.error("--plain needs --burn (mixed.py's users are loadkit's); for example --burn 200 --plain")
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="loadkit-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    soak = Soak(args, work)
    mode = f"burn {args.burn:g} ms" if args.burn else "mixed.py"
    print(f"soak: {args.minutes:g} min, {mode}, {args.users} users x {args.rate:g}/s, plain={args.plain}", flush=True)
    try:
        soak.start()
        soak.run()
    finally:
        soak.stop()
    soak.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
