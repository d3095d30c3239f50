"""Request messages from dicts (``client.call("GetItem", {"id": "1"})``), as ``json_format.ParseDict`` builds them.

``ParseDict`` is written for any JSON: per call it builds a parser object, a dict of the
message's fields by JSON name and three closures, formats a path string per field and runs a
regular expression over every string. For the dicts a load test sends again and again — flat,
proto field names, values of the field's exact Python type — the message constructor gives the
same message for a fraction of the instructions (callgrind: ~35k fewer per unary call, see
bench/instructions.py). :class:`DictRequests` takes that path only when it is provably the
same, and hands everything else to ``ParseDict``, so results and error messages are ParseDict's:

- every key names a singular scalar field (no repeated, map, message, enum, bytes, float or
  oneof member, proto3 ``optional`` included) and is the name ParseDict would resolve to that
  field (JSON names such as ``payloadSize`` go to ParseDict);
- every value's type is exactly ``str`` (ASCII only: ParseDict rejects unpaired surrogates),
  ``bool`` or ``int`` as the field wants (a bool for an int field is ParseDict's error);
- the constructor does not raise (an int out of the field's range raises there and again,
  with ParseDict's message, in ParseDict).

Well-known types (``Struct``, wrappers, ``Timestamp`` …) have their own JSON forms: always ParseDict.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_INTS = frozenset(
    (
        FieldDescriptor.CPPTYPE_INT32,
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    )
)


def fast_fields(descriptor: Any) -> dict[str, type]:
    """Field name -> the one Python type whose values the constructor sets exactly as ParseDict does.

    ``descriptor``: a message Descriptor (protobuf's pure-Python or upb one).
    """
    if descriptor.full_name.startswith("google.protobuf."):
        return {}
    by_json_name = {f.json_name: f for f in descriptor.fields}
    fast: dict[str, type] = {}
    for field in descriptor.fields:
        # The field ParseDict resolves this key to: JSON names first, then proto names.
        if by_json_name.get(field.name, field) is not field:
            continue
        if field.is_repeated or field.containing_oneof is not None or getattr(field, "is_extension", False):
            continue
        if field.cpp_type in _INTS:
            fast[field.name] = int
        elif field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
            fast[field.name] = bool
        elif field.cpp_type == FieldDescriptor.CPPTYPE_STRING and field.type == FieldDescriptor.TYPE_STRING:
            fast[field.name] = str
    return fast


class DictRequests:
    """``DictRequests(GetItemRequest)({"id": "1"})`` == ``ParseDict({"id": "1"}, GetItemRequest())``, faster.

    Messages pass through unchanged; ``None`` is the empty message (as ``client.call`` always did).
    """

    __slots__ = ("_fast", "_message_class")

    def __init__(self, message_class: type[Message]) -> None:
        self._message_class = message_class
        self._fast = fast_fields(message_class.DESCRIPTOR)

    def __call__(self, request: Any) -> Any:
        if type(request) is dict:
            fast = self._fast
            for key, value in request.items():
                kind = type(value)
                if fast.get(key) is not kind or (kind is str and not value.isascii()):
                    break
            else:
                try:
                    return self._message_class(**request)
                except Exception:  # ParseDict below raises its own error for it
                    pass
        elif isinstance(request, Message):
            return request
        return json_format.ParseDict(request or {}, self._message_class())
