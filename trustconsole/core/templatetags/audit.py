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
