"""The one way a run ends from inside a Locust process, and the one writer of its exit code.

Library code raises :class:`~loadkit.exceptions.LoadkitError`; inside a ``locust`` process
something must still turn a mistake into the end of the run, from a listener or a user.
Three functions, each for one moment of a run:

- before any load, in an ``init`` listener: :func:`exit_before_load` prints the line and
  exits the process (the code of :func:`~loadkit.exceptions.exit_code_for`). The runner
  has not started, so there is no run to end yet; and an exception from an ``init``
  listener makes Locust log a traceback and exit 1, while a bad ``--threshold`` is a usage
  error: one line, exit 2, nothing started.
- during a run: :func:`end_run` records the code, logs one line and stops the run
  (:func:`stop_run` is its wrapper for a user: it returns the ``StopUser`` to raise).
  Locust's ``main`` then exits with ``environment.process_exit_code``.
- at the end of a run, for a verdict (thresholds failed): :func:`set_exit_code`, which
  does not stop anything (the run is ending already).

**When two codes arrive**, the more severe one wins, whatever the order:
usage (2) > thresholds (99) > failures (1) > pass (0). A usage error means the run was not
the test that was asked for (a refused worker, an unknown gRPC method), so its thresholds
verdict means nothing; a threshold verdict is more than Locust's "some requests failed".
A code is never lowered: with the web UI, a test aborted by a threshold still makes the
process exit 99 after a later test passed. ``EXIT_OK`` is no verdict: a run ended with it
(test data exhausted under ``stop-test``) exits as Locust decides (0, or 1 if requests failed).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from loadkit.exceptions import EXIT_FAILURES, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE, LoadkitError, exit_code_for
from loadkit.run.context import StashKey, run_context

if TYPE_CHECKING:
    from locust.env import Environment
    from locust.exception import StopUser

log = logging.getLogger("loadkit")


@dataclass
class Ending:
    """Whether this test is being ended, and the lines :func:`end_run` logged for it (each once)."""

    stopping: bool = False
    lines: set[str] = field(default_factory=set)


#: This part's key in the run's stash (:mod:`loadkit.run.context`); a new test starts a new Ending.
STOP: StashKey[Ending] = StashKey("stop")

#: Exit codes from least to most severe: a later code replaces an earlier one only if it is further right.
SEVERITY: tuple[int, ...] = (EXIT_OK, EXIT_FAILURES, EXIT_THRESHOLDS, EXIT_USAGE)


def _rank(code: int | None) -> int:
    if code is None:
        return -1
    return SEVERITY.index(code) if code in SEVERITY else len(SEVERITY)  # an unknown code: keep it


def set_exit_code(environment: Environment, code: int) -> int:
    """Record ``code`` as the process's exit code unless a more severe one is set; return the code now set.

    ``EXIT_OK`` records nothing: Locust's own rule (1 when requests failed) still applies.
    """
    if code != EXIT_OK and _rank(code) > _rank(environment.process_exit_code):
        environment.process_exit_code = code
    current = environment.process_exit_code
    return int(current if current is not None else code)


def end_run(environment: Environment, code: int, line: str) -> None:
    """End the run: exit code ``code`` (see the module docstring), ``line`` logged once, runner stopped.

    Safe to call from any greenlet, any number of times (every user of a run may hit the
    same mistake): the line is logged once, the runner stopped once per test. Headless
    (no web UI), the runner quits, so Locust shuts down and exits with the code; with the web
    UI the test stops and the UI stays up to show why. The runner is stopped from a greenlet
    of its own: ``quit`` kills the runner's greenlets, maybe the caller's.
    """
    set_exit_code(environment, code)
    state = run_context(environment).setdefault(STOP, Ending())
    if line not in state.lines:
        state.lines.add(line)
        log.log(logging.INFO if code == EXIT_OK else logging.ERROR, line)
    if state.stopping:
        return
    state.stopping = True
    runner = environment.runner
    if runner is None:
        return
    import gevent

    gevent.spawn(runner.quit if environment.web_ui is None else runner.stop)


def on_test_start(environment: Environment, **_kw: object) -> None:
    """A new test (web UI) can be ended again; its lines are logged again too."""
    run_context(environment)[STOP] = Ending()


def stop_run(environment: Environment, error: LoadkitError) -> StopUser:
    """End the run for ``error`` (:func:`end_run`: its code, ``loadkit: error: ...``); return a StopUser to raise.

    For a mistake every call would repeat (an unknown gRPC method, a refused worker)::

        raise stop_run(self.environment, ProtoError("no method Foo in demo.v1.Demo: ..."))
    """
    from locust.exception import StopUser

    end_run(environment, exit_code_for(error), f"loadkit: error: {error}")
    return StopUser()


def exit_before_load(error: LoadkitError) -> NoReturn:
    """From an ``init`` listener: print ``loadkit: error: ...`` and exit the process now (see the module docstring)."""
    print(f"loadkit: error: {error}", file=sys.stderr, flush=True)
    sys.exit(exit_code_for(error))


__all__ = ["SEVERITY", "end_run", "exit_before_load", "on_test_start", "set_exit_code", "stop_run"]
