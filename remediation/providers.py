"""Upstream providers: the Telnyx HTTP client, and the sandbox reached the same way.

Both speak the seed's API over HTTP; the sandbox is the console's own
`/sandbox/telnyx/v2` (see `remediation.sandbox`), so a worker exercises exactly the
code path it would use against Telnyx. Errors are split in two: transient ones
(5xx, timeouts, 429 with its Retry-After) are retried later by the poller;
the rest mean the provider refused and the request fails.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from remediation.choices import BUCKETS, Provider, RemediationStatus
from remediation.models import RemediationSettings
from trustconsole.lib import netguard
from trustconsole.lib.crypto import UNREADABLE, is_unreadable

logger = logging.getLogger(__name__)

USER_AGENT = "trustconsole-remediation/1"
# Tests may route provider traffic through an in-process transport (e.g. httpx's
# WSGITransport onto the console's own sandbox); production never sets it.
transport_override: httpx.BaseTransport | None = None


class ProviderError(Exception):
    """The provider refused or answered something unusable; do not retry.

    `errors` holds the provider's JSON:API error objects (code, title, detail,
    source), when it sent any: callers branch on `code`, never on `detail`.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.errors = errors or []
        super().__init__(message)

    @property
    def codes(self) -> list[str]:
        """The provider's error codes (strings, as documented)."""
        return [str(e.get("code")) for e in self.errors if e.get("code") is not None]


class ProviderTransientError(ProviderError):
    """Worth retrying later: 5xx, timeouts, connection errors, 429."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code)


class CancelNotSupported(ProviderError):
    """The provider offers no way to cancel a forwarded request."""


@dataclass(frozen=True)
class UpstreamRemediation:
    """A remediation request as the provider reports it."""

    id: str
    status: str
    call_purpose: str = ""
    phone_numbers_count: int | None = None
    created_at: dt.datetime | None = None
    tier1_completed_at: dt.datetime | None = None
    tier2_completed_at: dt.datetime | None = None
    results: dict[str, list[str]] | None = None


def _timestamp(value: Any, field: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value)) if isinstance(value, str) else None
    if parsed is None:
        raise ProviderError(f"provider sent an unreadable {field}: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_remediation(data: Any) -> UpstreamRemediation:
    """Read one `data` object of the seed's detail or list shape."""
    if not isinstance(data, dict) or not data.get("id"):
        raise ProviderError("provider answer has no remediation request in data")
    status = data.get("status")
    if status not in RemediationStatus.values:
        raise ProviderTransientError(f"provider sent an unknown status {status!r}")
    results = data.get("results")
    buckets: dict[str, list[str]] | None = None
    if isinstance(results, dict):
        buckets = {}
        for name in BUCKETS:
            numbers = results.get(name) or []
            buckets[name] = [str(n) for n in numbers if isinstance(n, str | int)]
        extra = set(results) - set(BUCKETS)
        if extra:
            logger.warning("provider sent unknown result buckets %s", sorted(extra))
    count = data.get("phone_numbers_count")
    return UpstreamRemediation(
        id=str(data["id"]),
        status=status,
        call_purpose=str(data.get("call_purpose") or ""),
        phone_numbers_count=count if isinstance(count, int) else None,
        created_at=_timestamp(data.get("created_at"), "created_at"),
        tier1_completed_at=_timestamp(data.get("tier1_completed_at"), "tier1"),
        tier2_completed_at=_timestamp(data.get("tier2_completed_at"), "tier2"),
        results=buckets,
    )


def _error_text(response: httpx.Response) -> str:
    """`title: detail` of each JSON:API error, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return str(body)[:200]
    parts = []
    for error in errors[:5]:
        if not isinstance(error, dict):
            continue
        detail = error.get("detail") or error.get("description") or ""
        code = error.get("code")
        parts.append(
            f"{error.get('title', 'Error')}"
            + (f" ({code})" if code else "")
            + (f": {detail}" if detail else "")
        )
    return "; ".join(parts) or response.reason_phrase


def _error_objects(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict)]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


class TelnyxClient:
    """The remediation endpoints of a Telnyx-compatible API over httpx.

    GETs are retried in place on 5xx, timeouts and connection errors with
    exponential back-off; a submit is retried only when the request never left
    (connection refused), because a timed-out POST may have been accepted.
    A 429 is never retried in place: its Retry-After goes back to the poller.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 10,
        retries: int = 2,
        backoff: float = 0.5,
        supports_cancel: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        guarded: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.supports_cancel = supports_cancel
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout),
            # An organisation's own API base passes the SSRF guard; the
            # deployment's configured bases are the operator's choice.
            transport=transport
            or transport_override
            or (netguard.PinnedTransport() if guarded else None),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def __enter__(self) -> TelnyxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------

    def _pause(self, attempt: int) -> None:
        # Exponential back-off with jitter: base, 2×base, 4×base … (±50%).
        self._sleep(self.backoff * (2**attempt) * random.uniform(0.5, 1.5))  # noqa: S311

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        idempotent = method == "GET"
        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, json=json, params=params)
            except netguard.UnsafeDestination as exc:
                raise ProviderError(str(exc)) from exc
            except httpx.ConnectError as exc:
                # Nothing reached the provider: safe to retry even a POST.
                if attempt < self.retries:
                    self._pause(attempt)
                    attempt += 1
                    continue
                raise ProviderTransientError(f"cannot connect: {exc}") from exc
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if idempotent and attempt < self.retries:
                    self._pause(attempt)
                    attempt += 1
                    continue
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else ""
                raise ProviderTransientError(
                    f"{method} {path} {kind or 'failed'}: {exc.__class__.__name__}"
                ) from exc
            status = response.status_code
            if status == 429:
                raise ProviderTransientError(
                    f"rate limited (429): {_error_text(response)}",
                    status_code=429,
                    retry_after=retry_after_seconds(
                        response.headers.get("Retry-After")
                    ),
                )
            if status >= 500:
                if idempotent and attempt < self.retries:
                    self._pause(attempt)
                    attempt += 1
                    continue
                raise ProviderTransientError(
                    f"provider error {status}: {_error_text(response)}",
                    status_code=status,
                    retry_after=retry_after_seconds(
                        response.headers.get("Retry-After")
                    ),
                )
            if status >= 400:
                raise ProviderError(
                    f"provider refused ({status}): {_error_text(response)}",
                    status_code=status,
                    errors=_error_objects(response),
                )
            if status == 204 or not response.content:
                return {}
            try:
                body = response.json()
            except ValueError as exc:
                raise ProviderTransientError(
                    f"provider answered {status} without JSON"
                ) from exc
            if not isinstance(body, dict):
                raise ProviderTransientError(
                    "provider answered JSON that is not an object"
                )
            return body

    def _path(self, enterprise_id: str, *rest: str) -> str:
        parts = [
            "enterprises",
            quote(enterprise_id, safe=""),
            "reputation",
            "remediation",
        ]
        return "/".join([*parts, *(quote(p, safe="") for p in rest)])

    # --- the remediation endpoints ---------------------------------------------------

    def submit(
        self,
        *,
        enterprise_id: str,
        phone_numbers: list[str],
        call_purpose: str,
        contact_email: str = "",
    ) -> UpstreamRemediation:
        """POST …/reputation/remediation; the provider answers 202."""
        body: dict[str, Any] = {
            "phone_numbers": phone_numbers,
            "call_purpose": call_purpose,
        }
        if contact_email:
            body["contact_email"] = contact_email
        data = self._request("POST", self._path(enterprise_id), json=body)
        return parse_remediation(data.get("data"))

    def retrieve(
        self, *, enterprise_id: str, remediation_id: str
    ) -> UpstreamRemediation:
        """GET …/reputation/remediation/{id}: status, tiers and results."""
        data = self._request("GET", self._path(enterprise_id, remediation_id))
        return parse_remediation(data.get("data"))

    def list_recent(
        self, *, enterprise_id: str, created_gte: dt.datetime
    ) -> list[UpstreamRemediation]:
        """The first page (250) of requests created on or after `created_gte`."""
        params = {
            "page[number]": "1",
            "page[size]": "250",
            "filter[created_at][gte]": created_gte.astimezone(dt.UTC).isoformat(),
        }
        data = self._request("GET", self._path(enterprise_id), params=params)
        items = data.get("data")
        if not isinstance(items, list):
            raise ProviderTransientError("provider list answer has no data array")
        return [parse_remediation(item) for item in items]

    def cancel(self, *, enterprise_id: str, remediation_id: str) -> UpstreamRemediation:
        """Cancel a pending request (a sandbox extension; Telnyx has no such call)."""
        if not self.supports_cancel:
            raise CancelNotSupported(
                "the provider offers no way to cancel a request it has accepted"
            )
        data = self._request(
            "POST", self._path(enterprise_id, remediation_id, "actions", "cancel")
        )
        return parse_remediation(data.get("data"))

    # --- Number Reputation (monitoring) -----------------------------------------------

    def _reputation_path(self, enterprise_id: str, *rest: str) -> str:
        # Every segment is percent-encoded: a number's `+` travels as %2B.
        parts = ["enterprises", quote(enterprise_id, safe=""), "reputation"]
        return "/".join([*parts, *(quote(p, safe="") for p in rest)])

    def reputation_enable(
        self, *, enterprise_id: str, loa_document_id: str, check_frequency: str
    ) -> dict[str, Any]:
        """POST …/reputation (billable): the new record, status pending."""
        body = {"loa_document_id": loa_document_id, "check_frequency": check_frequency}
        data = self._request("POST", self._reputation_path(enterprise_id), json=body)
        return _data_object(data)

    def reputation_retrieve(self, *, enterprise_id: str) -> dict[str, Any]:
        """GET …/reputation: status, loa_status, check_frequency, rejections."""
        return _data_object(self._request("GET", self._reputation_path(enterprise_id)))

    def reputation_disable(self, *, enterprise_id: str) -> None:
        """DELETE …/reputation (204): every number is de-registered with it."""
        self._request("DELETE", self._reputation_path(enterprise_id))

    def reputation_update_frequency(
        self, *, enterprise_id: str, check_frequency: str
    ) -> dict[str, Any]:
        """PATCH …/reputation/frequency; the provider wants status approved."""
        data = self._request(
            "PATCH",
            self._reputation_path(enterprise_id, "frequency"),
            json={"check_frequency": check_frequency},
        )
        return _data_object(data)

    def reputation_set_webhook(
        self, *, enterprise_id: str, webhook_url: str | None
    ) -> dict[str, Any]:
        """PATCH …/reputation/webhook: where ownership events go (None: stop)."""
        data = self._request(
            "PATCH",
            self._reputation_path(enterprise_id, "webhook"),
            json={"webhook_url": webhook_url},
        )
        found = data.get("data")
        return found if isinstance(found, dict) else {}

    def numbers_list(
        self, *, enterprise_id: str, page_size: int = 250, max_pages: int = 1000
    ) -> list[dict[str, Any]]:
        """Every monitored number, page by page (the default page here is 10)."""
        found: list[dict[str, Any]] = []
        page = 1
        while page <= max_pages:
            data = self._request(
                "GET",
                self._reputation_path(enterprise_id, "numbers"),
                params={"page[number]": str(page), "page[size]": str(page_size)},
            )
            items = data.get("data")
            if not isinstance(items, list):
                raise ProviderTransientError("provider list answer has no data array")
            found.extend(item for item in items if isinstance(item, dict))
            answer_meta = data.get("meta")
            meta = answer_meta if isinstance(answer_meta, dict) else {}
            total_pages = meta.get("total_pages")
            if not items or (isinstance(total_pages, int) and page >= total_pages):
                break
            if not isinstance(total_pages, int) and len(items) < page_size:
                break
            page += 1
        return found

    def numbers_register(
        self, *, enterprise_id: str, phone_numbers: list[str]
    ) -> list[dict[str, Any]]:
        """POST …/reputation/numbers (billable, all-or-nothing, 1–100 numbers)."""
        _check_batch(phone_numbers)
        data = self._request(
            "POST",
            self._reputation_path(enterprise_id, "numbers"),
            json={"phone_numbers": phone_numbers},
        )
        items = data.get("data")
        return (
            [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        )

    def number_retrieve(
        self, *, enterprise_id: str, phone_number: str, fresh: bool = False
    ) -> dict[str, Any]:
        """GET …/numbers/{+ as %2B}; `fresh` is a billed live lookup."""
        data = self._request(
            "GET",
            self._reputation_path(enterprise_id, "numbers", phone_number),
            params={"fresh": "true"} if fresh else None,
        )
        return _data_object(data)

    def number_deregister(self, *, enterprise_id: str, phone_number: str) -> None:
        """DELETE …/numbers/{+ as %2B} (204): stop monitoring it."""
        self._request(
            "DELETE", self._reputation_path(enterprise_id, "numbers", phone_number)
        )

    def numbers_refresh(
        self, *, enterprise_id: str, phone_numbers: list[str]
    ) -> dict[str, Any]:
        """POST …/numbers/refresh (billable live lookups, 1–100 numbers).

        The answer is `{results: [{phone_number, success, error}], total_requested,
        total_successful, total_failed}`.
        """
        _check_batch(phone_numbers)
        data = self._request(
            "POST",
            self._reputation_path(enterprise_id, "numbers", "refresh"),
            json={"phone_numbers": phone_numbers},
        )
        return _data_object(data)


MAX_REPUTATION_BATCH = 100


def _check_batch(phone_numbers: list[str]) -> None:
    """The provider takes 1 to 100 numbers per call; refuse before sending."""
    if not 1 <= len(phone_numbers) <= MAX_REPUTATION_BATCH:
        raise ProviderError(
            f"give 1 to {MAX_REPUTATION_BATCH} numbers per call "
            f"(got {len(phone_numbers)})",
            status_code=422,
        )


def _data_object(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise ProviderTransientError("provider answer has no data object")
    return data


def sandbox_api_key(settings_row: RemediationSettings) -> str:
    """The key the organisation presents to the sandbox (its own namespace there)."""
    return settings_row.api_key or f"sandbox-{settings_row.organisation.public_id}"


def client_for(
    settings_row: RemediationSettings, *, provider: str | None = None
) -> TelnyxClient:
    """The client of a provider (default: the organisation's), from settings.

    A request keeps talking to the provider it was submitted to, even if the
    organisation has switched provider since.
    """
    provider = provider or settings_row.provider
    timeout: float = settings.REMEDIATION_HTTP_TIMEOUT
    retries: int = settings.REMEDIATION_HTTP_RETRIES
    backoff: float = settings.REMEDIATION_HTTP_BACKOFF_MS / 1000
    own_base = settings_row.api_base if settings_row.provider == provider else ""
    if provider == Provider.SANDBOX:
        return TelnyxClient(
            base_url=own_base or settings.REMEDIATION_SANDBOX_URL,
            api_key=sandbox_api_key(settings_row),
            supports_cancel=True,
            guarded=bool(own_base),
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
    api_key = settings_row.api_key
    if is_unreadable(api_key):
        raise ProviderError(
            f"The organisation's Telnyx API key cannot be used ({UNREADABLE}); "
            "enter it again in Settings → Remediation."
        )
    if not api_key:
        raise ProviderError("No Telnyx API key is configured (Settings → Remediation).")
    return TelnyxClient(
        base_url=own_base or settings.REMEDIATION_TELNYX_API_BASE,
        api_key=api_key,
        guarded=bool(own_base),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
