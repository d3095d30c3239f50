"""The one module that subscribes to Locust's events and wires loadkit's parts to them.

Importing it (``loadkit.users`` does; a locustfile with plain Locust users can
``import loadkit.plugin``) registers two listeners on Locust's global ``events``:

- ``init_command_line_parser``: adds loadkit's options (:mod:`loadkit.config`);
- ``init``: :func:`install` on the new environment.

Library-mode scripts call :func:`install` (through ``loadkit.attach``) themselves.
"""

from __future__ import annotations

from typing import Any

from locust import events
from locust.env import Environment

from loadkit import config

_INSTALLED_ATTR = "_loadkit_installed"


@events.init_command_line_parser.add_listener
def _on_init_command_line_parser(parser: Any, **_kw: Any) -> None:
    config.add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    install(environment)


def install(environment: Environment) -> None:
    """Wire every loadkit part to ``environment``'s events and runner; once per environment."""
    if getattr(environment, _INSTALLED_ATTR, False):
        return
    setattr(environment, _INSTALLED_ATTR, True)
    # Parts add their wiring here, each as a small function of the environment.
