"""Instructions per call of each user kind, counted by callgrind: figures that survive a busy machine.

    .venv/bin/python -m bench.instructions                   # every variant, table + ratios vs the goals
    .venv/bin/python -m bench.instructions --repeat 2        # each variant twice: how well runs agree
    .venv/bin/python -m bench.instructions --variants bare-unary,grpc-unary+plugin --calls 2000
    .venv/bin/python -m bench.instructions --keep out/cg     # keep the dumps: callgrind_annotate out/cg/V.out.1-01
    .venv/bin/python -m bench.instructions --update-budgets --repeat 3  # re-measure 3x, rewrite bench/budgets.json
    .venv/bin/python -m bench.instructions --variants proto-unary+plugin --delay-ms 60  # per-second work?

How: the bundled targets run outside valgrind (``loadkit target grpc|http`` on free
127.0.0.1 ports, started once and shared by every variant); each variant runs in a process
of its own under ``valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes``, one
user, a fixed number of calls (never a fixed time): a child forked by one valgrind process
that starts Python and imports gevent, grpc and Locust once for all (:mod:`bench._zygote`),
three at a time. The child imports the rest and warms up uninstrumented (~5x faster than
instrumented), then opens a window with callgrind client requests issued from Python
(:mod:`bench._callgrind`): start instrumenting + zero the counters before call ``warmup``,
dump and stop instrumenting right before call ``warmup + calls`` (:mod:`bench._variants`).
Start-up, imports and warm-up are therefore not in the count at all — no need for two runs of
different lengths and a difference — and the window holds whole iterations only. Two figures
per call: the **calling thread** (the user's greenlets: every line of Python, loadkit's and
Locust's included) and **all threads** (plus grpcio's and gevent's own threads, which do part
of each gRPC call's work). ``PYTHONHASHSEED=0`` fixes dict and set layouts, so a run repeats
the previous one's work.

Why this and not ``callgrind_control --dump`` at a barrier: that reaches the process through
vgdb/ptrace at whatever instruction it is on and needs the process parked while it does;
a request issued by the code lands exactly between two calls, costs nothing outside
valgrind, and allows the uninstrumented start. Repeatability: two runs of the default
counts agree within 0.3 % (calling thread) and 0.8 % (all threads); short runs (the bench
test's 200 calls, 40 for streams) within ~0.7 %, bidi ~2 % (its request iterator runs beside
the responses). The other threads' work (how often a poll finds nothing) depends on timing,
so the budgets hold the calling thread's figure; the goals are stated on all threads, as the
issue's figures were. See the README's Performance section for figures, two-run agreement
and where the instructions go.

Per-second work: the window is counted in calls, not seconds, so anything that runs per
second lands in it in proportion to how long valgrind takes per call — a busy machine would
inflate the count. The variants stop what loadkit and Locust run per second before the window
(:mod:`bench._variants`), and ``--delay-ms`` shows what is left: answering 60 ms late instead
of 10 ms (+10 s of window over 200 calls) moved the calling thread of ``bare-proto-unary``
by -0.05 % and of ``proto-unary+plugin`` by +0.12 % (under 10k instructions per second), the
other threads by +7k per call (~140k per second: why the budgets leave them out).

Budgets (:mod:`bench._budgets`): each variant is judged on its ratio to its reference in the
same run, within three times its spread recorded by ``--update-budgets --repeat 3`` (at least
2 %); absolute counts fail only when the reference did not move or beyond +20 %, and only when
the machine matches the budgets' ``environment`` (Python build, library versions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import _budgets, _zygote
from bench._report import ORDER, REFERENCES, Result, agreement, table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

BUDGETS = BENCH / "budgets.json"
DEFAULT_CALLS = 1000
DEFAULT_WARMUP = 100
#: Streaming calls carry 10 messages each (~8x a unary call's instructions): they run calls // 5.
STREAM_DIVISOR = 5
#: Variants measured at once (children of one valgrind process, :mod:`bench._zygote`).
JOBS = 3
#: Packages whose code runs inside the measured window: a budget holds for these versions.
PACKAGES = (
    "grpcio",
    "protobuf",
    "gevent",
    "greenlet",
    "locust",
    "geventhttpclient",
    "requests",
    "urllib3",
    "hdrhistogram",
    "httpx",
    "httpcore",
    "h2",
    "websocket-client",
)


def environment() -> dict[str, str]:
    """What the counts depend on besides loadkit's code: Python build, machine, library versions."""
    env = {
        "python": f"{platform.python_implementation()} {platform.python_version()} ({platform.python_build()[1]})",
        "machine": platform.machine(),
        "valgrind": _valgrind_version(),
    }
    for name in PACKAGES:
        try:
            env[name] = version(name)
        except PackageNotFoundError:
            env[name] = "-"
    return env


def _valgrind_version() -> str:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return "-"
    return subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()


@contextmanager
def targets(kinds: set[str]) -> Iterator[dict[str, str]]:
    """The bundled targets the variants need, outside valgrind: {"grpc": "HOST:PORT", "http": URL, "http2": URL}."""
    from loadkit.targets.launcher import launch

    with ExitStack() as stack:
        addresses = {}
        if "grpc" in kinds:
            addresses["grpc"] = stack.enter_context(launch("grpc")).address
        if "http" in kinds:
            addresses["http"] = stack.enter_context(launch("http")).url
        if "http2" in kinds:  # the HTTP target under hypercorn: h2c
            addresses["http2"] = stack.enter_context(launch("http", "--http2")).url
        yield addresses


def calls_for(variant: str, calls: int) -> int:
    """Calls of ``variant`` in a window of ``calls`` (fewer for streams: they cost ~8x more each)."""
    return max(calls // STREAM_DIVISOR, 10) if "stream" in variant or "bidi" in variant else calls


def measure(
    variants: Sequence[str],
    calls: int,
    warmup: int,
    repeat: int = 1,
    keep: Path | None = None,
    delay_ms: int | None = None,
    jobs: int = JOBS,
) -> list[list[Result]]:
    """Each variant ``repeat`` times, ``jobs`` at a time, forked by one valgrind process; targets shared by all.

    One process under valgrind starts, imports and forks a child per variant (:mod:`bench._zygote`):
    the start-up is paid once, not once per variant. Each child counts its own window; its dumps
    land in ``keep/VARIANT.out…`` (``VARIANT.out.1-01``: the calling thread's window). Three at
    once on 2 cores, as each child waits for its 10 ms answers part of the time. Measured (the
    bench test's 30 variants, 2 cores shared with other work): 2 at a time 91 s, 3 at a time
    71-85 s, 4 at a time 73 s with the bidi counts another +1 % (its request iterator and its
    responses interleave by timing: the more processes share the CPU, the more instructions;
    bench/budgets.json is recorded three at a time, as the bench test runs).
    """
    from bench._variants import VARIANTS

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed: apt-get install valgrind")
    tasks = [(v, calls_for(v, calls), calls_for(v, warmup)) for _ in range(repeat) for v in variants]
    with ExitStack() as stack:
        out_dir = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadkit-cg-")))
        out_dir.mkdir(parents=True, exist_ok=True)
        addresses = stack.enter_context(targets({VARIANTS[v][0] for v in variants} - {""}))
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = _zygote.run(valgrind, out_dir, tasks, addresses, jobs, delay_ms, env, ROOT)
    results = [
        Result(v, main, n, seconds, others) for (v, n, _), (main, others, seconds) in zip(tasks, done, strict=True)
    ]
    return [results[i : i + len(variants)] for i in range(0, len(results), len(variants))]


# --- budgets --------------------------------------------------------------------------
def load_budgets(path: Path = BUDGETS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def check(results: Sequence[Result], budgets: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Compare ``results`` with ``budgets``; returns (report lines, failures): see :mod:`bench._budgets`.

    Each variant is judged on its ratio to its reference (same run); its instructions per call
    (calling thread, :attr:`Result.per_call`) only when this machine matches the budgets'
    ``environment`` (same Python build and library versions), and then only when its reference
    did not move or beyond the wide bound.
    """
    same_env = budgets.get("environment") == environment()
    lines: list[str] = []
    if not same_env:
        theirs = budgets.get("environment") or {}
        diff = {k: (theirs.get(k), v) for k, v in environment().items() if theirs.get(k) != v}
        lines.append(f"environment differs from the budgets' ({diff}): checking ratios only")
    now = {r.variant: r.per_call for r in results}
    judged, failures = _budgets.judge(now, budgets["variants"], REFERENCES, same_env)
    return lines + judged, failures


def with_references(variants: Sequence[str]) -> list[str]:
    """``variants`` plus the references their ratios need, in :data:`ORDER`."""
    wanted = set(variants) | {REFERENCES[v] for v in variants if v in REFERENCES}
    return [v for v in ORDER if v in wanted]


def write_budgets(rounds: list[list[Result]], calls: int, warmup: int, path: Path = BUDGETS) -> None:
    """Record the medians of ``rounds`` and their spreads (when only some variants were measured, the rest are kept)."""
    measured = _budgets.entries([{r.variant: r.per_call for r in rs} for rs in rounds], REFERENCES, ORDER)
    old = load_budgets(path) if path.exists() else {}
    kept = old.get("variants", {}) if old.get("calls") == calls and old.get("warmup") == warmup else {}
    variants = {v: measured.get(v) or kept[v] for v in ORDER if v in measured or v in kept}
    document = {
        "about": "instructions per call (calling thread) per variant and ratio to its reference, medians of "
        "`rounds` runs; spread / ratio_spread: half their range (relative); tolerance: 3 spreads, at least 2 % "
        "(bench/_budgets.py); python -m bench.instructions --update-budgets --repeat 3 rewrites this file",
        "calls": calls,
        "warmup": warmup,
        "rounds": len(rounds) if measured.keys() >= kept.keys() else old.get("rounds", len(rounds)),
        "environment": environment(),
        "variants": variants,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", default=",".join(ORDER), help="comma-separated (default: all)")
    parser.add_argument("--calls", type=int, help=f"per variant (default {DEFAULT_CALLS}; budgets: as recorded)")
    parser.add_argument("--warmup", type=int, help=f"uncounted calls first (default {DEFAULT_WARMUP})")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every variant (2: check agreement)")
    parser.add_argument("--keep", type=Path, help="keep callgrind's files in this folder")
    parser.add_argument("--jobs", type=int, default=JOBS, help=f"variants at once (default {JOBS})")
    parser.add_argument(
        "--delay-ms", type=int, help="targets answer this late (default 10): per-second work grows with it"
    )
    parser.add_argument(
        "--update-budgets", action="store_true", help="measure as the bench test does (--variants: only those), rewrite"
    )
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if args.update_budgets:
        budgets = load_budgets() if BUDGETS.exists() else {}
        calls = args.calls or int(budgets.get("calls", 200))
        warmup = args.warmup or int(budgets.get("warmup", 30))
        rounds = measure(with_references(variants), calls, warmup, args.repeat, keep=args.keep, jobs=args.jobs)
        if BUDGETS.exists():
            print("\n".join(check(rounds[0], budgets)[0]))
        if args.repeat > 1:
            print(agreement(rounds))
        write_budgets(rounds, calls, warmup)
        print(table(rounds))
        print(f"wrote {BUDGETS.relative_to(ROOT)}")
        return 0
    args.calls, args.warmup = args.calls or DEFAULT_CALLS, args.warmup or DEFAULT_WARMUP
    print(
        f"{args.calls} calls per variant ({calls_for('bidi', args.calls)} for streams) after {args.warmup} warm-up "
        "calls, one user, callgrind"
    )
    rounds = measure(variants, args.calls, args.warmup, args.repeat, args.keep, args.delay_ms, args.jobs)
    if args.repeat > 1:
        print(agreement(rounds))
    print(table(rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
