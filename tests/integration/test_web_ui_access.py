"""Web UI access on a real Locust web UI app (Flask test client): login, 401s, origins, hosts.

The browser side (Locust's login page, loadkit's tabs under a base path and TLS) is
``tests/e2e/test_web_ui.py``.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from locust import User, constant, task
from locust.argument_parser import parse_options
from locust.env import Environment

from loadkit import RestUser
from loadkit.run.plugin import install

TOKEN = "s3cret-token"


class Idle(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        pass


MakeClient = Callable[..., FlaskClient]


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeClient]:
    """A test client of a fresh web UI bound to ``bind`` with loadkit installed, options ``args``."""
    monkeypatch.setattr(sys, "argv", ["locust"])  # the web UI re-parses sys.argv for its extra options
    envs: list[Environment] = []

    def make(
        *args: str, bind: str = "127.0.0.1", base: str = "", web_login: bool = False, user: type = Idle
    ) -> FlaskClient:
        environment = Environment(user_classes=[user], parsed_options=parse_options(args=list(args)))
        environment.create_local_runner()
        environment.create_web_ui(bind, 0, web_base_path=base, web_login=web_login, delayed_start=True)
        install(environment)
        envs.append(environment)
        assert environment.web_ui is not None
        return environment.web_ui.app.test_client()

    yield make
    for environment in envs:
        assert environment.runner is not None
        environment.runner.quit()
        environment.events.quitting.fire(environment=environment)


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def test_with_a_token_every_route_wants_login_401_for_scripts_login_page_for_browsers(make_client: MakeClient) -> None:
    client = make_client("--web-token", TOKEN)
    for method, path in [("GET", "/loadkit/fleet"), ("GET", "/stats/requests"), ("GET", "/logs"), ("POST", "/swarm")]:
        answer = client.open(path, method=method, data={"user_count": 1, "spawn_rate": 1, "host": "http://x"})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="loadkit"'
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].endswith("/login")
    assert client.get("/loadkit/fleet", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/loadkit/fleet", headers=basic("loadkit", TOKEN)).status_code == 200
    assert client.get("/loadkit/fleet", headers=basic("root", TOKEN)).status_code == 401
    assert client.get("/loadkit/fleet", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/loadkit/fleet", headers={"Authorization": "Bearer "}).status_code == 401


def test_login_form_and_token_url_open_a_session(make_client: MakeClient) -> None:
    client = make_client("--web-user", "ops", "--web-password", "pw")
    wrong = client.post("/loadkit/login", data={"username": "ops", "password": "nope"})
    assert wrong.status_code == 302 and wrong.headers["Location"].endswith("/login")
    assert client.get("/loadkit/fleet").status_code == 401
    right = client.post("/loadkit/login", data={"username": "ops", "password": "pw"})
    assert right.status_code == 302 and right.headers["Location"] == "/"
    assert client.get("/loadkit/fleet").status_code == 200  # the session cookie
    other = make_client("--web-token", TOKEN)
    opened = other.get(f"/?token={TOKEN}&x=1")
    assert opened.status_code == 302 and opened.headers["Location"] == "/?x=1"  # the token leaves the URL
    assert other.get("/loadkit/fleet").status_code == 200


class IdleRest(RestUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        pass


def test_login_is_on_by_default_on_every_interface_with_a_generated_token(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(bind="", user=IdleRest)  # Locust's default --web-host: every interface; a loadkit run
    assert client.get("/loadkit/fleet").status_code == 401
    [line] = [r.getMessage() for r in caplog.records if "web UI login" in r.getMessage()]
    token = line.split("password ", 1)[1].split(" ", 1)[0]
    assert len(token) >= 20 and "--web-no-login" in line
    assert client.get("/loadkit/fleet", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert make_client("--web-no-login", bind="", user=IdleRest).get("/loadkit/fleet").status_code == 200
    assert make_client("--threshold", "fail_ratio<1", bind="").get("/loadkit/fleet").status_code == 401  # an option


def test_a_plain_locust_run_keeps_locusts_open_ui_on_every_interface(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Locust's own users and options only: the UI answers as under Locust, with no login (loadkit.plain)."""
    client = make_client(bind="")
    for path in ("/", "/stats/requests", "/loadkit/fleet"):
        assert client.get(path).status_code == 200, path
    assert not [r for r in caplog.records if "web UI login" in r.getMessage()]
    assert make_client("--web-token", TOKEN, bind="").get("/stats/requests").status_code == 401  # a secret: login


def test_under_a_base_path_loadkit_routes_and_login_follow(make_client: MakeClient) -> None:
    client = make_client("--web-token", TOKEN, base="/locust")
    assert client.get("/loadkit/fleet", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/locust/loadkit/fleet").status_code == 401
    assert client.get("/locust/loadkit/fleet", headers=auth).status_code == 200
    stats = client.get("/locust/stats/requests", headers=auth).get_json()
    assert {"loadkit-fleet", "loadkit-latency"} <= {e["key"] for e in stats["extended_stats"]}
    page = client.get("/locust/", headers={"Accept": "text/html"})
    assert page.headers["Location"] == "/locust/login"
    assert (
        client.post("/locust/loadkit/login", data={"username": "loadkit", "password": TOKEN}).headers["Location"]
        == "/locust/"
    )


def test_locust_web_login_alone_keeps_the_locustfiles_auth_and_protects_loadkits_route(
    make_client: MakeClient,
) -> None:
    client = make_client("--web-login", web_login=True)  # and no auth code: Locust's own error page
    for path in ("/stats/requests", "/loadkit/fleet"):  # loadkit's route answers as Locust's own
        assert client.get(path).data.startswith(b"Locust auth exception"), path


def test_other_origins_are_refused_unless_allowed(make_client: MakeClient) -> None:
    client = make_client()  # loopback, no login
    evil = {"Origin": "http://evil.example"}
    read = client.get("/loadkit/fleet", headers=evil)
    assert read.status_code == 403 and "Access-Control-Allow-Origin" not in read.headers
    assert "--web-cors-origin http://evil.example" in read.get_json()["error"]
    post = client.post("/swarm", headers=evil, data={"user_count": 1, "spawn_rate": 1, "host": "http://x"})
    assert post.status_code == 403
    own = client.get("/stats/requests", headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and "Access-Control-Allow-Origin" not in own.headers
    assert client.get("/stats/requests").headers.get("Access-Control-Allow-Origin") is None
    img = client.get("/stats/requests", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert img.status_code == 403
    link = client.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert link.status_code == 200  # a link to the UI from another page still opens it
    allowed = make_client("--web-cors-origin", "https://grafana.example")
    ok = allowed.get("/loadkit/fleet", headers={"Origin": "https://grafana.example"})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "https://grafana.example"
    assert allowed.get("/loadkit/fleet", headers=evil).status_code == 403


def test_without_login_a_host_that_is_not_loopback_is_refused(make_client: MakeClient) -> None:
    client = make_client()
    assert client.get("/loadkit/fleet", headers={"Host": "127.0.0.1:8089"}).status_code == 200
    assert client.get("/loadkit/fleet", headers={"Host": "[::1]:8089"}).status_code == 200
    rebound = client.get("/loadkit/fleet", headers={"Host": "evil.example:8089"})
    assert rebound.status_code == 403 and "not this machine" in rebound.get_json()["error"]


def test_login_does_not_depend_on_any_tab(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Access is installed first and alone (loadkit.run.plugin): a part without its tab keeps the login."""
    from loadkit.web import charts, fleet

    monkeypatch.setattr(fleet, "install", lambda environment: None)
    monkeypatch.setattr(charts, "install", lambda environment: None)
    client = make_client("--web-token", TOKEN)
    assert client.get("/stats/requests").status_code == 401
    assert client.get("/stats/requests", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
