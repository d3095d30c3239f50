"""Library mode as a newcomer saves it: scripts run with ``python script.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

GUARDLESS = textwrap.dedent(
    """
    import os, random
    from pathlib import Path
    from locust import User, constant, task
    from loadkit import LoadTest

    Path(os.environ["LK_MARKS"], f"top-level-{os.getpid()}").touch()  # every execution of the top level

    class SyntheticUser(User):
        wait_time = constant(0.01)

        @task
        def call(self):
            self.environment.events.request.fire(request_type="GET", name="/x",
                response_time=random.uniform(0.2, 2.0), response_length=1, exception=None, context={})

    result = LoadTest([SyntheticUser], users=2, run_time=2, workers=2, thresholds=["fail_ratio==0"]).run()
    Path(os.environ["LK_MARKS"], f"after-run-{os.getpid()}").touch()
    print("REQUESTS", result.requests, "PASSED", result.passed)
    """
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_"))}
    return {**env, **extra}


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Workers take the user classes from the script but never run its LoadTest again."""
    script = tmp_path / "guardless.py"
    script.write_text(GUARDLESS)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.run(
        [sys.executable, str(script)],
        env=_env(LK_MARKS=str(marks)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "PASSED True" in proc.stdout, proc.stdout[-2000:]
    requests = int(proc.stdout.split("REQUESTS ", 1)[1].split()[0])
    assert requests > 0
    names = sorted(p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in marks.iterdir())
    # the top level ran in the script and in each of the 2 workers; only the script went past run()
    assert names.count("top-level") == 3, names
    assert names.count("after-run") == 1, names


def test_a_failing_worker_is_one_line(tmp_path: Path) -> None:
    """A user file that fails to import in the workers: one line naming the worker's error."""
    script = tmp_path / "broken.py"
    script.write_text(
        GUARDLESS.replace(
            "class SyntheticUser",
            "if os.environ.get('LOADKIT_LIBRARY_WORKER_USERS'): raise ValueError('no db here')\n\nclass SyntheticUser",
        )
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    runner = tmp_path / "run.py"
    runner.write_text(
        "import runpy, sys\nfrom loadkit import LoadkitError\n"
        f"try:\n    runpy.run_path({str(script)!r})\nexcept LoadkitError as exc:\n    print('ERROR', exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, str(runner)],
        env=_env(LK_MARKS=str(marks)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    error = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert len(error) == 1 and "ValueError: no db here" in error[0], (proc.stdout[-3000:], proc.stderr[-3000:])


PAGES = [
    "/",
    "/stats/requests",
    "/stats/report",
    "/stats/requests/csv",
    "/stats/failures/csv",
    "/exceptions",
    "/exceptions/csv",
    "/tasks",
    "/logs",
    "/worker-count",
    "/loadkit/fleet",
    "/loadkit/charts",
]


def test_attach_keeps_locusts_web_ui_whole(http_target: Any) -> None:
    """locustfiles/library_mode.py --web-port: every page of Locust's UI and loadkit's answers 200."""
    port = free_port()
    script = REPO / "locustfiles" / "library_mode.py"
    args = [sys.executable, str(script), http_target.url, "--users", "2", "--run-time", "30", "--web-port", str(port)]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return urllib.request.urlopen(base + "/stats/requests", timeout=2).status == 200
            except (OSError, urllib.error.HTTPError):
                return False

        wait_for(up, 60, "the library script's web UI")
        statuses = {}
        for page in PAGES:
            try:
                statuses[page] = urllib.request.urlopen(base + page, timeout=10).status
            except urllib.error.HTTPError as exc:
                statuses[page] = exc.code
        assert all(code == 200 for code in statuses.values()), statuses
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "resulted in a 500" not in out, out[-3000:]
