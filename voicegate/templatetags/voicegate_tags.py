"""Template helpers of the Voice pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    """`mapping[key]`, or None."""
    return mapping.get(key) if mapping else None


@register.inclusion_tag("voicegate/partials/_retention.html")
def retention_note(kind: str) -> dict[str, Any]:
    """How long the rows a page lists are kept (`kind`: calls, denials,
    outbox, attempts), with the
    audit log's entries of what was pruned."""
    from voicegate import retention

    log = retention.LOGS[kind]
    return {
        "text": retention.retention_text(log),
        "pruned": log.keep_days() > 0,
        "action": log.action,
        "setting": log.setting,
    }


@register.simple_tag
def retention_span(kind: str) -> str:
    """How far back the rows a page counts reach (" in the last 400 days"), or
    nothing when they are kept forever."""
    from voicegate import retention

    days = retention.LOGS[kind].keep_days()
    return f" in the last {days:,} days" if days else ""
