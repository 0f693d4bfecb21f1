"""SenderVerifier: SPF, DKIM and DMARC for one message, DNS off the event loop, never raising.

When every answer a message needs is in the cache, the checks run at once on the event loop:
no DNS, no thread hop (the common case: mail from a sender seen in the last minutes). A cache
miss sends the check to a small pool of worker threads, where SPF and the DMARC record are
looked up side by side with blocking DNS, then DKIM if it can still matter; each lookup is
bounded by ``timeout_seconds`` and the whole check by twice that. Results come back as an
AuthVerdict (``verdict.py``) whose ``reason`` a person can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections import OrderedDict
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
from relay.smtp.authentication.resolver import CachingResolver, NotCached
from relay.smtp.authentication.verdict import (
    SKIPPED,
    TEMPERROR,
    AuthVerdict,
    CheckResults,
    DmarcRecord,
    decide,
    identifiers_aligned,
)

log = get_logger("relay.smtp")

# Larger messages are checked on a worker thread even when cached: DKIM canonicalizes the whole
# body, which must not hold up every other session on the event loop.
_INLINE_MAX_BYTES = 256 * 1024
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
        skip_dkim_after_aligned_spf: bool = True,
    ) -> None:
        # DMARC passes on one aligned pass (RFC 7489 §4.2): once SPF gave it, DKIM cannot change
        # the verdict, only its cost; dkim is then reported as "skipped".
        self._skip_dkim_after_aligned_spf = skip_dkim_after_aligned_spf
        self._resolver = CachingResolver(nameservers, timeout_seconds, cache_seconds, cache_size)
        self._spf_results = SpfResults(cache_size, cache_seconds)
        self._deadline = 2 * timeout_seconds
        self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="relay-sender-checks")

    def close(self) -> None:
        """Stop the worker threads (those waiting on DNS end with their lookup's timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def verify(self, raw: bytes, client_ip: str, helo: str, mail_from: str) -> AuthVerdict:
        """The verdict for ``raw`` as received from ``client_ip``; never raises."""
        domain: str | None = None
        try:
            fields, _ = header_fields(raw)
            domain = from_domain(raw, fields)
            arguments = (raw, client_ip, helo, mail_from, domain, fields_have_dkim(fields))
            if len(raw) <= _INLINE_MAX_BYTES:
                with contextlib.suppress(NotCached):
                    return self._verify_from_cache(*arguments)
            return await asyncio.wait_for(self._verify(*arguments), self._deadline)
        except TimeoutError:
            return _unfinished(
                domain, f"the sender checks did not finish within {self._deadline:g} s"
            )
        except Exception as error:  # never raise into the SMTP session: retry later instead
            log.exception("sender_checks_failed", error=str(error))
            return _unfinished(domain, f"the sender checks failed unexpectedly ({error})")

    def _verify_from_cache(
        self,
        raw: bytes,
        client_ip: str,
        helo: str,
        mail_from: str,
        domain: str | None,
        has_dkim: bool,
    ) -> AuthVerdict:
        # Cheapest first, so that a miss is found before DKIM's work is done.
        answers = self._resolver.cached()
        record = dmarc_record_or_error(answers, domain) if domain else (None, None)
        spf = self._check_spf(client_ip, helo, mail_from, cached_only=True)
        if self._dkim_needed(has_dkim, spf, domain, record[0]):
            return _decide(domain, spf, check_dkim(answers, raw), record)
        return _decide(domain, spf, self._dkim_not_checked(has_dkim), record)

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
        # Work queued behind a DNS outage must not outlive this check's deadline either.
        until = functools.partial(self._resolver.until, time.monotonic() + self._deadline)
        spf_job = loop.run_in_executor(
            run, until, self._check_spf, client_ip, helo, mail_from, False
        )
        record: tuple[DmarcRecord | None, str | None] = (None, None)
        if domain:
            record = await loop.run_in_executor(
                run, until, dmarc_record_or_error, self._resolver, domain
            )
        spf: SpfOutcome = await spf_job
        # DKIM after SPF, so that the cached and the uncached path report the same verdict.
        if self._dkim_needed(has_dkim, spf, domain, record[0]):
            dkim = await loop.run_in_executor(run, until, check_dkim, self._resolver, raw)
            return _decide(domain, spf, dkim, record)
        return _decide(domain, spf, self._dkim_not_checked(has_dkim), record)

    def _check_spf(
        self, client_ip: str, helo: str, mail_from: str, cached_only: bool
    ) -> SpfOutcome:
        spf = self._spf_results.get(client_ip, helo, mail_from)
        if spf is None:
            answers = self._resolver.cached() if cached_only else self._resolver.tracked()
            spf = check_spf(answers, client_ip, helo, mail_from)
            self._spf_results.put(client_ip, helo, mail_from, spf, answers.expires)
        return spf

    def _dkim_needed(
        self, has_dkim: bool, spf: SpfOutcome, domain: str | None, record: DmarcRecord | None
    ) -> bool:
        if not has_dkim:
            return False
        return not (self._skip_dkim_after_aligned_spf and _spf_aligned_pass(spf, domain, record))

    @staticmethod
    def _dkim_not_checked(has_dkim: bool) -> DkimOutcome:
        return DkimOutcome(SKIPPED if has_dkim else "none", (), ())


class SpfResults:
    """SPF results by (client, HELO, MAIL FROM), each kept while every answer it used is.

    pyspf re-reads the record on every check; with the answers cached that is still most of a
    cached verify's cost, and the result cannot change before one of those answers expires.
    """

    def __init__(self, size: int, longest_seconds: float) -> None:
        self._size = size
        self._longest = longest_seconds
        self._results: OrderedDict[tuple[str, str, str], tuple[float, SpfOutcome]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, client_ip: str, helo: str, mail_from: str) -> SpfOutcome | None:
        key = (client_ip, helo.lower(), mail_from.lower())
        with self._lock:
            found = self._results.get(key)
            if found is None or found[0] <= time.monotonic():
                return None
            self._results.move_to_end(key)
            return found[1]

    def put(
        self, client_ip: str, helo: str, mail_from: str, outcome: SpfOutcome, expires: float
    ) -> None:
        expires = min(expires, time.monotonic() + self._longest)
        with self._lock:
            self._results[(client_ip, helo.lower(), mail_from.lower())] = (expires, outcome)
            while len(self._results) > self._size:
                self._results.popitem(last=False)


def _spf_aligned_pass(spf: SpfOutcome, domain: str | None, record: DmarcRecord | None) -> bool:
    return (
        spf.result == "pass"
        and spf.domain is not None
        and domain is not None
        and identifiers_aligned(spf.domain, domain, record.aspf if record else "r")
    )


def _decide(
    domain: str | None,
    spf: SpfOutcome,
    dkim: DkimOutcome,
    record: tuple[DmarcRecord | None, str | None],
) -> AuthVerdict:
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
