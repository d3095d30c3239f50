"""loadkit's exceptions: every error loadkit raises on purpose is a ``LoadkitError``.

Tree::

    LoadkitError
    ├── ConfigError          bad option, host, threshold expression, report path
    ├── ProtoError           a .proto that does not compile, an unknown service or method
    ├── DataError            a missing, empty or malformed test-data file
    └── TargetError          a bundled target that cannot start (port in use, pidfile held)

Library code raises these (translating errors from below with ``raise ... from exc``);
only :mod:`loadkit.cli` turns them into a one-line message and an exit code.
"""

from __future__ import annotations


class LoadkitError(Exception):
    """Root of every error loadkit raises on purpose."""


class ConfigError(LoadkitError):
    """An option, host, threshold or path given by the user is not usable."""


class ProtoError(LoadkitError):
    """A .proto file, service or method cannot be loaded or found."""


class DataError(LoadkitError):
    """A test-data source is missing, empty or malformed."""


class TargetError(LoadkitError):
    """A bundled target cannot be started, stopped or found."""
