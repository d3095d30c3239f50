"""``loadkit agent`` as a real process: serves samples, stops on SIGTERM, bad port → exit 2."""

from __future__ import annotations

import signal
import socket
import sys

import pytest

from tests.support.procs import Procs, get_json, wait_for

pytestmark = pytest.mark.e2e


def test_agent_serves_samples_and_stops_on_sigterm(procs: Procs) -> None:
    url = procs.agent()
    body = wait_for(lambda: (b := get_json(f"{url}/samples")) and len(b["history"]) >= 2 and b, 30, "2 samples")
    assert {"cpu_percent", "mem_used_mb", "net_recv_bps"} <= set(body["latest"])
    agent = procs.all[-1]
    agent.popen.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0


def test_agent_does_not_import_locust(procs: Procs) -> None:
    code = "import sys, loadkit.cli.agent, loadkit.fleet.agent; print('locust' in sys.modules, 'gevent' in sys.modules)"
    run = procs.start("probe", [sys.executable, "-c", code])
    assert run.wait(timeout=30) == 0
    assert run.output.strip() == "False False"


def test_port_in_use_is_one_line_and_exit_2(procs: Procs) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = procs.start("agent", [sys.executable, "-m", "loadkit.cli", "agent", "--port", str(port)])
        assert run.wait(timeout=30) == 2
    assert run.output.startswith("loadkit: error: cannot listen on 127.0.0.1:"), run.output
    assert len(run.output.strip().splitlines()) == 1


def test_a_bundled_target_starts_an_agent_in_process(procs: Procs) -> None:
    target = procs.start(
        "target", [sys.executable, "-m", "loadkit.cli", "target", "http", "--port", "0", "--agent-port", "0"]
    )
    line = wait_for(lambda: target.find("loadkit agent serving"), 30, "the in-process agent")[0][1]
    url = line.split()[-1]
    assert "cpu_percent" in wait_for(lambda: get_json(url)["latest"], 30, "a sample")
    wait_for(lambda: target.find("loadkit target http listening on"), 30, "the target")
    target.popen.send_signal(signal.SIGTERM)
    assert target.wait(timeout=30) == 0, target.output


def test_agent_port_is_for_the_foreground_only(procs: Procs) -> None:
    run = procs.start(
        "target",
        [sys.executable, "-m", "loadkit.cli", "target", "http", "--agent-port", "0", "--reload"],
    )
    assert run.wait(timeout=30) == 2
    assert "--agent-port runs in the foreground only" in run.output
