"""loadkit's exceptions and exit codes: the bottom of the tree, importable by every module.

Tree::

    LoadkitError
    ├── ConfigError          bad option, host, threshold expression, report path
    ├── ProtoError           a .proto that does not compile, an unknown service or method
    ├── DataError            a missing, empty or malformed test-data file
    └── TargetError          a bundled target that cannot start (port in use, pidfile held)

Library code raises these (translating errors from below with ``raise ... from exc``);
it never exits. Two places turn one into an exit code with :func:`exit_code_for`:

- the ``loadkit`` command (:func:`loadkit.cli.main`), which prints one line and exits;
- inside a Locust process, :mod:`loadkit.run.stop`, the one module that ends a run (it sets
  Locust's ``process_exit_code`` and quits the runner; Locust's own ``main`` exits).

The exit codes live here, not in :mod:`loadkit.cli`, so that core modules (stats, fleet,
library mode) can use them without importing the command-line layer above them.
"""

from __future__ import annotations

#: All passed: no threshold failed and no request failed.
EXIT_OK = 0
#: Locust's own code for "requests failed" (thresholds, if any, passed); also a target that cannot start.
EXIT_FAILURES = 1
#: Usage error: bad command line, option, file or expression; nothing was run (or the run was cut short).
EXIT_USAGE = 2
#: At least one threshold failed (k6 uses the same code), also when aborted by ``--abort-on-threshold``.
EXIT_THRESHOLDS = 99


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


#: Exit code per error class (the first match in this order wins; others: :data:`EXIT_FAILURES`).
EXIT_CODES: dict[type[LoadkitError], int] = {
    ConfigError: EXIT_USAGE,
    ProtoError: EXIT_USAGE,
    DataError: EXIT_USAGE,
    TargetError: EXIT_FAILURES,
}


def exit_code_for(error: LoadkitError) -> int:
    """The exit code a process ends with because of ``error``.

    >>> exit_code_for(ConfigError("bad --threshold"))
    2
    >>> exit_code_for(TargetError("port in use"))
    1
    """
    return next((code for cls, code in EXIT_CODES.items() if isinstance(error, cls)), EXIT_FAILURES)
