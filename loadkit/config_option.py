"""The :class:`Option` record of :mod:`loadkit.config`, a leaf so the catalogue stays one module.

``loadkit.config`` declares every option and re-exports :class:`Option`; this module only
defines the record and how a section stamps its ``locust --help`` group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Option:
    """One loadkit option, e.g. ``Option("--threshold", "Pass/fail threshold…", action="append")``."""

    flag: str
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    action: str | None = None
    include_in_web_ui: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: Inclusive range of a numeric option (None: unbounded on that side); see :func:`check`.
    minimum: float | None = None
    maximum: float | None = None
    #: The ``locust --help`` group it is listed in (set by the section that declares it).
    group: str = ""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        """``LOADKIT_`` + the flag's name without ``loadkit-``, upper-cased (loadkit.config's naming rule)."""
        return "LOADKIT_" + self.flag.lstrip("-").removeprefix("loadkit-").replace("-", "_").upper()


def section(title: str, options: Iterable[Option]) -> list[Option]:
    """``options`` listed under ``loadkit: TITLE`` in ``locust --help``."""
    return [replace(opt, group=f"loadkit: {title}") for opt in options]
