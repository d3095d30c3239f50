"""Locustfile that LoadTest(workers=N) passes to each worker. Not for direct use.

It imports :mod:`loadkit.run.plugin`, so workers record HDR histograms and report them even
when the user classes' files never import loadkit themselves, and loads the user classes
into its own namespace (where Locust finds them) with :func:`loadkit.run.worker_users.install`,
which never runs a script's ``LoadTest(...).run()`` again.
"""

import loadkit.run.plugin  # noqa: F401
from loadkit.run import worker_users

worker_users.install(globals())
