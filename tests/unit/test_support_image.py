"""tests/support/image.py: the session image's tag changes with its sources and only with them."""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT
from tests.support.image import copied_paths, source_key

DOCKERFILE = """FROM python:3.11-slim
COPY pyproject.toml ./
COPY --chown=1000 pkg ./pkg
RUN true
"""


def tree(root: Path) -> Path:
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "pyproject.toml").write_text("[project]\n")
    (root / "pkg" / "a.py").write_text("A = 1\n")
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"x")
    (root / "notes.txt").write_text("not copied\n")
    return root


def test_copied_paths_are_the_copy_lines_sources() -> None:
    assert copied_paths(ROOT / "Dockerfile")[:2] == ["pyproject.toml", "README.md"]
    assert {"loadkit", "targets", "proto", "locustfiles", "data"} <= set(copied_paths(ROOT / "Dockerfile"))


def test_the_key_follows_copied_files_the_dockerfile_and_the_base_image_only(tmp_path: Path) -> None:
    root = tree(tmp_path)
    key = source_key("sha256:base", root)
    assert source_key("sha256:base", root) == key
    (root / "notes.txt").write_text("edited\n")  # not copied into the image
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"y")  # .dockerignore'd
    assert source_key("sha256:base", root) == key
    assert source_key("sha256:other-base", root) != key
    (root / "pkg" / "a.py").write_text("A = 2\n")
    edited = source_key("sha256:base", root)
    assert edited != key
    (root / "pkg" / "b.py").write_text("")
    assert source_key("sha256:base", root) != edited
    (root / "Dockerfile").write_text(DOCKERFILE + "USER 1000\n")
    assert source_key("sha256:base", root) not in (key, edited)


def test_a_symlinked_folder_counts_as_its_link(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (root / "elsewhere").mkdir()
    (root / "pkg" / "linked").symlink_to("../elsewhere")
    key = source_key("b", root)
    (root / "elsewhere" / "c.py").write_text("")  # not under a COPY source: docker copies the link only
    assert source_key("b", root) == key
