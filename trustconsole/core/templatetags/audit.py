"""`{{ entry|audit_text }}`: an audit entry as words (see core.audit_text)."""

from __future__ import annotations

from typing import Any

from django import template

from trustconsole.core.audit_text import AuditText, describe

register = template.Library()


@register.filter
def audit_text(entry: Any) -> AuditText:
    """The sentence, the labelled before → after rows and the reason of an entry."""
    return describe(entry)


@register.filter
def label_in(value: Any, labels: dict[str, str]) -> str:
    """`{{ code|label_in:labels }}`: a stored code as its label, else the code."""
    return labels.get(str(value), str(value)) if labels else str(value)


@register.filter
def duration_words(seconds: int | float | None) -> str:
    """A wait in words: "45 minutes", "3 hours", "2 days"."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "under a minute"
