"""RELAY_DNS_NAMESERVERS: comma-separated host[:port], IPv6 as [addr]:port."""

from __future__ import annotations

import re

import pytest

from relay.smtp.authentication import parse_nameservers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("127.0.0.1", ("127.0.0.1:53",)),
        ("127.0.0.1:5353, 192.0.2.1", ("127.0.0.1:5353", "192.0.2.1:53")),
        ("[::1]:5353,[2001:db8::1]", ("[::1]:5353", "[2001:db8::1]:53")),
        ("::1", ("[::1]:53",)),
        ("dns.internal.example:53", ("dns.internal.example:53",)),
    ],
)
def test_good_nameserver_lists_parse(text: str, expected: tuple[str, ...]) -> None:
    """Each item becomes host:port with the default port 53."""
    assert parse_nameservers(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1:0", "the port must be a number from 1 to 65535"),
        ("127.0.0.1:dns", "the port must be a number from 1 to 65535"),
        ("[::1", "write an IPv6 address as [addr] or [addr]:port"),
        ("[127.0.0.1]:53", "is not an IPv6 address"),
        ("bad_host!:53", "is neither an IP address nor a host name"),
    ],
)
def test_bad_nameserver_lists_say_what_is_wrong(text: str, message: str) -> None:
    """A bad item raises ValueError naming the item and the fix."""
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        parse_nameservers(text)
    assert repr(text.split(",")[0].strip()) in str(error.value)
