"""The ``--reload`` parent's change detection and exit rule (targets/reloader.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from loadkit.targets.reloader import run_with_reload, snapshot


def test_snapshot_sees_new_changed_and_removed_python_files(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    source = tmp_path / "pkg" / "a.py"
    source.write_text("A = 1\n")
    (tmp_path / "notes.txt").write_text("ignored")
    first = snapshot(tmp_path)
    assert set(first) == {source}

    later = first[source][0] + 1_000_000
    os.utime(source, ns=(later, later))
    assert snapshot(tmp_path) != first
    os.utime(source, ns=(first[source][0], first[source][0]))
    source.write_text("A = 22\n")  # same tick, other size
    os.utime(source, ns=(first[source][0], first[source][0]))
    assert snapshot(tmp_path) != first
    (tmp_path / "b.py").write_text("")
    assert len(snapshot(tmp_path)) == 2
    source.unlink()
    assert set(snapshot(tmp_path)) == {tmp_path / "b.py"}


def test_a_child_failing_before_any_change_ends_the_reloader_with_its_code(tmp_path: Path) -> None:
    code = run_with_reload([sys.executable, "-c", "raise SystemExit(4)"], tmp_path, poll=0.05)
    assert code == 4
