"""loadkit's public API: every name in __all__ resolves, every public name is in __all__."""

from __future__ import annotations

import loadkit


def test_all_names_resolve() -> None:
    for name in loadkit.__all__:
        assert getattr(loadkit, name) is not None, name


def test_lazy_names_are_exported() -> None:
    assert set(loadkit._LAZY) <= set(loadkit.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = loadkit.Nope  # type: ignore[attr-defined]
