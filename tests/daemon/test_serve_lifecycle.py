"""`relay serve` as an operator runs it: start-up line, SIGTERM drain, forced exit."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request

from relay.store import open_store
from tests.support.serve import INBOUND_LOG as LOG


def in_data(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    client.ehlo("client.test.example")
    client.mail("rep@x.example")
    client.rcpt(LOG)
    assert client.docmd("DATA")[0] == 354
    return client


def test_start_up_says_where_it_listens_and_warns_about_the_local_org(serve):
    """Without Salesforce credentials serve says LOUDLY it uses the local org."""
    relay = serve()
    stderr = relay.stderr()
    assert f"smtp://127.0.0.1:{relay.smtp_port}" in stderr
    assert f"http://127.0.0.1:{relay.http_port}" in stderr
    assert "EMBEDDED LOCAL ORG" in stderr
    events = {event["event"]: event for event in relay.events()}
    assert events["salesforce_not_configured"]["level"] == "warning"
    assert events["smtp_listening"]["port"] == relay.smtp_port
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.http_port}/readyz", timeout=10) as r:
        assert json.load(r)["status"] == "ready"
    relay.signal(signal.SIGTERM)
    assert relay.wait() == 0
    assert "relay: stopped cleanly" in relay.stderr()


def test_sigterm_drains_in_flight_data_and_closes_idle_sessions(serve):
    """SIGTERM: the DATA in flight completes with 250, the idle session gets 421, exit 0."""
    relay = serve(RELAY_SMTP_SHUTDOWN_DEADLINE_SECONDS="20")
    idle = smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=10)
    idle.ehlo("idle.test.example")
    busy = in_data(relay.smtp_port)
    busy.send(b"Message-ID: <drain@test.example>\r\nSubject: drain\r\n\r\nfirst half, ")
    relay.signal(signal.SIGTERM)
    assert idle.getreply()[0] == 421
    busy.send(b"second half.\r\n.\r\n")
    code, text = busy.getreply()
    assert code == 250, text
    queue_id = text.decode().rsplit(" ", 1)[1]
    idle.close()
    busy.close()
    assert relay.wait() == 0
    store = open_store(relay.store_url)
    try:
        stored = store.get(queue_id)
        assert stored is not None
        assert stored.message_id == "<drain@test.example>"
    finally:
        store.close()
    events = [event["event"] for event in relay.events()]
    assert events.index("shutdown_started") < events.index("smtp_stopped")
    assert events[-1] == "shutdown_complete"


def test_second_sigint_forces_exit(serve):
    """A stuck session holds the drain; a second SIGINT ends the process at once."""
    relay = serve(RELAY_SMTP_SHUTDOWN_DEADLINE_SECONDS="60")
    stuck = in_data(relay.smtp_port)
    relay.signal(signal.SIGINT)
    time.sleep(0.3)
    assert relay.process is not None
    assert relay.process.poll() is None  # still draining: the deadline is 60 s
    relay.signal(signal.SIGINT)
    # Exited well inside the 60 s deadline (bench/deadlines.py times the deadlines).
    assert relay.wait(timeout=10) == 130
    assert "shutdown_forced" in [event["event"] for event in relay.events()]
    stuck.close()


def test_a_port_in_use_is_one_line_naming_the_variable_not_a_traceback(serve, tmp_path):
    """A second relay on the first one's ports: exit 2, the port and the variable."""
    first = serve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
    env |= {"RELAY_HOME": str(tmp_path / "second"), "RELAY_LOG_FORMAT": "json"}
    for flags, variable, port in (
        (
            ["--http-port", str(first.http_port), "--smtp-port", "0"],
            "RELAY_HTTP_PORT",
            first.http_port,
        ),
        (
            ["--http-port", "0", "--smtp-port", str(first.smtp_port)],
            "RELAY_SMTP_PORT",
            first.smtp_port,
        ),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "relay", "serve", *flags],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert variable in result.stderr
        assert "Traceback" not in result.stderr
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
