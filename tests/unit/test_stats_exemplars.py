"""Exemplars: the slowest requests and a sample per latency band, merged exactly across workers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from loadkit.stats.exemplars import (
    BANDS,
    MAX_ENTRIES,
    PER_BAND,
    SLOWEST,
    ExemplarRecorder,
    band,
    band_label,
    decode_deltas,
)


def requests(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name = rng.choice(["/a", "/b", "/c"])
        latency = rng.choice([rng.lognormvariate(2, 1.5), round(rng.uniform(1, 5), 1)])  # ties included
        failed = rng.random() < 0.05
        out.append(
            {
                "request_type": "grpc",
                "name": name,
                "response_time": latency,
                "exception": RuntimeError("UNAVAILABLE: down") if failed else None,
                "context": {"trace_id": f"{rng.getrandbits(128):032x}"},
            }
        )
    return out


def without_time_and_worker(report: dict[str, Any]) -> dict[str, Any]:
    def strip(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["trace_id"], r["latency_ms"], r["error"]) for r in rows]

    return {
        entry: {
            "slowest": strip(sets["slowest"]),
            "bands": [(b["range"], strip(b["exemplars"])) for b in sets["bands"]],
        }
        for entry, sets in report.items()
    }


@pytest.mark.parametrize("seed", range(5))
def test_merging_worker_deltas_equals_computing_on_the_union(seed: int) -> None:
    stream = requests(seed, 3000)
    union = ExemplarRecorder()
    for event in stream:
        union.on_request(**event)
    master = ExemplarRecorder()
    workers = [ExemplarRecorder(worker="") for _ in range(3)]
    rng = random.Random(seed)
    for i, event in enumerate(stream):
        w = rng.randrange(3)
        workers[w].on_request(**event)
        if rng.random() < 0.01:  # a report now and then, as report_to_master does
            master.merge_deltas(workers[w].take_deltas(), f"w{w}")
        if i % 997 == 0:  # deltas survive a msgpack-like round trip: lists of plain values
            master.merge_deltas(workers[(w + 1) % 3].take_deltas(), f"w{(w + 1) % 3}")
    for w, worker in enumerate(workers):
        master.merge_deltas(worker.take_deltas(), f"w{w}")
    assert without_time_and_worker(master.report()) == without_time_and_worker(union.report())


def test_the_slowest_and_a_few_per_band_with_trace_id_time_worker_and_error() -> None:
    recorder = ExemplarRecorder()
    stream = requests(7, 2000)
    for event in stream:
        recorder.on_request(**event)
    for entry, sets in recorder.report().items():
        name = entry.split(" ", 1)[1]
        mine = sorted(
            (e for e in stream if e["name"] == name),
            key=lambda e: (e["response_time"], e["context"]["trace_id"]),
            reverse=True,
        )
        assert [r["trace_id"] for r in sets["slowest"]] == [e["context"]["trace_id"] for e in mine[:SLOWEST]]
        for row, event in zip(sets["slowest"], mine, strict=False):
            assert row["latency_ms"] == round(event["response_time"], 3) and row["worker"] == "local"
            assert row["error"] == (None if event["exception"] is None else "UNAVAILABLE: down")
            assert row["time"] > 0
        for b in sets["bands"]:
            in_band = sorted(
                e["context"]["trace_id"] for e in mine if band_label(band(e["response_time"])) == b["range"]
            )
            assert [r["trace_id"] for r in b["exemplars"]] == in_band[:PER_BAND]


def test_requests_without_a_trace_id_are_no_exemplars() -> None:
    recorder = ExemplarRecorder()
    recorder.on_request("GET", "/x", 5.0, context={})
    recorder.on_request("GET", "/x", 5.0, context={"trace_id": None})
    recorder.on_request("GET", "/x", None, context={"trace_id": "a" * 32})
    assert recorder.report() == {}


def test_memory_is_bounded() -> None:
    recorder = ExemplarRecorder()
    rng = random.Random(1)
    for i in range(MAX_ENTRIES + 50):
        for _ in range(3):
            recorder.on_request(
                "GET", f"/{i}", rng.expovariate(0.01), context={"trace_id": f"{rng.getrandbits(128):032x}"}
            )
    assert len(recorder.entries()) == MAX_ENTRIES
    for _ in range(20_000):
        recorder.on_request("GET", "/0", rng.expovariate(0.001), context={"trace_id": f"{rng.getrandbits(128):032x}"})
    assert len(recorder.entries()[("GET", "/0")].all()) <= SLOWEST + PER_BAND * BANDS


def test_bands_are_powers_of_four_in_microseconds() -> None:
    assert [band(ms) for ms in (0.0, 0.001, 0.003, 0.004, 1.0, 1.5, 4.0, 1e9)] == [0, 1, 1, 2, 5, 6, 6, BANDS - 1]
    assert band_label(6) == "[1.024 ms, 4.096 ms)" and band_label(0) == "[0, 1 µs)"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"no-tab": []},
        {"GET\t/x": "nope"},
        {"GET\t/x": [[1.0, "A" * 32, 1.0, None]]},
        {"GET\t/x": [[float("nan"), "a" * 32, 1.0, None]]},
        {"GET\t/x": [[1.0, "a" * 32, 1.0, "e" * 1000]]},
        {"GET\t/x": [[1.0, "a" * 32, 1.0]]},
        {"GET\t/x": [[1.0, "a" * 32, 1.0, None]] * 1000},
        {f"GET\t/{i}": [] for i in range(MAX_ENTRIES + 1)},
    ],
)
def test_a_malformed_worker_payload_is_refused_whole(payload: Any) -> None:
    with pytest.raises(ValueError, match="exemplars"):
        decode_deltas(payload, "w1")
    recorder = ExemplarRecorder()
    with pytest.raises(ValueError):
        recorder.merge_deltas(payload, "w1")
    assert recorder.report() == {}


def test_the_master_stamps_the_sending_worker() -> None:
    worker = ExemplarRecorder(worker="forged")
    worker.on_request("GET", "/x", 5.0, context={"trace_id": "b" * 32})
    master = ExemplarRecorder()
    master.merge_deltas(worker.take_deltas(), "worker-7")
    assert master.report()["GET /x"]["slowest"][0]["worker"] == "worker-7"
