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


def test_what_users_meet_is_exported() -> None:
    """Every exception and exit code, and the types ``attach`` and ``register_collector`` deal in."""
    import loadkit.exceptions

    module = vars(loadkit.exceptions)
    meets = {name for name, value in module.items() if name.startswith("EXIT_") and isinstance(value, int)}
    meets |= {name for name, value in module.items() if isinstance(value, type) and issubclass(value, Exception)}
    meets |= {"Attachment", "Collector"}
    assert meets <= set(loadkit.__all__), sorted(meets - set(loadkit.__all__))
