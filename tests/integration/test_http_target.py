"""The bundled HTTP target, called by httpx over a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.targets import Target

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def client(http_target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=http_target.url, timeout=TIMEOUT) as client:
        yield client


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- items CRUD ----------------------------------------------------------------------


def test_items_crud_round_trip_keeps_arbitrary_fields(client: httpx.Client) -> None:
    created = client.post("/items", json={"id": "crud-1", "name": "one", "tags": ["a"], "nested": {"n": 1}})
    assert created.status_code == 201
    assert created.json() == {"id": "crud-1", "name": "one", "tags": ["a"], "nested": {"n": 1}}
    assert client.get("/items/crud-1").json()["nested"] == {"n": 1}

    replaced = client.put("/items/crud-1", json={"name": "uno"})
    assert replaced.json() == {"id": "crud-1", "name": "uno"}
    assert client.get("/items/crud-1").json() == {"id": "crud-1", "name": "uno"}

    assert client.delete("/items/crud-1").status_code == 204
    assert client.get("/items/crud-1").status_code == 404
    assert client.delete("/items/crud-1").status_code == 404


def test_post_without_id_generates_one(client: httpx.Client) -> None:
    item = client.post("/items", json={"name": "anonymous"}).json()
    assert item["id"]
    assert client.get(f"/items/{item['id']}").json() == item


def test_put_of_a_missing_item_is_404(client: httpx.Client) -> None:
    response = client.put("/items/never-created", json={"name": "x"})
    assert response.status_code == 404
    assert "POST /items" in response.json()["detail"]


def test_listing_counts_creates_per_id_and_duplicates(client: httpx.Client) -> None:
    before = client.get("/items").json()
    for _ in range(3):
        client.post("/items", json={"id": "dup-1", "v": 1})
    client.post("/items", json={"id": "dup-2"})
    listing = client.get("/items").json()
    assert listing["creates"]["dup-1"] == 3
    assert listing["creates"]["dup-2"] == 1
    assert listing["duplicate_creates"] - before["duplicate_creates"] == 2
    ids = [item["id"] for item in listing["items"]]
    assert ids.count("dup-1") == 1
    assert listing["count"] == len(listing["items"])


def test_items_body_must_be_a_json_object(client: httpx.Client) -> None:
    assert client.post("/items", json=[1, 2]).status_code == 422


# --- login -----------------------------------------------------------------------------


def test_login_token_opens_me(client: httpx.Client) -> None:
    token = client.post("/login", json={"username": "ada", "password": "secret"}).json()["token"]
    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"username": "ada"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_me_without_a_valid_token_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_with_an_empty_password_is_401(client: httpx.Client) -> None:
    assert client.post("/login", json={"username": "ada", "password": ""}).status_code == 401


# --- fault injection -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["query", "header"])
def test_delay_adds_at_least_the_requested_latency(client: httpx.Client, how: str) -> None:
    start = time.perf_counter()
    if how == "query":
        response = client.get("/health", params={"delay_ms": 300})
    else:
        response = client.get("/health", headers={"x-delay-ms": "300"})
    assert response.status_code == 200
    assert time.perf_counter() - start >= 0.3


@pytest.mark.parametrize("how", ["query", "header"])
def test_status_injection(client: httpx.Client, how: str) -> None:
    if how == "query":
        response = client.get("/items", params={"status": 503})
    else:
        response = client.get("/items", headers={"x-status": "418"})
    assert response.status_code == (503 if how == "query" else 418)
    assert "injected" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"status": "200"}, {"status": "abc"}, {"delay_ms": "-5"}])
def test_bad_fault_values_are_400_naming_the_parameter(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/health", params=params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["detail"]


# --- counters and metrics --------------------------------------------------------------


def test_counters_key_by_route_template_and_skip_themselves(http_target: Target, client: httpx.Client) -> None:
    http_target.reset_counters()
    client.post("/items", json={"id": "cnt-1"})
    client.get("/items/cnt-1")
    client.get("/items/cnt-2")  # 404: still served
    client.get("/health", params={"status": 500})  # injected failure: still served
    client.get("/no/such/route")  # no route: not counted
    assert http_target.counters() == {
        "POST /items": 1,
        "GET /items/{item_id}": 2,
        "GET /health": 1,
    }
    http_target.reset_counters()
    assert http_target.counters() == {}


def test_metrics_are_prometheus_text(client: httpx.Client) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'loadkit_target_requests_total{method="GET",route="/health"}' in response.text
    assert "loadkit_target_items " in response.text
