"""RelaySMTP._getaddr's one-regex path gives exactly aiosmtpd's results."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiosmtpd.smtp import SMTP

from relay.smtp.protocol import _SIMPLE_ANGLE_ADDR, RelaySMTP

ARGUMENTS = [
    "<rep@customer.example>",
    "<rep@customer.example> SIZE=2048 BODY=8BITMIME",
    "  <first.last+tag@sub.customer.example>",
    "\t<o'neil{x}|y~z@example.com>\tSMTPUTF8",
    "<a.b.c@d>",
    "<log@relay.example>",
    "<rep@customer.example>trailing",
    "<rep@customer.example> (a comment) SIZE=1",
    "<rep@customer.example> \x0bSIZE=1",
    "\x0b<rep@customer.example>",
    "<>",
    "<.rep@customer.example>",
    "<rep.@customer.example>",
    "<re..p@customer.example>",
    "<rep@customer..example>",
    '<"quoted local"@customer.example>',
    "<rep@[127.0.0.1]>",
    "<(comment)rep@customer.example>",
    "<rep @customer.example>",
    "<rép@exämple.com>",
    "<@relay.one:rep@customer.example>",
    "rep@customer.example",
    "<rep@customer.example",
    "<" + "x" * 80 + "@customer.example>",
]


@pytest.mark.parametrize("local_part_limit", [0, 64])
@pytest.mark.parametrize("arg", ARGUMENTS)
def test_same_address_and_rest_as_aiosmtpd(arg: str, local_part_limit: int) -> None:
    """Fast path or tokenizer, the (address, rest) pair equals aiosmtpd 1.4.6's own."""
    session = SimpleNamespace(local_part_limit=local_part_limit)
    assert RelaySMTP._getaddr(session, arg) == SMTP._getaddr(session, arg)  # type: ignore[arg-type]


def test_the_common_shapes_take_the_fast_path() -> None:
    """The benchmark's MAIL and RCPT arguments never reach the tokenizer."""
    assert _SIMPLE_ANGLE_ADDR.fullmatch("<rep@customer.example> SIZE=2048")
    assert _SIMPLE_ANGLE_ADDR.fullmatch("<log+01HX@relay.example>")
    assert not _SIMPLE_ANGLE_ADDR.fullmatch('<"q"@customer.example>')
