"""Installs ``loadkit-locust-help.pth`` beside the package (everything else is in pyproject.toml).

Locust prints ``--help`` before it imports a locustfile, so the .pth file, run at start-up,
is the only way loadkit's options can appear there (loadkit/_locust/help.py says how it stays
inert in every other program). A wheel gets it through build_py; an editable install
(``pip install -e .``) through editable_wheel, which otherwise maps only the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = Path(__file__).parent / "loadkit-locust-help.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(str(PTH), str(Path(self.build_lib) / PTH.name))


class EditableWheelWithPth(editable_wheel):
    def _create_wheel_file(self, bdist_wheel: Any) -> Any:
        from wheel.wheelfile import WheelFile

        path = super()._create_wheel_file(bdist_wheel)
        with WheelFile(path, "a") as wheel:
            wheel.write(str(PTH), PTH.name)
        return path


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
