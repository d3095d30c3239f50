"""loadkit._version: the installed distribution's version, the one the public API shows."""

from __future__ import annotations

from importlib.metadata import version

import loadkit
from loadkit._version import __version__


def test_the_version_is_the_installed_distributions_and_the_public_one() -> None:
    assert __version__ == version("loadkit") == loadkit.__version__
