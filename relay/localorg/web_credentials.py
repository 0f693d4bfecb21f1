"""The local org's users' passwords and its OAuth authorization codes (the web server flow).

- ``UserPasswords``: each User's login password, as a salted scrypt hash in
  ``passwords.json`` (0600) in the data directory. The bootstrap admin logs in with the
  org's generated password (``credentials.json``); any other User needs one set first,
  as in Salesforce, through the REST resource ``POST .../sobjects/User/{id}/password``
  (REST API Developer Guide, "sObject User Password").
- ``AuthorizationCodes``: codes issued by ``/services/oauth2/authorize``, in memory only.
  "The authorization code is valid for 15 minutes" (Salesforce Help, "OAuth 2.0 Web Server
  Flow for Web App Integration"), and one code is exchanged once (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from relay.localorg.auth import write_private

PASSWORDS_FILE = "passwords.json"
CODE_TTL_SECONDS = 15 * 60
# RFC 7914 §2: N=2**14, r=8, p=1 is the interactive-login setting.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT).hex()


class UserPasswords:
    """User id -> salted hash; the file is rewritten when a password is set. A running
    org reads the file again when it changed, so `relay org password` (another process)
    takes effect at the next sign-in."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / PASSWORDS_FILE
        self._lock = threading.Lock()
        self._hashes: dict[str, dict[str, str]] = {}
        self._read_at: int | None = None
        self._reload()

    def _reload(self) -> None:
        try:
            changed = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if changed != self._read_at:
            self._hashes = json.loads(self._path.read_text(encoding="utf-8"))
            self._read_at = changed

    def set(self, user_id: str, password: str) -> None:
        salt = secrets.token_bytes(16)
        entry = {"salt": salt.hex(), "hash": _hash(password, salt)}
        with self._lock:
            self._reload()
            self._hashes = {**self._hashes, user_id: entry}
            snapshot = json.dumps(self._hashes).encode()
            write_private(self._path, snapshot)
            self._read_at = self._path.stat().st_mtime_ns

    def check(self, user_id: str, password: str) -> bool:
        with self._lock:
            self._reload()
        entry = self._hashes.get(user_id)
        if entry is None:
            return False
        return hmac.compare_digest(_hash(password, bytes.fromhex(entry["salt"])), entry["hash"])


@dataclass(frozen=True)
class AuthorizationCode:
    """What ``/services/oauth2/authorize`` granted, kept until the code is exchanged."""

    client_id: str
    redirect_uri: str
    code_challenge: str | None
    user_id: str
    username: str
    expires_at: float


class AuthorizationCodes:
    def __init__(self, ttl_seconds: float = CODE_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}

    def issue(
        self,
        client_id: str,
        redirect_uri: str,
        code_challenge: str | None,
        user_id: str,
        username: str,
    ) -> str:
        # Salesforce's codes are opaque base64 text ending in "=="; their shape is not
        # documented, only that the client URL-decodes them.
        code = base64.b64encode(secrets.token_bytes(48)).decode()
        now = time.time()
        grant = AuthorizationCode(
            client_id, redirect_uri, code_challenge, user_id, username, now + self._ttl
        )
        with self._lock:
            self._codes = {c: g for c, g in self._codes.items() if g.expires_at > now}
            self._codes[code] = grant
        return code

    def take(self, code: str) -> AuthorizationCode | None:
        """The grant of a live code, removed at once: a code works once, whatever
        happens next (RFC 6749 §4.1.2 "MUST NOT use the authorization code more than
        once"). None if unknown, used or expired."""
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= time.time():
            return None
        return grant


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    try:
        expected = s256_challenge(verifier)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, challenge)
