"""The local org's credentials and sessions.

- ``OrgCredentials``: the password of the bootstrap integration user (the admin user the
  data layer creates, ``bootstrap.ADMIN_USERNAME``) and the connected app (client id and
  secret), generated on first start and kept in ``credentials.json`` (0600) in the data
  directory. Nothing is hard-coded in the repository.
- ``SessionStore``: access tokens, persisted in ``sessions.json`` so they survive a
  restart until they expire (docs/localorg.md, "Data directory"). An expired or unknown
  token is answered with Salesforce's 401 ``INVALID_SESSION_ID`` by the server.
- The connected app's JWT certificate: ``connected-app.pem`` in the data directory (a
  certificate or a public key, PEM). ``PUT /_localorg/connected-app`` replaces it.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from relay.localorg.bootstrap import ADMIN_USERNAME

CREDENTIALS_FILE = "credentials.json"
SESSIONS_FILE = "sessions.json"
JWT_CERT_FILE = "connected-app.pem"

# Salesforce's default session timeout is two hours (Setup > Session Settings).
DEFAULT_SESSION_TTL_SECONDS = 2 * 60 * 60

_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class OrgCredentials:
    """What a client needs to log in to the local org."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    # The user a client_credentials token runs as ("Run As" on the connected app).
    run_as_username: str


def load_or_create_credentials(data_dir: Path) -> OrgCredentials:
    """The org's credentials, generated (random) on first start and reused afterwards."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return OrgCredentials(**json.loads(path.read_text(encoding="utf-8")))
    username = ADMIN_USERNAME
    credentials = OrgCredentials(
        # Connected-app consumer keys start "3MVG9" and are 85 characters long.
        client_id="3MVG9" + _random(80),
        client_secret=_random(64, string.digits + string.ascii_uppercase),
        username=username,
        password=_random(24),
        security_token=_random(25),
        run_as_username=username,
    )
    write_private(path, json.dumps(asdict(credentials), indent=2).encode())
    return credentials


def _random(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def write_private(path: Path, content: bytes) -> None:
    """Write a secret file atomically, readable by its owner only (0600) from its first
    byte: ``mkstemp`` creates a new file of that mode with O_EXCL (a leftover or planted
    file of wider mode is never reused), whatever the umask; the rename then replaces
    the old file in one step."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    username: str
    issued_at: float
    expires_at: float


class SessionStore:
    """Issued access tokens, checked on every call. Reads are a dict lookup (hot path);
    the file is rewritten only when a token is issued."""

    def __init__(self, data_dir: Path, org_id: str, ttl_seconds: float) -> None:
        self._path = data_dir / SESSIONS_FILE
        self._org_id15 = org_id[:15]
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        if self._path.exists():
            now = time.time()
            for raw in json.loads(self._path.read_text(encoding="utf-8")):
                session = Session(**raw)
                if session.expires_at > now:
                    self._sessions[session.token] = session

    def issue(self, user_id: str, username: str) -> Session:
        """A new session for the user, valid for the TTL."""
        now = time.time()
        # Salesforce session ids are the 15-char org id, "!", then an opaque token.
        token = f"{self._org_id15}!{_random(96, _ALNUM + '.')}"
        session = Session(token, user_id, username, now, now + self.ttl_seconds)
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if s.expires_at > now} | {
                token: session
            }
            snapshot = [asdict(s) for s in self._sessions.values()]
        write_private(self._path, json.dumps(snapshot).encode())
        return session

    def revoke(self, token: str) -> bool:
        """End a session at once; False if the token was unknown or expired already."""
        now = time.time()
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expires_at <= now:
                return False
            self._sessions = {t: s for t, s in self._sessions.items() if t != token}
            snapshot = [asdict(s) for s in self._sessions.values()]
        write_private(self._path, json.dumps(snapshot).encode())
        return True

    def check(self, token: str) -> Session | None:
        """The live session for ``token``, or None if unknown or expired."""
        session = self._sessions.get(token)
        if session is None or session.expires_at <= time.time():
            return None
        return session


def load_jwt_public_key(data_dir: Path) -> PublicKeyTypes | None:
    """The connected app's registered JWT key (from a certificate or a public key PEM)."""
    path = data_dir / JWT_CERT_FILE
    if not path.exists():
        return None
    return parse_public_pem(path.read_bytes())


def parse_public_pem(pem: bytes) -> PublicKeyTypes:
    """A public key from a PEM certificate or PEM public key; ValueError if neither."""
    if b"BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


def register_jwt_certificate(data_dir: Path, pem: bytes) -> None:
    """Register the connected app's certificate (what "Use digital signatures" uploads)."""
    parse_public_pem(pem)  # refuse what would never verify
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / JWT_CERT_FILE).write_bytes(pem)
