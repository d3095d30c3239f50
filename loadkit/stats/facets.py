"""Facets: timings of a part of a request that is already counted as a request.

A gRPC stream is one request, reported when it ends; its time to first message is a
facet of it, reported as an entry of its own (``grpc-ttfm``, same name) so that Locust's
table shows it and thresholds can use it. A facet is not a second request, so totals
leave it out: Locust's "Aggregated" row and RPS, loadkit's HDR total, a worker's request
rate. Any request type ending in :data:`FACET_SUFFIX` is a facet, and so is one ending in
:data:`SERVICE_SUFFIX`: in an open-model run a request is timed from its iteration's
intended start, and its uncorrected service time is kept beside it as ``<type>-service``.

Pure but for :func:`keep_out_of_total`, which wires :func:`is_facet` into Locust (lazily).
"""

from __future__ import annotations

from typing import Any

FACET_SUFFIX = "-ttfm"
SERVICE_SUFFIX = "-service"
#: Every facet suffix: ``request_type.endswith(FACET_SUFFIXES)`` is :func:`is_facet` inlined (hot paths).
FACET_SUFFIXES = (FACET_SUFFIX, SERVICE_SUFFIX)
_SUFFIXES = FACET_SUFFIXES


def is_facet(request_type: str) -> bool:
    """True for a request type that times part of another request (e.g. ``"grpc-ttfm"``)."""
    return request_type.endswith(_SUFFIXES)


def keep_out_of_total(stats: Any) -> None:
    """Make Locust's ``RequestStats`` log facets into their own entry only, not into its total.

    Locust's runner logs every ``request`` event into the entry and the total; this routes
    facets apart on this one ``stats`` object (:func:`loadkit._locust.runners.route_request_log`).
    A master needs nothing more: it takes its total from the workers' totals.
    """
    from operator import methodcaller

    from loadkit._locust.runners import route_request_log

    # is_facet as a C-level callable: one Python frame less on every request Locust logs.
    route_request_log(stats, methodcaller("endswith", FACET_SUFFIXES))
