"""/healthz, /readyz and /metrics of a running daemon, and the edge's log events."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from structlog.testing import capture_logs

from tests.smtp.smtp_session_helpers import LOG, connect, http_get, http_json, message, send


def test_healthz_and_readyz_report_ok(start_daemon):
    """A started daemon is alive and ready: the store is writable and SMTP listens."""
    relay = start_daemon()
    assert http_json(f"{relay.http_url}/healthz") == (200, {"status": "ok"})
    status, body = http_json(f"{relay.http_url}/readyz")
    assert status == 200
    assert body == {"status": "ready", "checks": {"store": "ok", "runners": "ok", "smtp": "ok"}}


def test_readyz_is_503_once_the_listener_stops(start_daemon):
    """While draining, /readyz says not ready so a balancer stops sending."""
    relay = start_daemon(shutdown_deadline_seconds=5)
    idle_busy = connect(relay.smtp_port)
    idle_busy.mail("rep@x.example")  # a transaction in flight keeps the drain (and HTTP) up
    relay.loop.call_soon_threadsafe(relay.daemon.request_stop, "test")
    status, body = http_json(f"{relay.http_url}/readyz")
    assert status == 503
    assert body["checks"]["smtp"] == "not listening"
    idle_busy.close()


def test_metrics_count_accepted_rejected_bytes_and_queue_depth(start_daemon):
    """/metrics exposes accepted, rejected by reason, bytes and queue depth by state."""
    relay = start_daemon()
    raw = message("metrics")
    assert send(relay.smtp_port, raw)[0] == 250
    with connect(relay.smtp_port) as client:
        client.mail("rep@x.example")
        assert client.rcpt("someone@elsewhere.example")[0] == 550
    status, text = http_get(f"{relay.http_url}/metrics")
    assert status == 200
    lines = set(text.splitlines())
    assert "relay_smtp_messages_accepted_total 1.0" in lines
    assert f"relay_smtp_accepted_bytes_total {float(len(raw))}" in lines
    assert 'relay_smtp_rejected_total{reason="relay_denied"} 1.0' in lines
    assert 'relay_queue_messages{state="queued"} 1.0' in lines
    assert 'relay_queue_messages{state="held"} 0.0' in lines
    assert "relay_smtp_connections 0.0" in lines


def test_log_events_name_the_queue_id_and_never_the_body(start_daemon):
    """message_queued carries the queue id; rejections carry reason and code; no body."""
    relay = start_daemon()
    secret_body = b"the quarterly numbers are 12345\r\n"
    with capture_logs() as logs:
        code, text = send(relay.smtp_port, message("logged", secret_body))
        with connect(relay.smtp_port) as client:
            client.mail("rep@x.example")
            client.rcpt(f"nobody@{LOG.split('@')[1]}")
    assert code == 250
    events = {entry["event"]: entry for entry in logs}
    assert events["message_queued"]["queue_id"] == text.decode().rsplit(" ", 1)[1]
    assert events["smtp_rejected"]["reason"] == "unknown_mailbox"
    assert events["smtp_rejected"]["code"] == "550"
    assert "quarterly" not in repr(logs)


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers_and_is_refused_outside_the_domain(start_daemon):
    """A second, independent client (swaks) sees the same 250 and 550 5.7.1 replies."""
    relay = start_daemon()
    common = ["swaks", "--server", f"127.0.0.1:{relay.smtp_port}", "--from", "rep@x.example"]
    ok = subprocess.run(
        [*common, "--to", LOG, "--header", "Subject: swaks"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout
    assert "250 2.0.0 Ok: queued as" in ok.stdout
    denied = subprocess.run(
        [*common, "--to", "log@elsewhere.example"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert denied.returncode != 0
    assert "550 5.7.1" in denied.stdout
    assert len(relay.stored()) == 1
