"""STARTTLS on the listener (RFC 3207): the server's TLS context, checked at start-up.

``smtp.tls_cert_file`` and ``smtp.tls_key_file`` (PEM; the certificate file may hold the
chain) turn STARTTLS on; ``smtp.require_tls`` then refuses mail before STARTTLS with
``530 5.7.0`` (RFC 3207 §4). A file that is missing, unreadable, not PEM, or a key that
does not match the certificate stops start-up with a ConfigError naming the file and the
fix, never with a traceback.

``smtp.tls_client_ca_file`` makes the server ask for a client certificate (optional:
CERT_OPTIONAL, so MTAs without one still deliver); a certificate the CAs do not verify
fails the handshake. A verified certificate whose SHA-256 fingerprint is in
``smtp.inbound_cert_fingerprints`` names the client as an inbound source.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Any

from relay.config import SmtpConfig
from relay.errors import ConfigError

_FIX = (
    "set RELAY_SMTP_TLS_CERT_FILE to a PEM certificate (chain) and RELAY_SMTP_TLS_KEY_FILE "
    "to its PEM private key, both readable by the relay user"
)


def server_tls_context(smtp: SmtpConfig) -> ssl.SSLContext | None:
    """The context aiosmtpd uses for STARTTLS, or None when no certificate is configured."""
    if smtp.tls_cert_file is None or smtp.tls_key_file is None:
        return None  # config.py's cross-checks already refuse one file without the other
    cert, key = smtp.tls_cert_file, smtp.tls_key_file
    for label, path in (("certificate", cert), ("key", key)):
        problem = _unreadable(path)
        if problem is not None:
            raise ConfigError([f"TLS {label} file {path}: {problem}; {_FIX}"])
    # Purpose.CLIENT_AUTH: a server-side context; Python's defaults refuse SSLv3/TLS 1.0
    # and 1.1 (RFC 8996). Without a client CA file clients are not asked for certificates
    # (verify_mode CERT_NONE), as aiosmtpd expects: most MTAs delivering to us have none.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if smtp.tls_client_ca_file is not None:
        _load_client_cas(context, smtp.tls_client_ca_file)
    try:
        # A password callback, so an encrypted key fails here instead of OpenSSL
        # prompting on the terminal of a daemon.
        context.load_cert_chain(certfile=cert, keyfile=key, password=_no_password)
    except _EncryptedKey:
        raise ConfigError(
            [
                f"TLS key file {key}: the private key is encrypted; Relay needs it unencrypted "
                "(for example `openssl pkey -in KEY -out KEY.plain`, mode 0600)"
            ]
        ) from None
    except ssl.SSLError as error:
        raise ConfigError(
            [f"TLS certificate {cert} / key {key}: {_describe(error)}; {_FIX}"]
        ) from None
    return context


def _load_client_cas(context: ssl.SSLContext, ca_file: Path) -> None:
    problem = _unreadable(ca_file)
    if problem is None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except ssl.SSLError as error:
            problem = f"not PEM CA certificates ({error.reason or error})"
    if problem is not None:
        raise ConfigError(
            [
                f"TLS client CA file {ca_file}: {problem}; set RELAY_SMTP_TLS_CLIENT_CA_FILE "
                "to the PEM certificates of the CAs (or the self-signed client certificates) "
                "that inbound sources present"
            ]
        )
    # aiosmtpd accepts CERT_OPTIONAL: ask, verify what is sent, but let MTAs without a
    # certificate deliver (RFC 3207 §4.1 leaves the decision to the server).
    context.verify_mode = ssl.CERT_OPTIONAL


def peer_fingerprint(tls_extra: Any) -> str | None:
    """SHA-256 of the client's certificate (lower-case hex), from a TLS transport's extra
    info (aiosmtpd's ``session.ssl``), or None when it presented none."""
    ssl_object = tls_extra.get("ssl_object") if isinstance(tls_extra, dict) else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


class _EncryptedKey(Exception):
    pass


def _no_password() -> bytes:
    raise _EncryptedKey


def _unreadable(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        return "not found"
    except PermissionError:
        return "not readable (permission denied)"
    except IsADirectoryError:
        return "is a directory"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    return None


def _describe(error: ssl.SSLError) -> str:
    reason = f"{error.reason or ''} {error}".upper()  # OpenSSL sets .reason only sometimes
    if "KEY_VALUES_MISMATCH" in reason:
        return "the private key does not match the certificate"
    if "PEM" in reason or "NO_START_LINE" in reason or "X509" in reason:
        return f"not a PEM certificate and key ({error.reason or error})"
    return f"cannot be loaded ({error.reason or error})"
