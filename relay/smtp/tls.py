"""STARTTLS on the listener (RFC 3207): the server's TLS context, checked at start-up.

``smtp.tls_cert_file`` and ``smtp.tls_key_file`` (PEM; the certificate file may hold the
chain) turn STARTTLS on; ``smtp.require_tls`` then refuses mail before STARTTLS with
``530 5.7.0`` (RFC 3207 §4). A file that is missing, unreadable, not PEM, or a key that
does not match the certificate stops start-up with a ConfigError naming the file and the
fix, never with a traceback.
"""

from __future__ import annotations

import ssl
from pathlib import Path

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
    # and 1.1 (RFC 8996). Clients are not asked for certificates (verify_mode CERT_NONE),
    # as aiosmtpd expects: MTAs delivering to us rarely have client certificates.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
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
