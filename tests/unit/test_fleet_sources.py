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
    rows = list(load_rows("faker:50:7"))
    assert rows == list(fake_rows(50, seed=7))
    assert [r["id"] for r in rows] == list(range(1, 51))
    assert len({r["email"] for r in rows}) == 50
    assert rows != list(fake_rows(50, seed=8))
    assert list(load_rows("faker:3")) == list(fake_rows(3, seed=0))


def test_faker_rows_are_made_on_access_so_a_million_cost_nothing_up_front() -> None:
    rows = load_rows("faker:1000000:3")
    assert len(rows) == 1_000_000
    assert rows[999_999]["id"] == 1_000_000 and rows[-1] == rows[999_999]
    assert rows[5] == fake_rows(1_000_000, seed=3)[5]  # row i depends only on (seed, i)
    assert [r["id"] for r in rows[10:13]] == [11, 12, 13]


def test_faker_count_is_capped_with_the_fix() -> None:
    with pytest.raises(DataError, match=r"COUNT 10,000,000 is more than 1,000,000: use faker:1000000 .*recycle"):
        load_rows("faker:10000000")


def test_csv_byte_order_mark_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfid,name\r\n1,ann\r\n")
    assert load_rows(str(path)) == [{"id": "1", "name": "ann"}]
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": 1}\n')
    assert load_rows(str(jsonl)) == [{"id": 1}]


def test_csv_repeated_header_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,email,name,email\n1,a@x,ann,b@x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dup\.csv:1: column 'email' appears 2 times in the header.*rename or remove"):
        load_rows(str(path))


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
