"""Make dkimpy's verification cheap enough to run on every message at the SMTP edge.

dkimpy does the DKIM protocol work (tags, canonicalization, header selection, body hash);
two of its steps are replaced here, by name in its module, with equivalents:

- RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) is done by OpenSSL through
  ``cryptography`` instead of dkimpy's pure-Python big-integer code (about 1 ms per
  signature). rsa-sha1 is refused, as RFC 8301 §3.1 requires of verifiers.
- A key record's parsing (RFC 6376 §3.6.1, pure-Python ASN.1) is remembered per record
  text, so a cached key is not parsed again for each message.
- The "relaxed" canonicalization's rewrites (RFC 6376 §3.4.2, §3.4.4) first ask whether
  there is anything to rewrite: most bodies have no tab, no double space and no space
  before a line end, most header values are not folded, and then the regex substitution,
  which visits every space, is skipped. Otherwise dkimpy's own function does it.

Both are installed when this module is imported; every other use of dkimpy in the process
gets the same results, only faster.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import dkim
import dkim.canonicalization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

_KEYS_REMEMBERED = 1024
_library_rsa_verify: Callable[..., bool] = dkim.RSASSA_PKCS1_v1_5_verify
_library_evaluate_pk: Callable[..., Any] = dkim.evaluate_pk


@lru_cache(maxsize=_KEYS_REMEMBERED)
def _rsa_public_key(modulus: int, exponent: int) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def rsa_pkcs1_v15_verify(hasher: Any, signature: bytes, public_key: dict[str, int]) -> bool:
    """What dkimpy's RSASSA_PKCS1_v1_5_verify returns, computed by OpenSSL."""
    name = str(hasher.name).lower()
    if name == "sha1":
        return False  # RFC 8301 §3.1: rsa-sha1 signatures are not considered valid
    if name != "sha256":
        return _library_rsa_verify(hasher, signature, public_key)
    try:
        key = _rsa_public_key(public_key["modulus"], public_key["publicExponent"])
        key.verify(
            bytes(signature), hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
    except InvalidSignature:
        return False
    except ValueError:
        # A key OpenSSL will not load: let dkimpy decide (and raise what it raises).
        return _library_rsa_verify(hasher, signature, public_key)
    return True


_parsed: OrderedDict[bytes, Any] = OrderedDict()
_parsed_lock = threading.Lock()


def load_pk_from_dns(name: bytes, dnsfunc: Callable[..., Any], timeout: float = 5) -> Any:
    """dkimpy's key lookup, with the parse of each distinct key record remembered."""
    record = dnsfunc(name, timeout=timeout)
    if not isinstance(record, bytes):
        return _library_evaluate_pk(name, record)
    with _parsed_lock:
        if record in _parsed:
            _parsed.move_to_end(record)
            return _parsed[record]
    parsed = _library_evaluate_pk(name, record)  # raises for a bad record: nothing is kept
    with _parsed_lock:
        _parsed[record] = parsed
        while len(_parsed) > _KEYS_REMEMBERED:
            _parsed.popitem(last=False)
    return parsed


_library_compress = dkim.canonicalization.compress_whitespace
_library_strip_trailing = dkim.canonicalization.strip_trailing_whitespace


def compress_whitespace(content: bytes) -> bytes:
    """Runs of WSP become one space; unchanged unless a tab or two spaces occur."""
    if b"\t" not in content and b"  " not in content:
        return content
    return bytes(_library_compress(content))


def strip_trailing_whitespace(content: bytes) -> bytes:
    """WSP before a line end is removed; unchanged unless a space or tab precedes CRLF."""
    if b" \r\n" not in content and b"\t\r\n" not in content:
        return content
    return bytes(_library_strip_trailing(content))


_library_unfold = dkim.canonicalization.unfold_header_value


def unfold_header_value(content: bytes) -> bytes:
    """Line breaks are removed from a header value; unchanged unless it has one."""
    if b"\n" not in content:
        return content
    return bytes(_library_unfold(content))


dkim.canonicalization.unfold_header_value = unfold_header_value
dkim.canonicalization.compress_whitespace = compress_whitespace
dkim.canonicalization.strip_trailing_whitespace = strip_trailing_whitespace
dkim.RSASSA_PKCS1_v1_5_verify = rsa_pkcs1_v15_verify
dkim.load_pk_from_dns = load_pk_from_dns
