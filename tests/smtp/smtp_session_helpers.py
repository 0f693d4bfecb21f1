"""Small helpers the SMTP tests share: building messages and talking raw SMTP."""

from __future__ import annotations

import json
import smtplib
import socket
import urllib.error
import urllib.request
from typing import Any

DOMAIN = "relay.example"
LOG = f"log@{DOMAIN}"


def message(tag: str, body: bytes = b"Hello from a test.\r\n") -> bytes:
    """A small RFC 5322 message whose Message-ID names ``tag``."""
    headers = (
        f"From: Rep <rep@customer.example>\r\n"
        f"To: Buyer <buyer@prospect.example>\r\n"
        f"Subject: test {tag}\r\n"
        f"Message-ID: <{tag}@test.example>\r\n"
        f"\r\n"
    ).encode()
    return headers + body


def connect(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    client.ehlo("client.test.example")
    return client


def send(port: int, raw: bytes, rcpts: tuple[str, ...] = (LOG,), sender: str = "rep@x.example"):
    """One transaction; returns the (code, text) reply to the final dot."""
    with connect(port) as client:
        client.mail(sender)
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            assert code == 250, (rcpt, code, text)
        return client.data(raw)


def start_data(port: int, sender: str = "rep@x.example") -> smtplib.SMTP:
    """A session that is inside DATA (354 received), for disconnect and drain tests."""
    client = connect(port)
    client.mail(sender)
    client.rcpt(LOG)
    code, _ = client.docmd("DATA")
    assert code == 354
    return client


def read_line(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def http_json(url: str) -> tuple[int, Any]:
    status, text = http_get(url)
    return status, json.loads(text)
