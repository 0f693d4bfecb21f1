"""The tests' pytest plugin, loaded for every folder by tests/conftest.py: the store
backends (tests/support/store_backends.py) and the capture SMTP sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp_sink import CaptureSmtp, capture_sink
from tests.support.store_backends import postgres_schema_url, store, store_url

__all__ = ["capture_smtp", "postgres_schema_url", "store", "store_url"]


@pytest.fixture
def capture_smtp() -> Iterator[CaptureSmtp]:
    """An aiosmtpd sink on 127.0.0.1, an ephemeral port; records envelopes and bytes."""
    with capture_sink() as capture:
        yield capture
