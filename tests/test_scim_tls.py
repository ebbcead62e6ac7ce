"""``tui scim serve --tls-cert F --tls-key F`` (issue 15): HTTPS on the real CLI, and the refusals before it
listens: a private key others may read, a certificate and key that are not a pair."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.scim_live import CORE_USER, live_server


def _certificate(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (mode 0600), as an admin would make one."""
    key = ec.generate_private_key(ec.SECP256R1())
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(loopback, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def test_it_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    tls = _certificate(tmp_path)
    tokens: list[str] = []
    with live_server(
        tmp_path, lambda d: tokens.append(d.scim_tokens.create("okta").bearer), tls=tls
    ) as server:
        assert server.base.startswith("https://127.0.0.1:")
        with server.client(tokens[0]) as client:
            created = client.post(
                "/Users", json={"schemas": [CORE_USER], "userName": "tess@example.com", "active": True}
            )
            assert created.status_code == 201, created.text
            assert client.get(f"/Users/{created.json()['id']}").json()["userName"] == "tess@example.com"
        # A client that does not trust the certificate is not served; nor is one speaking plain HTTP.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base}/ServiceProviderConfig", timeout=10)
        plain = server.base.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{plain}/ServiceProviderConfig", timeout=10)
    with server.directory() as directory:
        assert directory.users.get_by_name("tess@example.com").source == "okta"


def test_a_key_others_can_read_is_refused_before_listening(run_tui, tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    key.chmod(0o644)
    refused = run_tui("scim", "serve", "--tls-cert", cert, "--tls-key", key, timeout=30)
    assert refused.returncode == 1
    assert f"--tls-key {key} is accessible by group or others (mode 0644)" in refused.stderr
    assert f"chmod 600 {key}" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_certificate_and_a_key_that_are_not_a_pair_are_refused(run_tui, tmp_path: Path) -> None:
    cert, _ = _certificate(tmp_path, "one")
    _, other_key = _certificate(tmp_path, "two")
    refused = run_tui("scim", "serve", "--tls-cert", cert, "--tls-key", other_key, timeout=30)
    assert refused.returncode == 1
    assert "are not a certificate and its key" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, no traceback
    not_pem = tmp_path / "not.crt"
    not_pem.write_text("hello\n")
    refused = run_tui("scim", "serve", "--tls-cert", not_pem, "--tls-key", other_key, timeout=30)
    assert refused.returncode == 1 and "are not a certificate and its key" in refused.stderr
