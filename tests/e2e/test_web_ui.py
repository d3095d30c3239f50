"""The web UI as an operator meets it: a real ``locust`` process, headless Chromium, plain HTTP.

One UI serves everything the issue named at once — TLS (``--tls-cert/--tls-key``), a base
path (``--web-base-path /locust``), login (``LOADKIT_WEB_TOKEN``) and a locustfile that
extends the UI as Locust's ``examples/extend_web_ui.py`` does — and must show loadkit's
tabs filled behind Locust's own login page. Plain requests check the 401s and origins.
Cost: one locust process (~3 s to start), one Chromium (~10 s), a throw-away certificate.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import Proc, Procs, free_port, wait_for

pytestmark = pytest.mark.e2e

FILES = Path(__file__).parent / "web_files"
TOKEN = "e2e-web-token-1234"
UNVERIFIED = ssl._create_unverified_context()  # the test's own self-signed certificate


@dataclass
class Ui:
    url: str
    proc: Proc


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10, context=UNVERIFIED) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate (apt-get install openssl)")
    tmp = tmp_path_factory.mktemp("tls")
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*request, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem"],
        cwd=tmp,
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    procs = Procs()
    args = [sys.executable, "-m", "locust", "-f", str(FILES / "extended_ui.py"), "--autostart", "-u", "2", "-r", "2"]
    args += ["-t", "120s", "--web-host", "127.0.0.1", "--web-port", str(port), "--web-base-path", "/locust"]
    args += ["--tls-cert", str(tmp / "cert.pem"), "--tls-key", str(tmp / "key.pem"), "--loglevel", "INFO"]
    args += ["--loadkit-health-interval", "0.5"]
    try:
        proc = procs.start("ui", args, env={"LOADKIT_WEB_TOKEN": TOKEN})
        url = f"https://127.0.0.1:{port}/locust"
        wait_for(lambda: fetch(f"{url}/login")[0] == 200, 60, "the web UI over TLS")
        yield Ui(url, proc)
    finally:
        procs.close()


def test_scripts_get_401_without_the_token_and_json_with_it(ui: Ui) -> None:
    for method, path in [("GET", "/loadkit/fleet"), ("GET", "/stats/requests"), ("POST", "/swarm"), ("GET", "/logs")]:
        status, headers, _ = fetch(ui.url + path, method)
        assert status == 401, (method, path, status)
        assert headers.get("WWW-Authenticate") == 'Bearer realm="loadkit"'
    status, _, body = fetch(ui.url + "/loadkit/fleet", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and set(json.loads(body)) >= {"workers", "latency"}
    assert fetch(ui.url.removesuffix("/locust") + "/loadkit/fleet")[0] == 404  # only under the base path


def test_other_origins_get_403_and_no_cors_headers(ui: Ui) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, headers, body = fetch(ui.url + "/loadkit/fleet", headers={**auth, "Origin": "http://evil.example"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers, headers
    assert "--web-cors-origin http://evil.example" in json.loads(body)["error"]
    status, headers, _ = fetch(ui.url + "/stop", "POST", {**auth, "Origin": "http://evil.example"})
    assert status == 403
    assert ui.proc.find("Ramping to 2 users") or ui.proc.find("All users spawned")  # the run goes on


@pytest.mark.browser
def test_login_page_then_loadkit_tabs_filled_under_base_path_tls_and_a_ui_extension(ui: Ui) -> None:
    out = subprocess.run(
        [sys.executable, str(FILES / "browse_login.py"), ui.url + "/", "loadkit", TOKEN],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    print("\nweb UI:", json.dumps(seen))
    assert seen["login_url"].endswith("/locust/login"), seen["login_url"]
    assert seen["after_login_url"].rstrip("/").endswith("/locust"), seen["after_login_url"]
    assert any(row[:2] == ["local", "worker"] for row in seen["fleet"]), seen["fleet"]
    probe = next(row for row in seen["latency"] if row and row[0].endswith("web probe"))
    assert all(probe), seen["latency"]  # every HDR percentile filled
    assert ["extension row", "42"] in seen["content"], seen["content"]
    assert seen["state_after_stop"] == "stopped", "the UI's own Stop (a POST from the page) was refused"
