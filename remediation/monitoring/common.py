"""What every part of monitoring shares: limits, the provider's calls and
refusals, and the enterprise's gate fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from remediation import providers, selectors
from remediation.choices import (
    CheckFrequency,
    GateStatus,
)
from remediation.errors import (
    BadRequest,
    GateClosed,
    InvalidParameters,
    Problem,
    ProviderUnavailable,
    RateLimited,
    RemediationError,
    problem,
)
from remediation.models import (
    Enterprise,
)
from trustconsole.core.choices import Role

SYSTEM = "reputation monitor"


REFRESH_ROLES = (Role.OPERATOR,)


MAX_BATCH = providers.MAX_REPUTATION_BATCH


SCORE_FIELDS = (
    "maturity_score",
    "connection_score",
    "engagement_score",
    "sentiment_score",
)


def provider_refusal(exc: providers.ProviderError) -> RemediationError:
    """A provider error as the console's own (same status, the provider's words)."""
    if isinstance(exc, providers.ProviderTransientError):
        if exc.status_code == 429:
            wait = int(exc.retry_after or 60)
            return RateLimited(
                [problem(429, f"The provider asks to wait {wait} s before retrying.")],
                retry_after=wait,
            )
        return ProviderUnavailable(
            [problem(503, f"The provider is unavailable; nothing changed ({exc}).")]
        )
    problems = [
        Problem(
            code=str(e.get("code") or "10015"),
            title=str(e.get("title") or "Refused by the provider"),
            detail=str(e.get("detail") or e.get("description") or e.get("title")),
            pointer=(e.get("source") or {}).get("pointer")
            if isinstance(e.get("source"), dict)
            else None,
        )
        for e in exc.errors
    ] or [problem(exc.status_code or 400, str(exc))]
    status = exc.status_code if exc.status_code in (400, 403, 404, 409, 422) else 400
    error = {
        400: BadRequest,
        403: GateClosed,
        404: BadRequest,
        409: BadRequest,
        422: InvalidParameters,
    }[status](problems)
    error.status = status
    return error


def _client(enterprise: Enterprise) -> providers.TelnyxClient:
    row = selectors.settings_for(organisation=enterprise.organisation)
    try:
        return providers.client_for(row)
    except providers.ProviderError as exc:
        raise BadRequest([problem(400, str(exc))]) from None


def provider_call(enterprise: Enterprise, method: str, **kwargs: Any) -> Any:
    with _client(enterprise) as client:
        try:
            return getattr(client, method)(
                enterprise_id=enterprise.upstream_id, **kwargs
            )
        except providers.ProviderError as exc:
            raise provider_refusal(exc) from None


def enterprise_record_apply(enterprise: Enterprise, data: dict[str, Any]) -> None:
    for name in ("reputation_status", "loa_status"):
        key = "status" if name == "reputation_status" else "loa_status"
        value = data.get(key)
        if value in GateStatus.values:
            setattr(enterprise, name, value)
    frequency = data.get("check_frequency")
    if frequency in CheckFrequency.values:
        enterprise.check_frequency = frequency
    reasons = data.get("rejection_reasons")
    enterprise.rejection_reasons = reasons if isinstance(reasons, list) else None
    loa = data.get("loa_document_id")
    if isinstance(loa, str) and loa:
        enterprise.loa_document_id = loa[:255]


def gate_words(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "reputation_status": enterprise.reputation_status,
        "loa_status": enterprise.loa_status,
        "check_frequency": enterprise.check_frequency,
        "loa_document_id": enterprise.loa_document_id,
        "monitoring": "enabled" if enterprise.monitoring_enabled else "off",
    }


def webhook_url_for(enterprise: Enterprise) -> str | None:
    """The organisation's reputation webhook URL, if the public base URL is known."""
    base = settings.VOICEGATE_PUBLIC_BASE_URL
    if not base:
        return None
    return f"{base.rstrip('/')}/hooks/reputation/{enterprise.organisation.public_id}"


def batch_clean(raw: object) -> list[str]:
    from remediation.services import numbers_normalise

    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise InvalidParameters(
            [problem(422, "phone_numbers must be a list.", pointer="/phone_numbers")]
        )
    items = list(raw)
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidParameters(
            [
                problem(
                    422,
                    f"Give 1 to {MAX_BATCH} numbers per call (got {len(items)}).",
                    pointer="/phone_numbers",
                )
            ]
        )
    try:
        return numbers_normalise(str(i) for i in items)
    except ValidationError as exc:
        raise InvalidParameters(
            [problem(422, m, pointer="/phone_numbers") for m in exc.messages]
        ) from None
