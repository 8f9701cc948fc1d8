"""Provider data about numbers becomes observations and each number's risk."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils.dateparse import parse_datetime

from remediation.choices import (
    ELEVATED_RISKS,
    ObservationSource,
    SpamRisk,
)
from remediation.models import (
    Enterprise,
    OwnedNumber,
    ReputationObservation,
)
from remediation.monitoring.common import SCORE_FIELDS, SYSTEM
from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from voicegate.policy.owned import enterprise_numbers_changed

logger = logging.getLogger(__name__)


def _score(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 <= value <= 100 else None


def timestamp_parse(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class Changes:
    """What one batch of provider data changed: risk moves, in order."""

    observed: int = 0
    moves: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def words(self) -> str:
        """The moves as a sentence for the audit trail."""
        shown = ", ".join(
            f"{e164} {old or 'no data'} → {new or 'no data'}"
            for e164, old, new in self.moves[:20]
        )
        more = f" and {len(self.moves) - 20} more" if len(self.moves) > 20 else ""
        return f"Spam risk changed for {len(self.moves)} number(s): {shown}{more}."


def observation_values(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of `reputation_data`, each read by key and nullable."""
    risk = data.get("spam_risk")
    category = data.get("spam_category")
    return {
        "spam_risk": risk if risk in SpamRisk.values else None,
        "spam_category": str(category)[:100] if category else None,
        **{name: _score(data.get(name)) for name in SCORE_FIELDS},
        "last_refreshed_at": timestamp_parse(data.get("last_refreshed_at")),
    }


def apply_numbers(
    *,
    enterprise: Enterprise,
    items: Iterable[dict[str, Any]],
    source: str,
    now: dt.datetime,
    only: set[str] | None = None,
) -> Changes:
    """Store new observations of numbers the provider reported, and their risk."""
    by_number = {}
    for item in items:
        e164 = item.get("phone_number")
        if isinstance(e164, str) and (only is None or e164 in only):
            by_number[e164] = item
    changes = Changes()
    if not by_number:
        return changes
    owned = {
        n.e164: n
        for n in OwnedNumber.objects.filter(enterprise=enterprise, e164__in=by_number)
    }
    # Only each number's latest observation (index on number, observed_at).
    newest = Subquery(
        ReputationObservation.objects.filter(number=OuterRef("pk"))
        .order_by("-observed_at", "-id")
        .values("pk")[:1]
    )
    latest_ids = (
        OwnedNumber.objects.filter(pk__in=[n.pk for n in owned.values()])
        .annotate(latest=newest)
        .values_list("latest", flat=True)
    )
    latest = {
        obs.number_id: obs
        for obs in ReputationObservation.objects.filter(
            pk__in=[pk for pk in latest_ids if pk]
        )
    }
    new_rows, touched = [], []
    for e164, item in by_number.items():
        number = owned.get(e164)
        if number is None:
            logger.info("provider reports %s, which the enterprise does not own", e164)
            continue
        data = item.get("reputation_data")
        if not isinstance(data, dict):
            continue  # null until the provider's first check
        values = observation_values(data)
        previous = latest.get(number.pk)
        same = previous is not None and all(
            getattr(previous, k) == v for k, v in values.items()
        )
        if same:
            continue
        new_rows.append(
            ReputationObservation(
                organisation_id=enterprise.organisation_id,
                enterprise=enterprise,
                number=number,
                observed_at=now,
                source=source,
                data=data,
                **values,
            )
        )
        old = number.spam_risk
        new = values["spam_risk"]
        if old != new:
            changes.moves.append((e164, old, new))
            if new in ELEVATED_RISKS and old not in ELEVATED_RISKS:
                number.elevated_at = now
        number.spam_risk = new
        number.spam_category = values["spam_category"] or ""
        number.spam_risk_checked_at = now
        number.reputation_refreshed_at = values["last_refreshed_at"]
        if number.registered_at is None and source != ObservationSource.WEBHOOK:
            number.registered_at = now  # the provider monitors it
        touched.append(number)
    ReputationObservation.objects.bulk_create(new_rows, batch_size=500)
    enterprise_numbers_changed(enterprise.organisation_id)
    OwnedNumber.objects.bulk_update(
        touched,
        [
            "spam_risk",
            "spam_category",
            "spam_risk_checked_at",
            "reputation_refreshed_at",
            "elevated_at",
            "registered_at",
        ],
        batch_size=500,
    )
    changes.observed = len(new_rows)
    if changes.moves:
        # The audit entry also moves the outbound check's copy of these numbers.
        audit_record(
            actor=Actor.system_for(enterprise.organisation, SYSTEM),
            action="reputation.risk_change",
            target=enterprise,
            before={e: old for e, old, _ in changes.moves[:100]},
            after={e: new for e, _, new in changes.moves[:100]},
            reason=f"{ObservationSource(source).label}: {changes.words()}",
        )
    return changes
