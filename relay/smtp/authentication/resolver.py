"""DNS for the sender checks: chosen nameservers, a timeout on every lookup, a bounded cache.

The lookups are blocking (dnspython's stub resolver): the verifier runs them on worker threads,
never on the event loop. Answers, positive and negative (NXDOMAIN, no data), are cached for their
TTL but never longer than ``cache_seconds`` (RFC 2308 §5 for the negative ones); a temporary
failure is remembered for a few seconds only, so a dead server does not cost every message a
full timeout.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

T = TypeVar("T")

# A failed server is asked again after this long at most.
_TEMPERROR_SECONDS = 5.0
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$",
    re.I,
)


class DnsTemporaryError(Exception):
    """A lookup failed for a while (timeout, SERVFAIL, no server): RFC 7208 §2.6.6 temperror."""


class NotCached(Exception):
    """The answer is not in the cache: the check must run where DNS may be asked."""


class DnsLookups(Protocol):
    """What the checks need from DNS."""

    def lookup(self, name: str, rdtype: str) -> tuple[dns.rdata.Rdata, ...]: ...

    def txt(self, name: str) -> tuple[bytes, ...]: ...


def parse_nameservers(text: str) -> tuple[str, ...]:
    """``host[:port],...`` (IPv6 as ``[addr]:port`` or bare) into normalised ``host:port`` items.

    Raises ValueError with a message a person can act on.
    """
    servers: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, port = _split_host_port(item)
        servers.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return tuple(servers)


def _split_host_port(item: str) -> tuple[str, int]:
    port_text = "53"
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"nameserver {item!r}: write an IPv6 address as [addr] or [addr]:port")
        port_text = rest[1:] if rest else port_text
        _require_ip(host, item)
    elif item.count(":") > 1:
        host = item  # a bare IPv6 address, without a port
        _require_ip(host, item)
    else:
        host, colon, port_text = item.partition(":")
        port_text = port_text if colon else "53"
        if not _is_ip(host) and not _HOSTNAME.match(host):
            raise ValueError(
                f"nameserver {item!r}: {host!r} is neither an IP address nor a host name"
            )
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"nameserver {item!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _require_ip(host: str, item: str) -> None:
    if not _is_ip(host) or ":" not in host:
        raise ValueError(f"nameserver {item!r}: {host!r} is not an IPv6 address")


@dataclass(frozen=True)
class CacheEntry:
    """An answer (or a temporary failure) and when it expires, on the time.monotonic() clock."""

    expires: float
    rdatas: tuple[dns.rdata.Rdata, ...]
    failure: str | None = None


class CachingResolver:
    """Thread-safe lookups of (name, type) with a timeout each and a TTL-bounded LRU cache."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        timeout_seconds: float = 5.0,
        cache_seconds: float = 300.0,
        cache_size: int = 10_000,
    ) -> None:
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, dns.rdatatype.RdataType], CacheEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._setup_error: str | None = None
        self._resolver = dns.resolver.Resolver(configure=False)
        try:
            if nameservers:
                self._resolver.nameservers = _nameserver_objects(nameservers)
            else:
                self._resolver.read_resolv_conf("/etc/resolv.conf")
        except (OSError, ValueError, dns.exception.DNSException) as error:
            # Start-up goes on: every check then ends "temperror" with this reason.
            self._setup_error = f"no usable DNS resolver ({error}); set RELAY_DNS_NAMESERVERS"
        # Each attempt and the whole lookup share one bound: no lookup outlives the timeout.
        self._resolver.timeout = timeout_seconds
        self._resolver.lifetime = timeout_seconds
        self._resolver.cache = None
        self._timeout_seconds = timeout_seconds
        self._deadline = threading.local()

    def until(self, deadline: float, job: Callable[..., T], *args: Any) -> T:
        """Run ``job(*args)`` on this thread with no lookup past ``deadline`` (monotonic):
        a check its caller gave up on stops asking DNS instead of holding a worker thread
        for every remaining lookup (an SPF record may take ten, RFC 7208 §4.6.4)."""
        self._deadline.at = deadline
        try:
            return job(*args)
        finally:
            self._deadline.at = None

    def cached(self) -> CachedAnswers:
        """The same lookups from the cache alone: a miss raises NotCached, nothing is sent."""
        return CachedAnswers(self)

    def tracked(self) -> CachedAnswers:
        """The same lookups (DNS asked on a miss), noting when the first answer used expires."""
        return CachedAnswers(self, cached_only=False)

    def lookup(
        self, name: str, rdtype: str, cached_only: bool = False
    ) -> tuple[dns.rdata.Rdata, ...]:
        """The records of ``name`` (empty for NXDOMAIN or no data); DnsTemporaryError on failure."""
        entry = self.entry(name, rdtype, cached_only)
        if entry.failure:
            raise DnsTemporaryError(entry.failure)
        return entry.rdatas

    def entry(self, name: str, rdtype: str, cached_only: bool = False) -> CacheEntry:
        """The cached or fresh answer, failures included; NotCached on a miss if ``cached_only``."""
        if self._setup_error:
            raise DnsTemporaryError(self._setup_error)
        key = (name.lower().rstrip("."), dns.rdatatype.RdataType.make(rdtype))
        now = time.monotonic()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry.expires > now:
                self._cache.move_to_end(key)
                return entry
        if cached_only:
            raise NotCached(name)
        deadline: float | None = getattr(self._deadline, "at", None)
        if deadline is not None and deadline - now <= 0:
            # Not cached: the name did not fail, the check ran out of time.
            raise DnsTemporaryError(f"no time left to look up {name}")
        left = None if deadline is None else deadline - now
        entry = self._query(key, now, left)
        if entry.failure and left is not None and left < self._timeout_seconds:
            return entry  # timed out on the check's deadline, not its own: not cached
        with self._lock:
            if entry.expires > now:
                self._cache[key] = entry
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return entry

    def txt(self, name: str, cached_only: bool = False) -> tuple[bytes, ...]:
        """Each TXT record of ``name`` as one string (RFC 7208 §3.3: its strings joined)."""
        return _joined(self.lookup(name, "TXT", cached_only))

    def _query(
        self, key: tuple[str, dns.rdatatype.RdataType], now: float, left: float | None = None
    ) -> CacheEntry:
        name, rdtype = key
        lifetime = self._timeout_seconds if left is None else min(left, self._timeout_seconds)
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError):
            # Not a name DNS can carry (a label over 63 bytes, bad IDNA): it has no records.
            return CacheEntry(now + self._cache_seconds, ())
        try:
            answer = self._resolver.resolve(
                qname,
                rdtype,
                search=False,
                raise_on_no_answer=False,
                lifetime=lifetime,
            )
        except dns.resolver.NXDOMAIN as error:
            responses = error.kwargs.get("responses") or {}
            return CacheEntry(now + self._negative_ttl(responses.get(qname)), ())
        except dns.resolver.NoNameservers as error:
            return self._failure(
                now, f"no DNS server answered {name} (SERVFAIL or refused): {error}"
            )
        except dns.exception.Timeout:
            return self._failure(now, f"DNS lookup of {name} timed out")
        except dns.exception.DNSException as error:
            return self._failure(now, f"DNS lookup of {name} failed: {error}")
        if answer.rrset is None:
            return CacheEntry(now + self._negative_ttl(answer.response), ())
        ttl = min(float(answer.rrset.ttl), self._cache_seconds)
        return CacheEntry(now + ttl, tuple(answer.rrset))

    def _negative_ttl(self, response: dns.message.Message | None) -> float:
        # RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM).
        for rrset in response.authority if response is not None else ():
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                soa_minimum = float(rrset[0].minimum)
                return min(float(rrset.ttl), soa_minimum, self._cache_seconds)
        return self._cache_seconds

    def _failure(self, now: float, reason: str) -> CacheEntry:
        # One line, whatever the library's message: it ends up in an SMTP reply and the log.
        reason = " ".join(reason.split())
        return CacheEntry(now + min(_TEMPERROR_SECONDS, self._cache_seconds), (), failure=reason)


class CachedAnswers:
    """A CachingResolver's answers from its cache alone (see CachingResolver.cached).

    ``expires`` is when the first answer it served expires: a result computed from these
    answers is good until then.
    """

    def __init__(self, resolver: CachingResolver, cached_only: bool = True) -> None:
        self._resolver = resolver
        self._cached_only = cached_only
        self.expires = float("inf")

    def lookup(self, name: str, rdtype: str) -> tuple[dns.rdata.Rdata, ...]:
        entry = self._resolver.entry(name, rdtype, cached_only=self._cached_only)
        self.expires = min(self.expires, entry.expires)
        if entry.failure:
            raise DnsTemporaryError(entry.failure)
        return entry.rdatas

    def txt(self, name: str) -> tuple[bytes, ...]:
        return _joined(self.lookup(name, "TXT"))


def _joined(rdatas: tuple[dns.rdata.Rdata, ...]) -> tuple[bytes, ...]:
    return tuple(b"".join(r.strings) for r in rdatas)  # type: ignore[attr-defined]


def _nameserver_objects(nameservers: Sequence[str]) -> list[str | dns.nameserver.Nameserver]:
    objects: list[str | dns.nameserver.Nameserver] = []
    for item in nameservers:
        host, port = _split_host_port(item)
        for address in _addresses(host):
            objects.append(dns.nameserver.Do53Nameserver(address, port))
    return objects


def _addresses(host: str) -> list[str]:
    if _is_ip(host):
        return [host]
    # A host name is resolved once, at start-up, by the system's resolver.
    infos = socket.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    return sorted({str(info[4][0]) for info in infos})
