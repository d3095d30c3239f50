"""loadkit as installed from its wheel, in a fresh venv, run from a folder that has its own ``targets/``.

The wheel is built from a copy of the sources (``pip wheel --no-deps``, no build isolation:
no network) and installed with ``--no-deps`` into a new venv; the dependencies come from
this test's venv through a ``.pth`` line appended after the new venv's own site-packages (so
the wheel's ``loadkit`` wins over the editable one, whose finder a ``.pth``-added path never
runs). Every command runs with the working directory first on ``sys.path`` (``python -m``)
in a folder holding an unrelated ``targets`` package that fails on import, as a user's
load-test repository might. Cost: ~15-30 s (wheel build, venv, one gRPC target, protoc).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT, wait_for

pytestmark = pytest.mark.e2e

READY = re.compile(r"loadkit target grpc listening on 127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    cwd: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args], cwd=self.cwd, capture_output=True, text=True, timeout=timeout, check=False
        )


def _copy_sources(dest: Path) -> Path:
    for name in ("pyproject.toml", "setup.py", "loadkit-locust-help.pth", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("loadkit", "targets", "proto"):  # loadkit/targets, loadkit/proto: symlinks, kept as such
        shutil.copytree(ROOT / name, dest / name, symlinks=True, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    src = _copy_sources(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("loadkit-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "zz_loadkit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    cwd = tmp_path_factory.mktemp("user-repo")
    (cwd / "targets").mkdir()
    (cwd / "targets" / "__init__.py").write_text('raise ImportError("the user\'s own targets/ package was imported")\n')
    yield Installed(wheel, python, cwd)


def test_the_wheel_installs_nothing_top_level_but_loadkit_and_ships_the_protos(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"loadkit", "loadkit-locust-help.pth"}, top  # the .pth: loadkit's options in `locust --help`
    assert "loadkit/proto/demo/v1/demo.proto" in names
    assert "loadkit/targets/grpc/server.py" in names and "loadkit/stats/assets/charts.js" in names
    where = installed.run("-c", "import loadkit, loadkit.targets; print(loadkit.__file__, loadkit.targets.__file__)")
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout and str(installed.python.parent.parent) in where.stdout, where.stdout


def test_locust_help_lists_loadkits_options_from_the_installed_copy(installed: Installed) -> None:
    """Locust prints --help before importing a locustfile: the installed .pth loads loadkit's options."""
    helped = installed.run("-m", "locust", "--help")
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "loadkit: thresholds and reports:" in helped.stdout and "--threshold" in helped.stdout
    plain = installed.run("-c", "import sys; print('locust' in sys.modules, 'loadkit' in sys.modules)", "--help")
    assert plain.stdout.split() == ["False", "False"], plain  # inert in every other program


def test_loadkit_target_grpc_serves_from_the_installed_copy(installed: Installed) -> None:
    proc = subprocess.Popen(
        [str(installed.python), "-m", "loadkit.cli", "target", "grpc", "--host", "127.0.0.1", "--port", "0"],
        cwd=installed.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []

        def ready() -> re.Match[str] | None:
            if proc.poll() is not None:
                raise AssertionError(f"target exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
            lines.append(proc.stderr.readline())
            return READY.search(lines[-1])

        port = wait_for(ready, 60, "the target's ready line").group(1)
        check = installed.run("-m", "loadkit.cli", "target", "check", "grpc", f"127.0.0.1:{port}", timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_loadkit_proto_compile_and_runtime_protos_from_the_installed_copy(installed: Installed) -> None:
    out = installed.cwd / "gen"
    compiled = installed.run("-m", "loadkit.cli", "proto", "compile", "--out", str(out))
    assert compiled.returncode == 0, compiled.stderr
    assert (out / "demo" / "v1" / "demo_pb2_grpc.py").is_file(), sorted(p.name for p in out.rglob("*"))
    runtime = installed.run(
        "-c",
        "from loadkit.protos import PROTO_ROOT\n"
        "from loadkit.users.grpc_proto import load_proto_service, resolve_proto\n"
        "source = resolve_proto(PROTO_ROOT / 'demo/v1/demo.proto', None, None)\n"
        "print(sorted(load_proto_service(source, 'demo.v1.Demo')))\n",
    )
    assert runtime.returncode == 0, runtime.stderr
    assert "GetItem" in runtime.stdout
