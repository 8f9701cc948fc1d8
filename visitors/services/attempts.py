"""Blocked attempts: a refused message or call counted on the visitor."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from visitors.choices import BlockReason, Channel
from visitors.models import BlockedAttempt, IPBlock, Visitor


def blocked_attempt_record(
    *,
    visitor: Visitor | None,
    organisation_id: int,
    channel: str = Channel.CHAT,
    reason: str = BlockReason.BLACKLISTED,
    ip: str | None = None,
    ip_block: IPBlock | None = None,
    detail: dict[str, Any] | None = None,
    visitor_id: int | None = None,
    ip_block_id: int | None = None,
    explanation: dict[str, Any] | None = None,
) -> BlockedAttempt:
    """Count a refused message or call on the visitor's profile, with what decided.

    Not audited: it records something a visitor tried, not a change anyone made.
    """
    if visitor is not None:
        visitor_id = visitor.pk
    if ip_block is not None:
        ip_block_id = ip_block.pk
    attempt = BlockedAttempt.objects.create(
        organisation_id=organisation_id,
        visitor_id=visitor_id,
        channel=channel,
        reason=reason,
        ip=ip or None,
        ip_block_id=ip_block_id,
        detail=detail or {},
        explanation=explanation or {},
    )
    if visitor_id is not None:
        Visitor.objects.filter(pk=visitor_id).update(
            blocked_attempts=F("blocked_attempts") + 1
        )
    return attempt
