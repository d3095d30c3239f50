"""HDR histograms of response times: recording, compact deltas, merging.

Locust buckets response times (whole ms below 100 ms, two significant digits above), so a
0.3 ms gRPC call and a 0.9 ms one look the same. loadkit records every request again, into
an `HdrHistogram <https://hdrhistogram.github.io/HdrHistogram/>`_ per entry
(``(request_type, name)``) and one for the total (facets such as ``grpc-ttfm`` left out,
see :mod:`loadkit.stats.facets`): microsecond resolution, 3 significant
digits (relative error < 0.1 %), values up to one hour.

Distributed runs stay exact: a worker sends its one-second slots (below), whose bucketed counts
summed are its delta; the master keeps their packed columns as they came
(:meth:`HdrRecorder.pending_columns`) and counts them into its histograms in numpy every few
seconds and when a figure is read (:meth:`~HdrRecorder.compact`). Adding counts is exact: the
merged percentiles equal one histogram's fed every sample. (Whole-histogram deltas,
:meth:`~HdrRecorder.take_deltas`, cost too much to merge.)

Each sample also lands in a one-second slot (:meth:`HdrRecorder.take_slots`), the raw
material of :mod:`loadkit.stats.timeline` (latency over time); the slot is chosen from the
clock when the request event fires, so the request path costs one ``time.time()`` more.

Pure: no Locust, no gevent; :mod:`loadkit.stats.controller` wires it to the events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from loadkit.stats.buckets import (
    HIGHEST_US,
    LOWEST_US,
    SIGNIFICANT_DIGITS,
    SUB_BUCKET_BITS,
    Columns,
)
from loadkit.stats.facets import FACET_SUFFIXES, is_facet
from loadkit.stats.hdr_cells import percentile_values

#: The percentiles loadkit reports, by label.
PERCENTILES: dict[str, float] = {
    "p50": 50.0,
    "p90": 90.0,
    "p95": 95.0,
    "p99": 99.0,
    "p99.9": 99.9,
    "p99.99": 99.99,
}

#: Key of an entry: ``(request_type, name)``; the total uses :data:`TOTAL_KEY`.
EntryKey = tuple[str, str]
TOTAL_KEY: EntryKey = ("", "Aggregated")
#: A sparse distribution: ``{µs: count}``.
Counts = dict[int, int]
#: Width of the slots every node cuts its samples into, in seconds.
SLOT_S = 1


def add_counts(into: Counts, counts: Mapping[int, int], also: Counts | None = None) -> None:
    """Add ``counts`` (raw or bucketed µs) into ``into`` (and ``also``), bucketed and clamped to the range.

    One pass for both targets: a master runs this for every value of every worker's report.
    """
    get = into.get
    if also is None:
        for value, count in counts.items():  # bucket() inlined
            if not 0 <= value <= HIGHEST_US:
                value = min(max(value, 0), HIGHEST_US)
            shift = value.bit_length() - SUB_BUCKET_BITS
            if shift > 0:
                value = (value >> shift) << shift
            into[value] = get(value, 0) + count
        return
    get_also = also.get
    for value, count in counts.items():
        if not 0 <= value <= HIGHEST_US:
            value = min(max(value, 0), HIGHEST_US)
        shift = value.bit_length() - SUB_BUCKET_BITS
        if shift > 0:
            value = (value >> shift) << shift
        into[value] = get(value, 0) + count
        also[value] = get_also(value, 0) + count


def record_counts(histogram: HdrHistogram, counts: Mapping[int, int]) -> None:
    """``histogram.record_value(value, count)`` for every pair, values within loadkit's range.

    The package's index arithmetic inlined (``_counts_index_for``): a master folds thousands
    of buckets a read, and ``record_value`` costs a few µs of Python per call.
    """
    if not counts:
        return
    unit, half_magnitude = histogram.unit_magnitude, histogram.sub_bucket_half_count_magnitude
    mask, half, cells = histogram.sub_bucket_mask, histogram.sub_bucket_half_count, histogram.counts
    shift_base = unit + half_magnitude + 1
    total = 0
    for value, count in counts.items():
        bucket_index = (value | mask).bit_length() - shift_base
        cells[((bucket_index + 1) << half_magnitude) + (value >> (bucket_index + unit)) - half] += count
        total += count
    histogram.total_count += total
    histogram.min_value = min(histogram.min_value, min(counts))
    histogram.max_value = max(histogram.max_value, max(counts))


def new_histogram() -> HdrHistogram:
    """An empty histogram with loadkit's range and precision."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def copy_histogram(histogram: HdrHistogram) -> HdrHistogram:
    """A copy of ``histogram`` (the recorder's keep changing; a checkpoint draws from copies)."""
    copy = new_histogram()
    copy.add(histogram)
    return copy


def ms_to_us(response_time_ms: float) -> int:
    """Locust's response time (ms, float) as whole microseconds, clamped to the range."""
    return min(max(int(response_time_ms * 1000.0 + 0.5), 0), HIGHEST_US)


@dataclass(frozen=True)
class Percentiles:
    """Percentiles of one histogram in milliseconds, e.g. ``Percentiles.of(h).values["p99"]``."""

    count: int
    values: dict[str, float]
    max: float

    @classmethod
    def of(cls, histogram: HdrHistogram, extra: Iterable[float] = ()) -> Percentiles:
        """Standard :data:`PERCENTILES` plus ``extra`` ones (labelled ``p75``, ``p99.5`` …)."""
        wanted = {**PERCENTILES, **{f"p{pct:g}": pct for pct in extra}}
        count = histogram.get_total_count()
        if count == 0:
            return cls(0, dict.fromkeys(wanted, 0.0), 0.0)
        by_pct = percentile_values(histogram, list(wanted.values()))
        values = {label: by_pct[pct] / 1000.0 for label, pct in wanted.items()}
        return cls(count, values, histogram.get_max_value() / 1000.0)

    def as_dict(self) -> dict[str, float]:
        """Labels to ms, with ``max`` last: ``{"p50": 0.41, …, "p99.99": 12.3, "max": 15.0}``."""
        return {**self.values, "max": self.max}


class HdrRecorder:
    """Histograms per entry and for the total, e.g.::

    rec = HdrRecorder()
    rec.record("grpc", "/demo.v1.Demo/GetItem", 0.412)   # ms, as in Locust's request event
    rec.percentiles(("grpc", "/demo.v1.Demo/GetItem")).values["p99"]
    """

    def __init__(self) -> None:
        self._histograms: dict[EntryKey, HdrHistogram] = {}  # per entry; the total is made when read
        self._total: HdrHistogram | None = None
        # Samples not yet folded into the histograms: entry -> {µs: count}. A dict
        # increment costs a fraction of HdrHistogram.record_value (pure Python, ~3 µs),
        # and latencies repeat at µs resolution, so folding in batches is much cheaper.
        # One such dict per slot: the current one, and those the clock moved past.
        self._pending: dict[EntryKey, Counts] = {}
        self._failures: dict[EntryKey, int] = {}
        self._slot_t = 0
        self._slot_end = 0.0
        self._past: list[tuple[int, dict[EntryKey, Counts], dict[EntryKey, int]]] = []
        #: Folded slots not yet taken: epoch second -> entry -> [bucketed counts, failures].
        self._slots: dict[int, dict[EntryKey, list[Any]]] = {}
        #: Requests and failed ones seen by :meth:`on_request` since this recorder was made (facets
        #: left out; never reset): worker health reads its rates here, so the plugin needs one
        #: ``request`` listener, not two (:class:`loadkit.fleet.collectors.Requests`).
        self.requests = 0
        self.failures = 0
        #: Workers' columns not yet counted into the histograms (:meth:`pending_columns`, :meth:`compact`).
        self._columns: dict[EntryKey, list[Columns]] = {}
        #: False on a worker: its slots carry everything the master needs, so it keeps no histograms.
        self.keep_histograms = True

    def record(self, request_type: str, name: str, response_time_ms: float, failed: bool = False) -> None:
        """Record one sample (ms, as in Locust's request event)."""
        self.on_request(request_type, name, response_time_ms, exception=True if failed else None)

    def on_request(
        self, request_type: str, name: str, response_time: float | None, exception: Any = None, **_kw: Any
    ) -> None:
        """Listener for Locust's ``request`` event (one call per request: keep it lean)."""
        if not request_type.endswith(FACET_SUFFIXES):  # is_facet, inlined
            self.requests += 1
            if exception is not None:
                self.failures += 1
        if response_time is None:
            return
        if _clock() >= self._slot_end:
            self._next_slot()
        key = (request_type, name)
        value = int(response_time * 1000.0 + 0.5)  # ms_to_us, inlined: the hot path
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = {}
        pending[value] = pending.get(value, 0) + 1
        if exception is not None:
            self._failures[key] = self._failures.get(key, 0) + 1

    def _next_slot(self) -> None:
        if self._pending:
            self._past.append((self._slot_t, self._pending, self._failures))
            self._pending, self._failures = {}, {}
        now = int(_clock())
        self._slot_t = now - now % SLOT_S
        self._slot_end = float(self._slot_t + SLOT_S)

    def _fold(self) -> None:
        self.compact()
        self._fold_local()

    def _fold_local(self) -> None:
        """This node's own samples into its slots (and histograms); workers' counts wait for a read."""
        if not self._pending and not self._past:
            return
        keep = self.keep_histograms
        for t, pending, failures in [*self._past, (self._slot_t, self._pending, self._failures)]:
            slot = self._slots.setdefault(t, {})
            for key, counts in pending.items():
                if keep:
                    histogram = self._histograms.get(key)
                    if histogram is None:
                        histogram = self._histograms[key] = new_histogram()
                    for value, count in counts.items():
                        histogram.record_value(min(max(value, 0), HIGHEST_US), count)
                    self._total = None
                entry = slot.get(key)
                if entry is None:
                    entry = slot[key] = [{}, 0]
                add_counts(entry[0], counts)
                entry[1] += failures.get(key, 0)
        self._pending, self._failures, self._past = {}, {}, []

    def _total_histogram(self) -> HdrHistogram:
        """The total: the entries' histograms added (in C, ``add_array``), facets left out, made when read.

        Kept apart it cost a second Python pass over every bucket a master folds (a third of the fold).
        """
        if self._total is None:
            total = new_histogram()
            for key, histogram in self._histograms.items():
                if not is_facet(key[0]) and histogram.get_total_count():
                    total.add(histogram)
            self._total = total
        return self._total

    def pending_columns(self, key: EntryKey) -> list[Columns]:  # Timeline.merge_columns(slots, also=this)
        """The list a worker's columns of ``key`` wait in until :meth:`compact`."""
        waiting = self._columns.get(key)
        if waiting is None:
            waiting = self._columns[key] = []
        return waiting

    def compact(self) -> None:
        """Count the waiting columns into the histograms (numpy): what waits stays a few seconds' worth."""
        if not self._columns:
            return
        from loadkit.stats.column_math import count_into  # numpy: workers' columns reach a master only

        for key, columns in self._columns.items():
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = new_histogram()
            count_into(histogram, columns)
        self._columns, self._total = {}, None

    def take_slots(self) -> dict[int, dict[EntryKey, tuple[Counts, int]]]:
        """This node's one-second slots since the last call: ``{t: {entry: (counts, failures)}}``.

        The workers' counts are not folded here (a master's pump calls this every 2 s): they wait for a read.
        """
        self._fold_local()
        slots = {t: {k: (v[0], v[1]) for k, v in entries.items()} for t, entries in self._slots.items()}
        self._slots = {}
        return slots

    def keys(self) -> list[EntryKey]:
        """Entry keys with at least one sample (the total excluded), sorted."""
        self._fold()
        return sorted(k for k, h in self._histograms.items() if h.get_total_count())

    def histogram(self, key: EntryKey) -> HdrHistogram:
        self._fold()
        if key == TOTAL_KEY:
            return self._total_histogram()
        return self._histograms.get(key) or new_histogram()

    def percentiles(self, key: EntryKey = TOTAL_KEY, extra: Iterable[float] = ()) -> Percentiles:
        return Percentiles.of(self.histogram(key), extra)

    def reset(self) -> None:
        """Forget every sample (Locust's reset-stats)."""
        self._histograms, self._total = {}, None
        self._pending, self._failures, self._past, self._slots, self._columns = {}, {}, [], {}, {}

    def take_deltas(self) -> dict[str, str]:
        """Encode what was recorded since the last call, then start afresh (worker side).

        Returns ``{"TYPE\\tNAME": base64}``; the total is not sent, the master rebuilds it
        from the entries. Empty entries are left out, so an idle worker sends ``{}``.
        """
        self._fold()
        deltas = {
            f"{key[0]}\t{key[1]}": histogram.encode()
            for key, histogram in self._histograms.items()
            if histogram.get_total_count()
        }
        if deltas:
            self._histograms, self._total = {}, None  # the slots are taken on their own (take_slots)
        return deltas

    def merge_deltas(self, deltas: Mapping[str, str]) -> None:
        """Add a worker's :meth:`take_deltas` to this recorder (master side).

        Raises ``ValueError`` on a malformed payload, before merging any of it.
        """
        decoded: list[tuple[EntryKey, HdrHistogram]] = []
        for raw_key, encoded in deltas.items():
            request_type, sep, name = raw_key.partition("\t") if isinstance(raw_key, str) else ("", "", "")
            if not sep or not isinstance(encoded, str | bytes):
                raise ValueError(f"bad HDR delta key {raw_key!r}")
            try:
                histogram = HdrHistogram.decode(encoded)
            except Exception as exc:  # the package raises assorted types on bad input
                raise ValueError(f"bad HDR delta for {raw_key!r}: {exc}") from exc
            if histogram.get_max_value() > HIGHEST_US:
                raise ValueError(f"bad HDR delta for {raw_key!r}: values beyond {HIGHEST_US} µs")
            decoded.append(((request_type, name), histogram))
        self.merge(decoded)

    def merge(self, histograms: Iterable[tuple[EntryKey, HdrHistogram]]) -> None:
        self._fold()
        for key, other in histograms:
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = new_histogram()
            histogram.add(other)
        self._total = None


_clock = time.time
