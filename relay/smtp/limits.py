"""Back-pressure bookkeeping: connection caps and DATA slots. No I/O.

aiosmtpd reads a whole DATA payload into memory, so unbounded concurrency means
unbounded memory. Caps answer with temporary codes instead (421 4.7.0, 451 4.3.2).
Per-client caps count a client by ``client_key``: its IPv4 address, or its IPv6 /64.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter
from enum import StrEnum
from typing import Generic, TypeVar

Connection = TypeVar("Connection")


class Admission(StrEnum):
    ADMITTED = "admitted"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_FROM_CLIENT = "too_many_connections_from_client"
    SHUTTING_DOWN = "shutting_down"


@functools.lru_cache(maxsize=4096)
def client_key(host: str) -> str:
    """The unit a per-client cap counts: an IPv4 address, or an IPv6 /64.

    One IPv6 site or host usually holds a whole /64 (RFC 6177 §3: "a /64 ... to each
    end site" at the least; RFC 4291 §2.5.1: 64-bit interface identifiers), so counting
    single addresses would let one client take every slot by changing its low 64 bits.
    IPv4-mapped IPv6 (``::ffff:a.b.c.d`` on a dual-stack socket) counts as the IPv4 address.
    Cached: it is asked at every connection and command, and parsing the address is
    most of its cost; the cache is bounded, and a key depends on the host alone.
    """
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host  # not an IP (a UNIX socket path): its own client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ConnectionLimits(Generic[Connection]):
    """The open connections, total and per client address, and the shutdown flag."""

    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.shutting_down = False
        self._open: dict[Connection, str] = {}
        self._per_client: Counter[str] = Counter()

    def admit(self, connection: Connection, host: str) -> Admission:
        client = client_key(host)
        if self.shutting_down:
            return Admission.SHUTTING_DOWN
        if len(self._open) >= self.max_total:
            return Admission.TOO_MANY_CONNECTIONS
        if self._per_client[client] >= self.max_per_client:
            return Admission.TOO_MANY_FROM_CLIENT
        self._open[connection] = client
        self._per_client[client] += 1
        return Admission.ADMITTED

    def release(self, connection: Connection) -> None:
        client = self._open.pop(connection, None)
        if client is not None:
            self._per_client[client] -= 1
            if self._per_client[client] <= 0:
                del self._per_client[client]

    @property
    def open(self) -> list[Connection]:
        return list(self._open)


class DataGrant(StrEnum):
    GRANTED = "granted"
    SERVER_FULL = "server_full"
    CLIENT_FULL = "client_full"


class DataSlots:
    """A non-blocking counting limit, total and per client: a full house is refused,
    never queued. Without a per-client share, one client could hold every slot with
    slow DATA sessions and lock everyone else out."""

    def __init__(self, capacity: int, per_client: int | None = None) -> None:
        self.capacity = capacity
        self.per_client = per_client or capacity
        self.in_use = 0
        self._per_client: Counter[str] = Counter()

    def try_acquire(self, host: str = "", share_capped: bool = True) -> DataGrant:
        """``share_capped=False`` for a relaying MTA the admin trusts: it carries many
        clients' mail over one address, so only the server-wide cap applies to it."""
        client = client_key(host)
        if self.in_use >= self.capacity:
            return DataGrant.SERVER_FULL
        if share_capped and self._per_client[client] >= self.per_client:
            return DataGrant.CLIENT_FULL
        self.in_use += 1
        self._per_client[client] += 1
        return DataGrant.GRANTED

    def release(self, host: str = "") -> None:
        client = client_key(host)
        self.in_use = max(0, self.in_use - 1)
        self._per_client[client] -= 1
        if self._per_client[client] <= 0:
            del self._per_client[client]
