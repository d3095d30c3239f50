"""Dict requests: the fast path builds exactly ParseDict's message, and everything else is ParseDict's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from loadkit.gen.demo.v1 import demo_pb2, types_pb2
from loadkit.users.grpc_dicts import DictRequests, fast_fields
from loadkit.users.grpc_proto import load_proto_service, resolve_proto

PROTO = """syntax = "proto3";
package dicts;
enum Colour { RED = 0; GREEN = 1; }
message Inner { string s = 1; }
message All {
  string text = 1;
  int32 i32 = 2;
  uint32 u32 = 3;
  int64 i64 = 4;
  bool flag = 5;
  double d = 6;
  bytes raw = 7;
  Colour colour = 8;
  Inner inner = 9;
  repeated string tags = 10;
  map<string, int32> counts = 11;
  oneof choice { string a = 12; string b = 13; }
  optional string maybe = 14;
  sint32 payload_size = 15;
}
service S { rpc Call(All) returns (All); }
"""


@pytest.fixture(scope="module")
def all_class(tmp_path_factory: pytest.TempPathFactory) -> type[Message]:
    folder = tmp_path_factory.mktemp("dicts")
    (folder / "all.proto").write_text(PROTO)
    cls = load_proto_service(resolve_proto(Path(folder / "all.proto"), None, None), "dicts.S")["Call"].request_class
    assert cls is not None
    return cls


def outcome(build: Any, request: Any) -> tuple[str, Any]:
    try:
        return "ok", build(request).SerializeToString(deterministic=True)
    except Exception as exc:  # the type and message are what is compared
        return type(exc).__name__, str(exc)


CASES = [
    {},
    None,
    {"text": "x", "i32": 5, "u32": 7, "i64": 2**40, "flag": True, "payload_size": -3},
    {"text": ""},
    {"i32": 0, "flag": False},
    {"i32": 2**31},  # out of range: ParseDict's error
    {"u32": -1},
    {"i64": 2**64},
    {"i32": True},  # bool for an int field: ParseDict's error
    {"flag": 1},
    {"text": 5},
    {"text": "caf\u00e9"},  # not ASCII: ParseDict
    {"text": "\ud800"},  # unpaired surrogate: ParseDict's error
    {"i32": "12"},  # a numeric string: ParseDict accepts it
    {"i32": 3.0},
    {"payloadSize": 4},  # JSON name
    {"payload_size": 4, "payloadSize": 5},
    {"d": 1.5},
    {"d": float("nan")},
    {"raw": "aGk="},
    {"colour": "GREEN"},
    {"colour": 1},
    {"inner": {"s": "x"}},
    {"tags": ["a", "b"]},
    {"counts": {"k": 1}},
    {"a": "x", "b": "y"},  # two members of a oneof: ParseDict's error
    {"a": "x"},
    {"maybe": ""},  # proto3 optional: presence matters
    {"nope": 1},  # unknown field: ParseDict's error
    {"text": None},
    {1: "x"},
    [],
    "text",
]


@pytest.mark.parametrize("request_dict", CASES, ids=repr)
def test_same_message_or_same_error_as_parse_dict(all_class: type[Message], request_dict: Any) -> None:
    expected = outcome(lambda r: json_format.ParseDict(r or {}, all_class()), request_dict)
    assert outcome(DictRequests(all_class), request_dict) == expected


def test_fast_path_covers_flat_scalar_fields_only(all_class: type[Message]) -> None:
    assert fast_fields(all_class.DESCRIPTOR) == {
        "text": str,
        "i32": int,
        "u32": int,
        "i64": int,
        "flag": bool,
        "payload_size": int,
    }
    assert fast_fields(struct_pb2.Struct.DESCRIPTOR) == {}  # well-known types: their own JSON form


def test_generated_classes_and_messages_pass_through() -> None:
    build = DictRequests(demo_pb2.GetItemRequest)
    assert build({"id": "1", "payload_size": 3}) == demo_pb2.GetItemRequest(id="1", payload_size=3)
    message = demo_pb2.GetItemRequest(id="2")
    assert build(message) is message
    assert DictRequests(types_pb2.ChatMessage)({"seq": 1, "text": "hi"}) == types_pb2.ChatMessage(seq=1, text="hi")
