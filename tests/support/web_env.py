"""A local Locust runner with its web UI (not started) and loadkit installed, for Flask test-client tests.

Use it from a fixture::

    @pytest.fixture
    def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Environment]:
        yield from web_environment(monkeypatch, [MyUser], ["--threshold", "p99<5ms"])

The options go through Locust's own parser (loadkit's options added by its plugin), as on a
command line; at the end the runner quits and ``quitting`` fires, as when Locust exits.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import pytest
from locust.argument_parser import parse_options
from locust.env import Environment

from loadkit.run.plugin import install


def web_environment(
    monkeypatch: pytest.MonkeyPatch, user_classes: Sequence[type], args: Sequence[str] = ()
) -> Iterator[Environment]:
    """Yield an Environment with a local runner, an unstarted web UI on 127.0.0.1 and loadkit's listeners."""
    monkeypatch.setattr(sys, "argv", ["locust"])  # Locust's web UI re-parses sys.argv for its extra options
    environment = Environment(user_classes=list(user_classes), parsed_options=parse_options(args=list(args)))
    environment.create_local_runner()
    environment.create_web_ui("127.0.0.1", 0, delayed_start=True)
    install(environment)
    try:
        yield environment
    finally:
        assert environment.runner is not None
        environment.runner.quit()
        environment.events.quitting.fire(environment=environment)
