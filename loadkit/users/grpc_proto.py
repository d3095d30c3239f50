"""Services from a .proto file compiled at runtime, or from a server's reflection API.

Both build message classes in a **private** ``DescriptorPool``: the generated code in
:mod:`loadkit.gen` already registered e.g. "demo/v1/demo.proto" in protobuf's default
pool, and loading the same file again there would clash. ``grpc.protos_and_services``
is not used because it only resolves paths relative to ``sys.path``; protoc is run
(in-process, ``grpc_tools.protoc``) to write a descriptor set instead.

Include root: ``proto_include`` when given; otherwise the folder that makes the file's
path match its ``package`` (``/x/proto/demo/v1/demo.proto`` with ``package demo.v1``
→ ``/x/proto``, so ``import "demo/v1/types.proto"`` resolves), else the file's folder.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, ServiceDescriptor
from google.protobuf.message import Message

from loadkit.exceptions import ProtoError
from loadkit.users.grpc_methods import MethodSpec, specs_from_descriptor

#: Deadline (s) of the first reflection request: the descriptor database's own stream has none,
#: so a host that accepts TCP but never answers would hang every user for ever.
REFLECTION_CONNECT_TIMEOUT = 10.0
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
_cache: dict[tuple[Path, tuple[Path, ...], str], dict[str, MethodSpec]] = {}


@dataclass(frozen=True)
class ProtoSource:
    """Where a runtime .proto lives: the file and the include roots protoc gets."""

    file: Path
    includes: tuple[Path, ...]


def resolve_proto(
    proto: str | Path, include: str | Path | Sequence[str | Path] | None, base: Path | None
) -> ProtoSource:
    """Find ``proto`` (absolute, or relative to the working directory, else to ``base``) and its roots."""
    path = Path(proto).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, *([base / path] if base else [])]
    found = next((c.resolve() for c in candidates if c.is_file()), None)
    if found is None:
        tried = ", ".join(str(c) for c in candidates)
        raise ProtoError(
            f"proto file {str(proto)!r} not found (tried {tried}): "
            "give an absolute path or one relative to the working directory"
        )
    if include is None:
        includes: tuple[Path, ...] = (_package_root(found),)
    elif isinstance(include, (str, Path)):
        includes = (Path(include).expanduser().resolve(),)
    else:
        includes = tuple(Path(i).expanduser().resolve() for i in include)
    if not any(found.is_relative_to(root) for root in includes):
        raise ProtoError(
            f"proto file {found} is not under any proto_include {[str(i) for i in includes]}: fix proto_include"
        )
    return ProtoSource(found, includes)


def _package_root(file: Path) -> Path:
    match = _PACKAGE.search(file.read_text(errors="replace"))
    if match:
        parts = match.group(1).split(".")
        folder = file.parent
        if folder.parts[-len(parts) :] == tuple(parts):
            return folder.parents[len(parts) - 1]
    return file.parent


def load_proto_service(source: ProtoSource, service: str) -> dict[str, MethodSpec]:
    """Compile ``source`` and return the methods of ``service`` ("pkg.Service"); cached per process."""
    key = (source.file, source.includes, service)
    if key not in _cache:
        pool = descriptor_pool.DescriptorPool()
        for file_proto in _compile(source).file:
            pool.Add(file_proto)
        _cache[key] = _service_specs(pool, service, f"{source.file}")
    return _cache[key]


def _compile(source: ProtoSource) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc  # heavy; only when a user loads a .proto

    well_known = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = ["protoc", *(f"-I{i}" for i in source.includes), f"-I{well_known}"]
        args += ["--include_imports", f"--descriptor_set_out={out}", str(source.file)]
        if protoc.main(args) != 0 or not out.exists():
            raise ProtoError(
                f"protoc could not compile {source.file} with include roots {[str(i) for i in source.includes]} "
                "(see its messages above): fix the file or set proto_include to the root its imports are relative to"
            )
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def reflection_service(
    channel: Any, service: str, connect_timeout: float = REFLECTION_CONNECT_TIMEOUT
) -> dict[str, MethodSpec]:
    """Methods of ``service`` as the server describes them through gRPC server reflection."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    # The descriptor database's stream has no deadline: ask once with one, so a host that
    # never answers fails here (DEADLINE_EXCEEDED) instead of hanging the user for ever.
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = stub.ServerReflectionInfo(iter([request]), timeout=connect_timeout)
    try:
        next(call)
    except Exception as exc:  # grpc.RpcError: down, not gRPC, no reflection, or no answer in time
        raise _lookup_failed(service, "the server's reflection", exc) from exc
    finally:
        call.cancel()
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    return _service_specs(pool, service, "the server's reflection")


def _service_specs(pool: descriptor_pool.DescriptorPool, service: str, where: str) -> dict[str, MethodSpec]:
    try:
        descriptor: ServiceDescriptor = pool.FindServiceByName(service)
    except KeyError as exc:
        raise ProtoError(
            f"service {service!r} not found in {where}: set service to the full name, e.g. 'demo.v1.Demo'"
        ) from exc
    except Exception as exc:  # grpc.RpcError from reflection: the server is down or has no reflection
        raise _lookup_failed(service, where, exc) from exc
    return specs_from_descriptor(descriptor, _message_class)


def _lookup_failed(service: str, where: str, exc: Exception) -> ProtoError:
    return ProtoError(
        f"cannot look up service {service!r} via {where} ({_one_line(exc)}): check that the host is a "
        "gRPC server with reflection on, or give the GrpcUser proto= or stub_class="
    )


def _one_line(exc: Exception) -> str:
    """``UNAVAILABLE: details`` of a grpc.RpcError (its str() spans lines), else str(exc)."""
    code, details = getattr(exc, "code", None), getattr(exc, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details()}"
    return str(exc)


def _message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)
