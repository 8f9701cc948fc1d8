"""Rules built through the service, as an admin would save them."""

from __future__ import annotations

from typing import Any

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.rules.models import Rule
from trustconsole.rules.services import rule_create


def make_rule(
    org: Organisation, condition: str, effect: dict[str, Any], **kw: Any
) -> Rule:
    """A rule of `org` saved by its system admin (shadow unless `mode` says)."""
    kw.setdefault("name", f"rule {Rule.objects.filter(builtin='').count() + 1}")
    kw.setdefault("channel", "inbound_call")
    return rule_create(
        actor=Actor.system_for(org, "tests"), condition=condition, effect=effect, **kw
    )
