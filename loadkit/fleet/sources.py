"""Where test-data rows come from: a CSV or JSONL file, or a seeded Faker generator.

A source spec is what ``--loadkit-data`` takes::

    users.csv            # header line, then one row per line (values are strings)
    users.jsonl          # one JSON object per line; blank lines are skipped
    faker:1000           # 1000 generated fake users, seed 0
    faker:1000:42        # the same with seed 42 (same seed, same rows)

Every problem is a :class:`~loadkit.exceptions.DataError` naming the file, the line and
the fix, raised before any load starts. A CSV header naming a column twice is refused (a
dict per row would silently keep only the last value); a UTF-8 byte-order mark, which
spreadsheet programs write, is stripped (``utf-8-sig``), so the first column is ``id``,
not ``'\ufeffid'``.

Generated rows are lazy: ``faker:COUNT`` builds a few hundred names and cities once
(Faker is slow, ~0.2 ms a row) and row ``i`` combines them through a hash of
``(seed, i)``, so any count costs the same to set up and a row is made when it is leased.
COUNT is capped at :data:`MAX_FAKE_ROWS` (the pool keeps one number per row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from loadkit.exceptions import DataError

Row = dict[str, Any]

FAKER_PREFIX = "faker:"
#: The largest ``faker:COUNT``: a bigger pool is more rows than any run here uses.
MAX_FAKE_ROWS = 1_000_000


def load_rows(spec: str) -> Sequence[Row]:
    """Load every row of ``spec`` (see the module docstring); raise ``DataError`` if unusable."""
    if spec.startswith(FAKER_PREFIX):
        return fake_rows(*_parse_faker_spec(spec))
    path = Path(spec)
    if not path.is_file():
        raise DataError(f"test-data file {spec!r} does not exist: give an existing .csv/.jsonl file or faker:COUNT")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _load_csv(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _load_jsonl(path)
    else:
        raise DataError(f"test-data file {spec!r} has an unknown type {suffix!r}: use .csv or .jsonl")
    if not rows:
        raise DataError(f"test-data file {spec!r} holds no rows: add at least one row")
    return rows


def _load_csv(path: Path) -> list[Row]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a leading BOM is dropped
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if not header:
                return []
            repeated = sorted({name for name in header if header.count(name) > 1})
            if repeated:
                raise DataError(
                    f"{path}:1: column {repeated[0]!r} appears {header.count(repeated[0])} times in the header "
                    "(a row keeps one value per name): rename or remove the repeated column"
                )
            rows: list[Row] = []
            for values in reader:
                if not values:
                    continue
                if len(values) != len(header):
                    raise DataError(
                        f"{path}:{reader.line_num}: {len(values)} value(s) for {len(header)} column(s) "
                        f"{header}: fix that line"
                    )
                rows.append(dict(zip(header, values, strict=True)))
            return rows
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: bad CSV ({exc}): fix that line") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}): save it as UTF-8") from exc


def _load_jsonl(path: Path) -> list[Row]:
    rows: list[Row] = []
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a leading BOM is dropped
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason}): save it as UTF-8") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: bad JSON ({exc.msg}): fix that line") from exc
        if not isinstance(value, dict):
            raise DataError(f"{path}:{number}: a JSON {type(value).__name__}, not an object: one object per line")
        rows.append(value)
    return rows


def _parse_faker_spec(spec: str) -> tuple[int, int]:
    parts = spec[len(FAKER_PREFIX) :].split(":")
    try:
        if len(parts) > 2:
            raise ValueError(spec)
        count = int(parts[0])
        seed = int(parts[1]) if len(parts) == 2 else 0
    except ValueError:
        raise DataError(f"bad generator spec {spec!r}: use faker:COUNT or faker:COUNT:SEED") from None
    if count <= 0:
        raise DataError(f"bad generator spec {spec!r}: COUNT must be at least 1")
    if count > MAX_FAKE_ROWS:
        raise DataError(
            f"bad generator spec {spec!r}: COUNT {count:,} is more than {MAX_FAKE_ROWS:,}: "
            f"use faker:{MAX_FAKE_ROWS} (with --loadkit-data-exhausted recycle to reuse rows) or a .csv/.jsonl file"
        )
    return count, seed


_WORDS = 200  # distinct first names, last names and cities drawn once per seed
_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of ``value`` (deterministic, fast)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


class FakeRows(Sequence[Row]):
    """``count`` fake users made on access: row ``i`` depends only on ``(seed, i)``; ``id`` is ``i + 1``."""

    def __init__(self, count: int, seed: int = 0) -> None:
        self.size = count
        self.seed = seed

    @cached_property
    def _words(self) -> tuple[list[str], list[str], list[str]]:
        from faker import Faker

        fake = Faker()
        fake.seed_instance(self.seed)
        firsts = [fake.first_name() for _ in range(_WORDS)]
        lasts = [fake.last_name() for _ in range(_WORDS)]
        cities = [fake.city() for _ in range(_WORDS)]
        return firsts, lasts, cities

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(index)
        firsts, lasts, cities = self._words
        bits = _mix((self.seed << 32) ^ index)
        first, last = firsts[bits % _WORDS], lasts[(bits >> 16) % _WORDS]
        email = f"{first}.{last}.{index + 1}@example.com".lower().replace(" ", "")
        return {"id": index + 1, "name": f"{first} {last}", "email": email, "city": cities[(bits >> 32) % _WORDS]}


def fake_rows(count: int, seed: int = 0) -> FakeRows:
    """``count`` fake users, the same for the same ``seed``; ``id`` is unique (1..count).

    >>> list(fake_rows(2, seed=1)) == list(fake_rows(2, seed=1))
    True
    """
    return FakeRows(count, seed)
