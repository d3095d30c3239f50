"""Library mode as a newcomer saves it: scripts run with ``python script.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
