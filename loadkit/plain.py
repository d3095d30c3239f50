"""Is this a loadkit run, or a plain Locust one that merely imports loadkit?

loadkit promises that a Locust user changes one import and nothing else: a locustfile with
Locust's own users, run with Locust's own options, behaves exactly as under Locust even
though ``import loadkit`` loaded the plugin. Behaviour that a Locust user would notice
(login on the web UI, the master's wait for a worker's ``loadkit:hello``, network checks
before the run) is therefore switched on only for a *loadkit run*: one that uses a loadkit
user class (``GrpcUser``, ``RestUser``, ``WebSocketUser``, or a subclass) or sets any loadkit
option to something other than its default (flag, ``LOADKIT_*`` env var or config file).

Pure: reads the parsed options and the user classes, imports nothing of Locust.

>>> import argparse
>>> class Plain: pass
>>> uses_loadkit(argparse.Namespace(threshold=None), [Plain])
False
>>> uses_loadkit(argparse.Namespace(threshold=["p95<50ms"]), [Plain])
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loadkit import config


def loadkit_options(options: Any) -> list[str]:
    """The flags of the loadkit options ``options`` sets to something else than their default."""
    if options is None:
        return []
    return [opt.flag for opt in config.OPTIONS if getattr(options, opt.dest, opt.default) != opt.default]


def is_loadkit_class(user_class: type) -> bool:
    """True for a User class that is, or derives from, a class defined inside loadkit."""
    return any(getattr(cls, "__module__", "").split(".")[0] == "loadkit" for cls in user_class.__mro__)


def uses_loadkit(options: Any, user_classes: Iterable[type]) -> bool:
    """True when the run sets a loadkit option or uses a loadkit user class (module docstring)."""
    return bool(loadkit_options(options)) or any(is_loadkit_class(cls) for cls in user_classes)


def environment_uses_loadkit(environment: Any) -> bool:
    """:func:`uses_loadkit` for a Locust ``Environment`` (its parsed options and user classes)."""
    return uses_loadkit(environment.parsed_options, environment.user_classes or ())
