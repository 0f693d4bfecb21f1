"""SenderVerifier: SPF, DKIM and DMARC for one message, off the event loop, never raising.

The three checks run side by side on a small pool of worker threads (their DNS is blocking), each
lookup bounded by ``timeout_seconds`` and the whole check by twice that. Results come back as an
AuthVerdict (``verdict.py``) whose ``reason`` a person can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from relay.logs import get_logger
from relay.smtp.authentication.checks import (
    DkimOutcome,
    SpfOutcome,
    check_dkim,
    check_spf,
    dmarc_record_or_error,
)
from relay.smtp.authentication.headers import HeaderField, from_domain, header_fields
from relay.smtp.authentication.resolver import CachingResolver
from relay.smtp.authentication.verdict import (
    TEMPERROR,
    AuthVerdict,
    CheckResults,
    DmarcRecord,
    decide,
)

log = get_logger("relay.smtp")

# Worker threads for the checks: a silent DNS server holds one per check for a timeout, so the
# pool bounds what a DNS outage can take without starving the rest of the process.
_WORKERS = 16


class SenderVerifier:
    """Checks a message's sender with SPF, DKIM and DMARC against DNS (RFC 7208, 6376, 7489)."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        timeout_seconds: float = 5.0,
        cache_seconds: float = 300.0,
        cache_size: int = 10_000,
    ) -> None:
        self._resolver = CachingResolver(nameservers, timeout_seconds, cache_seconds, cache_size)
        self._deadline = 2 * timeout_seconds
        self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="relay-sender-checks")

    def close(self) -> None:
        """Stop the worker threads (those waiting on DNS end with their lookup's timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def verify(self, raw: bytes, client_ip: str, helo: str, mail_from: str) -> AuthVerdict:
        """The verdict for ``raw`` as received from ``client_ip``; never raises."""
        fields, _ = header_fields(raw)
        domain = from_domain(raw, fields)
        try:
            return await asyncio.wait_for(
                self._verify(raw, client_ip, helo, mail_from, domain, fields_have_dkim(fields)),
                self._deadline,
            )
        except TimeoutError:
            return _unfinished(
                domain, f"the sender checks did not finish within {self._deadline:g} s"
            )
        except Exception as error:  # never raise into the SMTP session: retry later instead
            log.exception("sender_checks_failed", error=str(error))
            return _unfinished(domain, f"the sender checks failed unexpectedly ({error})")

    async def _verify(
        self,
        raw: bytes,
        client_ip: str,
        helo: str,
        mail_from: str,
        domain: str | None,
        has_dkim: bool,
    ) -> AuthVerdict:
        loop = asyncio.get_running_loop()
        run = self._executor
        spf_job = loop.run_in_executor(run, check_spf, self._resolver, client_ip, helo, mail_from)
        dkim_job = loop.run_in_executor(run, check_dkim, self._resolver, raw) if has_dkim else None
        dmarc_job = (
            loop.run_in_executor(run, dmarc_record_or_error, self._resolver, domain)
            if domain
            else None
        )
        spf: SpfOutcome = await spf_job
        dkim: DkimOutcome = await dkim_job if dkim_job else DkimOutcome("none", (), ())
        record: tuple[DmarcRecord | None, str | None] = (
            await dmarc_job if dmarc_job else (None, None)
        )
        checks = CheckResults(
            from_domain=domain,
            spf=spf.result,
            spf_domain=spf.domain,
            dkim=dkim.result,
            dkim_domains=dkim.passed_domains,
            dkim_temperror_domains=dkim.temperror_domains,
        )
        return decide(checks, *record)


def fields_have_dkim(fields: Sequence[HeaderField]) -> bool:
    """Whether the header has a DKIM-Signature field (no thread is needed to say "none")."""
    return any(field.name == "dkim-signature" for field in fields)


def _unfinished(domain: str | None, reason: str) -> AuthVerdict:
    return AuthVerdict(
        from_domain=domain,
        dmarc=TEMPERROR,
        spf=TEMPERROR,
        spf_domain=None,
        dkim=TEMPERROR,
        dkim_domains=(),
        policy=None,
        reason=f"{reason}; try again later",
        dns_temperror=True,
    )
