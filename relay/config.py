"""Relay's configuration: typed, frozen, loaded once and passed in (no module-level global).

Sources, lowest precedence first:

1. built-in defaults (docs/design.md §8);
2. a TOML file, from ``--config`` or ``RELAY_CONFIG``;
3. ``RELAY_*`` environment variables.

Every invalid value is collected, not just the first, and reported as
``NAME=value: what is wrong (what is allowed)`` so an admin can fix them all at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.errors import ConfigError

DEFAULT_MAX_MESSAGE_BYTES = 35 * 1024 * 1024
"""Salesforce's inbound email limit (Email-to-Salesforce and Email Services accept 35 MB)."""

SECRET_FIELDS = frozenset(
    {
        "access_token",
        "client_secret",
        "password",
        "private_key_file",
        "auth_users",
        "inbound_secret",
        "console_client_secret",
    }
)
"""Fields that `relay config show` and the logs never print in clear."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    # Name we announce in the greeting and EHLO. Given explicitly because aiosmtpd's
    # default calls socket.getfqdn() for every connection and blocks the loop.
    hostname: str = "relay.localhost"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # RFC 5321 §4.5.3.1.6 sets 1,000 octets as a minimum; real mail (long HTML lines,
    # unfolded headers) exceeds it, so we accept far longer lines.
    max_line_bytes: int = 64 * 1024
    # RFC 5321 §4.5.3.1.8 requires accepting at least 100 recipients.
    max_recipients: int = 100
    max_concurrent_data: int = 16
    max_connections: int = 256
    max_connections_per_client: int = 32
    min_free_bytes: int = 256 * 1024 * 1024
    shutdown_deadline_seconds: float = 30.0
    # Nobody is trusted unless the admin says so: a trusted peer's XFORWARD and
    # Authentication-Results are believed (docs/operations.md, "Security model").
    trusted_networks: tuple[str, ...] = ()
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    require_tls: bool = False
    # What proves a rep's identity (relay/smtp/sender_checks.py has the table).
    sender_auth: str = "either"
    # The authserv-id (RFC 8601 §2.5) whose Authentication-Results a trusted hop adds;
    # None: believe no such header.
    authserv_id: str | None = None
    # A named source of inbound copies (journaling, routing rules): its networks plus a
    # shared secret it puts in the envelope recipient, log+inbound-SECRET@DOMAIN.
    inbound_networks: tuple[str, ...] = ()
    inbound_secret: str | None = None
    # RFC 5321 §4.5.3.2.7: wait at least 5 minutes for the next command; then 421.
    idle_timeout_seconds: float = 300.0
    # RFC 5321 §4.5.3.2.6: 3 minutes for each chunk of DATA, not for the whole message.
    data_timeout_seconds: float = 180.0
    # One client (an address, an IPv6 /64) may hold this many DATA slots; None: a quarter
    # of max_concurrent_data, at least 1 (resolved in __post_init__).
    max_concurrent_data_per_client: int | None = None
    # After this many refused recipients in one session, 421 and close (a harvester).
    max_refused_recipients: int = 10
    # SMTP AUTH (RFC 4954), offered only over TLS: (username, scrypt hash) pairs, made
    # with `relay smtp hash-password` (relay.smtp.credentials gives the format).
    auth_users: tuple[tuple[str, str], ...] = ()
    # CAs that verify client certificates; with it the server asks for one (optional).
    tls_client_ca_file: Path | None = None
    # SHA-256 fingerprints (lower-case hex) of client certificates named as inbound sources.
    inbound_cert_fingerprints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_concurrent_data_per_client is None:
            per_client = max(1, self.max_concurrent_data // 4)
            object.__setattr__(self, "max_concurrent_data_per_client", per_client)

    @property
    def data_slots_per_client(self) -> int:
        assert self.max_concurrent_data_per_client is not None  # __post_init__ set it
        return self.max_concurrent_data_per_client


@dataclass(frozen=True)
class SalesforceConfig:
    instance_url: str | None = None
    access_token: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    private_key_file: Path | None = None
    password: str | None = None
    ca_file: Path | None = None
    api_version: str = "62.0"
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    # Writes pause when the org's daily API usage passes this share of its allocation
    # (relay/salesforce/budget.py says why 0.8).
    api_budget_share: float = 0.8
    # RELAY_SF_LOCAL: running on the embedded local org is intended (a trial); without
    # it `relay doctor` fails there, so production never runs on it unnoticed.
    local_intended: bool = False

    @property
    def configured(self) -> bool:
        """True when any way to reach a real org is set; else the local org is used."""
        return bool(self.instance_url or self.token_url)


@dataclass(frozen=True)
class PipelineConfig:
    """The runners' knobs: batching, leases, retries, idempotency."""

    # sObject Collections take 200 records per call; one claim feeds at most one call's
    # worth of messages (most messages make one Task).
    batch_size: int = 200
    # A claim's lease; the runner renews it while its batch runs (a third of it at a time),
    # so only a dead worker's messages wait this long for another (docs/design.md §2).
    lease_seconds: float = 30.0
    # Never waited for on an idle relay: a lone email is claimed at once. Under API budget
    # pressure the runner waits up to this long before claiming, to batch harder.
    max_batch_window_seconds: float = 2.0
    idle_wait_seconds: float = 1.0
    # Deferral after a transient failure: initial * 2^(attempts-1), capped, +/-20% jitter.
    backoff_initial_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    # After REQUEST_LIMIT_EXCEEDED (Salesforce sends no Retry-After), pause writes this long.
    rate_limit_pause_seconds: float = 300.0
    # A message whose processing crashes this many times is quarantined.
    crash_attempts: int = 5
    # The Task external-id field to upsert on ("none": create + intent-ledger reconcile;
    # also the fallback when the org's Task lacks the field).
    external_id_field: str = "Relay_Key__c"
    # A write of at least this many Tasks goes through one Bulk API 2.0 ingest job
    # instead of sObject Collections (relay/salesforce/bulk_ingest.py): Salesforce advises
    # Bulk API 2.0 from about 2,000 records (Developer Limits and Allocations Quick
    # Reference, "Bulk API and Bulk API 2.0 Limits and Allocations").
    bulk_threshold: int = 2000
    # The import lane gathers the Task drafts of up to this many rows into one write, so
    # a big import costs one Task job per this many Tasks, and one TaskRelation job when
    # some have several Contacts: about 9 calls in all, so 10,000 keeps it under one
    # call per 1,000 Tasks (docs/design.md §11, docs/benchmarks.md "Import"). Below
    # bulk_threshold the writes stay on REST; 1 writes each claimed slice on its own.
    import_bulk_rows: int = 10000
    directory_ttl_seconds: float = 60.0
    org_profile_ttl_seconds: float = 3600.0
    # Re-read the active Users (and their Email-to-Salesforce addresses) this
    # often; re-check held messages whose problem may have been fixed this often; send a
    # rep at most one notice per problem per notice_interval_seconds (a day).
    # Three API calls per sync; see relay/runners/rep_sync.py for the budget.
    rep_sync_seconds: float = 300.0
    held_recheck_seconds: float = 60.0
    notice_interval_seconds: float = 86400.0
    # Accepting comes first (relay/accepting.py): while this node's edge queues at least
    # yield_min_rate messages a second (0: never), its workers deliver one batch at most
    # every yield_max_seconds, so the edge gets the CPU; the backlog drains after.
    yield_min_rate: float = 100.0
    yield_max_seconds: float = 2.0


@dataclass(frozen=True)
class SyncConfig:
    """Org defaults of the sync settings; the store holds per-org and per-rep
    overrides and ``relay.reps.settings`` merges them. Each default is what Email to
    Salesforce does, or the safe choice (see SYNC_PARSERS)."""

    logging: str = "api"
    multiple_matches: str = "all"
    opportunities: str = "all_open"
    unmatched: str = "unresolved_task"
    body: str = "full"
    attachments: str = "names"
    # ContentVersion through the REST API: the JSON (base64) body limit is 50 MB
    # ("Insert or Update Blob Data", REST API Developer Guide); a quarter of that keeps
    # one upload from eating the request budget. A choice, not a Salesforce rule.
    attachment_max_bytes: int = 10 * 1024 * 1024
    confirmations: str = "off"
    task_sync: str = "off"
    """on: the rep's reminders and Salesforce Tasks sync both ways (docs/design.md §9);
    off, the default, is Sales Insight Actions' "Do not sync to Salesforce tasks"."""
    require_personal_address: bool = False
    digest: str = "on"
    """on: each morning, mail the rep what is due that day and overdue (docs/design.md §9)."""


@dataclass(frozen=True)
class ConsoleConfig:
    """The web console (docs/design.md §10): where people reach it, who is an admin
    beside the "Modify All Data" Users, and the connected app it signs in with."""

    # The URL people use (behind a TLS proxy: https://relay.example.com); redirects and
    # links are built on it, and cookies are Secure when it is https. None: the
    # listener's own http://HOST:PORT.
    public_url: str | None = None
    # Usernames or emails of Users who are admins of the console.
    admins: tuple[str, ...] = ()
    # The connected app of the web flow; None: the one of RELAY_SF_CLIENT_ID.
    client_id: str | None = None
    client_secret: str | None = None


@dataclass(frozen=True)
class Config:
    home: Path = Path("./var")
    domain: str = "relay.localhost"
    internal_domains: tuple[str, ...] = ()
    store_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8025
    smarthost: str | None = None
    log_level: str = "info"
    log_format: str = "auto"
    # DNS servers for the SPF/DKIM/DMARC lookups ("host" or "host:port"); empty: the
    # system resolver.
    dns_nameservers: tuple[str, ...] = ()
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    salesforce: SalesforceConfig = field(default_factory=SalesforceConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    # Raw message bytes are kept this many days after a message's outcome (logged,
    # rejected, quarantined), then purged; 0 keeps them forever (relay/store/retention.py).
    retention_days: int = 30
    # Delivery worker processes of `relay serve` (docs/design.md §2); None: one per CPU
    # but one (the edge's), at least one; 0: one process does everything.
    workers: int | None = None
    # Seconds between Task-sync cycles (relay/runners/task_sync.py). Salesforce suggests
    # polling no more often than every 5 minutes ("Data Replication", SOAP API Developer
    # Guide); one cycle is one call when nothing changed, so 2 minutes is affordable.
    task_sync_interval: float = 120.0

    @property
    def effective_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.home / 'relay.db').as_posix()}"

    @property
    def effective_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, (os.cpu_count() or 1) - 1)

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets replaced by a marker."""
        redacted: dict[str, Any] = _redact(dataclasses.asdict(self))
        if self.store_url and "@" in self.store_url:
            # postgresql://user:password@host/db: keep the user and host, hide the password.
            scheme, _, rest = self.store_url.partition("://")
            credentials, _, location = rest.rpartition("@")
            user = credentials.partition(":")[0]
            redacted["store_url"] = f"{scheme}://{user}:********@{location}"
        return redacted


def _redact(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: ("********" if k in SECRET_FIELDS and v else _redact(v)) for k, v in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [_redact(v) for v in data]
    if isinstance(data, Path):
        return str(data)
    return data


# --- value parsers: each raises ValueError with the "what is allowed" part -----------


def parse_port(value: object) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise ValueError("not a port number (1-65535)") from None
    if not 1 <= port <= 65535:
        raise ValueError("not a port number (1-65535)")
    return port


def parse_positive_int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError("not a whole number") from None
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def parse_non_negative_int(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError("not a whole number") from None
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def parse_positive_float(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ValueError("not a number") from None
    if number <= 0:
        raise ValueError("must be more than 0")
    return number


def parse_non_negative_float(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ValueError("not a number") from None
    if not number >= 0:  # also refuses nan
        raise ValueError("must be 0 or more")
    return number


def parse_share(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        raise ValueError("not a number") from None
    if not 0 < number <= 1:
        raise ValueError("must be more than 0 and at most 1 (a share, e.g. 0.8)")
    return number


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("not a boolean (true/false)")


def parse_domain(value: object) -> str:
    text = str(value).strip().lower().rstrip(".")
    if not text or " " in text or "@" in text or ("." not in text and text != "localhost"):
        raise ValueError("not a mail domain (for example relay.example.com)")
    return text


def parse_domain_list(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(parse_domain(item) for item in items if str(item).strip())


def parse_str_list(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def parse_networks(value: object) -> tuple[str, ...]:
    """CIDR networks (``10.0.0.0/8``, ``::1/128``; a bare address is one host), or
    ``none`` to trust no network. Checked here so that a typo stops start-up instead of
    failing every SMTP session that consults it."""
    items = parse_str_list(value)
    if [item.lower() for item in items] == ["none"]:
        return ()
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP network (CIDR such as 10.0.0.0/8, or 'none')"
            ) from None
    return items


SENDER_AUTH_MODES = ("either", "dmarc", "personal_address", "trusted_only", "none")
"""What proves a rep's identity (relay/smtp/sender_checks.py, docs/operations.md)."""


def parse_nameservers(value: object) -> tuple[str, ...]:
    """``host[:port]`` IP addresses (IPv6 with a port as ``[::1]:53``), comma-separated.
    Checked here so that a typo stops start-up, not every sender check."""
    items = parse_str_list(value)
    for item in items:
        host, port = item, None
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (None if not rest else "x")
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
        try:
            ipaddress.ip_address(host)
            if port is not None:
                parse_port(port)
        except ValueError:
            raise ValueError(
                f"{item!r} is not a DNS server (an IP address with an optional port: "
                "192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53)"
            ) from None
    return items


def parse_inbound_secret(value: object) -> str:
    # It travels in an address's local part (RFC 5321 §4.1.2 atext): letters, digits
    # and a few safe signs only, and long enough not to be guessed online.
    text = str(value).strip()
    if len(text) < 16 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise ValueError("at least 16 letters, digits, '-' or '_' (e.g. `openssl rand -hex 16`)")
    return text


def parse_optional_str(value: object) -> str | None:
    text = str(value).strip()
    return None if text.lower() in {"", "none"} else text


def parse_auth_users(value: object) -> tuple[tuple[str, str], ...]:
    """``user:HASH,...`` with HASH from `relay smtp hash-password`; checked at start-up so
    that a pasted-wrong hash stops Relay instead of refusing every login."""
    from relay.smtp.credentials import check_hash  # the format lives with its verifier

    users = []
    for item in parse_str_list(value):
        user, sep, hashed = item.partition(":")
        if not sep or not user or "," in user:
            raise ValueError(
                f"{user or item!r}: not user:HASH (HASH from `relay smtp hash-password`)"
            )
        problem = check_hash(hashed)
        if problem is not None:
            raise ValueError(f"user {user!r}: {problem} (make one with `relay smtp hash-password`)")
        users.append((user, hashed))
    return tuple(users)


def parse_fingerprints(value: object) -> tuple[str, ...]:
    """SHA-256 certificate fingerprints, hex with or without colons (as `openssl x509
    -fingerprint -sha256` prints them)."""
    fingerprints = []
    for item in parse_str_list(value):
        text = item.replace(":", "").lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise ValueError(f"{item!r} is not a SHA-256 fingerprint (64 hex digits)")
        fingerprints.append(text)
    return tuple(fingerprints)


def parse_url(value: object) -> str:
    text = str(value).strip()
    if not text.startswith(("https://", "http://")):
        raise ValueError("not an http(s) URL")
    return text.rstrip("/")


def parse_store_url(value: object) -> str:
    text = str(value).strip()
    if not text.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("not a store URL (sqlite:///PATH or postgresql://...)")
    return text


def parse_hostport(value: object) -> str:
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError("not host:port")
    parse_port(port)
    return text


def parse_choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
        return text

    return parse


def parse_str(value: object) -> str:
    return str(value)


def parse_api_name_or_empty(value: object) -> str:
    text = str(value).strip()
    if text.lower() == "none":
        return ""
    if text and not (text[0].isalpha() and text.replace("_", "a").isalnum()):
        raise ValueError("not a Salesforce field API name (for example Relay_Key__c), or empty")
    return text


def parse_path(value: object) -> Path:
    return Path(str(value))


SYNC_PARSERS: dict[str, Callable[[object], Any]] = {
    "logging": parse_choice("api", "email_to_salesforce", "off"),
    "multiple_matches": parse_choice("all", "oldest", "most_activity"),
    "opportunities": parse_choice("all_open", "most_recent_open", "none"),
    "unmatched": parse_choice("unresolved_task", "hold", "drop"),
    "body": parse_choice("full", "none"),
    "attachments": parse_choice("names", "upload"),
    "attachment_max_bytes": parse_positive_int,
    "confirmations": parse_choice("on", "off"),
    "task_sync": parse_choice("off", "on"),
    "require_personal_address": parse_bool,
    "digest": parse_choice("on", "off"),
}
"""The sync settings' org defaults ([sync] KEY / RELAY_SYNC_KEY) and their validation;
relay.reps.settings validates per-org and per-rep overrides with the same parsers."""


# --- the table of settings -------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One configurable value: where it lives in TOML, its env var, and its parser."""

    toml_path: tuple[str, ...]
    env: str | None
    parse: Callable[[object], Any]


SETTINGS: tuple[Setting, ...] = (
    Setting(("home",), "RELAY_HOME", parse_path),
    Setting(("domain",), "RELAY_DOMAIN", parse_domain),
    Setting(("internal_domains",), "RELAY_INTERNAL_DOMAINS", parse_domain_list),
    Setting(("store_url",), "RELAY_STORE_URL", parse_store_url),
    Setting(("http_host",), "RELAY_HTTP_HOST", parse_str),
    Setting(("http_port",), "RELAY_HTTP_PORT", parse_port),
    Setting(("smarthost",), "RELAY_SMARTHOST", parse_hostport),
    Setting(("log_level",), "RELAY_LOG_LEVEL", parse_choice("debug", "info", "warning", "error")),
    Setting(("log_format",), "RELAY_LOG_FORMAT", parse_choice("auto", "json", "console")),
    Setting(("retention_days",), "RELAY_RETENTION_DAYS", parse_non_negative_int),
    Setting(("workers",), "RELAY_WORKERS", parse_non_negative_int),
    Setting(("task_sync_interval",), "RELAY_TASK_SYNC_INTERVAL", parse_positive_float),
    Setting(("smtp", "host"), "RELAY_SMTP_HOST", parse_str),
    Setting(("smtp", "port"), "RELAY_SMTP_PORT", parse_port),
    Setting(("smtp", "hostname"), "RELAY_SMTP_HOSTNAME", parse_str),
    Setting(("smtp", "max_message_bytes"), "RELAY_SMTP_MAX_MESSAGE_BYTES", parse_positive_int),
    Setting(("smtp", "max_line_bytes"), "RELAY_SMTP_MAX_LINE_BYTES", parse_positive_int),
    Setting(("smtp", "max_recipients"), "RELAY_SMTP_MAX_RECIPIENTS", parse_positive_int),
    Setting(("smtp", "max_concurrent_data"), "RELAY_SMTP_MAX_CONCURRENT_DATA", parse_positive_int),
    Setting(("smtp", "max_connections"), "RELAY_SMTP_MAX_CONNECTIONS", parse_positive_int),
    Setting(
        ("smtp", "max_connections_per_client"),
        "RELAY_SMTP_MAX_CONNECTIONS_PER_CLIENT",
        parse_positive_int,
    ),
    Setting(("smtp", "min_free_bytes"), "RELAY_SMTP_MIN_FREE_BYTES", parse_non_negative_int),
    Setting(
        ("smtp", "shutdown_deadline_seconds"),
        "RELAY_SMTP_SHUTDOWN_DEADLINE_SECONDS",
        parse_positive_float,
    ),
    Setting(("smtp", "trusted_networks"), "RELAY_SMTP_TRUSTED_NETWORKS", parse_networks),
    Setting(("smtp", "tls_cert_file"), "RELAY_SMTP_TLS_CERT_FILE", parse_path),
    Setting(("smtp", "tls_key_file"), "RELAY_SMTP_TLS_KEY_FILE", parse_path),
    Setting(("smtp", "require_tls"), "RELAY_SMTP_REQUIRE_TLS", parse_bool),
    Setting(("smtp", "sender_auth"), "RELAY_SMTP_SENDER_AUTH", parse_choice(*SENDER_AUTH_MODES)),
    Setting(("smtp", "authserv_id"), "RELAY_SMTP_AUTHSERV_ID", parse_optional_str),
    Setting(("smtp", "inbound_networks"), "RELAY_SMTP_INBOUND_NETWORKS", parse_networks),
    Setting(("smtp", "inbound_secret"), "RELAY_SMTP_INBOUND_SECRET", parse_inbound_secret),
    Setting(("dns_nameservers",), "RELAY_DNS_NAMESERVERS", parse_nameservers),
    Setting(
        ("smtp", "idle_timeout_seconds"), "RELAY_SMTP_IDLE_TIMEOUT_SECONDS", parse_positive_float
    ),
    Setting(
        ("smtp", "data_timeout_seconds"), "RELAY_SMTP_DATA_TIMEOUT_SECONDS", parse_positive_float
    ),
    Setting(
        ("smtp", "max_concurrent_data_per_client"),
        "RELAY_SMTP_MAX_CONCURRENT_DATA_PER_CLIENT",
        parse_positive_int,
    ),
    Setting(
        ("smtp", "max_refused_recipients"), "RELAY_SMTP_MAX_REFUSED_RECIPIENTS", parse_positive_int
    ),
    Setting(("smtp", "auth_users"), "RELAY_SMTP_AUTH_USERS", parse_auth_users),
    Setting(("smtp", "tls_client_ca_file"), "RELAY_SMTP_TLS_CLIENT_CA_FILE", parse_path),
    Setting(
        ("smtp", "inbound_cert_fingerprints"),
        "RELAY_SMTP_INBOUND_CERT_FINGERPRINTS",
        parse_fingerprints,
    ),
    Setting(("console", "public_url"), "RELAY_PUBLIC_URL", parse_url),
    Setting(("console", "admins"), "RELAY_ADMINS", parse_str_list),
    Setting(("console", "client_id"), "RELAY_CONSOLE_CLIENT_ID", parse_str),
    Setting(("console", "client_secret"), "RELAY_CONSOLE_CLIENT_SECRET", parse_str),
    Setting(("salesforce", "instance_url"), "RELAY_SF_INSTANCE_URL", parse_url),
    Setting(("salesforce", "access_token"), "RELAY_SF_ACCESS_TOKEN", parse_str),
    Setting(("salesforce", "token_url"), "RELAY_SF_TOKEN_URL", parse_url),
    Setting(("salesforce", "client_id"), "RELAY_SF_CLIENT_ID", parse_str),
    Setting(("salesforce", "client_secret"), "RELAY_SF_CLIENT_SECRET", parse_str),
    Setting(("salesforce", "username"), "RELAY_SF_USERNAME", parse_str),
    Setting(("salesforce", "private_key_file"), "RELAY_SF_PRIVATE_KEY_FILE", parse_path),
    Setting(("salesforce", "password"), "RELAY_SF_PASSWORD", parse_str),
    Setting(("salesforce", "ca_file"), "RELAY_SF_CA_FILE", parse_path),
    Setting(("salesforce", "api_version"), "RELAY_SF_API_VERSION", parse_str),
    Setting(
        ("salesforce", "connect_timeout_seconds"),
        "RELAY_SF_CONNECT_TIMEOUT_SECONDS",
        parse_positive_float,
    ),
    Setting(
        ("salesforce", "read_timeout_seconds"),
        "RELAY_SF_READ_TIMEOUT_SECONDS",
        parse_positive_float,
    ),
    Setting(("salesforce", "api_budget_share"), "RELAY_SF_API_BUDGET_SHARE", parse_share),
    Setting(("salesforce", "local_intended"), "RELAY_SF_LOCAL", parse_bool),
    Setting(("pipeline", "bulk_threshold"), "RELAY_BULK_THRESHOLD", parse_positive_int),
    *(
        Setting(("pipeline", name), f"RELAY_PIPELINE_{name.upper()}", parse)
        for name, parse in (
            ("batch_size", parse_positive_int),
            ("lease_seconds", parse_positive_float),
            ("max_batch_window_seconds", parse_positive_float),
            ("idle_wait_seconds", parse_positive_float),
            ("backoff_initial_seconds", parse_positive_float),
            ("backoff_max_seconds", parse_positive_float),
            ("rate_limit_pause_seconds", parse_positive_float),
            ("rep_sync_seconds", parse_positive_float),
            ("held_recheck_seconds", parse_positive_float),
            ("notice_interval_seconds", parse_positive_float),
            ("crash_attempts", parse_positive_int),
            ("import_bulk_rows", parse_positive_int),
            ("external_id_field", parse_api_name_or_empty),
            ("directory_ttl_seconds", parse_positive_float),
            ("org_profile_ttl_seconds", parse_positive_float),
            ("yield_min_rate", parse_non_negative_float),
            ("yield_max_seconds", parse_positive_float),
        )
    ),
    *(
        Setting(("sync", name), f"RELAY_SYNC_{name.upper()}", parse)
        for name, parse in SYNC_PARSERS.items()
    ),
)

_SECTIONS: dict[str, type[Any]] = {
    "smtp": SmtpConfig,
    "salesforce": SalesforceConfig,
    "pipeline": PipelineConfig,
    "sync": SyncConfig,
    "console": ConsoleConfig,
}


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective configuration, or raise ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    if path is None and env.get("RELAY_CONFIG"):
        path = Path(env["RELAY_CONFIG"])
    document = _read_toml(path) if path is not None else {}

    problems: list[str] = []
    values: dict[tuple[str, ...], Any] = {}
    known_paths = {s.toml_path for s in SETTINGS}
    problems.extend(_unknown_keys(document, known_paths, path))

    for setting in SETTINGS:
        raw, origin = _lookup(document, setting, env, path)
        if raw is None:
            continue
        try:
            values[setting.toml_path] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"{origin}={raw!r}: {exc}" if origin else f"{raw!r}: {exc}")

    if problems:
        raise ConfigError(problems)
    config = _assemble(values)
    problems.extend(_cross_checks(config))
    if problems:
        raise ConfigError(problems)
    return config


# RELAY_* variables that are not settings but are read elsewhere (the file to read, the
# ready file of `relay serve`, the event loop: relay/loops.py); RELAY_TEST_* belong to the
# test suite.
# Read by one command, not settings: RELAY_IMAP_PASSWORD and RELAY_IMAP_CA_FILE by
# `relay import imap://...` (relay/importing/imap.py).
_OTHER_VARIABLES = frozenset(
    {
        "RELAY_CONFIG",
        "RELAY_READY_FILE",
        "RELAY_EVENT_LOOP",
        "RELAY_IMAP_PASSWORD",
        "RELAY_IMAP_CA_FILE",
    }
)
# Set by others: the test suite (RELAY_TEST_*), and Kubernetes for a Service named
# "relay" (RELAY_SERVICE_HOST, RELAY_PORT_2525_TCP, ...: "Discovering services",
# kubernetes.io/docs/concepts/services-networking/service/#environment-variables).
_NOT_OURS = ("RELAY_TEST_", "RELAY_SERVICE_", "RELAY_PORT")


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per RELAY_* variable that is no setting (a typo is otherwise silently
    ignored), naming the closest real one."""
    env = os.environ if environ is None else environ
    known = {s.env for s in SETTINGS if s.env} | _OTHER_VARIABLES
    warnings = []
    for name in sorted(env):
        if not name.startswith("RELAY_") or name in known or name.startswith(_NOT_OURS):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{name} is not a Relay setting and is ignored{hint}")
    return warnings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"config file {path}: not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path}: not valid TOML ({exc})"]) from None


def _unknown_keys(
    document: Mapping[str, Any], known: set[tuple[str, ...]], path: Path | None
) -> list[str]:
    problems = []
    for key, value in document.items():
        if key in _SECTIONS and isinstance(value, dict):
            for sub in value:
                if (key, sub) not in known:
                    problems.append(f"config file {path}: unknown key [{key}] {sub}")
        elif (key,) not in known:
            problems.append(f"config file {path}: unknown key {key}")
    return problems


def _lookup(
    document: Mapping[str, Any], setting: Setting, env: Mapping[str, str], path: Path | None
) -> tuple[Any, str]:
    if setting.env and env.get(setting.env, "") != "":
        return env[setting.env], setting.env
    node: Any = document
    for part in setting.toml_path:
        if not isinstance(node, Mapping) or part not in node:
            return None, ""
        node = node[part]
    return node, f"{path}: {'.'.join(setting.toml_path)}"


def _assemble(values: Mapping[tuple[str, ...], Any]) -> Config:
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for toml_path, value in values.items():
        if len(toml_path) == 2:
            sections[toml_path[0]][toml_path[1]] = value
        else:
            top[toml_path[0]] = value
    if "hostname" not in sections["smtp"] and "domain" in top:
        sections["smtp"]["hostname"] = top["domain"]
    for name, cls in _SECTIONS.items():
        top[name] = cls(**sections[name])
    return Config(**top)


def _cross_checks(config: Config) -> list[str]:
    problems = []
    sf = config.salesforce
    if sf.instance_url and not sf.access_token and not sf.token_url:
        problems.append(
            "RELAY_SF_INSTANCE_URL is set without RELAY_SF_ACCESS_TOKEN: set the token for a "
            "direct session, or use RELAY_SF_TOKEN_URL with OAuth credentials instead"
        )
    # SOAP login (a token URL ending /services/Soap/u/NN.N) needs no connected app.
    if sf.token_url and not sf.client_id and "/services/soap/" not in sf.token_url.lower():
        problems.append("RELAY_SF_TOKEN_URL is set without RELAY_SF_CLIENT_ID (the connected app)")
    smtp = config.smtp
    if (smtp.tls_cert_file is None) != (smtp.tls_key_file is None):
        problems.append("smtp TLS needs both RELAY_SMTP_TLS_CERT_FILE and RELAY_SMTP_TLS_KEY_FILE")
    if smtp.require_tls and smtp.tls_cert_file is None:
        problems.append("RELAY_SMTP_REQUIRE_TLS=true needs a certificate: set the TLS files")
    if bool(smtp.inbound_networks) != bool(smtp.inbound_secret):
        problems.append(
            "an inbound source needs both RELAY_SMTP_INBOUND_NETWORKS and "
            "RELAY_SMTP_INBOUND_SECRET (the network alone, or the secret alone, proves nothing)"
        )
    # RFC 4954 §4: no plaintext mechanism before TLS, so AUTH without TLS is never offered.
    if smtp.auth_users and smtp.tls_cert_file is None:
        problems.append(
            "RELAY_SMTP_AUTH_USERS needs TLS (RFC 4954 §4: passwords only over TLS): "
            "set RELAY_SMTP_TLS_CERT_FILE and RELAY_SMTP_TLS_KEY_FILE"
        )
    if smtp.tls_client_ca_file is not None and smtp.tls_cert_file is None:
        problems.append("RELAY_SMTP_TLS_CLIENT_CA_FILE needs TLS: set the TLS files")
    if smtp.inbound_cert_fingerprints and smtp.tls_client_ca_file is None:
        problems.append(
            "RELAY_SMTP_INBOUND_CERT_FINGERPRINTS needs RELAY_SMTP_TLS_CLIENT_CA_FILE (the CA "
            "that issued those certificates, or the certificates themselves): without it "
            "Relay does not ask clients for a certificate"
        )
    return problems
