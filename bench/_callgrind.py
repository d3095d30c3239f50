"""Callgrind from the inside: client requests from Python, and reading callgrind's dump files.

Valgrind tools take requests from the program they run through a "magic" instruction
sequence (``valgrind.h``'s ``VALGRIND_DO_CLIENT_REQUEST``) that is a no-op on a real CPU.
Python cannot emit it, so :data:`_CODE` is that sequence as a 28-byte x86-64 function
(``unsigned long req(unsigned long args[6])``: ``rax`` = args, the four ``rol`` of ``rdi``
that add up to 128 bits — ``rdi`` is unchanged — then ``xchg rbx, rbx``; the answer comes
back in ``rdx``, 0 when not under valgrind), placed in an executable page and called through
ctypes. Assembled from::

    mov rax, rdi; xor edx, edx; rol rdi, 3; rol rdi, 13; rol rdi, 61; rol rdi, 51
    xchg rbx, rbx; mov rax, rdx; ret

Why not ``callgrind_control --dump`` from outside: that goes through vgdb and ptrace, lands
wherever the process happens to be, and needs the child to wait at a barrier for it; a
request issued by the code itself lands exactly between two calls, and also lets the child
run uninstrumented (``--instr-atstart=no``, ~5x faster) until its warm-up is over.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import re
from pathlib import Path

_CODE = bytes.fromhex("4889f831d248c1c70348c1c70d48c1c73d48c1c7334887db4889d0c3")
_RUNNING_ON_VALGRIND = 0x1001
_BASE = (ord("C") << 24) | (ord("T") << 16)  # VG_USERREQ_TOOL_BASE('C','T'), callgrind.h
DUMP_STATS, ZERO_STATS, _TOGGLE_COLLECT, _DUMP_STATS_AT, START_INSTRUMENTATION, STOP_INSTRUMENTATION = range(
    _BASE, _BASE + 6
)

_request = None


def _function() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    global _request
    if _request is None:
        if platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError(f"client requests are written for x86-64, not {platform.machine()}")
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(_CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        _request = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(address)
        _request._page = page  # type: ignore[attr-defined]  # keep the page mapped
    return _request


def request(code: int) -> int:
    """Issue one argument-less client request; returns valgrind's answer (0 on a real CPU)."""
    args = (ctypes.c_ulong * 6)(code, 0, 0, 0, 0, 0)
    return int(_function()(ctypes.addressof(args)))


def running_on_valgrind() -> bool:
    return request(_RUNNING_ON_VALGRIND) > 0


def start_window() -> None:
    """Instrument from now on and forget what was counted before (the measured window opens)."""
    request(START_INSTRUMENTATION)
    request(ZERO_STATS)


def end_window() -> None:
    """Write the counts since :func:`start_window` to the first dump file (``OUT.1``), stop counting."""
    request(DUMP_STATS)
    request(STOP_INSTRUMENTATION)


_TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def dumped_instructions(out_file: Path) -> int:
    """Instructions (Ir) in the window, from the dump file ``OUT.1`` that :func:`end_window` wrote."""
    dump = out_file.with_name(out_file.name + ".1")
    if not dump.exists():
        raise RuntimeError(f"no callgrind dump {dump}: the child never reached the end of its window")
    found = _TOTALS.search(dump.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no totals in {dump}")
    return int(found.group(1))
