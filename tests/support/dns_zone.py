"""A real DNS server on loopback for tests, and DKIM keys and signatures made with dkimpy.

``serve_zone(zone)`` answers over UDP and TCP on 127.0.0.1 and one ephemeral port from a dict::

    {"acme.example": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"], "A": ["127.0.0.1"]},
     "sel._domainkey.acme.example": {"TXT": [key.dns_txt]},
     "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=reject"]}}

A name absent from the zone gets NXDOMAIN, a present name without the type an empty NOERROR
(both with an SOA, so resolvers cache them, RFC 2308). A UDP answer too large for the query's
size is truncated (TC), so the resolver asks again over TCP. ``server.servfail`` and
``server.silent`` hold names answered with SERVFAIL or not at all; ``server.queries`` records
every question (``server.tcp_queries`` those asked over TCP).
"""

from __future__ import annotations

import base64
import socketserver
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import dkim
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

Zone = Mapping[str, Mapping[str, Sequence[str]]]
TTL = 300


@dataclass
class ZoneServer:
    """The running server: where it listens, what it was asked, and which names misbehave."""

    host: str
    port: int
    zone: dict[str, dict[str, list[str]]]
    servfail: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    queries: list[tuple[str, str]] = field(default_factory=list)
    tcp_queries: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nameserver(self) -> str:
        """The ``host:port`` to give the verifier (RELAY_DNS_NAMESERVERS form)."""
        return f"{self.host}:{self.port}"

    def answer(self, wire: bytes, over_tcp: bool = False) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
            if over_tcp:
                self.tcp_queries.append((name, rdtype))
            records = self.zone.get(name)
            failing, quiet = name in self.servfail, name in self.silent
        if quiet:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if failing:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        values = (records or {}).get(rdtype, [])
        if values:
            response.answer.append(_rrset(question.name, rdtype, values))
        else:
            if records is None and not self._has_descendant(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(_soa())
        if over_tcp:
            return response.to_wire()
        return _fit_udp(query, response)

    def _has_descendant(self, name: str) -> bool:
        # RFC 8020: an empty non-terminal (e.g. _domainkey.acme.example) is NOERROR, not NXDOMAIN.
        return any(other.endswith("." + name) for other in self.zone)

    def queries_for(self, name: str) -> list[tuple[str, str]]:
        with self._lock:
            return [q for q in self.queries if q[0] == name.lower()]


def _fit_udp(query: dns.message.Message, response: dns.message.Message) -> bytes:
    # RFC 1035 §4.2.1 / RFC 6891 §6.2.5: a UDP answer over 512 bytes (or the EDNS size) is cut
    # and flagged TC, and the resolver must ask again over TCP.
    limit = query.payload if query.edns >= 0 else 512
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.flags |= dns.flags.TC
        return response.to_wire()


def _rrset(name: dns.name.Name, rdtype: str, values: Sequence[str]) -> dns.rrset.RRset:
    rdatas = [dns.rdata.from_text("IN", rdtype, _text(rdtype, v)) for v in values]
    return dns.rrset.from_rdata_list(name, TTL, rdatas)


def _text(rdtype: str, value: str) -> str:
    if rdtype != "TXT":
        return value
    # RFC 1035 §3.3.14: a TXT record is strings of at most 255 bytes each (a DKIM key needs two).
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def _soa() -> dns.rrset.RRset:
    soa = dns.rdata.from_text("IN", "SOA", f"ns.test. hostmaster.test. 1 3600 600 86400 {TTL}")
    return dns.rrset.from_rdata_list(dns.name.root, TTL, [soa])


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        wire, sock = self.request
        reply = self.server.zone_server.answer(wire)  # type: ignore[attr-defined]
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        # RFC 1035 §4.2.2: each message is prefixed with its two-byte length.
        length = int.from_bytes(self.request.recv(2), "big")
        wire = b""
        while len(wire) < length:
            chunk = self.request.recv(length - len(wire))
            if not chunk:
                return
            wire += chunk
        reply = self.server.zone_server.answer(wire, over_tcp=True)  # type: ignore[attr-defined]
        if reply is not None:
            self.request.sendall(len(reply).to_bytes(2, "big") + reply)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve_zone(zone: Zone, host: str = "127.0.0.1") -> Iterator[ZoneServer]:
    """Serve ``zone`` over UDP and TCP on one ephemeral port of ``host`` until the block ends."""
    normalized = {
        name.lower().rstrip("."): {t.upper(): list(v) for t, v in types.items()}
        for name, types in zone.items()
    }
    udp, tcp = _bind_pair(host)
    server = ZoneServer(host, udp.server_address[1], normalized)
    threads = []
    for listener in (udp, tcp):
        listener.zone_server = server  # type: ignore[attr-defined]
        thread = threading.Thread(target=listener.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield server
    finally:
        for listener in (udp, tcp):
            listener.shutdown()
            listener.server_close()
        for thread in threads:
            thread.join(timeout=5)


def _bind_pair(host: str) -> tuple[_UdpServer, _TcpServer]:
    # The resolver falls back to TCP on the same port (RFC 7766), so both must share it.
    for _ in range(20):
        udp = _UdpServer((host, 0), _Udp)
        try:
            tcp = _TcpServer((host, udp.server_address[1]), _Tcp)
        except OSError:
            udp.server_close()
            continue
        return udp, tcp
    raise OSError("no port free for both UDP and TCP on " + host)


@dataclass(frozen=True)
class DkimKey:
    """An RSA key pair: the PEM private key for signing, the TXT value for selector._domainkey."""

    private_pem: bytes
    dns_txt: str


def make_dkim_key(bits: int = 2048) -> DkimKey:
    """A fresh RSA DKIM key (RFC 6376 §3.6.1 key record, RFC 8301: at least 1024 bits)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(private_pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode())


def dkim_sign(message: bytes, domain: str, selector: str, key: DkimKey) -> bytes:
    """``message`` with a DKIM-Signature by ``domain`` prepended (relaxed/relaxed, rsa-sha256)."""
    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        key.private_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(signature) + message
