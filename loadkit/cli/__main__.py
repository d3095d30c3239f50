"""``python -m loadkit.cli``: the same as the ``loadkit`` command (tests and benches run it this way)."""

from loadkit.cli import main

main()
