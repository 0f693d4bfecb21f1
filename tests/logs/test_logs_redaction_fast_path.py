"""The redaction fast path (skip the regexes when no trigger is present) hides as much."""

from __future__ import annotations

import pytest

from relay import logs
from relay.logs import REDACTED, redact_secrets, redact_text


def redact_with_every_pattern(text: str) -> str:
    """The reference: every pattern, always (what redact_text did before the fast path)."""
    for pattern in logs._SECRET_TEXT:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return logs._AUTH_LINE.sub(lambda m: m.group(1) + REDACTED, text)


SAMPLES = [
    "message_queued",
    "127.0.0.1:45678",
    "<bench-123@bench.example>",
    "AUTHORIZATION: BEARER abc.def",
    "authorization=Basic dXNlcjpwYXNz",
    "PASSWORD=hunter2",
    "Client_Secret: s3cr3t",
    "REFRESH_TOKEN=tok",
    '{"Assertion": "eyJhbGciOi"}',
    "<SESSIONID>00Dxx!abc</SESSIONID>",
    "sessionId=abc",
    "Bearer 00Dxx0000001gPL!AR8AQP0jITN80ESEsj5EbaZTFG0R",
    "auth plain dXNlcgBwYXNz",
    "client_ſecret=unicode-long-s",  # (?i) matches U+017F for "s": must still be masked
    "paſsword=unicode-long-s",
    "K\u212a token=kelvin",
    "Grüße, password: hunter2",
    "nothing to see here",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_path_masks_exactly_what_every_pattern_masks(text: str) -> None:
    """For ASCII and non-ASCII text alike, the result equals running every regex."""
    assert redact_text(text) == redact_with_every_pattern(text)


def test_processor_still_masks_secret_keys_of_any_type() -> None:
    """A secret key is masked whatever its value's type; plain numbers pass through."""
    event = redact_secrets(
        None, "info", {"event": "x", "password": 12345, "api_key": 1.5, "size": 2048, "ok": True}
    )
    assert event == {
        "event": "x",
        "password": REDACTED,
        "api_key": REDACTED,
        "size": 2048,
        "ok": True,
    }
