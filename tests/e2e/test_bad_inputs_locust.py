"""Bad input on a locust command line and in its files: each row runs the real command.

Hosts, .proto files and reflection, test data, thresholds, report paths, the open model's
options. What every row must show (exit code, one line naming the value and the fix, no load,
nothing left running) is :func:`tests.support.bad_inputs.check`; the processes' rows (ports,
pidfiles, workers, the loadkit CLI) are in ``test_bad_inputs_processes.py``.
CI time (2 cores): ~15 s.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.support import free_port
from tests.support.bad_inputs import FILES, LOCUST, Ctx, Row, Run, check, locust

pytestmark = pytest.mark.e2e


def syntax_error(ctx: Ctx) -> list[Run]:
    path = ctx.tmp / "syntax_error.py"
    path.write_text("from locust import User\n\n\nclass Broken(User)\n    pass\n")
    return [ctx.run([*LOCUST, "-f", str(path)])]


def no_user_class(ctx: Ctx) -> list[Run]:
    # Written outside the repo too: with no User class Locust collects the file with pytest,
    # whose root would be this repo (its settings make warnings errors) under tests/.
    path = ctx.tmp / "no_user.py"
    path.write_text("import loadkit  # noqa: F401\n\nPAGES = ['/health']\n")
    return [ctx.run([*LOCUST, "-f", str(path)])]


def unreachable(file: str, scheme: str) -> Callable[[Ctx], list[Run]]:
    def run(ctx: Ctx) -> list[Run]:
        return [ctx.run(locust(file, "-H", f"{scheme}://127.0.0.1:{free_port()}"))]

    return run


def with_host(file: str, kind: str, *extra: str) -> Callable[[Ctx], list[Run]]:
    def run(ctx: Ctx) -> list[Run]:
        target = ctx.grpc if kind == "grpc" else ctx.http
        return [ctx.run(locust(file, "-H", target.url, *extra))]

    return run


def report_under_a_file(ctx: Ctx) -> list[Run]:
    (ctx.tmp / "reports").write_text("a regular file, not a folder\n")
    return [ctx.run(locust("rest_user.py", "-H", ctx.http.url, "--report-json", str(ctx.tmp / "reports" / "r.json")))]


def report_path_node(kind: str) -> Callable[[Ctx], list[Run]]:
    """--report-json naming a FIFO, or a symlink to a character device: refused at the start."""

    def run(ctx: Ctx) -> list[Run]:
        path = ctx.tmp / kind
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/null")
        return [ctx.run(locust("rest_user.py", "-H", ctx.http.url, "--report-json", str(path)))]

    return run


def open_model(ctx: Ctx, *extra: str, users: bool = False) -> list[Run]:
    """An arrival-rate run of the REST user against the HTTP target (no -u unless ``users``)."""
    base = LOCUST if users else [*LOCUST[: LOCUST.index("-u")], *LOCUST[LOCUST.index("-u") + 2 :]]
    return [ctx.run([*base, "-f", str(FILES / "rest_user.py"), "-H", ctx.http.url, *extra])]


FIX_HOST = r"start the target or fix --host"
ROWS = [
    Row(
        "locustfile-syntax-error",
        syntax_error,
        (1,),
        (r"File \".*syntax_error\.py\", line 4",),
        decides="Locust (imports the locustfile before any plugin; prints its traceback)",
        traceback_ok=True,
    ),
    Row(
        "locustfile-without-user",
        no_user_class,
        (1,),
        (r"ERROR/locust\.main: No User class found!",),
        decides="Locust",
    ),
    Row(
        "rest-host-ftp-scheme",
        lambda ctx: [ctx.run(locust("rest_user.py", "-H", "ftp://127.0.0.1:21"))],
        (2,),
        (r"^loadkit: error: Api host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use http://HOST\[:PORT\] or https://",),
    ),
    Row(
        "grpc-host-ftp-scheme",
        lambda ctx: [ctx.run(locust("grpc_user.py", "-H", "ftp://127.0.0.1:21"))],
        (2,),
        (r"^loadkit: error: GrpcUser host 'ftp://127\.0\.0\.1:21' has scheme 'ftp': use grpc://HOST:PORT",),
    ),
    Row(
        "rest-host-unreachable",
        unreachable("rest_user.py", "http"),
        (2,),
        (rf"^loadkit: error: cannot reach http://127\.0\.0\.1:\d+ for Api \(connection refused\): {FIX_HOST}",),
    ),
    Row(
        "grpc-host-unreachable",
        unreachable("grpc_user.py", "grpc"),
        (2,),
        (rf"^loadkit: error: cannot reach grpc://127\.0\.0\.1:\d+ for Demo \(connection refused\): {FIX_HOST}",),
    ),
    Row(
        "proto-malformed",
        with_host("bad_proto_user.py", "grpc"),
        (2,),
        (r"^loadkit: error: protoc could not compile \S+/broken\.proto .*: fix the file",),
        target="grpc",
    ),
    Row(
        "reflection-unknown-service",
        with_host("reflection_service.py", "grpc"),
        (2,),
        (r"^loadkit: error: service 'demo\.v1\.Nope' not found in the server's reflection: set service to",),
        target="grpc",
    ),
    Row(
        "reflection-unknown-method",
        with_host("reflection_method.py", "grpc"),
        (2,),
        (r"loadkit: error: service demo\.v1\.Demo has no method 'GetIten': call one of \[.*'GetItem'",),
        target="grpc",
    ),
    Row(
        "reflection-host-is-not-grpc",
        lambda ctx: [ctx.run(locust("reflection_method.py", "-H", f"grpc://{ctx.http.address}"))],
        (2,),
        (
            r"^loadkit: error: cannot look up service 'demo\.v1\.Demo' via the server's reflection "
            r"\(UNAVAILABLE: .*\): check that the host is a gRPC server with reflection on",
        ),
        target="http",
    ),
    Row(
        "data-file-missing",
        with_host("rest_user.py", "http", "--loadkit-data", "no/such/users.csv"),
        (2,),
        (r"^loadkit: error: test-data file 'no/such/users\.csv' does not exist: give an existing",),
        target="http",
    ),
    Row(
        "data-file-empty",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "empty.csv")),
        (2,),
        (r"^loadkit: error: test-data file '\S+empty\.csv' holds no rows: add at least one row",),
        target="http",
    ),
    Row(
        "data-file-broken-csv",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "broken.csv")),
        (2,),
        (r"^loadkit: error: \S+broken\.csv:2: 3 value\(s\) for 2 column\(s\).*: fix that line",),
        target="http",
    ),
    Row(
        "data-file-broken-jsonl",
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "broken.jsonl")),
        (2,),
        (r"^loadkit: error: \S+broken\.jsonl:2: bad JSON .*: fix that line",),
        target="http",
    ),
    Row(
        "data-file-bom-and-repeated-column",  # the BOM is stripped: the column is named 'id', not '\ufeffid'
        with_host("rest_user.py", "http", "--loadkit-data", str(FILES / "bom_repeated.csv")),
        (2,),
        (r"^loadkit: error: \S+bom_repeated\.csv:1: column 'id' appears 2 times in the header.*: rename or remove",),
        target="http",
    ),
    Row(
        "data-faker-count-too-large",
        with_host("rest_user.py", "http", "--loadkit-data", "faker:10000000"),
        (2,),
        (r"^loadkit: error: bad generator spec 'faker:10000000': COUNT 10,000,000 is more than 1,000,000: use faker:",),
        target="http",
    ),
    Row(
        "health-interval-negative",
        with_host("rest_user.py", "http", "--loadkit-health-interval", "-1"),
        (2,),
        (r"^loadkit: error: --loadkit-health-interval -1 is out of range: give a number from 0\.1 to 3600",),
        target="http",
    ),
    Row(
        "grpc-host-bad-port",
        lambda ctx: [ctx.run(locust("grpc_user.py", "-H", "grpc://[::1]:99999"))],
        (2,),
        (r"^loadkit: error: Demo host 'grpc://\[::1\]:99999' has a bad port 99999 \(1-65535\): use e\.g\. grpc://",),
    ),
    Row(
        "threshold-infinite",
        with_host("rest_user.py", "http", "--threshold", "p95<1e999ms"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95<1e999ms' at '1e999': not a finite number",),
        target="http",
    ),
    Row(
        "threshold-look-alike-characters",
        with_host("rest_user.py", "http", "--threshold", "p95\u203950\u00b5s"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95\u203950\u00b5s'.*did you mean 'p95<50us'\?$",),
        target="http",
    ),
    Row(
        "report-path-fifo",
        report_path_node("fifo"),
        (2,),
        (r"^loadkit: error: --report-json '\S+/fifo' is a FIFO, not a regular file: give a file path",),
        target="http",
    ),
    Row(
        "report-path-link-to-device",
        report_path_node("link"),
        (2,),
        (r"^loadkit: error: --report-json '\S+/link' \(a link to /dev/null\) is a character device, not a regular",),
        target="http",
    ),
    Row(
        "data-next-without-data",  # every user hits it: the run stops once, with one line
        lambda ctx: [ctx.run(locust("data_without_option.py", "-u", "5", "-r", "5", "-H", ctx.http.url))],
        (2,),
        (
            r"loadkit: error: loadkit\.data\.next\(\) has no test data: "
            r"run locust with --loadkit-data FILE .*'import loadkit'",
        ),
        target="http",
    ),
    Row(
        "threshold-expression",
        with_host("rest_user.py", "http", "--threshold", "p95<<50ms"),
        (2,),
        (r"^loadkit: error: bad threshold 'p95<<50ms'.*expected METRIC OP NUMBER \(e\.g\. 'p95<50ms'",),
        target="http",
    ),
    Row(
        "report-path-not-writable",
        report_under_a_file,
        (2,),
        (r"^loadkit: error: --report-json '\S+/reports/r\.json': \S+/reports is not a folder: give a path under",),
        target="http",
    ),
    Row(
        "arrival-rate-zero",
        lambda ctx: open_model(ctx, "--arrival-rate", "0"),
        (2,),
        (r"^loadkit: error: --arrival-rate '0' must be a number > 0 \(iterations per second\), e\.g\. 100$",),
        target="http",
    ),
    Row(
        "arrival-rate-negative",
        lambda ctx: open_model(ctx, "--arrival-rate=-5"),
        (2,),
        (r"^loadkit: error: --arrival-rate '-5' must be a number > 0 \(iterations per second\), e\.g\. 100$",),
        target="http",
    ),
    Row(
        "arrival-stages-malformed",
        lambda ctx: open_model(ctx, "--arrival-stages", "30s:100,2m"),
        (2,),
        (r"^loadkit: error: --arrival-stages '30s:100,2m' at '2m': missing ':' \(write DURATION:RATE pairs, e\.g\. ",),
        target="http",
    ),
    Row(
        "arrival-rate-with-users",
        lambda ctx: open_model(ctx, "--arrival-rate", "10", users=True),
        (2,),
        (r"^loadkit: error: --arrival-rate 10 with -u/--users 1: an arrival-rate run takes its users from a pool",),
        target="http",
    ),
    Row(
        "arrival-pool-zero",
        lambda ctx: open_model(ctx, "--arrival-rate", "10", "--max-users", "0"),
        (2,),
        (r"^loadkit: error: --max-users 0 must be a whole number >= 1 \(the pool of users iterations run on\)$",),
        target="http",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, bad_input_ctx: Ctx) -> None:
    check(row, bad_input_ctx)
