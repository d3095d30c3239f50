"""What the fleet secret (ZeroMQ CURVE) costs the master: CPU and worker->master latency.

    .venv/bin/python -m bench.fleet_security [ROUNDS]

Each round runs the same fleet twice, unsecured and secured (order alternating): a real
``locust --master`` and 10 ``--worker`` processes on 127.0.0.1, 20 users GETting the bundled
HTTP target for 30 s (bench/fleet_ping.py, which also pings the master from each worker every
0.5 s). Measured on the master: CPU seconds (user+sys, psutil) between the end of spawning and
the end of the run time — start-up excluded —, and the ping latency (median, p95).

First, the sockets alone: one DEALER->ROUTER pair in one process, 20,000 messages of 100 B,
1 KB and 20 KB, plain and CURVE: CPU µs per message (encrypt + decrypt, both ends counted).

Reported: per mode the median over rounds with min-max, and secured/unsecured CPU as a ratio
of medians (goal < 1.10). The machine is shared (2 cores, other engineers' tests): the 11
processes compete with whatever else runs; read the spread before the ratio.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time

import psutil

from tests.support.procs import ROOT, Procs
from tests.support.targets import launch

LOCUSTFILE = str(ROOT / "bench" / "fleet_ping.py")
WORKERS = 10
RUN_S = 30
SECRET = "bench-fleet-security-" + "x" * 24
PING = re.compile(r"bench ping: n=(\d+) median=([\d.]+) p95=([\d.]+) ms")


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def one_run(url: str, secured: bool) -> dict[str, float]:
    env = {"LOADKIT_FLEET_SECRET": SECRET if secured else ""}
    os.environ.update(env)  # Procs.master passes this process's environment on
    procs = Procs()
    try:
        master, port = procs.master(
            LOCUSTFILE, WORKERS, "-u", "20", "-r", "20", "-t", f"{RUN_S}s", "-H", url, "--loglevel", "INFO"
        )
        for _ in range(WORKERS):
            procs.worker(LOCUSTFILE, port, env=env, loglevel="WARNING")
        samples: list[tuple[float, float]] = []

        def sample() -> None:
            while master.popen.poll() is None:
                try:
                    samples.append((time.monotonic(), cpu_seconds(master.popen.pid)))
                except psutil.Error:
                    return
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = master.wait(timeout=RUN_S + 120)
        sampler.join(timeout=5)
        assert code == 0, master.output
        # Locust says "All users spawned", or on a busy host "Spawning is complete and report waittime is expired"
        done = master.find("All users spawned") + master.find("Spawning is complete")
        assert done, master.output[:6000]
        spawned = min(t for t, _ in done)
        ended = master.find("--run-time limit reached")[0][0]
        before = max(c for t, c in samples if t <= spawned)
        after = max(c for t, c in samples if t <= ended)
        ping = PING.search(master.output)
        assert ping, master.output
        return {
            "cpu_s": after - before,
            "window_s": ended - spawned,
            "median_ms": float(ping[2]),
            "p95_ms": float(ping[3]),
        }
    finally:
        procs.close()


def socket_cost(curve: bool, size: int, count: int = 20_000) -> float:
    """CPU µs per message through a local DEALER->ROUTER pair (plain zmq, no gevent)."""
    import zmq

    from loadkit.fleet.security import derive_keys

    ctx = zmq.Context()
    server, client = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    if curve:
        keys = derive_keys(SECRET)
        server.curve_server, server.curve_secretkey, server.curve_publickey = (
            True,
            keys.server_secret,
            keys.server_public,
        )
        client.curve_serverkey, client.curve_publickey = keys.server_public, keys.client_public
        client.curve_secretkey = keys.client_secret
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(b"hello")
    server.recv_multipart()  # handshake done
    payload = os.urandom(size)
    start = time.process_time()  # this process's threads: Python and ZeroMQ's I/O thread
    for _ in range(count):
        client.send(payload)
        server.recv_multipart()
    cost = (time.process_time() - start) / count * 1e6
    ctx.destroy(linger=0)
    return cost


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for size in (100, 1000, 20_000):
        plain, curve = socket_cost(False, size), socket_cost(True, size)
        print(f"sockets alone, {size:>6} B: plain {plain:.1f} µs, CURVE {curve:.1f} µs CPU per message", flush=True)
    target = launch("http")
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for i in range(rounds):
            for secured in (False, True) if i % 2 == 0 else (True, False):
                run = one_run(target.url, secured)
                results[secured].append(run)
                print(f"round {i + 1} {'secured  ' if secured else 'unsecured'}: {run}", flush=True)
    finally:
        target.stop()
    for secured, runs in results.items():
        name = "secured (CURVE)" if secured else "unsecured      "
        print(
            f"{name}: master CPU s {spread([r['cpu_s'] for r in runs])} over ~{RUN_S} s; "
            f"ping median ms {spread([r['median_ms'] for r in runs])}, p95 ms {spread([r['p95_ms'] for r in runs])}"
        )
    ratio = statistics.median(r["cpu_s"] for r in results[True]) / statistics.median(r["cpu_s"] for r in results[False])
    print(f"secured/unsecured master CPU: {ratio:.2f} (goal < 1.10), {WORKERS} workers, {rounds} rounds")


if __name__ == "__main__":
    main()
