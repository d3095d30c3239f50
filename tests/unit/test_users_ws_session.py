"""Pure parts of loadkit/users/ws_session.py: failure names after close codes, frame encoding."""

from __future__ import annotations

import websocket

from loadkit.users.ws_session import WebSocketError, close_error, encode


def test_a_close_is_named_after_its_code_and_reason() -> None:
    error = close_error(1011, "injected close")
    assert isinstance(error, WebSocketError) and error.close_code == 1011
    assert str(error) == "closed by server: 1011 (internal error): injected close"
    assert str(close_error(4000, "")) == "closed by server: 4000"
    assert str(close_error(1000, "x" * 200)).endswith(": " + "x" * 80)  # a long reason is cut: one failure row


def test_messages_are_framed_by_type() -> None:
    assert encode("hi") == ("hi", websocket.ABNF.OPCODE_TEXT)
    assert encode(b"\x00") == (b"\x00", websocket.ABNF.OPCODE_BINARY)
    assert encode({"n": 1}) == ('{"n": 1}', websocket.ABNF.OPCODE_TEXT)
