"""Runtime .proto loading: path and include-root resolution, a private pool beside generated code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import grpc
import pytest

from loadkit import ProtoError
from loadkit.gen.demo.v1 import demo_pb2, types_pb2
from loadkit.protos import PROTO_ROOT
from loadkit.users.grpc_proto import load_proto_service, reflection_service, resolve_proto

DEMO = PROTO_ROOT / "demo" / "v1" / "demo.proto"


def test_absolute_path_finds_the_package_root() -> None:
    source = resolve_proto(str(DEMO), None, None)
    assert source.file == DEMO.resolve() and source.includes == (PROTO_ROOT.resolve(),)


def test_relative_to_working_directory_then_to_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROTO_ROOT.parent)
    assert resolve_proto("proto/demo/v1/demo.proto", None, None).file == DEMO.resolve()
    monkeypatch.chdir(tmp_path)
    rel = os.path.relpath(DEMO, PROTO_ROOT / "demo")
    assert resolve_proto(rel, None, PROTO_ROOT / "demo").file == DEMO.resolve()


def test_file_without_package_folders_uses_its_own_folder(tmp_path: Path) -> None:
    (tmp_path / "echo.proto").write_text(
        'syntax = "proto3";\npackage echo;\nmessage M { string s = 1; }\nservice Echo { rpc Say(M) returns (M); }\n'
    )
    source = resolve_proto(tmp_path / "echo.proto", None, None)
    assert source.includes == (tmp_path.resolve(),)
    specs = load_proto_service(source, "echo.Echo")
    assert specs["Say"].path == "/echo.Echo/Say" and specs["Say"].kind == "unary_unary"


def test_missing_file_and_wrong_include_say_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ProtoError, match=r"not found .*absolute path"):
        resolve_proto("nope/x.proto", None, tmp_path)
    with pytest.raises(ProtoError, match="not under any proto_include"):
        resolve_proto(DEMO, tmp_path, None)


def test_imports_that_do_not_resolve_are_a_proto_error() -> None:
    source = resolve_proto(DEMO, [DEMO.parent], None)  # the root is wrong: demo/v1/types.proto is not found
    with pytest.raises(ProtoError, match="proto_include"):
        load_proto_service(source, "demo.v1.Demo")


def test_unknown_service_names_the_fix() -> None:
    with pytest.raises(ProtoError, match="full name"):
        load_proto_service(resolve_proto(DEMO, None, None), "Demo")


def test_runtime_classes_live_beside_the_generated_ones() -> None:
    specs = load_proto_service(resolve_proto(DEMO, PROTO_ROOT, None), "demo.v1.Demo")
    runtime_request = specs["GetItem"].request_class
    assert runtime_request is not None and runtime_request is not demo_pb2.GetItemRequest
    wire = runtime_request(id="5", payload_size=3).SerializeToString()
    assert demo_pb2.GetItemRequest.FromString(wire) == demo_pb2.GetItemRequest(id="5", payload_size=3)
    item = specs["ListItems"].response_deserializer(types_pb2.Item(id="7").SerializeToString())  # type: ignore[misc]
    assert item.id == "7" and not isinstance(item, types_pb2.Item)
    assert types_pb2.Item(id="7").id == "7"  # the generated code still works


@pytest.mark.timeout(60)  # without the deadline the lookup hangs for ever
def test_reflection_of_a_host_that_never_answers_fails_at_its_deadline() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # the kernel completes TCP connects; nothing ever answers HTTP/2
        expected = r"'demo\.v1\.Demo' via the server's reflection \(DEADLINE_EXCEEDED"
        with (
            grpc.insecure_channel(f"127.0.0.1:{sock.getsockname()[1]}") as channel,
            pytest.raises(ProtoError, match=expected),
        ):
            reflection_service(channel, "demo.v1.Demo", connect_timeout=0.5)
