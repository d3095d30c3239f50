"""Fixtures of the end-to-end tests (real locust / loadkit processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import Procs


@pytest.fixture
def procs() -> Iterator[Procs]:
    """Starts agents, masters and workers for one test; every one is stopped at its end."""
    procs = Procs()
    try:
        yield procs
    finally:
        procs.close()
