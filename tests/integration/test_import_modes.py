"""What ``import loadkit`` does depends on the process: plugin in a Locust process, nothing heavy elsewhere.

Each case runs in a fresh interpreter (the test process itself has Locust imported). The
last one is the README's Fleet example: a plain ``HttpUser`` locustfile that only does
``import loadkit`` and calls ``loadkit.data.next()`` under ``locust --loadkit-data`` (it
failed with ``unrecognized arguments: --loadkit-data`` before). Cost: ~10 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.targets import Target


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_loadkit_outside_locust_imports_neither_locust_nor_gevent() -> None:
    seen = python("import sys, loadkit; print(sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent'}))")
    assert seen == "[]"


def test_import_loadkit_in_a_locust_process_loads_the_options_and_listeners() -> None:
    code = (
        "import locust, loadkit, sys\n"
        "from locust.argument_parser import get_parser\n"
        "parser = get_parser(default_config_files=[])\n"
        "options = parser.parse_args(['--loadkit-data', 'faker:10', '--threshold', 'p95<50ms'])\n"
        "print(json.dumps(['loadkit.run.plugin' in sys.modules, options.loadkit_data, options.threshold]))\n"
    )
    assert json.loads(python("import json\n" + code)) == [True, "faker:10", ["p95<50ms"]]


LOCUSTFILE = """
from locust import HttpUser, constant, task

import loadkit

ROWS = []


class Reader(HttpUser):
    wait_time = constant(0.05)

    @task
    def read(self):
        ROWS.append(loadkit.data.next()["id"])
        self.client.get("/health")
"""


@pytest.mark.e2e  # a real `locust` process
def test_a_plain_httpuser_locustfile_reads_rows_after_import_loadkit(tmp_path: Path, http_target: Target) -> None:
    locustfile = tmp_path / "plain.py"
    locustfile.write_text(LOCUSTFILE)
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "2", "-r", "2", "-t", "3s"]
    cmd += ["--host", http_target.url, "--loadkit-data", "faker:20:1", "--loadkit-data-exhausted", "stop-user"]
    cmd += ["--report-json", str(tmp_path / "report.json"), "--only-summary"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["fleet"]["data"]["workers"]["local"]["leased"] > 0, report["fleet"]["data"]
    assert report["total"]["count"] >= 1
