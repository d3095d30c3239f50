"""Fixtures shared by every layer of the suite.

The test process runs Locust users in-process, so it is gevent-patched like a locust
process, first thing, through loadkit's one set-up function. Bundled targets therefore
always run as their own (unpatched) processes.
"""

from __future__ import annotations

from loadkit._gevent import init_gevent

init_gevent()
