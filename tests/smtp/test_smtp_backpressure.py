"""Back-pressure, client disconnects and graceful drain of the SMTP edge."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from structlog.testing import capture_logs

from relay.store.model import Store
from tests.smtp.smtp_session_helpers import (
    LOG,
    connect,
    http_get,
    message,
    read_line,
    send,
    start_data,
)


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class SlowStore:
    """Wraps a real store; each commit takes ``delay`` seconds (a busy disk)."""

    def __init__(self, store: Store, delay: float) -> None:
        self._store = store
        self._delay = delay
        self.started = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def enqueue(self, raw, envelope, received_at) -> str:
        self.started.set()
        time.sleep(self._delay)
        return self._store.enqueue(raw, envelope, received_at)

    def enqueue_nowait(self, raw, envelope, received_at, log_fields=None) -> Future[str]:
        # Store's default: ``enqueue`` (the slow one above) on a thread of its own.
        return Store.enqueue_nowait(self, raw, envelope, received_at, log_fields)  # type: ignore[arg-type]


def late_connection_is_turned_away(port: int) -> bool:
    """After stop began: the connection is refused, or greeted with 421 and closed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as late:
            return read_line(late).startswith(b"421")
    except ConnectionRefusedError:
        return True


def test_disconnect_during_data_stores_nothing(start_daemon):
    """A client that drops mid-DATA leaves nothing in the store, and the daemon carries on."""
    relay = start_daemon()
    client = start_data(relay.smtp_port)
    client.send(b"Subject: half\r\n\r\nonly part of the bo")
    client.sock.shutdown(socket.SHUT_RDWR)
    client.close()
    assert wait_until(
        lambda: "relay_smtp_connections 0.0" in http_get(f"{relay.http_url}/metrics")[1]
    )
    assert relay.stored() == []
    assert send(relay.smtp_port, message("after-drop"))[0] == 250
    assert len(relay.stored()) == 1


def test_disconnect_after_final_dot_commits_exactly_once(start_daemon):
    """A client gone right after the final dot: the shielded commit still lands, once."""
    slow: list[SlowStore] = []

    def wrap(store: Store) -> Store:
        slow.append(SlowStore(store, delay=0.5))
        return slow[0]  # type: ignore[return-value]

    relay = start_daemon(wrap_store=wrap)
    raw = message("gone-after-dot")
    with capture_logs() as logs:
        client = start_data(relay.smtp_port)
        client.send(raw + b".\r\n")
        assert slow[0].started.wait(10)
        client.sock.shutdown(socket.SHUT_RDWR)
        client.close()
        assert wait_until(lambda: len(relay.stored()) == 1)
        time.sleep(0.3)
    assert relay.stored() == [raw]
    queued = [entry for entry in logs if entry["event"] == "message_queued"]
    assert len(queued) == 1
    assert queued[0]["queue_id"] == relay.store.list(None)[0].id


def test_concurrent_data_cap_answers_451(start_daemon):
    """With every DATA slot busy, the next DATA gets 451 4.3.2 instead of more memory."""
    relay = start_daemon(max_concurrent_data=1)
    busy = start_data(relay.smtp_port)
    with connect(relay.smtp_port) as second:
        second.mail("rep@x.example")
        second.rcpt(LOG)
        code, text = second.docmd("DATA")
        assert (code, text[:5]) == (451, b"4.3.2")
        # The transaction was reset: the client may start over once the slot frees up.
        busy.send(message("first") + b".\r\n")
        assert busy.getreply()[0] == 250
        second.mail("rep@x.example")
        second.rcpt(LOG)
        assert second.data(message("second"))[0] == 250
    busy.close()


def test_connection_caps_answer_421(start_daemon):
    """Past smtp.max_connections the greeting is 421 4.7.0 and the socket closes."""
    relay = start_daemon(max_connections=2, max_connections_per_client=5)
    held = [connect(relay.smtp_port) for _ in range(2)]
    with socket.create_connection(("127.0.0.1", relay.smtp_port), timeout=10) as third:
        assert read_line(third).startswith(b"421 4.7.0")
        assert third.recv(100) == b""
    for client in held:
        client.close()


def test_per_client_cap_answers_421(start_daemon):
    """Past smtp.max_connections_per_client one address cannot take every slot."""
    relay = start_daemon(max_connections=10, max_connections_per_client=1)
    first = connect(relay.smtp_port)
    with socket.create_connection(("127.0.0.1", relay.smtp_port), timeout=10) as second:
        assert read_line(second).startswith(b"421 4.7.0")
    first.quit()
    # The slot is released when the first connection closes.
    assert wait_until(lambda: send(relay.smtp_port, message("later"))[0] == 250)


def test_shutdown_drains_in_flight_data_and_says_421_to_idle(start_daemon):
    """On stop, a DATA in flight completes with 250 and an idle session gets 421 4.3.2."""
    relay = start_daemon(shutdown_deadline_seconds=10)
    idle = connect(relay.smtp_port)
    busy = start_data(relay.smtp_port)
    busy.send(b"Subject: in flight\r\n\r\nfirst half, ")
    relay.loop.call_soon_threadsafe(relay.daemon.request_stop, "test")
    assert read_line(idle.sock).startswith(b"421 4.3.2")
    assert late_connection_is_turned_away(relay.smtp_port)
    busy.send(b"second half.\r\n.\r\n")
    code, text = busy.getreply()
    assert code == 250
    assert text.startswith(b"2.0.0 Ok: queued as")
    # smtplib has buffered whatever followed the 250: read the 421 through it.
    assert busy.getreply()[0] == 421
    idle.close()
    busy.close()


def test_shutdown_cuts_sessions_at_the_deadline(start_daemon):
    """A session stuck mid-DATA past the deadline is closed, and nothing is stored."""
    relay = start_daemon(shutdown_deadline_seconds=0.3)
    stuck = start_data(relay.smtp_port)
    stuck.send(b"Subject: never finished\r\n\r\n")
    relay.loop.call_soon_threadsafe(relay.daemon.request_stop, "test")
    assert read_line(stuck.sock).startswith(b"421 4.3.2")
    stuck.close()
    relay.stop()
    store = relay.reopen_store()
    assert store.list(None) == []
    store.close()
