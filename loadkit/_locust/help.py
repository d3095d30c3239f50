"""loadkit's options in ``locust -f locustfile.py --help``.

Locust prints ``--help`` before it imports any locustfile
(``locust.argument_parser.parse_locustfile_option``), so options a locustfile's plugin adds
through ``init_command_line_parser`` never show there. loadkit's ``loadkit-locust-help.pth``
(installed beside the package, see setup.py) calls :func:`install` at interpreter start-up
when ``-h``/``--help`` is on the command line; it loads :mod:`loadkit.run.plugin` (whose
listener adds loadkit's option groups) only when the program is Locust, so no other Python
program ever imports Locust or loadkit because of it.
"""

from __future__ import annotations

import itertools
import os
import sys


def is_locust_help(argv: list[str], orig_argv: list[str]) -> bool:
    """``locust ... --help`` or ``python -m locust ... -h``."""
    if not {"-h", "--help"} & set(argv):
        return False
    program = os.path.basename(argv[0]) if argv else ""
    if program in {"locust", "locust.exe", "locust-script.py"}:
        return True
    return any(a == "-m" and b == "locust" for a, b in itertools.pairwise(orig_argv))


def install() -> None:
    """Load loadkit's plugin before Locust builds its help (no-op outside ``locust --help``)."""
    try:
        if is_locust_help(sys.argv, getattr(sys, "orig_argv", [])):
            import loadkit.run.plugin  # noqa: F401  (its init_command_line_parser listener adds the options)
    except Exception:
        pass
