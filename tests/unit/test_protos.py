"""The generated code in loadkit.gen matches proto/ (run `loadkit proto compile` if not)."""

from __future__ import annotations

from pathlib import Path

from loadkit import protos


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = tmp_path / "gen"
    written = protos.compile_protos(out_dir=fresh)
    assert written, "no code generated"
    rel_fresh = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
    rel_checked_in = {p.relative_to(protos.GEN_DIR) for p in protos.GEN_DIR.rglob("*") if p.is_file()}
    rel_checked_in = {p for p in rel_checked_in if "__pycache__" not in p.parts}
    assert rel_fresh == rel_checked_in, "loadkit/gen is stale: run `loadkit proto compile`"
    for rel in rel_fresh:
        assert protos.normalised((fresh / rel).read_text()) == protos.normalised((protos.GEN_DIR / rel).read_text()), (
            f"loadkit/gen/{rel} is stale: run `loadkit proto compile`"
        )


def test_generated_code_imports_from_any_directory(tmp_path: Path, monkeypatch: object) -> None:
    import subprocess
    import sys

    code = "from loadkit.gen.demo.v1 import demo_pb2_grpc; print(demo_pb2_grpc.DemoStub.__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "DemoStub"


def test_message_classes_live_in_their_module() -> None:
    from loadkit.gen.demo.v1 import demo_pb2, types_pb2

    assert demo_pb2.GetItemRequest.__module__ == "loadkit.gen.demo.v1.demo_pb2"
    assert types_pb2.Item.DESCRIPTOR.full_name == "demo.v1.Item"
