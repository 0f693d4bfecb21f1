"""Relay's own events reach the stream as whole JSON lines, batched by one_write()."""

from __future__ import annotations

import io
import json

from relay.logs import configure_logging, get_logger, one_write


def test_one_write_holds_lines_until_the_block_ends() -> None:
    """Inside one_write nothing is written; at its end every line arrives, in order."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    log = get_logger("relay.store")
    with one_write():
        log.info("message_queued", queue_id="Q1", size=1)
        with one_write():  # nested: still one write, at the outermost end
            log.info("message_queued", queue_id="Q2", size=2, password="pw")
        assert stream.getvalue() == ""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["queue_id"] for line in lines] == ["Q1", "Q2"]
    assert lines[1]["password"] == "[redacted]"
    assert lines[0]["logger"] == "relay.store"
    assert lines[0]["level"] == "info"


def test_below_the_level_nothing_is_written() -> None:
    """The configured level filters Relay's events before they are rendered."""
    stream = io.StringIO()
    configure_logging("warning", "json", stream)
    get_logger("relay.store").info("message_queued", queue_id="Q1")
    get_logger("relay.store").warning("enqueue_batch_failed", messages=1)
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "enqueue_batch_failed"
    ]
