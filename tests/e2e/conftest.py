"""Fixtures of the end-to-end tests (real locust / loadkit processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.bad_inputs import Ctx
from tests.support.compose_engine import need_engine
from tests.support.image import ensure_image
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


@pytest.fixture(scope="session")
def loadkit_image() -> str:
    """The repository's Dockerfile built once per session, tagged by its sources' content
    (tests/support/image.py), for the compose and the Kubernetes tests; skips without an engine."""
    module = need_engine()
    tag, seconds = ensure_image(module.base_image())
    print(f"\nimage {tag}: " + (f"built in {seconds:.1f} s" if seconds else "already built from these sources"))
    return tag
