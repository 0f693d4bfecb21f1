"""dkimpy's replaced steps give exactly what dkimpy's own code gives."""

from __future__ import annotations

import hashlib

import dkim.crypto
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from relay.smtp.authentication import dkim_speedups
from tests.support.dns_zone import DkimKey

# Bytes rich in the characters canonicalization cares about.
wsp_text = st.lists(st.sampled_from([b" ", b"\t", b"\r\n", b"\n", b"a", b"  ", b"\r"])).map(
    b"".join
)


@given(wsp_text)
def test_whitespace_rewrites_equal_dkimpys(content: bytes) -> None:
    """compress, strip-trailing and unfold agree with dkimpy's regex versions on any input."""
    assert dkim_speedups.compress_whitespace(content) == dkim_speedups._library_compress(content)
    assert dkim_speedups.strip_trailing_whitespace(
        content
    ) == dkim_speedups._library_strip_trailing(content)
    assert dkim_speedups.unfold_header_value(content) == dkim_speedups._library_unfold(content)


def _signature(key: DkimKey, digest_name: str, data: bytes) -> tuple[object, bytes, dict[str, int]]:
    private = dkim.crypto.parse_pem_private_key(key.private_pem)
    public = {"modulus": private["modulus"], "publicExponent": private["publicExponent"]}
    signature = dkim.crypto.RSASSA_PKCS1_v1_5_sign(hashlib.new(digest_name, data), private)
    return hashlib.new(digest_name, data), bytes(signature), public


def test_openssl_rsa_verify_agrees_with_dkimpy(acme_key: DkimKey) -> None:
    """A good rsa-sha256 signature verifies, a changed digest or signature does not."""
    digest, signature, public = _signature(acme_key, "sha256", b"canonicalized header")
    assert dkim_speedups.rsa_pkcs1_v15_verify(digest, signature, public)
    assert dkim_speedups._library_rsa_verify(digest, signature, public)
    other = hashlib.sha256(b"another header")
    assert not dkim_speedups.rsa_pkcs1_v15_verify(other, signature, public)
    assert not dkim_speedups._library_rsa_verify(other, signature, public)
    broken = bytes([signature[0] ^ 1]) + signature[1:]
    assert not dkim_speedups.rsa_pkcs1_v15_verify(digest, broken, public)


def test_rsa_sha1_is_refused(acme_key: DkimKey) -> None:
    """RFC 8301 §3.1: a valid rsa-sha1 signature is not considered valid."""
    digest, signature, public = _signature(acme_key, "sha1", b"canonicalized header")
    assert dkim_speedups._library_rsa_verify(digest, signature, public)
    assert not dkim_speedups.rsa_pkcs1_v15_verify(digest, signature, public)


def test_the_private_key_helper_writes_pem(acme_key: DkimKey) -> None:
    """The test key is a loadable PEM RSA key (what dkimpy signs with)."""
    key = serialization.load_pem_private_key(acme_key.private_pem, password=None)
    assert key.key_size == 2048
