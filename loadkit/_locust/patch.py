"""The one way loadkit marks what it replaced inside Locust, so each patch is applied once.

Every replacement the seam installs (a wrapped method, a wrapped ``fire``, an excepthook) is
passed through :func:`mark_patched`; :func:`patched` tells whether a callable is one of them.
Re-installing (a second ``Environment`` in one process, library mode's runs one after
another) then finds the mark and leaves the first wrapper alone instead of wrapping it twice.
``__wrapped__`` points at the original, as :func:`functools.wraps` would, so a contract test
or a debugger can see what was replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "_loadkit_patch"


def mark_patched(replacement: F, original: Callable[..., Any] | None = None) -> F:
    """Mark ``replacement`` as loadkit's (and record the ``original`` it stands for); return it."""
    setattr(replacement, _MARK, True)
    if original is not None:
        replacement.__wrapped__ = original  # type: ignore[attr-defined]
    return replacement


def patched(candidate: object) -> bool:
    """True when ``candidate`` is a replacement loadkit installed (:func:`mark_patched`)."""
    return bool(getattr(candidate, _MARK, False))
