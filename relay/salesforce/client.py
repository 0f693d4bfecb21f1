"""The one way Relay calls the Salesforce REST API (synchronous: run it in a thread).

``SalesforceClient`` wraps ``simple_salesforce.Salesforce`` over one ``requests.Session``
that pools connections, trusts ``RELAY_SF_CA_FILE``, reads ``Sforce-Limit-Info`` from
every response (``ApiBudget``) and puts a connect and a read timeout on every call
(simple-salesforce passes ``timeout`` only when its caller does, and requests waits
forever without one).

Every call goes through ``_call``, which

- authenticates on first use, and on ``INVALID_SESSION_ID`` re-authenticates once and
  replays the call (a direct session cannot refresh: NeedsAttention);
- retries transient failures with tenacity (exponential backoff with jitter, bounded
  attempts and total time), then raises ``TemporaryError(retry_after=...)``;
- never retries a non-idempotent write whose outcome is unknown (read timeout, reset,
  500): it raises ``OutcomeUnknown`` so the caller looks the records up first;
- raises everything else as classified by ``relay.salesforce.classify``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import structlog
from prometheus_client import CollectorRegistry
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.util import exception_handler
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from relay.config import SalesforceConfig
from relay.errors import OutcomeUnknown, RateLimited, TemporaryError
from relay.salesforce.auth import (
    Credentials,
    Session,
    authenticate,
    expired_direct_session,
)
from relay.salesforce.budget import ApiBudget
from relay.salesforce.classify import classify_exception, classify_response, parse_faults

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_COLLECTION_RECORDS = 200
"""sObject Collections take at most 200 records per call (REST API Developer Guide)."""

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before giving up with TemporaryError."""

    attempts: int = 4
    max_seconds: float = 30.0
    initial_wait_seconds: float = 0.5
    max_wait_seconds: float = 8.0
    # Up to this much random time is added to each wait, so runners that failed together
    # do not retry together.
    jitter_seconds: float = 0.5
    # The not-before time the caller gets when the retries are used up.
    defer_seconds: float = 60.0


class _SalesforceAdapter(HTTPAdapter):
    """A pooled adapter that puts the configured timeouts on calls that set none, and
    verifies with ``RELAY_SF_CA_FILE`` when it is set.

    The CA is enforced here because ``Session.verify`` loses to ``REQUESTS_CA_BUNDLE``
    in the environment (psf/requests#3829), which would silently ignore the setting.
    """

    def __init__(self, timeout: tuple[float, float], pool_size: int, ca_file: str | None) -> None:
        super().__init__(pool_connections=4, pool_maxsize=pool_size)
        self._timeout = timeout
        self._ca_file = ca_file

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=self._ca_file if self._ca_file and verify is not False else verify,
            cert=cert,
            proxies=proxies,
        )


def build_http_session(
    config: SalesforceConfig, budget: ApiBudget | None = None, pool_size: int = 16
) -> requests.Session:
    """The pooled session every Salesforce call (and the token endpoint) goes through."""
    http = requests.Session()
    ca_file = str(config.ca_file) if config.ca_file is not None else None
    adapter = _SalesforceAdapter(
        (config.connect_timeout_seconds, config.read_timeout_seconds), pool_size, ca_file
    )
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    if ca_file is not None:
        http.verify = ca_file
    if budget is not None:
        http.hooks["response"].append(budget.observe)
    return http


class _SessionRejected(Exception):
    """Salesforce answered 401 INVALID_SESSION_ID: the token expired or was revoked."""


class SalesforceClient:
    """Thread-safe, synchronous access to the REST calls Relay makes."""

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        api_version: str | None = None,
        retry: RetryPolicy | None = None,
        budget: ApiBudget | None = None,
        registry: CollectorRegistry | None = None,
        credentials: Credentials | None = None,
        pool_size: int = 16,
    ) -> None:
        self.config = config
        self.api_version = api_version or config.api_version
        self.retry = retry or RetryPolicy()
        self.budget = budget or ApiBudget(config.api_budget_share, registry=registry)
        self.credentials = credentials or Credentials.from_config(config)
        self.http = build_http_session(config, self.budget, pool_size)
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self._generation = 0

    # --- the calls -------------------------------------------------------------------

    def query(self, soql: str) -> dict[str, Any]:
        """One page of a SOQL query (``records``, ``totalSize``, ``done``)."""
        result: dict[str, Any] = self._call("query", lambda sf: sf.query(soql))
        return result

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl``."""
        result = self._call("query_all", lambda sf: sf.query_all(soql))
        return list(result["records"])

    def query_all_including_deleted(self, soql: str) -> list[dict[str, Any]]:
        """Every record of a SOQL query through ``queryAll``, which also returns deleted
        (``IsDeleted = true``, in the Recycle Bin) and archived rows (SOAP API Developer
        Guide, queryAll())."""
        result = self._call("query_all", lambda sf: sf.query_all(soql, include_deleted=True))
        return list(result["records"])

    def composite(
        self, subrequests: Sequence[Mapping[str, Any]], *, all_or_none: bool = False
    ) -> list[dict[str, Any]]:
        """POST ``/composite``; the parsed ``compositeResponse`` list.

        Not retried after an unknown outcome: the subrequests may include creates.
        """
        body = {"allOrNone": all_or_none, "compositeRequest": list(subrequests)}
        result = self._call(
            "composite",
            lambda sf: sf.restful("composite", method="POST", json=body),
            idempotent=False,
        )
        return list(result["compositeResponse"])

    def create(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create one record; its id. Not retried after an unknown outcome."""
        path = f"sobjects/{_api_name(sobject)}"
        result = self._call(
            "create",
            lambda sf: sf.restful(path, method="POST", json=dict(fields)),
            idempotent=False,
        )
        return str(result["id"])

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Update one record's fields (idempotent: retried)."""
        path = f"sobjects/{_api_name(sobject)}/{_record_id(record_id)}"
        self._call("update", lambda sf: sf.restful(path, method="PATCH", json=dict(fields)))

    def get(
        self, sobject: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """One record by id (all fields, or the ones named)."""
        path = f"sobjects/{_api_name(sobject)}/{_record_id(record_id)}"
        params = {"fields": ",".join(_api_name(f) for f in fields)} if fields else None
        result: dict[str, Any] = self._call(
            "get", lambda sf: sf.restful(path, params=params, method="GET")
        )
        return result

    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe (fields, picklist values, permissions)."""
        path = f"sobjects/{_api_name(sobject)}/describe"
        result: dict[str, Any] = self._call("describe", lambda sf: sf.restful(path))
        return result

    def limits(self) -> dict[str, Any]:
        """The org's limits (``/limits``), including ``DailyApiRequests``."""
        result: dict[str, Any] = self._call("limits", lambda sf: sf.limits())
        return result

    def upsert_collection(
        self,
        sobject: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """PATCH ``composite/sobjects/{sobject}/{field}``: one UpsertResult per record
        (``id``, ``success``, ``errors``, ``created``), in order. Idempotent: retried."""
        path = f"composite/sobjects/{_api_name(sobject)}/{_api_name(external_id_field)}"
        return self._collection("upsert_collection", "PATCH", path, sobject, records, all_or_none)

    def update_collection(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """PATCH ``composite/sobjects``: each record carries its ``Id``; one SaveResult per
        record (``id``, ``success``, ``errors``), in order (REST API Developer Guide,
        "Update Records Using sObject Collections"). Idempotent: retried."""
        return self._collection(
            "update_collection", "PATCH", "composite/sobjects", sobject, records, all_or_none
        )

    def create_collection(
        self,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        *,
        all_or_none: bool = False,
    ) -> list[dict[str, Any]]:
        """POST ``composite/sobjects``: one SaveResult per record (``id``, ``success``,
        ``errors``), in order. Not retried after an unknown outcome (OutcomeUnknown)."""
        return self._collection(
            "create_collection",
            "POST",
            "composite/sobjects",
            sobject,
            records,
            all_or_none,
            idempotent=False,
        )

    def _collection(
        self,
        name: str,
        method: str,
        path: str,
        sobject: str,
        records: Sequence[Mapping[str, Any]],
        all_or_none: bool,
        *,
        idempotent: bool = True,
    ) -> list[dict[str, Any]]:
        """One sObject Collections call: up to 200 records, each typed, in one body."""
        _check_collection(records)
        body = {"allOrNone": all_or_none, "records": [_typed(sobject, r) for r in records]}
        result = self._call(
            name, lambda sf: sf.restful(path, method=method, json=body), idempotent=idempotent
        )
        return list(result)

    def send(
        self,
        name: str,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        csv_body: bytes | None = None,
        accept_csv: bool = False,
        idempotent: bool = True,
    ) -> tuple[int, Any]:
        """One raw REST call under the version root (``path`` like ``jobs/ingest``):
        its status and its body (parsed JSON, CSV text, or None when empty).

        For resources ``restful`` cannot carry: a ``text/csv`` body, a CSV answer, a 201
        without a body (Bulk API 2.0). The session, retries, re-authentication and
        classification are the other calls'; a status of 300 or more raises through
        simple-salesforce's ``exception_handler`` as they do."""
        content_type = "text/csv" if csv_body is not None else "application/json"
        headers = {
            "Content-Type": content_type,
            "Accept": "text/csv" if accept_csv else "application/json",
        }
        data = csv_body if csv_body is not None else None

        def call(sf: Salesforce) -> tuple[int, Any]:
            all_headers = {**sf.headers, **headers}
            response = sf.session.request(
                method,
                sf.base_url + path,
                headers=all_headers,
                data=data,
                json=dict(json_body) if json_body is not None else None,
            )
            if response.status_code >= 300:
                exception_handler(response, name)
            if not response.content:
                return response.status_code, None
            if accept_csv:
                return response.status_code, response.content.decode("utf-8")
            return response.status_code, response.json()

        result: tuple[int, Any] = self._call(name, call, idempotent=idempotent)
        return result

    @property
    def sf(self) -> Salesforce:
        """The underlying simple-salesforce object (authenticating if needed).

        Calls made on it directly get the timeouts, the CA and the budget, but not the
        re-authentication, the retries or the classification: prefer the methods here.
        """
        return self._current()[0]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- sessions ----------------------------------------------------------------------

    def _current(self) -> tuple[Salesforce, int]:
        with self._lock:
            if self._sf is None:
                self._install(authenticate(self.config, self.http, self.credentials))
            assert self._sf is not None
            return self._sf, self._generation

    def _reauthenticate(self, seen_generation: int) -> Salesforce:
        if not self.credentials.can_refresh:
            raise expired_direct_session()
        with self._lock:
            if self._generation == seen_generation or self._sf is None:
                # Nobody refreshed since this call read the session: log in again.
                log.info("salesforce_session_expired", flow=self.credentials.flow.value)
                self._install(authenticate(self.config, self.http, self.credentials))
            assert self._sf is not None
            return self._sf

    def _install(self, session: Session) -> None:
        # Building the object makes no call when given a session id.
        self._sf = Salesforce(
            instance_url=session.instance_url,
            session_id=session.access_token,
            version=self.api_version,
            session=self.http,
            object_pairs_hook=dict,
        )
        self._generation += 1

    # --- one call: re-auth once, retry, classify ---------------------------------------

    def _call(self, name: str, fn: Callable[[Salesforce], Any], *, idempotent: bool = True) -> Any:
        policy = self.retry

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, RateLimited) or not isinstance(exc, TemporaryError):
                return False
            return idempotent or not isinstance(exc, OutcomeUnknown)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "salesforce_call_retry",
                call=name,
                attempt=state.attempt_number,
                reason=getattr(error, "reason", str(error)),
            )

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait_exponential_jitter(
                multiplier=policy.initial_wait_seconds,
                max=policy.max_wait_seconds,
                jitter=policy.jitter_seconds,
            ),
            retry=retry_if_exception(retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._with_session, fn)
        except RateLimited:
            raise
        except OutcomeUnknown as exc:
            if not idempotent:
                raise
            raise self._gave_up(name, exc) from None
        except TemporaryError as exc:
            raise self._gave_up(name, exc) from None

    def _gave_up(self, name: str, exc: TemporaryError) -> TemporaryError:
        retry_after = max(exc.retry_after or 0.0, self.retry.defer_seconds)
        gave_up = TemporaryError(
            f"{exc.reason} (gave up on {name} after {self.retry.attempts} attempts)",
            retry_after=retry_after,
        )
        gave_up.code, gave_up.said = exc.code, exc.said
        return gave_up

    def _with_session(self, fn: Callable[[Salesforce], T]) -> T:
        sf, generation = self._current()
        try:
            return self._once(fn, sf)
        except _SessionRejected:
            pass
        sf = self._reauthenticate(generation)
        try:
            return self._once(fn, sf)
        except _SessionRejected:
            raise TemporaryError(
                "Salesforce rejected a session it had just issued (INVALID_SESSION_ID); "
                "check the connected app's session policies (IP restrictions, session "
                "timeout) if this keeps happening"
            ) from None

    @staticmethod
    def _once(fn: Callable[[Salesforce], T], sf: Salesforce) -> T:
        try:
            return fn(sf)
        except SalesforceError as exc:
            faults = parse_faults(exc.content)
            if exc.status == 401 and (not faults or faults[0].code == "INVALID_SESSION_ID"):
                raise _SessionRejected from None
            raise classify_response(exc.status, exc.content) from None
        except requests.RequestException as exc:
            raise classify_exception(exc) from None


def _api_name(name: str) -> str:
    """Refuse anything but an API name in a URL path segment."""
    if not _API_NAME.match(name):
        raise ValueError(f"not a Salesforce API name: {name!r}")
    return name


def _record_id(record_id: str) -> str:
    """Refuse anything but a 15- or 18-character record id in a URL path segment."""
    if not _RECORD_ID.match(record_id):
        raise ValueError(f"not a Salesforce record id: {record_id!r}")
    return record_id


def _typed(sobject: str, record: Mapping[str, Any]) -> dict[str, Any]:
    # sObject Collections need attributes.type on every record (REST API Developer Guide).
    typed = dict(record)
    typed.setdefault("attributes", {"type": sobject})
    return typed


def _check_collection(records: Sequence[Mapping[str, Any]]) -> None:
    if not 0 < len(records) <= MAX_COLLECTION_RECORDS:
        raise ValueError(f"a collection takes 1 to {MAX_COLLECTION_RECORDS} records")
