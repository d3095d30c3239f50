"""The README's recipes, run as a reader runs them (tests/unit/test_doc_commands.py lists them).

Each test takes a section's commands from README.md and runs them in bash, in a scratch
folder (``locustfiles`` linked in; reports and pid files land there), with only these moved:
``.venv/bin/`` is this interpreter's ``bin/``, the bundled targets and the master listen on
free ports instead of 50051/8080/5557 (other tests share the machine), and the locustfiles get
those ports through their ``DEMO_*_HOST`` variables.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import free_port
from tests.support.doc_commands import ROOT, blocks, commands, section

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()


@dataclass
class Shell:
    cwd: Path
    grpc_port: int
    http_port: int
    master_port: int

    def adapt(self, command: str) -> str:
        command = command.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
        command = re.sub(r"(loadkit target grpc --daemon\b)", rf"\1 --port {self.grpc_port}", command)
        command = re.sub(r"(loadkit target http --daemon\b)", rf"\1 --port {self.http_port}", command)
        command = command.replace(
            "--master ", f"--master --master-bind-host 127.0.0.1 --master-bind-port {self.master_port} "
        )
        return command.replace("--worker ", f"--worker --master-port {self.master_port} ")

    def run(self, lines: list[str], timeout: float = 180) -> tuple[list[int], str]:
        """Run ``lines`` in one bash script; the exit code of each (0 for a backgrounded one) and the output."""
        script = "\n".join(f"{self.adapt(line)}\necho __rc=$?" for line in lines) + "\nwait\n"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
        env["DEMO_GRPC_HOST"] = f"grpc://127.0.0.1:{self.grpc_port}"
        env["DEMO_HTTP_HOST"] = f"http://127.0.0.1:{self.http_port}"
        proc = subprocess.run(
            ["bash", "-c", script], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        out = proc.stdout + proc.stderr
        return [int(code) for code in re.findall(r"^__rc=(\d+)$", proc.stdout, re.M)], out


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    (tmp_path / "locustfiles").symlink_to(ROOT / "locustfiles")
    sh = Shell(tmp_path, free_port(), free_port(), free_port())
    yield sh
    for pidfile in tmp_path.glob("*.pid"):  # a failed recipe must not leave its target running
        subprocess.run([sys.executable, "-m", "loadkit", "target", "stop", "--pidfile", str(pidfile)], check=False)


def _recipe(heading: str) -> list[str]:
    return commands(section(README, heading))


def test_your_first_locustfile(shell: Shell) -> None:
    codes, out = shell.run(_recipe("Your first locustfile"))
    assert codes == [0, 0, 0], out[-3000:]
    assert re.search(r"grpc +/demo.v1.Demo/GetItem", out) and "loadkit: PASSED (exit 0)" in out, out[-3000:]


def test_distributed(shell: Shell) -> None:
    codes, out = shell.run(_recipe("Distributed"))
    assert codes == [0, 0, 0, 0], out[-3000:]
    assert "loadkit: PASSED (exit 0)" in out, out[-3000:]


def test_ci_gating(shell: Shell) -> None:
    codes, out = shell.run(_recipe("CI gating: thresholds and exit codes"))
    assert codes == [0, 0, 0], out[-3000:]
    assert "loadkit: PASSED (exit 0): 2 of 2 thresholds passed" in out, out[-3000:]
    assert (shell.cwd / "out" / "junit.xml").is_file() and (shell.cwd / "out" / "report.html").is_file()


def test_open_model(shell: Shell) -> None:
    codes, out = shell.run(_recipe("Open model (arrival rate)"))
    assert codes == [0, 0, 0], out[-3000:]
    assert "open model: target" in out and "loadkit: PASSED (exit 0)" in out, out[-3000:]
    assert "Ramping to 0 users" not in out


def test_http2_and_websocket(shell: Shell) -> None:
    codes, out = shell.run(_recipe("HTTP/2 and WebSocket"))
    assert codes == [0, 0, 0, 0], out[-3000:]
    assert out.count("loadkit: PASSED (exit 0): 1 of 1 thresholds passed") == 2, out[-3000:]
    assert re.search(r"GET +/items/\{item_id\}", out) and re.search(r"ws-ttfm +/ws/echo", out), out[-3000:]


def test_library_mode(shell: Shell) -> None:
    """The README's script, saved as loadtest.py without a main guard, against the HTTP target."""
    (code,) = blocks(section(README, "Library mode"), "python")
    (shell.cwd / "loadtest.py").write_text(code.replace("127.0.0.1:8080", f"127.0.0.1:{shell.http_port}"))
    start = ".venv/bin/loadkit target http --daemon --pidfile http.pid"
    codes, out = shell.run([start, ".venv/bin/python loadtest.py", ".venv/bin/loadkit target stop --pidfile http.pid"])
    assert codes == [0, 0, 0], out[-3000:]
    assert out.count("\npassed\n") == 1 and " reqs " in out, out[-3000:]
    assert json.dumps("passed") == '"passed"'
