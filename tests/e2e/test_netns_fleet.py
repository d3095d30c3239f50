"""docker-compose.yml run for real, with no container engine: one Linux network namespace per service.

Each service (master, 2 worker replicas, both targets, the agent) gets its own namespace,
joined to the others by veth pairs on a private bridge, with its own address in
10.213.0.0/24 and an ``/etc/netns/<ns>/hosts`` so service names resolve as on a compose
network. In each namespace runs exactly the command and environment its compose service
declares (interpolated as Compose does from a few settings a user would put in ``.env``;
container paths mapped to this checkout), so the compose file itself is what is tested:
the workers reach the master by name over the bridge, the targets' healthchecks pass, a
headless run passes the file's thresholds, every data row is written once and the JSON
report lists both workers. With no settings at all (the file's defaults) the master waits
in its web UI, which other namespaces reach by name on port 8089. Namespaces, links, the
bridge and /etc/netns dirs are removed and every process is stopped even when the test
fails. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); skipped, with the reason, where a
namespace cannot be created.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.compose import BIN, HEADLESS_SETTINGS, ROOT, Service, map_path, services
from tests.support.procs import Proc, Procs, wait_for
from tests.support.requirements import need_command, need_root, require

pytestmark = pytest.mark.e2e

SUBNET = "10.213.0"
#: Unique per test process (interface names: at most 15 characters), so parallel runs never clash.
TAG = f"lk{os.getpid()}"
#: Namespace (host) name → compose service; two replicas of ``worker``, as ``deploy.replicas``.
NODES = {
    "target-http": "target-http",
    "target-grpc": "target-grpc",
    "agent": "agent",
    "master": "master",
    "worker-1": "worker",
    "worker-2": "worker",
}
#: What a user would set in the shell or .env for a short headless run of the compose file.
SETTINGS = {
    **HEADLESS_SETTINGS,
    "LOADKIT_FLEET_SECRET": "netns-fleet-test-secret-0123456789",  # README's one-liner writes .env
}
REPORTS = "/app/loadkit-reports"
ETC_NETNS = Path("/etc/netns")
MASTER_PORT = 5557  # Locust's default master port: the compose file leaves it as is


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def namespaces_permitted() -> str | None:
    """None when this process may create a network namespace, else why not."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed"
    probe = f"{TAG}-probe"
    try:
        made = ip("netns", "add", probe, check=False)
    except OSError as exc:
        return f"`ip netns add` cannot run: {exc}"
    if made.returncode != 0:
        return f"creating a network namespace is not permitted here: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


@dataclass
class Network:
    """A bridge and one namespace per host; :meth:`close` removes every piece it made."""

    tag: str
    bridge: str = ""
    address: dict[str, str] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    etc_dirs: list[Path] = field(default_factory=list)
    forward_rules: list[list[str]] = field(default_factory=list)

    def create(self, hosts: list[str]) -> None:
        self.bridge = f"{self.tag}br"
        ip("link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        self._accept_forwarding()
        ip("link", "set", self.bridge, "up")
        for number, host in enumerate(hosts, start=2):
            ns, veth = f"{self.tag}-{host}", f"{self.tag}v{number}"
            ip("netns", "add", ns)
            self.namespaces[host] = ns
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.links.append(veth)
            ip("link", "set", veth, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{SUBNET}.{number}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            self.address[host] = f"{SUBNET}.{number}"
        hosts_file = "127.0.0.1 localhost\n" + "".join(f"{a} {h}\n" for h, a in self.address.items())
        for ns in self.namespaces.values():
            etc = ETC_NETNS / ns
            etc.mkdir(parents=True)
            self.etc_dirs.append(etc)
            (etc / "hosts").write_text(hosts_file)  # `ip netns exec` bind-mounts it over /etc/hosts

    def exec_args(self, host: str, argv: list[str], env: dict[str, str]) -> list[str]:
        """``argv`` run in ``host``'s namespace with exactly ``env`` (as a container gets)."""
        base = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
        assignments = [f"{k}={v}" for k, v in {**base, "PYTHONUNBUFFERED": "1", **env}.items()]
        return ["ip", "netns", "exec", self.namespaces[host], "env", "-i", *assignments, *argv]

    def _accept_forwarding(self) -> None:
        """Let frames cross the bridge where a Docker engine runs: dockerd sets the FORWARD policy to
        DROP and loads br_netfilter, so bridged frames between namespaces were dropped too."""
        if shutil.which("iptables") is None:
            return
        rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
        done = subprocess.run(["iptables", "-I", *rule], capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0:
            self.forward_rules.append(rule)

    def close(self) -> list[str]:
        """Remove everything made, even half-made; returns what is still left (should be nothing)."""
        for ns in self.namespaces.values():
            ip("netns", "del", ns, check=False)  # also removes the veth pairs' inside ends
        for link in reversed(self.links):
            if Path("/sys/class/net", link).exists():
                ip("link", "del", link, check=False)
        for rule in self.forward_rules:
            subprocess.run(["iptables", "-D", *rule], capture_output=True, timeout=30, check=False)
        for etc in self.etc_dirs:
            shutil.rmtree(etc, ignore_errors=True)
        with contextlib.suppress(OSError):  # /etc/netns itself, unless another run still uses it
            ETC_NETNS.rmdir()
        left = [ns for ns in ip("netns", "list").stdout.split() if ns.startswith(f"{self.tag}-")]
        left += [link for link in self.links if Path("/sys/class/net", link).exists()]
        left += [
            " ".join(rule)
            for rule in self.forward_rules
            if subprocess.run(["iptables", "-C", *rule], capture_output=True, timeout=30, check=False).returncode == 0
        ]
        return left + [str(etc) for etc in self.etc_dirs if etc.exists()]


@dataclass
class Fleet:
    network: Network
    procs: Procs
    reports: Path
    compose: dict[str, Service]
    #: The shell / .env the compose file is interpolated from.
    settings: dict[str, str] = field(default_factory=lambda: dict(SETTINGS))

    def command_env(self, host: str) -> tuple[list[str], dict[str, str]]:
        """The compose service's command and environment, with container paths mapped to this checkout."""
        service = self.compose[NODES[host]]
        paths = {**service.mounts(), REPORTS: self.reports}
        env = {k: map_path(v, paths) for k, v in service.environment(self.settings).items()}
        return service.local_argv(service.command, paths), env

    def start(self, host: str) -> Proc:
        argv, env = self.command_env(host)
        return self.procs.start(host, self.network.exec_args(host, argv, env))

    def run_in(self, host: str, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.network.exec_args(host, argv, {}), capture_output=True, text=True, cwd=ROOT, timeout=timeout
        )

    def healthy(self, host: str) -> bool:
        service = self.compose[NODES[host]]
        assert service.healthcheck is not None, host
        return self.run_in(host, service.local_argv(service.healthcheck, {})).returncode == 0

    def fetch_json(self, host: str, url: str, check: bool = True, token: str = "") -> Any:
        """GET ``url`` from inside ``host``'s namespace (the test process is not on the bridge).

        ``token``: sent as ``Authorization: Bearer`` (the web UI's login). With ``check=False`` a
        failed request gives None, for polling."""
        code = (
            "import sys, urllib.request as u; h = {'Authorization': 'Bearer ' + sys.argv[2]} if sys.argv[2] else {}; "
            "sys.stdout.write(u.urlopen(u.Request(sys.argv[1], headers=h), timeout=10).read().decode())"
        )
        out = self.run_in(host, [sys.executable, "-c", code, url, token])
        if out.returncode != 0 and not check:
            return None
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def master_peers(self) -> set[str]:
        """Peer addresses of established TCP connections to the master's port, inside its namespace."""
        # /proc/net is the reading process's namespace's; Locust's ZeroMQ sockets are dual-stack (tcp6).
        out = self.run_in("master", ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        return {peer for local_port, peer in established(out.stdout) if local_port == MASTER_PORT}


def established(proc_net_tcp: str) -> list[tuple[int, str]]:
    """(local port, peer address) of each ESTABLISHED row of /proc/net/tcp{,6} text."""
    rows = []
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[0].endswith(":") and fields[3] == "01":  # TCP_ESTABLISHED
            local_port = int(fields[1].split(":")[1], 16)
            rows.append((local_port, _host(fields[2].split(":")[0])))
    return rows


def _host(hex_address: str) -> str:
    """The kernel prints addresses as 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(swapped)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    need_root("network namespaces")
    need_command("ip", "iproute2")
    require(namespaces_permitted())
    network, procs = Network(TAG), Procs()
    try:
        network.create(list(NODES))
        yield Fleet(network, procs, tmp_path, services())
    finally:
        procs.close()
        for proc in procs.all:  # shown by pytest only when the test fails
            print(f"--- {proc.name} (exit {proc.popen.returncode}):\n{proc.output[-3000:]}")
        left = network.close()
        assert not left, f"network pieces left behind: {left}"


def test_compose_fleet_runs_across_namespaces(fleet: Fleet) -> None:
    for host in ("target-http", "target-grpc"):
        fleet.start(host)
    agent = fleet.start("agent")
    for host in ("target-http", "target-grpc"):  # compose: master depends_on service_healthy
        wait_for(partial(fleet.healthy, host), 60, f"{host}'s healthcheck", interval=0.5)
    wait_for(lambda: agent.find("loadkit agent serving"), 30, "the agent")

    master = fleet.start("master")
    workers = [fleet.start(host) for host in ("worker-1", "worker-2")]
    wait_for(lambda: master.find("2 workers connected"), 90, "both workers to connect to the master")
    worker_ips = {fleet.network.address[w] for w in ("worker-1", "worker-2")}
    peers = wait_for(lambda: worker_ips <= (p := fleet.master_peers()) and p, 20, "the workers' connections")
    assert worker_ips <= peers, peers  # over the bridge, from each worker's own address

    code = master.wait(timeout=120)
    assert code == 0, master.output[-5000:]
    for worker in workers:
        assert worker.wait(timeout=30) == 0, worker.output[-3000:]

    report = json.loads((fleet.reports / "fleet.json").read_text())
    assert report["thresholds_passed"] is True, report["thresholds"]
    assert len(report["thresholds"]) >= 2
    counts = {e["key"]: e["count"] for e in report["entries"]}
    assert all(n > 0 for n in counts.values()) and len(counts) >= 2, counts
    health = report["fleet"]["health"]
    assert len(health["workers"]) == 2, sorted(health["workers"])
    assert all(samples for samples in health["workers"].values())
    assert "http://agent:9100" in health["agents"], health["agents"]

    data = report["fleet"]["data"]
    assert data["figures"]["workers"] == 2
    assert all(w["leased"] > 0 for w in data["workers"].values()), data["workers"]
    creates = fleet.fetch_json("target-http", "http://127.0.0.1:8080/items")["creates"]
    assert creates, "no data row reached the HTTP target"
    assert set(creates.values()) == {1}, {k: n for k, n in creates.items() if n != 1}
    assert len(creates) <= data["figures"]["rows_leased"]
    print(f"\nnetns fleet: {counts}; rows written once each: {len(creates)}; leasing: {data['figures']}")


def test_compose_defaults_serve_the_web_ui_to_other_hosts(fleet: Fleet) -> None:
    """The file as is (only the .env the README requires: the fleet secret): the master waits in its
    web UI, reachable by name on 8089.

    Reachable from other hosts, the UI wants a login out of the box: the master logs the token
    it generated; without it the UI answers nothing (401)."""
    fleet.settings = {"LOADKIT_FLEET_SECRET": SETTINGS["LOADKIT_FLEET_SECRET"]}
    master = fleet.start("master")
    for host in ("worker-1", "worker-2"):
        fleet.start(host)
    wait_for(lambda: master.find("2 workers connected"), 90, "both workers to connect to the master")
    line = wait_for(lambda: master.find("web UI login: user"), 30, "the web UI's login line")[0][1]
    token = re.search(r"password (\S+) \(", line)
    assert token is not None, line
    assert fleet.fetch_json("worker-1", "http://master:8089/stats/requests", check=False) is None  # 401
    stats = wait_for(
        lambda: fleet.fetch_json("worker-1", "http://master:8089/stats/requests", check=False, token=token[1]),
        30,
        "the web UI from worker-1",
    )
    assert stats["worker_count"] == 2, stats
    assert stats["state"] == "ready", stats["state"]  # not headless: nothing starts until asked
    assert master.popen.poll() is None
