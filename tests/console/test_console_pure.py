"""The console's pure parts: the PKCE pair and the authorize URL, who is an admin, the
login URL, the confirmation link of an acceptable address, and safe redirects."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from relay.console.context import safe_next
from relay.console.oauth import authorize_url, is_listed_admin, login_url_of, new_verifier
from relay.console.sender_confirmation import confirmation_link, link_is_valid
from relay.errors import RelayError

KEY = b"k" * 32


def test_the_challenge_is_the_verifiers_s256() -> None:
    """RFC 7636 §4.1-4.2: 43-128 unreserved characters; BASE64URL(SHA256(verifier))."""
    verifier = new_verifier()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    url = authorize_url("https://login.example", "client", "http://127.0.0.1:1/cb", "st", verifier)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert query["code_challenge"] == expected.decode()
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"
    assert query["state"] == "st"
    assert url.startswith("https://login.example/services/oauth2/authorize?")
    assert new_verifier() != verifier


@pytest.mark.parametrize(
    ("admins", "username", "email", "expected"),
    [
        (("ops@example.com",), "ops@example.com", "", True),
        (("OPS@example.com",), "ops@example.com.sandbox", "ops@example.com", True),
        (("ops@example.com",), "rep@example.com", "rep@example.com", False),
        ((), "rep@example.com", "", False),
        (("",), "rep@example.com", "", False),
    ],
)
def test_listed_admins(admins: tuple[str, ...], username: str, email: str, expected: bool) -> None:
    assert is_listed_admin(admins, username, email) is expected


def test_the_login_url() -> None:
    assert login_url_of("https://login.salesforce.com/services/oauth2/token", None) == (
        "https://login.salesforce.com"
    )
    assert login_url_of(None, "https://acme.my.salesforce.com/") == "https://acme.my.salesforce.com"
    with pytest.raises(RelayError):
        login_url_of(None, None)


def test_a_confirmation_link_is_the_reps_address_and_expires() -> None:
    link = confirmation_link("https://relay.example", KEY, "005A", "New@Example.com", now=1000.0)
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert query["address"] == "new@example.com"
    args = (query["address"], query["expires"], query["sig"])
    assert link_is_valid(KEY, "005A", *args, now=1000.0)
    assert not link_is_valid(KEY, "005B", *args, now=1000.0)  # another rep
    assert not link_is_valid(KEY, "005A", "other@example.com", *args[1:], now=1000.0)
    assert not link_is_valid(b"x" * 32, "005A", *args, now=1000.0)  # another key
    assert not link_is_valid(KEY, "005A", *args, now=1000.0 + 24 * 3600 + 1)  # expired
    assert not link_is_valid(KEY, "005A", args[0], "soon", args[2], now=1000.0)


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/tasks", "/tasks"),
        ("/activity?before=01ABC", "/activity?before=01ABC"),
        ("https://evil.example/", "/settings"),
        ("//evil.example/x", "/settings"),
        ("javascript:alert(1)", "/settings"),
        (None, "/settings"),
    ],
)
def test_after_sign_in_only_a_path_of_this_site(asked: str | None, went: str) -> None:
    assert safe_next(asked) == went
