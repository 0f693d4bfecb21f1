"""SMTP AUTH credentials, hashed at rest with scrypt (RFC 7914, Python's ``hashlib``).

A stored hash is one token with no ``$``, ``,`` or ``:`` separator problems in env files,
shells or compose files::

    scrypt:N:r:p:SALT:KEY

``N``, ``r``, ``p`` are scrypt's cost parameters (N a power of two); ``SALT`` (16 random
bytes) and ``KEY`` (32 bytes) are URL-safe base64 without padding. ``smtp.auth_users``
(``RELAY_SMTP_AUTH_USERS``) holds ``user:HASH`` pairs, comma-separated; `relay smtp
hash-password` makes a HASH. Verification compares in constant time (``hmac``) and costs
the same for an unknown user, so timing does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SCHEME = "scrypt"
# OWASP's Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1 is its first choice;
# 2^14 keeps one check near 50 ms on a small VM (a login costs one, run off the event
# loop), and the parameters travel with each hash, so they can be raised later.
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**14, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32
# A hash from the config must not make one login allocate gigabytes (scrypt needs about
# 128 * N * r bytes): cap what a configured hash may ask for.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=129 * n * r * p + 2**20
    )


def hash_password(password: str, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A new salted hash of ``password`` in the stored format."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password.encode("utf-8"), salt, n, r, p)
    return f"{SCHEME}:{n}:{r}:{p}:{_b64encode(salt)}:{_b64encode(key)}"


def _parse(hashed: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, n, r, p, salt, key = hashed.split(":")  # ValueError when the shape is wrong
    if scheme != SCHEME:
        raise ValueError(f"not a {SCHEME} hash")
    cost = int(n), int(r), int(p)
    if not (1 < cost[0] <= _MAX_N and cost[0] & (cost[0] - 1) == 0):
        raise ValueError(f"N must be a power of two up to {_MAX_N}")
    if not (0 < cost[1] <= _MAX_R and 0 < cost[2] <= _MAX_P):
        raise ValueError(f"r must be 1-{_MAX_R} and p 1-{_MAX_P}")
    try:
        salt_bytes, key_bytes = _b64decode(salt), _b64decode(key)
    except (binascii.Error, ValueError):
        raise ValueError("salt or key is not base64") from None
    if not salt_bytes or len(key_bytes) != _KEY_BYTES:
        raise ValueError(f"needs a salt and a {_KEY_BYTES}-byte key")
    return cost[0], cost[1], cost[2], salt_bytes, key_bytes


def check_hash(hashed: str) -> str | None:
    """What is wrong with a stored hash, or None if it can be verified."""
    try:
        _parse(hashed)
    except ValueError as error:
        detail = str(error)
        if "unpack" in detail or "invalid literal" in detail:
            return f"not a hash in the form {SCHEME}:N:r:p:SALT:KEY"
        return detail
    return None


class Credentials:
    """The configured SMTP AUTH users; ``verify`` is CPU-bound (run it off the loop)."""

    def __init__(self, users: Iterable[tuple[str, str]]) -> None:
        self._users = {user: _parse(hashed) for user, hashed in users}
        # Checked when the user is unknown, so that a miss costs what a hit costs.
        self._decoy = _parse(hash_password(secrets.token_urlsafe(16))) if self._users else None

    def __bool__(self) -> bool:
        return bool(self._users)

    def verify(self, user: str, password: bytes) -> bool:
        entry = self._users.get(user, self._decoy)
        if entry is None:  # no users at all: AUTH is not offered, nothing to compare
            return False
        n, r, p, salt, key = entry
        matches = hmac.compare_digest(_derive(password, salt, n, r, p), key)
        return matches and user in self._users
