"""Where test-data rows come from: a CSV or JSONL file, or a seeded Faker generator.

A source spec is what ``--loadkit-data`` takes::

    users.csv            # header line, then one row per line (values are strings)
    users.jsonl          # one JSON object per line; blank lines are skipped
    faker:1000           # 1000 generated fake users, seed 0
    faker:1000:42        # the same with seed 42 (same seed, same rows)

Every problem is a :class:`~loadkit.exceptions.DataError` naming the file, the line and
the fix, raised before any load starts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from loadkit.exceptions import DataError

Row = dict[str, Any]

FAKER_PREFIX = "faker:"


def load_rows(spec: str) -> list[Row]:
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
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if not header:
                return []
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
        text = path.read_text(encoding="utf-8")
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
    return count, seed


def fake_rows(count: int, seed: int = 0) -> list[Row]:
    """``count`` fake users, the same for the same ``seed``; ``id`` is unique (1..count).

    >>> fake_rows(2, seed=1) == fake_rows(2, seed=1)
    True
    """
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    return [{"id": i, "name": fake.name(), "email": fake.email(), "city": fake.city()} for i in range(1, count + 1)]
