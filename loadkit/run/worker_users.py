"""How a LoadTest(workers=N) worker process gets the user classes without re-running a script.

The files that define the user classes are not given to Locust's ``-f``: a script such as
``LoadTest([MyUser], workers=2).run()`` saved without an ``if __name__ == "__main__":``
guard would then run its whole top level again in every worker (each starting a master and
workers of its own). Instead :func:`install` executes each file, by path, with
:data:`LIBRARY_WORKER_ENV` set: a :meth:`loadkit.LoadTest.run` reached while doing so raises
:class:`ScriptStopped`, which ends the script's top level right there. The user classes,
which ``LoadTest([...])`` names, are defined by then; :func:`install` copies them into the
namespace Locust searches for User classes (``loadkit/run/worker_locustfile.py``'s).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadkit.exceptions import ConfigError

#: Set by LoadTest in its worker processes: a JSON list of [file, [class names]].
LIBRARY_WORKER_ENV = "LOADKIT_LIBRARY_WORKER_USERS"


class ScriptStopped(BaseException):
    """Raised by LoadTest.run() inside a library worker: the script's top level ends there.

    A BaseException, so a script's ``except Exception`` around the run does not swallow it.
    """


def in_library_worker() -> bool:
    """True in a worker process that LoadTest started (it must never start a run itself)."""
    return bool(os.environ.get(LIBRARY_WORKER_ENV))


def _load(path: str) -> Any:
    """Execute ``path`` as a module named after its file (as Locust's ``-f`` does), up to any LoadTest.run()."""
    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - LoadTest checked it is a .py file
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = str(Path(path).parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # sibling imports work as under Locust's -f
    with contextlib.suppress(ScriptStopped):  # the script reached LoadTest.run(): its users are defined
        spec.loader.exec_module(module)
    return module


def install(namespace: dict[str, Any]) -> None:
    """Put the classes :data:`LIBRARY_WORKER_ENV` names into ``namespace`` (no-op without it)."""
    spec = os.environ.get(LIBRARY_WORKER_ENV)
    if not spec:
        return
    for path, names in json.loads(spec):
        module = _load(path)
        for name in names:
            namespace[name] = getattr(module, name)


def user_class_files(user_classes: Sequence[type]) -> list[tuple[str, list[str]]]:
    """Each file defining a user class, with the names of the classes workers take from it."""
    files: dict[str, list[str]] = {}
    for cls in user_classes:
        try:
            path = Path(inspect.getfile(cls)).resolve()
        except (TypeError, OSError) as exc:
            raise ConfigError(
                f"user class {cls.__name__} is not defined in a file, but LoadTest(workers=N) has worker "
                f"processes import it from its file: move it to a module (e.g. locustfile.py)"
            ) from exc
        module = sys.modules.get(cls.__module__)
        if "<locals>" in cls.__qualname__ or getattr(module, cls.__qualname__, None) is not cls:
            raise ConfigError(
                f"user class {cls.__name__} is not defined at the top level of {path.name}, but "
                f"LoadTest(workers=N) has worker processes load it from that file: define it at module level"
            )
        if not path.is_file():
            raise ConfigError(
                f"user class {cls.__name__} comes from {path}, which is not a file worker processes can "
                f"load: define it in a .py module (e.g. locustfile.py)"
            )
        files.setdefault(str(path), []).append(cls.__name__)
    return list(files.items())
