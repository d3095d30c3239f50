"""``loadkit proto compile``: regenerate :mod:`loadkit.gen` from ``proto/``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("proto", help="work with the bundled .proto files")
    actions = parser.add_subparsers(dest="proto_command", metavar="ACTION", required=True)
    compile_ = actions.add_parser("compile", help="regenerate Python code for proto/ into loadkit/gen")
    compile_.add_argument("--proto-root", type=Path, default=None, help="folder of .proto files (default: proto/)")
    compile_.add_argument("--out", type=Path, default=None, help="output package folder (default: loadkit/gen)")
    compile_.set_defaults(run=run_compile)


def run_compile(args: argparse.Namespace) -> int:
    from loadkit import protos

    written = protos.compile_protos(out_dir=args.out or protos.GEN_DIR, root=args.proto_root or protos.PROTO_ROOT)
    for path in written:
        print(path)
    return 0
