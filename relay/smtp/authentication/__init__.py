"""Sender authentication for the SMTP edge: SPF, DKIM, DMARC and Authentication-Results.

::

    verdict.py          AuthVerdict; DMARC's pure core: records, alignment, the result
    headers.py          the header block as byte spans; the one RFC 5322.From domain
    results_header.py   read our MTA's Authentication-Results (RFC 8601), strip the rest
    resolver.py         DNS with chosen nameservers, timeouts and a TTL-bounded cache
    checks.py           SPF (pyspf), DKIM (dkimpy) and the DMARC record on that resolver
    verifier.py         SenderVerifier: the checks off the event loop, never raising

It may import ``relay.logs`` and nothing else of Relay (its modules import each other); the
edge's sender policy (relay/smtp/senders.py) is its only user.
"""

from relay.smtp.authentication.resolver import parse_nameservers
from relay.smtp.authentication.results_header import (
    reported_verdict,
    strip_authentication_results,
)
from relay.smtp.authentication.verdict import AuthVerdict
from relay.smtp.authentication.verifier import SenderVerifier

__all__ = [
    "AuthVerdict",
    "SenderVerifier",
    "parse_nameservers",
    "reported_verdict",
    "strip_authentication_results",
]
