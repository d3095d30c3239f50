"""Fixtures of the end-to-end tests (real locust / loadkit processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.bad_inputs import Ctx
from tests.support.procs import Procs
from tests.support.targets import Target


@pytest.fixture
def procs() -> Iterator[Procs]:
    """Starts agents, masters and workers for one test; every one is stopped at its end."""
    procs = Procs()
    try:
        yield procs
    finally:
        procs.close()


@pytest.fixture
def bad_input_ctx(
    tmp_path: Path, grpc_target: Target, http_target: Target, start_target: Callable[..., Target]
) -> Iterator[Ctx]:
    """What a bad-input row's command needs (tests/support/bad_inputs.py); kills what it started."""
    context = Ctx(tmp_path, grpc_target, http_target, start_target)
    try:
        yield context
    finally:
        context.close()
