"""Structured logs: redaction of secrets, JSON lines, and library logs through one formatter."""

from __future__ import annotations

import io
import json
import logging

import structlog
from structlog.testing import capture_logs

from relay.logs import REDACTED, configure_logging, get_logger, redact_secrets, redact_text


def test_redaction_processor_removes_secret_fields() -> None:
    """Tokens, passwords, Authorization headers and bodies never reach the output."""
    event = redact_secrets(
        None,
        "info",
        {
            "event": "token_issued",
            "access_token": "00D5g000001abcd!AQ0AQ.secretsecretsecret",
            "password": "hunter2",
            "headers": {"Authorization": "Bearer abc.def", "Accept": "application/json"},
            "body": "Dear customer",
            "queue_id": "01JABC",
        },
    )
    assert event["access_token"] == REDACTED
    assert event["password"] == REDACTED
    assert event["headers"]["Authorization"] == REDACTED
    assert event["headers"]["Accept"] == "application/json"
    assert event["body"] == REDACTED
    assert event["queue_id"] == "01JABC"


def test_redaction_of_secrets_inside_free_text() -> None:
    """Secrets embedded in messages (URLs, headers, SOAP) are masked too."""
    text = redact_text(
        "POST /token grant_type=password&password=hunter2&client_secret=s3cr3t "
        "Authorization: Bearer 00Dxx0000001gPL!AR8AQP0jITN80ESEsj5EbaZTFG0R "
        "<sessionId>00Dxx!abc</sessionId> AUTH PLAIN dXNlcgBwYXNz"
    )
    for secret in (
        "hunter2",
        "s3cr3t",
        "AR8AQP0jITN80ESEsj5EbaZTFG0R",
        "00Dxx!abc",
        "dXNlcgBwYXNz",
    ):
        assert secret not in text


def test_json_lines_and_foreign_loggers_share_the_formatter() -> None:
    """Relay's and a library's events both come out as redacted JSON lines."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        structlog.contextvars.bind_contextvars(queue_id="01JQUEUE")
        get_logger("relay.test").info("message_queued", size=12, password="pw-value")
        logging.getLogger("simple_salesforce").warning(
            "retrying with Authorization: Bearer tok-abcdefghij"
        )
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "message_queued"
    assert lines[0]["queue_id"] == "01JQUEUE"
    assert lines[0]["password"] == REDACTED
    assert lines[1]["logger"] == "simple_salesforce"
    assert "tok-abcdefghij" not in lines[1]["event"]
    assert "pw-value" not in stream.getvalue()


def test_aiosmtpd_command_logging_is_quiet_at_info() -> None:
    """aiosmtpd logs every command and address at INFO; we lower it to WARNING."""
    configure_logging("info", "json", io.StringIO())
    assert not logging.getLogger("mail.log").isEnabledFor(logging.INFO)


def test_capture_logs_sees_fields() -> None:
    """Events are asserted on fields, not on formatted strings (structlog.testing)."""
    with capture_logs() as logs:
        get_logger("relay.test").info("message_state_changed", queue_id="Q1", to="held")
    assert logs[0]["event"] == "message_state_changed"
    assert logs[0]["to"] == "held"
