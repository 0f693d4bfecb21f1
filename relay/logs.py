"""Structured logging for Relay (structlog).

Production output is JSON lines on stderr; a TTY gets readable console lines. Logs from
the libraries underneath (aiosmtpd, urllib3, simple-salesforce, tenacity, aiohttp) go
through the same processors via ``structlog.stdlib.ProcessorFormatter``, so redaction
applies to them as well; Relay's own events run those processors in structlog and are
written to the same handler's stream.

Per-message context (``queue_id``) is bound once per unit of work with
``structlog.contextvars.bind_contextvars``, as structlog recommends.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from relay.privacy import mask_tokens
from relay.terminal_text import inert

REDACTED = "[redacted]"
_PLAIN_TYPES = frozenset({int, float, bool, type(None)})

# Keys whose values are secrets or message content, never logged (docs/operations.md §6).
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|authorization|api[_-]?key|assertion|private[_-]?key|"
    r"session[_-]?id|cookie|body|raw)$",
    re.IGNORECASE,
)
# Secrets that leak into free text: headers, URLs, form bodies, SOAP sessions.
_SECRET_TEXT = (
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer|basic|oauth)?\s*[^\s,'\"}]+"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|password|assertion|"
        r"sessionId)[\"']?\s*[:=]\s*[\"']?)[^\s&,'\"}<]+"
    ),
    re.compile(r"(?i)(<sessionId>)[^<]+"),
    # Salesforce session ids: 15/18-char org id, '!', then a long opaque token.
    re.compile(r"()\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}"),
    # The inbound source's shared secret travels in log+inbound-SECRET@ (relay.smtp.senders).
    re.compile(r"(?i)(log\+inbound-)[^@\s>\"']+"),
)
# aiosmtpd logs each AUTH exchange; it masks it, but belt and braces.
_AUTH_LINE = re.compile(r"(?i)(AUTH\s+\w+\s+)\S+")
# Every pattern above needs one of these in the (lower-cased) text: "auth" (Authorization,
# AUTH), "token"/"secret"/"password"/"assertion"/"sessionid" (the key=value forms and
# <sessionId>), "!" (Salesforce session ids), "log+" (a rep's personal address, whose tag
# is a credential: relay/privacy.py). ASCII text without any of them cannot match,
# so the regexes are skipped; that was most of the cost of a log event (bench/ingest.py).
# Non-ASCII text always runs them: (?i) also matches e.g. U+017F "ſ" for "s".
_MAY_HOLD_SECRET = re.compile(r"auth|token|secret|password|assertion|sessionid|!|log\+|\+inbound-")

# Loggers below the libraries' chatty INFO (aiosmtpd logs every command and address).
_QUIET_LOGGERS = {
    "mail.log": logging.WARNING,
    "mail.debug": logging.WARNING,
    "urllib3": logging.WARNING,
    "simple_salesforce": logging.WARNING,
    "tenacity": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "alembic": logging.WARNING,
    "asyncio": logging.WARNING,
    # mail-parser warns for every multipart part it does not "handle", and logs raw header
    # values (subjects) at ERROR on decode failures: message content never goes to logs.
    "mailparser": logging.CRITICAL + 1,
}


def redact_text(text: str) -> str:
    """Mask secrets that appear inside a free-text string."""
    if text.isascii() and _MAY_HOLD_SECRET.search(text.lower()) is None:
        return text
    for pattern in _SECRET_TEXT:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return mask_tokens(_AUTH_LINE.sub(lambda m: m.group(1) + REDACTED, text))


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _redact_value(key: str, value: Any) -> Any:
    if _is_secret_key(key) and value not in (None, "", b""):
        return REDACTED
    if value.__class__ in _PLAIN_TYPES:  # numbers, booleans, None: no text to search
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(key, v) for v in value]
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: remove tokens, passwords, Authorization headers and bodies."""
    for key, value in event_dict.items():
        # The common cases first, inline (this runs for every field of every event):
        # a number, or ASCII text under a harmless key with no trigger in it.
        kind = value.__class__
        if kind is str:
            if (
                value.isascii()
                and _MAY_HOLD_SECRET.search(value.lower()) is None
                and not _is_secret_key(key)
            ):
                continue
        elif kind in _PLAIN_TYPES and not _is_secret_key(key):
            continue
        event_dict[key] = _redact_value(key, value)  # same keys: no resize while iterating
    return event_dict


_MULTI_LINE_KEYS = frozenset({"exception", "stack"})


class _Escaped:
    """A text value holding characters a terminal acts on. ConsoleRenderer prints a value
    that is not a str by its repr, and Python's repr writes every non-printable character
    as an escape (``\\x1b``, ``\\u202e``): quoted and inert, like its other quoted values."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return repr(self._text)

    def __str__(self) -> str:
        return inert(self._text)


def escape_controls(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor for the console format only: a text value (a HELO, an address,
    a subject) cannot colour, move, link or reorder the terminal (relay.terminal_text says
    which characters and why). Tracebacks keep their line breaks. JSON lines need none of
    this: JSONRenderer writes every control character as an escape."""
    for key, value in event_dict.items():
        if not isinstance(value, str):
            continue  # numbers, None; other objects are shown by their repr
        if key in _MULTI_LINE_KEYS:
            event_dict[key] = inert(value, "\n")
        elif inert(value) != value:
            event_dict[key] = inert(value) if key == "event" else _Escaped(value)
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)
    return event_dict


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        redact_secrets,
    ]


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging through one formatter on stderr.

    ``fmt`` is ``json``, ``console`` or ``auto`` (console on a TTY, JSON otherwise).
    """
    stream = stream or sys.stderr
    # The logging HOWTO's "Optimization" section: the output is rendered from the event
    # dict, never from these LogRecord fields, so do not compute them for every record
    # (finding the caller's frame alone was ~10 % of a log event).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    pre_chain = shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([escape_controls] if use_console else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet_level, root.level))
    # Relay's own events are rendered by structlog and written straight to the handler's
    # stream (under its lock), not through a stdlib LogRecord and the formatter: the same
    # processors and the same line, at about half the cost per event (bench/ingest.py).
    structlog.configure(
        processors=[
            *pre_chain,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            *([escape_controls] if use_console else []),
            renderer,
        ],
        logger_factory=_HandlerLoggerFactory(handler),
        wrapper_class=structlog.make_filtering_bound_logger(root.level),
        # Not cached, so structlog.testing.capture_logs sees loggers made at import time.
        cache_logger_on_first_use=False,
    )


_batch = threading.local()  # .lines: rendered lines held back by one_write(), per thread


@contextlib.contextmanager
def one_write() -> Iterator[None]:
    """Relay events logged inside the block go out together in one write at its end.

    The store's writer logs ``message_queued`` for a whole group commit: one write (one
    syscall, one GIL release) instead of one per message. Nothing is dropped if the block
    raises; nested blocks write once, at the outermost end.
    """
    if getattr(_batch, "lines", None) is not None:
        yield
        return
    lines: list[tuple[_HandlerLogger, str]] = []
    _batch.lines = lines
    try:
        yield
    finally:
        _batch.lines = None
        if lines:
            lines[0][0].write_many([line for _logger, line in lines])


class _HandlerLogger:
    """structlog's final logger: writes a rendered line to a stdlib handler's stream.

    Taking the handler's lock keeps these lines and the libraries' (which go through the
    handler itself) whole. ``name`` serves ``add_logger_name``.
    """

    def __init__(self, handler: logging.StreamHandler[TextIO], name: str) -> None:
        self.name = name
        self._handler = handler

    def msg(self, message: str) -> None:
        held = getattr(_batch, "lines", None)
        if held is not None:
            held.append((self, message))
            return
        self.write_many([message])

    def write_many(self, messages: list[str]) -> None:
        handler = self._handler
        terminator = handler.terminator
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(terminator.join(messages) + terminator)
            handler.stream.flush()

    debug = info = warning = warn = error = exception = critical = fatal = log = msg


class _HandlerLoggerFactory:
    def __init__(self, handler: logging.StreamHandler[TextIO]) -> None:
        self._handler = handler

    def __call__(self, *args: Any) -> _HandlerLogger:
        return _HandlerLogger(self._handler, str(args[0]) if args else "relay")


def get_logger(name: str = "relay", **initial: Any) -> structlog.stdlib.BoundLogger:
    # Typed as structlog's stdlib BoundLogger, the interface callers use; configured, it
    # is structlog's filtering bound logger, which has the same logging methods.
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger.bind(**initial) if initial else logger


def bind_queue_id(queue_id: str) -> Mapping[str, Any]:
    """Bind ``queue_id`` to every event logged in this context (task or thread)."""
    return structlog.contextvars.bind_contextvars(queue_id=queue_id)
