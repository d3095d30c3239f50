"""bench/_zygote.py's parts that need no valgrind: its command line, task records, report and dump names.

The zygote itself (forking children under valgrind) runs in tests/bench/test_instruction_budgets.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import _zygote

ADDRESSES = {"grpc": "127.0.0.1:50051", "http": "http://127.0.0.1:8080"}


def test_the_command_line_has_the_same_length_whatever_the_tasks() -> None:
    """The zygote's memory must not depend on the tasks (dict probes follow the heap's layout)."""
    one = _zygote.command("valgrind", Path("/tmp/cg"), 1, 3)
    many = _zygote.command("valgrind", Path("/tmp/cg"), 90, 12)
    assert [len(a) for a in one] == [len(a) for a in many]
    assert one[-2:] == ["000001", "000003"]
    assert "--callgrind-out-file=/tmp/cg/%p.out" in one  # each child's dumps under its own PID
    assert "--instr-atstart=no" in one


def test_each_task_is_one_fixed_size_record() -> None:
    tasks = [("bare-unary", 200, 30), ("grpc-bidi", 40, 10)]
    records = _zygote.records(tasks, ADDRESSES, 60, Path("/tmp/cg"))
    assert [len(r) for r in records] == [_zygote.RECORD, _zygote.RECORD]
    second = json.loads(records[1])
    assert second == {
        "task": 1,
        "variant": "grpc-bidi",
        "calls": 40,
        "warmup": 10,
        "addresses": ADDRESSES,
        "delay_ms": 60,
        "logs": "/tmp/cg",
    }


def test_a_task_larger_than_a_record_is_refused() -> None:
    with pytest.raises(ValueError, match="more than a record"):
        _zygote.records([("bare-unary", 200, 30)], {"grpc": "x" * _zygote.RECORD}, None, Path("/tmp/cg"))


def test_the_report_maps_tasks_to_their_child_in_any_order() -> None:
    lines = [
        "task 1 4102 100.0",
        "task 0 4101 100.5",
        "exit 4102 0 103.0",
        "task 2 4103 103.1",
        "exit 4101 1 110.5",
        "task 3 4104 111.0",  # never ended: not reported as done
    ]
    done = _zygote.parse_report("\n".join(lines) + "\n")
    assert done == {0: (4101, 1, 10.0), 1: (4102, 0, 3.0)}


def test_dumps_are_renamed_after_their_variant_replacing_an_earlier_runs(tmp_path: Path) -> None:
    for name in ("4101.out", "4101.out.1-01", "4101.out-02", "41011.out.1-01", "bare-unary.out-03"):
        (tmp_path / name).write_text(name)
    _zygote.rename_dumps(tmp_path, 4101, "bare-unary")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["41011.out.1-01", "bare-unary.out", "bare-unary.out-02", "bare-unary.out.1-01"]
    assert (tmp_path / "bare-unary.out.1-01").read_text() == "4101.out.1-01"


def test_a_zygote_that_fails_to_start_names_how_far_it_got(tmp_path: Path) -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(RuntimeError, match="the zygote exited 1 after 0 of 1 tasks"):
        _zygote.run(false, tmp_path, [("loop", 200, 30)], {}, 1, None, {}, tmp_path)


def test_the_zygote_refuses_to_run_outside_valgrind() -> None:
    with pytest.raises(SystemExit, match="under valgrind only"):
        _zygote.main(["000001", "000001"])
