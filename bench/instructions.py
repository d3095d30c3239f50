"""Instructions per call of each user kind, counted by callgrind: figures that survive a busy machine.

    .venv/bin/python -m bench.instructions                   # every variant, table + ratios vs the goals
    .venv/bin/python -m bench.instructions --repeat 2        # each variant twice: how well runs agree
    .venv/bin/python -m bench.instructions --variants bare-unary,grpc-unary+plugin --calls 2000
    .venv/bin/python -m bench.instructions --keep out/cg     # keep the dumps: callgrind_annotate out/cg/V.out.1-01
    .venv/bin/python -m bench.instructions --update-budgets  # re-measure and rewrite bench/budgets.json

How: the bundled targets run outside valgrind (``loadkit target grpc|http`` on free
127.0.0.1 ports, started once and shared by every variant); each variant runs in its own
process under ``valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes``, one
user, a fixed number of calls (never a fixed time). The process imports and warms up
uninstrumented (~5x faster than instrumented), then opens a window with callgrind client
requests issued from Python (:mod:`bench._callgrind`): start instrumenting + zero the counters
before call ``warmup``, dump and stop instrumenting right before call ``warmup + calls``
(:mod:`bench._variants`). Start-up, imports and warm-up are therefore not in the count at all —
no need for two runs of different lengths and a difference — and the window holds whole
iterations only. Two figures per call: the **calling thread** (the user's greenlets: every
line of Python, loadkit's and Locust's included) and **all threads** (plus grpcio's and
gevent's own threads, which do part of each gRPC call's work). ``PYTHONHASHSEED=0`` fixes dict
and set layouts, so a run repeats the previous one's work.

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

Counts depend on the exact Python build and library versions: ``bench/budgets.json``
records them (``environment``); see :func:`check`.
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
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench import _callgrind

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

BUDGETS = BENCH / "budgets.json"
#: Allowed excess over a budget before the bench test fails.
TOLERANCE = 0.03
DEFAULT_CALLS = 1000
DEFAULT_WARMUP = 100
#: Streaming calls carry 10 messages each (~8x a unary call's instructions): they run calls // 5.
STREAM_DIVISOR = 5
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

#: Each variant's reference for ratios (the floor it is compared with).
REFERENCES = {
    **{f"grpc-{k}": f"bare-{k}" for k in ("unary", "server-stream", "client-stream", "bidi")},
    **{f"grpc-{k}+plugin": f"bare-{k}" for k in ("unary", "server-stream", "client-stream", "bidi")},
    "rest": "fasthttp",
    "httpuser": "fasthttp",
    "fasthttp+plugin": "fasthttp",
    "open-fasthttp+plugin": "fasthttp+plugin",
    "events+plugin": "events",
    "events": "loop",
    "bare-unary+event": "bare-unary",
    "http2": "bare-httpx-h2",
    "http2+plugin": "bare-httpx-h2",
    "locust-ws": "bare-ws",
    "ws": "locust-ws",
    "ws+plugin": "locust-ws",
}
ORDER = [
    "bare-unary",
    "grpc-unary",
    "grpc-unary+plugin",
    "bare-server-stream",
    "grpc-server-stream",
    "grpc-server-stream+plugin",
    "bare-client-stream",
    "grpc-client-stream",
    "grpc-client-stream+plugin",
    "bare-bidi",
    "grpc-bidi",
    "grpc-bidi+plugin",
    "fasthttp",
    "rest",
    "httpuser",
    "fasthttp+plugin",
    "open-fasthttp+plugin",
    "loop",
    "events",
    "events+plugin",
    "bare-httpx-h2",
    "http2",
    "http2+plugin",
    "bare-ws",
    "locust-ws",
    "ws",
    "ws+plugin",
]
#: The issue's goals: (variant, reference, largest ratio).
GOALS = [
    *[(f"grpc-{k}+plugin", f"bare-{k}", 1.10) for k in ("unary", "server-stream", "client-stream", "bidi")],
    ("rest", "fasthttp", 1.05),
    ("http2+plugin", "bare-httpx-h2", 1.10),
    ("ws+plugin", "bare-ws", 1.10),  # not reachable: Locust's loop + event alone are ~1.4x this client
    ("ws+plugin", "locust-ws", 1.10),
]


@dataclass(frozen=True)
class Result:
    """One run of a variant: instructions in its window, of the calling thread and of all threads."""

    variant: str
    main: int
    calls: int
    seconds: float
    others: int = 0

    @property
    def per_call(self) -> float:
        """Instructions per call of the calling thread: where every user and loadkit's code run (steadiest)."""
        return self.main / self.calls

    @property
    def all_per_call(self) -> float:
        """Instructions per call of all threads (grpcio's own threads do part of a call's work)."""
        return (self.main + self.others) / self.calls


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


def measure_one(variant: str, addresses: dict[str, str], calls: int, warmup: int, out_dir: Path) -> Result:
    """Run ``variant`` once under callgrind; its dump lands in ``out_dir/VARIANT.out.1``."""
    calls, warmup = calls_for(variant, calls), calls_for(variant, warmup)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed: apt-get install valgrind")
    out = out_dir / f"{variant}.out"
    for old in out_dir.glob(f"{variant}.out*"):
        old.unlink()
    cmd = [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        variant,
        "--calls",
        str(calls),
        "--warmup",
        str(warmup),
        "--addresses",
        json.dumps(addresses),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} exited {done.returncode}:\n{done.stderr[-3000:]}")
    main, others = _callgrind.dumped_instructions(out)
    return Result(variant, main, calls, time.monotonic() - start, others)


def measure(
    variants: Sequence[str], calls: int, warmup: int, repeat: int = 1, keep: Path | None = None
) -> list[list[Result]]:
    """Each variant ``repeat`` times, one after the other; targets shared by all."""
    from bench._variants import VARIANTS

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
    with ExitStack() as stack:
        out_dir = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadkit-cg-")))
        out_dir.mkdir(parents=True, exist_ok=True)
        addresses = stack.enter_context(targets({VARIANTS[v][0] for v in variants} - {""}))
        rounds = []
        for _ in range(repeat):
            rounds.append([measure_one(v, addresses, calls, warmup, out_dir) for v in variants])
        return rounds


def _medians(rounds: list[list[Result]], figure: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per variant: the median of ``figure`` over the rounds, and the spread (half the range, relative)."""
    values: dict[str, list[float]] = {}
    for results in rounds:
        for r in results:
            values.setdefault(r.variant, []).append(getattr(r, figure))
    mid = {v: sorted(xs)[len(xs) // 2] for v, xs in values.items()}
    spread = {v: (max(xs) - min(xs)) / 2 / mid[v] for v, xs in values.items()}
    return mid, spread


def table(rounds: list[list[Result]]) -> str:
    """Instructions per call, all threads and calling thread (median of rounds), ratios, the goals."""
    every, every_spread = _medians(rounds, "all_per_call")
    main, main_spread = _medians(rounds, "per_call")
    many = len(rounds) > 1
    lines = [
        f"{'variant':<22} {'all threads':>11} {'±':>6} {'ratio':>7} {'calling':>10} {'±':>6} {'ratio':>7}  reference"
    ]
    for v in every:
        ref = REFERENCES.get(v)
        ratio = f"{every[v] / every[ref]:.3f}" if ref in every else ""
        main_ratio = f"{main[v] / main[ref]:.3f}" if ref in main else ""
        s1 = f"{100 * every_spread[v]:.2f}%" if many else ""
        s2 = f"{100 * main_spread[v]:.2f}%" if many else ""
        lines.append(
            f"{v:<22} {every[v]:>11,.0f} {s1:>6} {ratio:>7} {main[v]:>10,.0f} {s2:>6} {main_ratio:>7}  "
            f"{ref if ref in every else ''}"
        )
    for v, ref, goal in GOALS:
        if v in every and ref in every:
            ratio = every[v] / every[ref]
            lines.append(
                f"goal {v} <= {goal:.2f}x {ref}: {ratio:.3f}x all threads {'met' if ratio <= goal else 'NOT met'} "
                f"(calling thread {main[v] / main[ref]:.3f}x)"
            )
    if {"events", "events+plugin", "fasthttp"} <= every.keys():
        cost = every["events+plugin"] - every["events"]
        share = cost / every["fasthttp"]
        lines.append(
            f"goal plugin's request listeners <= 5 % of a FastHttpUser request: {100 * share:.1f} % "
            f"({cost:,.0f} of {every['fasthttp']:,.0f}) {'met' if share <= 0.05 else 'NOT met'}"
        )
    return "\n".join(lines)


def agreement(rounds: list[list[Result]]) -> str:
    """How far apart the rounds are: the largest relative difference of any variant, per figure."""
    parts = []
    for figure, label in (("all_per_call", "all threads"), ("per_call", "calling thread")):
        worst = max(
            (max(getattr(r, figure) for r in rs) / min(getattr(r, figure) for r in rs) - 1, rs[0].variant)
            for rs in zip(*rounds, strict=True)
        )
        parts.append(f"{label} within {100 * worst[0]:.2f} % (largest: {worst[1]})")
    return f"{len(rounds)} runs agree: " + "; ".join(parts)


# --- budgets --------------------------------------------------------------------------
def load_budgets(path: Path = BUDGETS) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def check(
    results: Sequence[Result], budgets: dict[str, object], tolerance: float = TOLERANCE
) -> tuple[list[str], list[str]]:
    """Compare ``results`` with ``budgets``; returns (report lines, failures).

    A variant fails when it exceeds its budget by more than ``tolerance`` — its instructions
    per call (calling thread, :attr:`Result.per_call`) when this machine matches the budgets'
    ``environment`` (same Python build and library versions), and always its ratio to its
    reference (e.g. grpc-unary+plugin over bare-unary), which moves far less with versions
    since both sides run the same gRPC and Python. On another environment only the ratios are
    checked, and the report says why.
    """
    recorded = budgets["variants"]
    assert isinstance(recorded, dict)
    same_env = budgets.get("environment") == environment()
    per_call = {r.variant: r.per_call for r in results}
    lines, failures = [], []
    if not same_env:
        theirs = budgets.get("environment") or {}
        assert isinstance(theirs, dict)
        diff = {k: (theirs.get(k), v) for k, v in environment().items() if theirs.get(k) != v}
        lines.append(f"environment differs from the budgets' ({diff}): checking ratios only")
    for variant, got in per_call.items():
        budget = recorded.get(variant)
        if budget is None:
            lines.append(f"{variant}: {got:,.0f} instr/call, no budget")
            continue
        checks = []
        if same_env:
            checks.append(("instr/call", budget["instructions"], got))
        ref = REFERENCES.get(variant)
        if ref in per_call and "ratio" in budget:
            checks.append((f"ratio to {ref}", budget["ratio"], got / per_call[ref]))
        for what, before, after in checks:
            excess = after / before - 1
            line = f"{variant} {what}: budget {before:,.4g} now {after:,.4g} ({100 * excess:+.1f} %)"
            lines.append(line)
            if excess > tolerance:
                failures.append(line + f" > +{100 * tolerance:.0f} %")
    return lines, failures


def with_references(variants: Sequence[str]) -> list[str]:
    """``variants`` plus the references their ratios need, in :data:`ORDER`."""
    wanted = set(variants) | {REFERENCES[v] for v in variants if v in REFERENCES}
    return [v for v in ORDER if v in wanted]


def write_budgets(results: Sequence[Result], calls: int, warmup: int, path: Path = BUDGETS) -> None:
    """Record ``results`` (other variants' budgets are kept when only some were measured)."""
    per_call = {r.variant: r.per_call for r in results}
    old = load_budgets(path) if path.exists() else {}
    kept = old.get("variants", {}) if old.get("calls") == calls and old.get("warmup") == warmup else {}
    assert isinstance(kept, dict)
    variants = {v: kept[v] for v in ORDER if v in kept and v not in per_call}
    for variant, got in per_call.items():
        entry: dict[str, float] = {"instructions": round(got)}
        ref = REFERENCES.get(variant)
        if ref in per_call:
            entry["ratio"] = round(got / per_call[ref], 4)
        variants[variant] = entry
    variants = {v: variants[v] for v in ORDER if v in variants}
    document = {
        "about": "instructions per call (calling thread) per variant; "
        "python -m bench.instructions --update-budgets rewrites this file",
        "calls": calls,
        "warmup": warmup,
        "tolerance": TOLERANCE,
        "environment": environment(),
        "variants": variants,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# --- child ----------------------------------------------------------------------------
def child(variant: str, addresses: dict[str, str], calls: int, warmup: int) -> None:
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    from bench._variants import VARIANTS, Window

    if not _callgrind.running_on_valgrind():
        raise SystemExit("--child runs under valgrind only (python -m bench.instructions starts it so)")
    window = Window(warmup, calls)
    VARIANTS[variant][1](addresses, window)
    if window.i <= window.close_at:
        raise SystemExit(f"{variant}: the loop ended after {window.i} of {window.close_at + 1} iterations")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", default=",".join(ORDER), help="comma-separated (default: all)")
    parser.add_argument("--calls", type=int, help=f"per variant (default {DEFAULT_CALLS}; budgets: as recorded)")
    parser.add_argument("--warmup", type=int, help=f"uncounted calls first (default {DEFAULT_WARMUP})")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every variant (2: check agreement)")
    parser.add_argument("--keep", type=Path, help="keep callgrind's files in this folder")
    parser.add_argument(
        "--update-budgets", action="store_true", help="measure as the bench test does (--variants: only those), rewrite"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--addresses", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, json.loads(args.addresses), args.calls, args.warmup)
        return 0
    variants = [v for v in args.variants.split(",") if v]
    if args.update_budgets:
        budgets = load_budgets() if BUDGETS.exists() else {}
        calls = args.calls or int(budgets.get("calls", 200))  # type: ignore[call-overload]
        warmup = args.warmup or int(budgets.get("warmup", 30))  # type: ignore[call-overload]
        rounds = measure(with_references(variants), calls, warmup, keep=args.keep)
        if BUDGETS.exists():
            print("\n".join(check(rounds[0], budgets)[0]))
        write_budgets(rounds[0], calls, warmup)
        print(table(rounds))
        print(f"wrote {BUDGETS.relative_to(ROOT)}")
        return 0
    args.calls, args.warmup = args.calls or DEFAULT_CALLS, args.warmup or DEFAULT_WARMUP
    print(
        f"{args.calls} calls per variant ({calls_for('bidi', args.calls)} for streams) after {args.warmup} warm-up "
        "calls, one user, callgrind"
    )
    rounds = measure(variants, args.calls, args.warmup, args.repeat, args.keep)
    if args.repeat > 1:
        print(agreement(rounds))
    print(table(rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
