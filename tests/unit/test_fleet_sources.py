"""Test-data sources: CSV, JSONL, Faker; every bad input is a one-line DataError."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.exceptions import DataError
from loadkit.fleet.sources import fake_rows, load_rows


def test_csv_rows_are_dicts_by_header(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text('id,name\n1,ann\n2,"bob, jr"\n\n', encoding="utf-8")
    assert load_rows(str(path)) == [{"id": "1", "name": "ann"}, {"id": "2", "name": "bob, jr"}]


def test_jsonl_rows_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    path.write_text('{"id": 1}\n\n{"id": 2, "tags": ["a"]}\n', encoding="utf-8")
    assert load_rows(str(path)) == [{"id": 1}, {"id": 2, "tags": ["a"]}]


def test_faker_rows_are_deterministic_and_unique() -> None:
    rows = load_rows("faker:50:7")
    assert rows == fake_rows(50, seed=7)
    assert [r["id"] for r in rows] == list(range(1, 51))
    assert rows != fake_rows(50, seed=8)
    assert load_rows("faker:3") == fake_rows(3, seed=0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "holds no rows"),
        ("header-only.csv", "id,name\n", "holds no rows"),
        ("short.csv", "id,name\n1,ann\n2\n", r"short.csv:3: 1 value\(s\) for 2 column"),
        ("bad.jsonl", '{"id": 1}\n{"id": \n', r"bad.jsonl:2: bad JSON"),
        ("list.jsonl", '{"id": 1}\n\n[1, 2]\n', r"list.jsonl:3: a JSON list, not an object"),
        ("empty.jsonl", "\n\n", "holds no rows"),
        ("data.txt", "x", "unknown type '.txt'"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_rows(str(path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("spec", ["missing.csv", "faker:", "faker:x", "faker:0", "faker:1:2:3", "faker:5:s"])
def test_bad_specs(spec: str) -> None:
    with pytest.raises(DataError):
        load_rows(spec)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,name\n1,\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_rows(str(path))
