"""Locust's ``--otel`` with loadkit's users, in real processes: a headless `locust` run exports its
spans over OTLP/gRPC to a receiver this test runs (tests/support/otlp.py), against the real targets.

Proven on what arrived: a CLIENT span per gRPC/REST call and ``measure()`` block, named and
attributed by the semantic conventions, ERROR exactly for the failing calls, each a child of its
task iteration's span; the targets received those spans' trace ids (the propagated context is the
span's) and exported their own SERVER spans as its children (the chain end to end), and the
report's exemplars name those traces.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT, wait_for
from tests.support.doc_commands import commands, section
from tests.support.otlp import CLIENT, ERROR, INTERNAL, SERVER, UNSET, OtlpReceiver, ReceivedSpan
from tests.support.targets import Target

pytestmark = pytest.mark.e2e

LOCUSTFILE = str(Path(__file__).parent / "trace_files" / "otel.py")
GRPC_CALLS = [  # one iteration of Grpc.grpc_calls, in order: (span name, status)
    ("demo.v1.Demo/GetItem", UNSET),
    ("demo.v1.Demo/ListItems", UNSET),
    ("demo.v1.Demo/PutItems", UNSET),
    ("demo.v1.Demo/Chat", UNSET),
    ("demo.v1.Demo/GetItem", ERROR),
]
REST_CALLS = [
    ("POST /items", UNSET),
    ("GET /items/{item_id}", UNSET),
    ("compute sum", UNSET),
    ("GET /items/{item_id}", ERROR),
]


def _documented_command() -> tuple[dict[str, str], list[str]]:
    """docs/traces.md's --otel command: its ``NAME=value`` assignments and its argv."""
    text = (ROOT / "docs" / "traces.md").read_text()
    (line,) = [c for c in commands(section(text, "With Locust's `--otel`: spans for loadkit's users")) if "--otel" in c]
    words = shlex.split(line)
    assignments = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    return assignments, [w for w in words if w.split("=", 1)[0] not in assignments]


def _iterations(spans: list[ReceivedSpan], task: str) -> dict[str, list[ReceivedSpan]]:
    """Each finished iteration span of ``task`` (by span id) -> its children, in start order."""
    roots = {s.span_id: s for s in spans if s.name == task and s.kind == INTERNAL and not s.parent}
    children: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        if span.parent in roots:
            children[span.parent].append(span)
    return {root: children[root] for root in roots}


def _server_spans(spans: list[ReceivedSpan], calls: list[ReceivedSpan]) -> list[ReceivedSpan] | None:
    """Each client call's server span (a child of it), in the calls' order, or None while one is missing."""
    by_parent = {s.parent: s for s in spans if s.kind == SERVER}
    found = [by_parent.get(call.span_id) for call in calls]
    return None if not calls or None in found else found  # type: ignore[return-value]


def test_otel_spans_of_grpc_and_rest_calls_reach_an_otlp_receiver(
    tmp_path: Path, start_target: Callable[..., Target]
) -> None:
    with OtlpReceiver() as receiver:
        exporting = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        grpc_target, http_target = start_target("grpc", env=exporting), start_target("http", env=exporting)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADKIT_", "LOCUST_", "OTEL_"))}
        env |= {
            "LK_GRPC": grpc_target.url,
            "LK_HTTP": http_target.url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_SERVICE_NAME": "loadkit-e2e",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
        # docs/traces.md's command, its endpoint and locustfile moved to this test's
        assignments, argv = _documented_command()
        env |= {**assignments, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        argv = [LOCUSTFILE if arg == "locustfile.py" else arg for arg in argv]
        assert argv[0] == ".venv/bin/locust"
        run = subprocess.run(
            [sys.executable, "-m", "locust", *argv[1:], "--report-json", "report.json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 1, run.stderr[-3000:]  # the deliberate failures
        assert "OpenTelemetry enabled" in run.stderr, run.stderr[-3000:]
        # the SDK flushes at exit: everything is there once the process ended (polled: the receiver's threads)
        wait_for(lambda: _iterations(receiver.spans(), "rest_calls"), 10, "the iteration spans at the receiver")
        # the targets export theirs in batches while they run: wait until each traced call's server span came
        calls = [kid for kids in _iterations(receiver.spans(), "grpc_calls").values() for kid in kids]
        calls += [
            k for kids in _iterations(receiver.spans(), "rest_calls").values() for k in kids if k.name != "compute sum"
        ]
        wait_for(lambda: _server_spans(receiver.spans(), calls), 15, "a server span for every client call")
        spans = receiver.spans()

    assert {s.service for s in spans} == {"loadkit-e2e", "loadkit-target-grpc", "loadkit-target-http"}
    # the chain end to end: each call's server span is a child of its client span, in the same trace
    for call, server in zip(calls, _server_spans(spans, calls) or [], strict=True):
        assert (server.trace_id, server.kind) == (call.trace_id, SERVER)
        assert server.service == ("loadkit-target-grpc" if "rpc.system" in call.attributes else "loadkit-target-http")
        assert server.name == call.name
    spans = [s for s in spans if s.service == "loadkit-e2e"]
    client_trace_ids: dict[str, set[str]] = {"grpc": set(), "http": set()}
    for task, expected, kind in (("grpc_calls", GRPC_CALLS, "grpc"), ("rest_calls", REST_CALLS, "http")):
        iterations = _iterations(spans, task)
        complete = {root: kids for root, kids in iterations.items() if len(kids) == len(expected)}
        assert complete, (task, iterations)
        roots = {s.span_id: s for s in spans}
        for root_id, kids in complete.items():
            root = roots[root_id]
            assert root.attributes["loadkit.task"] == task
            # ERROR when the task ended with a failure: the failed gRPC call raised; rest() never raises
            assert root.status == (ERROR if kind == "grpc" else UNSET)
            assert root.attributes["loadkit.user_class"] == ("Grpc" if kind == "grpc" else "Rest")
            assert [(k.name, k.status) for k in kids] == expected
            for kid in kids:
                assert kid.kind == CLIENT and kid.trace_id == root.trace_id
                if kid.name == "compute sum":
                    assert kid.attributes == {"loadkit.request_type": "compute", "loadkit.name": "sum"}
                    continue
                client_trace_ids[kind].add(kid.trace_id)
                target = grpc_target if kind == "grpc" else http_target
                assert kid.attributes["server.address"] == "127.0.0.1"
                assert kid.attributes["server.port"] == int(target.address.rsplit(":", 1)[1])
                if kind == "grpc":
                    service, method = kid.name.split("/")
                    assert kid.attributes["rpc.system"] == "grpc"
                    assert (kid.attributes["rpc.service"], kid.attributes["rpc.method"]) == (service, method)
                    assert kid.attributes["rpc.grpc.status_code"] == (5 if kid.status == ERROR else 0)
                    assert (kid.attributes.get("error.type"), kid.status) in ((None, UNSET), ("NOT_FOUND", ERROR))
                else:
                    method, template = kid.name.split(" ")
                    assert kid.attributes["http.request.method"] == method
                    assert kid.attributes["url.template"] == template
                    assert kid.attributes["url.full"].startswith(http_target.url + "/items")
                    status = kid.attributes["http.response.status_code"]
                    assert (status, kid.attributes.get("error.type"), kid.status) in (
                        (201, None, UNSET),
                        (200, None, UNSET),
                        (404, "404", ERROR),
                    )
                    assert status != 404 or kid.attributes["url.full"].endswith("/items/missing")

    # the targets received the spans' contexts: every traced call's trace id is one a client span has
    for target, kind in ((grpc_target, "grpc"), (http_target, "http")):
        traces = target.traces()
        assert traces["requests"] == traces["valid"] > 0 and traces["missing"] == 0, traces
        assert client_trace_ids[kind] <= {str(r["trace_id"]) for r in traces["recent"]}
    # and the report's exemplars name the spans' traces
    all_client = {s.trace_id for s in spans if s.kind == CLIENT}
    exemplars = json.loads((tmp_path / "report.json").read_text())["exemplars"]
    rows = [row for sets in exemplars.values() for row in sets["slowest"]]
    assert rows and {row["trace_id"] for row in rows} <= all_client
