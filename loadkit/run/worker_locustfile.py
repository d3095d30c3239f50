"""Locustfile that LoadTest(workers=N) passes to each worker with the users' own files.

It only imports :mod:`loadkit.run.plugin`, so workers record HDR histograms and report them
even when the user classes' files never import loadkit themselves. Not for direct use.
"""

import loadkit.run.plugin  # noqa: F401
