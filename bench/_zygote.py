"""One valgrind process per measurement, not one per variant: it starts once, then forks a child per variant.

Why: starting Python under valgrind, patching gevent and importing grpc, Locust and the
variants took ~2.5-4 s of every variant's 4-12 s (``loop``: 3.9 s in a process of its own,
0.3 s forked), 30 times per run of the bench test. A child forked by a process under valgrind
is still under valgrind, with the same tool, options and translations; callgrind notices the
new PID and writes the child's dumps to ``PID.out…`` (``--callgrind-out-file`` holds ``%p``),
which :func:`run` renames to ``VARIANT.out…``.

What a child counts is the work a process of its own counted: the zygote runs what every
variant's process ran before its variant (:func:`prepare`: gevent patched, grpcio hooked into
its hub, :mod:`bench._variants` imported; then Locust), uninstrumented
(``--instr-atstart=no``); each child opens and closes its own window
(:class:`bench._variants.Window`) with callgrind client requests, so nothing the zygote or
another child runs is in its count. gevent's fork re-initialises the hub's loop in the child.
The heap a child starts from is not a fresh process's, and dict probes over keys hashed by
address follow the heap's layout: re-recorded this way, three at a time, bench/budgets.json
moved -0.4 % to +1.8 % per variant, the ratios -1.8 % to +0.6 %.

Every child starts from the same memory: the zygote never sees a task (the child reads its
own from stdin, one fixed-size record), its command line is fixed-width, and its loop
allocates the same between any two forks. That matters: a first version that passed the tasks
on the command line counted ``loop`` 2.2 % higher in the full run (30 tasks) than alone, every time.
``jobs`` children run at once, each a process of its own (callgrind counts the calling
thread's instructions, whoever else runs).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench import _callgrind

#: A zygote may take this long, plus PER_TASK per task, before it is stopped.
TIMEOUT, PER_TASK = 300.0, 120.0
#: Bytes of one task on the zygote's stdin (a pipe: writes up to PIPE_BUF are atomic, so are whole-record reads).
RECORD = 1024

Task = tuple[str, int, int]
"""(variant, calls, warm-up calls)."""


def command(valgrind: str, out_dir: Path, count: int, jobs: int) -> list[str]:
    """The valgrind command line of a zygote forking ``count`` children, ``jobs`` at a time (fixed width)."""
    return [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out_dir}/%p.out",
        sys.executable,
        "-m",
        "bench._zygote",
        f"{count:06d}",
        f"{jobs:06d}",
    ]


def records(tasks: Sequence[Task], addresses: dict[str, str], delay_ms: int | None, logs: Path) -> list[bytes]:
    """One fixed-size record per task, as the children read them."""
    out = []
    for index, (variant, calls, warmup) in enumerate(tasks):
        spec = {"task": index, "variant": variant, "calls": calls, "warmup": warmup, "addresses": addresses}
        data = json.dumps({**spec, "delay_ms": delay_ms, "logs": str(logs)}).encode()
        if len(data) > RECORD:
            raise ValueError(f"task {spec} is {len(data)} bytes, more than a record ({RECORD})")
        out.append(data.ljust(RECORD))
    return out


def run(
    valgrind: str,
    out_dir: Path,
    tasks: Sequence[Task],
    addresses: dict[str, str],
    jobs: int,
    delay_ms: int | None,
    env: dict[str, str],
    cwd: Path,
) -> list[tuple[int, int, float]]:
    """Run ``tasks`` under one zygote: (calling thread's, other threads') instructions and seconds, per task.

    The dumps of each task end up as ``out_dir/VARIANT.out…`` (a later task of the same variant
    replaces an earlier one's). Raises RuntimeError naming the first task that failed, with the
    end of its output.
    """
    pending = records(tasks, addresses, delay_ms, out_dir)
    cmd = command(valgrind, out_dir, len(tasks), jobs)
    # A session of its own: on a timeout, the zygote's children are stopped with it.
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdin is not None
    stdin, proc.stdin = proc.stdin, None
    writer = threading.Thread(target=_write, args=(stdin, pending), daemon=True)
    writer.start()
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT + PER_TASK * len(tasks))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    finally:
        writer.join(timeout=5)
    done = parse_report(stdout.decode(errors="replace"))
    if proc.returncode != 0 or sorted(done) != list(range(len(tasks))):
        raise RuntimeError(
            f"the zygote exited {proc.returncode} after {len(done)} of {len(tasks)} tasks:\n"
            + stderr.decode(errors="replace")[-3000:]
        )
    for index, (variant, _calls, _warmup) in enumerate(tasks):
        pid, code, _seconds = done[index]
        if code != 0:
            log = (out_dir / f"{pid}.log").read_text(errors="replace")
            raise RuntimeError(f"{variant} exited {code}:\n{log[-3000:]}")
    results = []
    for index, (variant, _calls, _warmup) in enumerate(tasks):
        pid, _code, seconds = done[index]
        main, others = _callgrind.dumped_instructions(out_dir / f"{pid}.out")
        rename_dumps(out_dir, pid, variant)
        results.append((main, others, seconds))
    for leftover in out_dir.iterdir():  # the zygote's own dumps (nothing counted) and the children's logs
        pid, _, rest = leftover.name.partition(".")
        if pid.isdigit() and (rest.startswith("out") or rest == "log"):
            leftover.unlink()
    return results


def _write(stdin: object, pending: list[bytes]) -> None:
    fd = stdin.fileno()  # type: ignore[attr-defined]
    try:
        for record in pending:
            os.write(fd, record)  # one write per record: atomic (RECORD <= PIPE_BUF)
    except BrokenPipeError:
        pass  # the zygote died: run() reports it
    finally:
        stdin.close()  # type: ignore[attr-defined]


def parse_report(stdout: str) -> dict[int, tuple[int, int, float]]:
    """The zygote's lines (``task INDEX PID START``, ``exit PID CODE END``): task -> (pid, exit code, seconds)."""
    started: dict[int, tuple[int, float]] = {}
    ended: dict[int, tuple[int, float]] = {}
    for line in stdout.splitlines():
        match line.split():
            case ["task", index, pid, start]:
                started[int(pid)] = (int(index), float(start))
            case ["exit", pid, code, end]:
                ended[int(pid)] = (int(code), float(end))
    return {
        index: (pid, ended[pid][0], ended[pid][1] - start) for pid, (index, start) in started.items() if pid in ended
    }


def rename_dumps(out_dir: Path, pid: int, variant: str) -> None:
    """``PID.out``, ``PID.out.1-01``, ``PID.out-02``… -> ``VARIANT.out…``, replacing an earlier run's."""
    for old in out_dir.glob(f"{variant}.out*"):
        old.unlink()
    prefix = f"{pid}.out"
    for dump in out_dir.glob(prefix + "*"):
        dump.rename(out_dir / (f"{variant}.out" + dump.name[len(prefix) :]))


# --- under valgrind -------------------------------------------------------------------------------
def prepare() -> None:
    """What every variant's process ran first (gevent patched, grpcio hooked in, variants imported), then Locust.

    ``locust.env`` (Locust's Environment, runners and users: ~370 modules) is imported by 24
    of the 30 variants anyway, and importing it was most of their start (``loop``: 1.7 s ->
    0.3 s a child). The six that never import Locust (``bare-*`` gRPC, ``bare-httpx-h2``,
    ``bare-ws``) counted 0.1-1.2 % differently with it in the zygote than without (one run
    each; ``bare-bidi`` the most), inside the 2 % tolerance. Nothing of loadkit's plugin is
    imported: the variants attach it themselves.
    """
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    import bench._variants  # noqa: F401

    importlib.import_module("locust.env")  # after the variants, as measured


def child(variant: str, addresses: dict[str, str], calls: int, warmup: int, delay_ms: int | None) -> None:
    """Run ``variant``: ``warmup`` calls uninstrumented, then ``calls`` counted (:class:`bench._variants.Window`)."""
    from bench._variants import VARIANTS, Window, set_delay

    if delay_ms is not None:
        set_delay(delay_ms)
    window = Window(warmup, calls)
    VARIANTS[variant][1](addresses, window)
    if window.i <= window.close_at:
        raise SystemExit(f"{variant}: the loop ended after {window.i} of {window.close_at + 1} iterations")


def serve(count: int, jobs: int) -> None:
    """Fork ``count`` children, ``jobs`` at a time; each takes its task from stdin. Reports on stdout."""
    from gevent.os import fork_gevent

    started = running = 0
    while started < count or running:
        while started < count and running < jobs:
            if fork_gevent() == 0:
                _in_child()
            started += 1
            running += 1
        pid, status = os.waitpid(-1, 0)
        running -= 1
        os.write(1, b"exit %d %d %f\n" % (pid, os.waitstatus_to_exitcode(status), time.monotonic()))


def _in_child() -> None:
    code = 1
    try:
        task = json.loads(os.read(0, RECORD))
        os.write(1, b"task %d %d %f\n" % (task["task"], os.getpid(), time.monotonic()))
        log = os.open(Path(task["logs"]) / f"{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        child(task["variant"], task["addresses"], task["calls"], task["warmup"], task["delay_ms"])
        code = 0
    except SystemExit as exc:
        print(exc, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # not the zygote's loop, atexit hooks or buffers: this process is the variant's


def main(argv: Sequence[str] | None = None) -> int:
    count, jobs = (int(a) for a in (sys.argv[1:] if argv is None else argv))
    if not _callgrind.running_on_valgrind():
        raise SystemExit("bench._zygote runs under valgrind only (python -m bench.instructions starts it)")
    prepare()
    serve(count, max(jobs, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
