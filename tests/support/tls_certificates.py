"""Throwaway TLS certificates for tests: self-signed (STARTTLS on the listener, `swaks
--tls`) or from a private CA (the IMAP import's Dovecot)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relay.localorg.tls import certificate_pem, issue_ca, issue_server_certificate, key_pem


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path


def make_certificate(directory: Path, hostname: str, name: str = "server") -> Certificate:
    """A self-signed P-256 certificate for ``hostname`` and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(certificate_pem(certificate))
    key_file.write_bytes(key_pem(key))
    return Certificate(cert_file, key_file)


@dataclass(frozen=True)
class CertificateAuthority:
    cert_file: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def make_ca(directory: Path, name: str = "Relay test CA") -> CertificateAuthority:
    """A private CA (P-256, a day), for servers whose clients trust it by file: the
    local org's own (relay/localorg/tls.py)."""
    key, certificate = issue_ca(name, datetime.timedelta(days=1))
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / "ca.crt"
    cert_file.write_bytes(certificate_pem(certificate))
    return CertificateAuthority(cert_file, key, certificate)


def make_signed_certificate(
    ca: CertificateAuthority, directory: Path, dns_names: list[str], name: str = "server"
) -> Certificate:
    """A server certificate from ``ca`` naming only ``dns_names`` (no IP address, so a
    client that connects by IP sees a name mismatch)."""
    key, certificate = issue_server_certificate(
        ca.key, ca.certificate, dns_names, datetime.timedelta(days=1)
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(certificate_pem(certificate))
    key_file.write_bytes(key_pem(key))
    return Certificate(cert_file, key_file)
