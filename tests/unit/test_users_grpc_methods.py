"""Method specs from a generated stub class and from a service descriptor agree."""

from __future__ import annotations

import pytest

from loadkit import ProtoError
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2
from loadkit.users.grpc_methods import specs_from_descriptor, specs_from_stub


def test_stub_class_gives_every_method_with_its_kind() -> None:
    specs = specs_from_stub(demo_pb2_grpc.DemoStub)
    kinds = {name: spec.kind for name, spec in specs.items()}
    assert kinds == {
        "GetItem": "unary_unary",
        "ListItems": "unary_stream",
        "PutItems": "stream_unary",
        "Chat": "stream_stream",
    }
    assert specs["GetItem"].path == "/demo.v1.Demo/GetItem"
    assert specs["GetItem"].request_class is demo_pb2.GetItemRequest
    item = types_pb2.Item(id="1")
    assert specs["ListItems"].response_deserializer(item.SerializeToString()) == item  # type: ignore[misc]


def test_descriptor_gives_the_same_methods() -> None:
    from google.protobuf import message_factory

    service = demo_pb2.DESCRIPTOR.services_by_name["Demo"]
    from_descriptor = specs_from_descriptor(service, message_factory.GetMessageClass)
    from_stub = specs_from_stub(demo_pb2_grpc.DemoStub)
    assert {n: (s.path, s.kind) for n, s in from_descriptor.items()} == {
        n: (s.path, s.kind) for n, s in from_stub.items()
    }


@pytest.mark.parametrize("stub", [int, object])
def test_not_a_stub_is_a_proto_error(stub: type) -> None:
    with pytest.raises(ProtoError, match="stub"):
        specs_from_stub(stub)
