"""GrpcUser over TLS and mTLS (grpcs://, root CA, client cert/key) against real TLS servers.

Certificates come from the ``openssl`` command (a throw-away CA per session); the
servers are tests/integration/tls_server.py processes (unpatched, 127.0.0.1).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment

from loadkit import GrpcCallError, GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc
from tests.support.requirements import need_command

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("tls_server.py")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def issue(name: str, cwd: Path, ca: str = "ca") -> None:
    """An EC key and a certificate for 127.0.0.1/localhost signed by ``ca``."""
    openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={name}",
        cwd=cwd,
    )
    (cwd / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.pem",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        cwd=cwd,
    )


def make_ca(name: str, cwd: Path) -> None:
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_command("openssl", "openssl")  # it makes the certificates
    folder = tmp_path_factory.mktemp("certs")
    make_ca("ca", folder)
    make_ca("other-ca", folder)
    issue("server", folder)
    issue("client", folder)
    return folder


def start_server(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(SERVER), *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until ready or exit; the process prints first thing
    match = re.search(r"listening on (\S+)", line)
    if match is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"TLS server did not start: {line!r}")
    return proc, match.group(1)


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def tls_address(certs: Path) -> Iterator[str]:
    proc, address = start_server(str(certs / "server.pem"), str(certs / "server.key"))
    try:
        yield address
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def mtls_address(certs: Path) -> Iterator[str]:
    proc, address = start_server(str(certs / "server.pem"), str(certs / "server.key"), str(certs / "ca.pem"))
    try:
        yield address
    finally:
        stop_server(proc)


def call(address: str, **attrs: Any) -> tuple[str, Environment]:
    """One GetItem from a GrpcUser with ``attrs``; returns the status name and the environment."""
    env = Environment(user_classes=[])
    env.create_local_runner()
    cls = type("TlsUser", (GrpcUser,), {"host": f"grpcs://{address}", "stub_class": demo_pb2_grpc.DemoStub, **attrs})
    user = cls(env)
    try:
        user.stub.GetItem(demo_pb2.GetItemRequest(id="1"), timeout=20)
        status = "OK"
    except GrpcCallError as exc:
        status = exc.code().name
    finally:
        user.client.close()
        assert env.runner is not None
        env.runner.quit()
    return status, env


def test_tls_with_root_ca(certs: Path, tls_address: str) -> None:
    status, env = call(tls_address, root_certificates=str(certs / "ca.pem"))
    assert status == "OK"
    assert env.stats.get("/demo.v1.Demo/GetItem", "grpc").num_requests == 1


def test_tls_with_an_untrusted_ca_is_an_unavailable_failure(certs: Path, tls_address: str) -> None:
    status, env = call(tls_address, root_certificates=str(certs / "other-ca.pem"))
    assert status == "UNAVAILABLE"
    assert env.stats.get("/demo.v1.Demo/GetItem", "grpc").num_failures == 1


def test_mtls_with_client_cert(certs: Path, mtls_address: str) -> None:
    status, _ = call(
        mtls_address,
        root_certificates=str(certs / "ca.pem"),
        client_cert=str(certs / "client.pem"),
        client_key=str(certs / "client.key"),
    )
    assert status == "OK"


def test_mtls_without_client_cert_fails(certs: Path, mtls_address: str) -> None:
    status, _ = call(mtls_address, root_certificates=str(certs / "ca.pem"))
    assert status == "UNAVAILABLE"
