"""The fleet-security table: each row attacks a real run and checks that the run does not notice.

Every row runs a short honest run — a real ``locust --master`` and one ``--worker`` on
127.0.0.1 against the session's HTTP target, test data with a marker in each row, a
threshold that forged numbers would flip, a JSON report — while an attacker (a raw pyzmq
script, ``security_files/attacker.py``, or a real worker with the wrong secret) works on the
master's port. For every row: the master exits 0 on time; the report counts exactly the
requests the target served, from one worker, thresholds passed; the honest worker exits 0;
the master's RSS stays under :data:`RSS_LIMIT_MB`; each expected line appears exactly once
in the master's output (one line per offender, however many messages it sent); nothing
came back to the attacker (no rows, no ack where none is due). The fake-master rows point a
worker at an attacker's ROUTER instead: with a secret the worker exits 2 and sends no load;
without one it obeys (the control that shows the check can fail).

:func:`test_wire_capture` captures the master's port with ``tcpdump -i lo`` (root): a secured
run shows no row marker; an unsecured one does (so the check can fail).

Cost: ~10 runs of ~6 s plus start-up, ~2-3 min on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.support.procs import Proc, Procs, free_port, wait_for
from tests.support.requirements import need_command, need_root
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "security_files"
HONEST = str(FILES / "honest.py")
PLAIN = str(Path(__file__).parent / "bad_input_files" / "rest_user.py")
ATTACKER = [sys.executable, str(FILES / "attacker.py")]
SECRET = "fleet-security-test-" + "s" * 20
WRONG = "fleet-security-test-" + "w" * 20
RUN_TIME = 6
USERS = 2
END_DEADLINE = RUN_TIME + 45.0  # start-up and drain on a loaded machine
RSS_LIMIT_MB = 400.0  # an idle master: ~90 MB; the 50 MB payload is received once, then dropped
MARKER = "MARKER-" + uuid.uuid4().hex[:12]
GET = "GET /health"
#: What a registered (never accepted) node may hear: its ack and what Locust broadcasts to every node.
HARMLESS = {"ack", "spawning_complete", "quit", "stop"}


def listening(port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in psutil.net_connections())


class PeakRss:
    """Samples a process's RSS every 0.2 s in a thread; ``peak`` in MB."""

    def __init__(self, pid: int) -> None:
        self.peak = 0.0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss / 2**20)
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak


@dataclass
class Fleet:
    """One row's processes and files."""

    tmp: Path
    target: Target
    procs: Procs
    port: int = field(default_factory=free_port)
    attackers: list[Proc] = field(default_factory=list)

    def env(self, secret: str | None) -> dict[str, str]:
        return {"LOADKIT_FLEET_SECRET": secret or ""}

    def master(self, secret: str | None) -> Proc:
        data = self.tmp / "rows.csv"
        data.write_text("user,password\n" + "".join(f"user{i},{MARKER}-{i}\n" for i in range(200)))
        args = [sys.executable, "-m", "locust", "-f", HONEST, "--master", "--master-bind-host", "127.0.0.1"]
        args += ["--master-bind-port", str(self.port), "--expect-workers", "1", "--expect-workers-max-wait", "40"]
        args += [
            "--headless",
            "-u",
            str(USERS),
            "-r",
            str(USERS),
            "-t",
            str(RUN_TIME),
            "-H",
            self.target.url,
            "--loglevel",
            "INFO",
        ]
        args += ["--loadkit-data", str(data), "--loadkit-data-mode", "cyclic", "--loadkit-data-batch", "20"]
        args += ["--threshold", "p95<1000ms", "--report-json", str(self.tmp / "report.json")]
        proc = self.procs.start("master", args, self.env(secret))
        wait_for(lambda: listening(self.port) or proc.popen.poll() is not None, 30, "the master's port")
        return proc

    def worker(self, secret: str | None, locustfile: str = HONEST, port: int | None = None) -> Proc:
        args = [sys.executable, "-m", "locust", "-f", locustfile, "--worker", "--master-host", "127.0.0.1"]
        args += ["--master-port", str(port or self.port), "--loglevel", "INFO"]
        return self.procs.start(f"worker{len(self.procs.all)}", args, self.env(secret))

    def attack(self, attack: str, arg: str = "", port: int | None = None) -> Proc:
        proc = self.procs.start(f"attacker-{attack}", [*ATTACKER, attack, str(port or self.port), arg])
        self.attackers.append(proc)
        return proc


def victim_id(master: Proc) -> str:
    line = wait_for(lambda: master.find(": accepted."), 40, "the honest worker's acceptance")[0][1]
    match = re.search(r"INFO/loadkit\.fleet: (\S+) runs loadkit", line)
    assert match, line
    return match.group(1)


def attacker_result(proc: Proc) -> dict[str, object]:
    proc.wait(60)
    lines = [line for _, line in proc.lines if line.startswith("{") and '"replies"' in line]
    assert lines, f"the attacker printed no result:\n{proc.output}"
    return dict(json.loads(lines[-1]))


# --- the rows -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """``before``: attacks started once the master listens; ``after``: once the honest worker was accepted.

    ``lines``: regexes, each matching exactly one line of the master's output; ``rogue``: a real
    worker (with this secret) that must exit 2 with a line naming the fix.
    """

    id: str
    secret: bool = False
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    rogue: str | None = None


NEVER = r"from a node that never registered"
ROWS = [
    Row(
        "rogue-worker-without-secret",
        secret=True,
        rogue="",
        lines=(r"refused a connection that has no or another fleet secret: give every node the same",),
    ),
    Row(
        "rogue-worker-wrong-secret",
        secret=True,
        rogue=WRONG,
        lines=(r"refused a connection that has no or another fleet secret: give every node the same",),
    ),
    Row(
        "bare-data-request",
        before=("bare-data-request",),
        lines=(rf"dropped a 'loadkit:data_request' message {NEVER}",),
    ),
    Row("forged-stats-and-hdr", before=("forged-stats",), lines=(rf"dropped a 'stats' message {NEVER}",)),
    Row(
        "spoofed-hello-and-quit",
        after=("spoof",),
        lines=(r"dropped a 'loadkit:hello' message claiming node id",),
    ),
    Row(
        "malformed-frames",
        before=("malformed",),
        lines=(r"dropped a frame that is not Locust's \[type, data, node_id\]",),
    ),
    Row(
        "oversized-payloads",
        before=("oversized",),
        lines=(r"dropped a 'loadkit:data_request' message before its loadkit:hello was accepted",),
    ),
    Row("client-ready-flood", before=("ready-flood",), lines=(r"dropped a repeated client_ready \(at most one per",)),
    Row(
        "client-ready-mid-run",  # registered while users run: no users for it (no spawn reaches it)
        after=("ready-flood",),
        lines=(r"dropped a repeated client_ready \(at most one per",),
    ),
]


@pytest.fixture
def fleet(tmp_path: Path, http_target: Target, procs: Procs) -> Iterator[Fleet]:
    yield Fleet(tmp_path, http_target, procs)


def served(target: Target) -> int:
    return target.counters().get(GET, 0)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_attack_changes_nothing(row: Row, fleet: Fleet) -> None:
    secret = SECRET if row.secret else None
    before = served(fleet.target)
    master = fleet.master(secret)
    rss = PeakRss(master.popen.pid)
    attackers = [fleet.attack(attack) for attack in row.before]
    rogue = fleet.worker(row.rogue) if row.rogue is not None else None
    if attackers or rogue:
        time.sleep(1.0)  # let the attack land first: it must not count nor get rows
    honest = fleet.worker(secret)
    if row.after:
        victim = victim_id(master)
        attackers += [fleet.attack(attack, victim) for attack in row.after]
    code = master.wait(END_DEADLINE)
    peak = rss.stop()
    shown = f"--- master\n{master.output}\n--- worker\n{honest.output}"
    assert code == 0, f"master exit {code}\n{shown}"
    assert honest.wait(30) == 0, shown
    assert "Traceback" not in master.output, shown
    report = json.loads((fleet.tmp / "report.json").read_text())
    assert report["thresholds_passed"] is True, shown
    assert report["run"]["workers"] == 1, report["run"]
    # Every request the target served is in the report, but for one in flight per user when the
    # run stopped (Locust kills its users: the target served it, no one recorded it).
    lost = served(fleet.target) - before - report["total"]["count"]
    assert 0 <= lost <= USERS, (lost, report["total"], shown)
    assert report["total"]["count"] > 0
    assert peak < RSS_LIMIT_MB, f"master RSS peaked at {peak:.0f} MB"
    for pattern in row.lines:
        matching = [line for _, line in master.lines if re.search(pattern, line)]
        assert len(matching) == 1, f"expected one line matching {pattern!r}, got {len(matching)}\n{shown}"
    for proc in attackers:
        result = attacker_result(proc)
        assert result["rows"] == 0, result
        assert set(result["replies"]) <= HARMLESS, result
        assert proc.output.count(str(result["me"])) >= 1
    if rogue is not None:
        assert rogue.wait(30) == 2, rogue.output
        fix = [line for _, line in rogue.lines if "LOADKIT_FLEET_SECRET" in line and "loadkit: error:" in line]
        assert len(fix) == 1, rogue.output
    print(f"{row.id}: master RSS peak {peak:.0f} MB, {report['total']['count']} requests")


@pytest.mark.parametrize(("secured", "obeys"), [(True, False), (False, True)], ids=["secured", "unsecured-obeys"])
def test_fake_master(secured: bool, obeys: bool, fleet: Fleet, start_target: Callable[..., Target]) -> None:
    """A worker pointed at an impostor: with the secret it exits 2 and sends nothing; without, it obeys."""
    elsewhere = start_target("http")
    fake = fleet.attack("fake-master", elsewhere.url)
    wait_for(lambda: fake.find("fake master listening"), 30, "the fake master")
    worker = fleet.worker(SECRET if secured else None, locustfile=PLAIN)
    if obeys:
        wait_for(lambda: served(elsewhere) > 0, 30, "the unsecured worker to obey the fake master")
        return
    assert worker.wait(40) == 2, worker.output
    fix = [line for _, line in worker.lines if "did not accept this worker's fleet secret" in line]
    assert len(fix) == 1, worker.output
    assert served(elsewhere) == 0


def test_wire_capture(fleet: Fleet) -> None:
    """tcpdump on lo, the master's port: no row marker when secured; the marker when not (so it can fail)."""
    tcpdump = _need_tcpdump()
    found = {}
    for secured in (True, False):
        fleet.port = free_port()
        pcap = fleet.tmp / f"capture-{secured}.pcap"
        dump = subprocess.Popen(
            [tcpdump, "-i", "lo", "-U", "-w", str(pcap), "tcp", "port", str(fleet.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            time.sleep(1.0)  # tcpdump's capture starts asynchronously
            secret = SECRET if secured else None
            master = fleet.master(secret)
            fleet.worker(secret)
            assert master.wait(END_DEADLINE) == 0, master.output
        finally:
            time.sleep(0.5)
            dump.send_signal(signal.SIGINT)
            dump.wait(timeout=10)
        found[secured] = MARKER.encode() in pcap.read_bytes()
        assert pcap.stat().st_size > 10_000, "the capture is (nearly) empty: it saw no traffic"
    assert found == {True: False, False: True}, found


def _need_tcpdump() -> str:
    """tcpdump and root; skip with one line (fail with LOADKIT_TESTS_STRICT=1)."""
    path = need_command("tcpdump", "tcpdump")
    need_root("tcpdump -i lo")
    return path
