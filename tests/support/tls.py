"""A throw-away self-signed certificate for 127.0.0.1/localhost, from the ``openssl`` command.

cert, key = self_signed(tmp_path)   # PEM files; the certificate is its own CA bundle
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.requirements import need_command


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files in ``folder``, valid 2 days for IP 127.0.0.1 and DNS localhost."""
    need_command("openssl", "openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
