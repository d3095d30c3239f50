"""In-memory state of the HTTP target (targets/http/store.py)."""

from __future__ import annotations

from loadkit.targets.http.store import ItemStore, RouteCounters, Sessions


def test_create_keeps_fields_and_generates_missing_ids() -> None:
    store = ItemStore()
    item = store.create({"name": "a", "n": 1})
    assert item["id"]
    assert store.get(item["id"]) == item
    assert store.create({"id": 0})["id"] == "0"
    assert store.create({"id": ""})["id"] != ""


def test_repeated_creates_are_counted_per_id() -> None:
    store = ItemStore()
    for _ in range(3):
        store.create({"id": "a"})
    store.create({"id": "b"})
    listing = store.listing()
    assert listing["count"] == 2
    assert listing["creates"] == {"a": 3, "b": 1}
    assert listing["duplicate_creates"] == 2


def test_replace_and_delete_only_existing_items() -> None:
    store = ItemStore()
    assert store.replace("x", {"v": 1}) is None
    store.create({"id": "x", "v": 0})
    assert store.replace("x", {"v": 2, "id": "ignored"}) == {"v": 2, "id": "x"}
    assert store.delete("x")
    assert not store.delete("x")
    assert store.get("x") is None


def test_clear_forgets_items_and_creates() -> None:
    store = ItemStore()
    store.create({"id": "a"})
    store.clear()
    assert store.listing() == {"items": [], "count": 0, "creates": {}, "duplicate_creates": 0}


def test_sessions_map_fresh_tokens_to_users() -> None:
    sessions = Sessions()
    first, second = sessions.login("ada"), sessions.login("ada")
    assert first != second
    assert sessions.user(first) == "ada"
    assert sessions.user("forged") is None


def test_route_counters() -> None:
    counters = RouteCounters()
    counters.increment("GET /items/{item_id}")
    counters.increment("GET /items/{item_id}")
    assert counters.snapshot() == {"GET /items/{item_id}": 2}
    counters.reset()
    assert counters.snapshot() == {}
