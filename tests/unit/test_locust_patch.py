"""loadkit._locust.patch: a replacement is marked once, points at what it replaced, and is recognised."""

from __future__ import annotations

from loadkit._locust.patch import mark_patched, patched


def test_a_marked_replacement_is_recognised_and_names_its_original() -> None:
    def original() -> str:
        return "locust"

    def replacement() -> str:
        return "loadkit"

    assert not patched(original) and not patched(replacement) and not patched(None)
    assert mark_patched(replacement, original) is replacement
    assert patched(replacement) and not patched(original)
    assert replacement.__wrapped__ is original  # type: ignore[attr-defined]


def test_a_mark_without_an_original_leaves_wrapped_unset() -> None:
    def hook() -> None:
        pass

    assert patched(mark_patched(hook)) and not hasattr(hook, "__wrapped__")
