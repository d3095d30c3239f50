"""Facets: timings of a part of a request that is already counted as a request.

A gRPC stream is one request, reported when it ends; its time to first message is a
facet of it, reported as an entry of its own (``grpc-ttfm``, same name) so that Locust's
table shows it and thresholds can use it. A facet is not a second request, so totals
leave it out: Locust's "Aggregated" row and RPS, loadkit's HDR total, a worker's request
rate. Any request type ending in :data:`FACET_SUFFIX` is a facet.

Pure: no Locust import; :func:`keep_out_of_total` works on the ``RequestStats`` it is given.
"""

from __future__ import annotations

from typing import Any

FACET_SUFFIX = "-ttfm"


def is_facet(request_type: str) -> bool:
    """True for a request type that times part of another request (e.g. ``"grpc-ttfm"``)."""
    return request_type.endswith(FACET_SUFFIX)


def keep_out_of_total(stats: Any) -> None:
    """Make Locust's ``RequestStats`` log facets into their own entry only, not into its total.

    Locust's runner logs every ``request`` event with ``stats.log_request``, which adds to
    the entry and to the total; this wraps that one method of this one ``stats`` object.
    A master needs nothing more: it takes its total from the workers' totals.
    """
    if getattr(stats.log_request, "_loadkit_facets", False):
        return
    log_request = stats.log_request

    def log_request_facets_apart(method: str, name: str, response_time: float, content_length: int) -> None:
        if method.endswith(FACET_SUFFIX):
            stats.get(name, method).log(response_time, content_length)
        else:
            log_request(method, name, response_time, content_length)

    log_request_facets_apart._loadkit_facets = True  # type: ignore[attr-defined]
    stats.log_request = log_request_facets_apart
