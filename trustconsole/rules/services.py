"""Writes on rules: create, change (a new version), mode, order, delete, disable.

Every change is audited (sentences in `audit_text`) and appends a `rules` delta to
the decision core's change log, so every process recompiles the organisation's
rule set at its next decision.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record, audited_delete
from trustconsole.policy import changes
from trustconsole.rules import facts
from trustconsole.rules.effects import describe, effect_clean
from trustconsole.rules.language import ConditionError, check
from trustconsole.rules.models import Rule, RuleMode, RuleVersion

logger = logging.getLogger(__name__)

ADMIN = "admin"


def condition_check(*, channel: str, condition: str) -> None:
    """Refuse a condition with its position and reason (field `condition`)."""
    try:
        check(condition, facts.channel_facts(channel).schema())
    except ConditionError as exc:
        raise ValidationError(
            {"condition": f"Line {exc.line}, column {exc.column}: {exc.reason}"}
        ) from None


def _counted_check(channel: str, condition: str, effect: dict[str, Any]) -> None:
    """A rule reading a count known once the event is logged cannot reject it."""
    if effect.get("reject") and facts.reads_counted(channel, condition):
        raise ValidationError(
            {
                "effect.reject": "A rule reading caller.calls_recent runs once the "
                "call is logged: it records events, adds signals or flags, and "
                "cannot reject (read caller.calls_10m to reject)."
            }
        )


def _channel_clean(channel: str) -> str:
    if channel not in facts.RuleChannel.values:
        raise ValidationError(
            {"channel": f"Choose one of: {', '.join(facts.RuleChannel.values)}."}
        )
    return channel


def _snapshot(rule: Rule) -> dict[str, Any]:
    version = rule.current_version
    return {
        "name": rule.name,
        "description": rule.description,
        "channel": rule.channel,
        "mode": rule.mode,
        "order": rule.order,
        "version": version.number if version else None,
        "condition": version.condition if version else "",
        "effect": describe(version.effect) if version else "",
    }


def _changed(rule: Rule) -> None:
    changes.policy_changed(rule.organisation_id, changes.RULES, rule.pk)


def _new_version(
    *, actor: Actor, rule: Rule, condition: str, effect: dict[str, Any]
) -> RuleVersion:
    last = rule.versions.order_by("-number").values_list("number", flat=True).first()
    version = RuleVersion(
        rule=rule,
        number=(last or 0) + 1,
        condition=condition,
        effect=effect,
        created_by=actor.label[:200],
    )
    version.full_clean()
    version.save()
    return version


@transaction.atomic
def rule_create(  # noqa: PLR0913
    *,
    actor: Actor,
    name: str,
    channel: str,
    condition: str,
    effect: Any,
    description: str = "",
    mode: str = RuleMode.SHADOW,
    order: int = 100,
    reason: str = "",
) -> Rule:
    """A new rule with its first version (shadow by default: try before acting)."""
    actor.require(ADMIN)
    channel = _channel_clean(channel)
    condition_check(channel=channel, condition=condition)
    cleaned = effect_clean(channel, effect)
    _counted_check(channel, condition, cleaned)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the rule a name."})
    if mode not in RuleMode.values:
        raise ValidationError({"mode": f"Choose one of: {', '.join(RuleMode.values)}."})
    if Rule.objects.filter(organisation=actor.organisation, name=name).exists():
        raise ValidationError({"name": "Another rule has this name."})
    rule = Rule(
        organisation=actor.organisation,
        name=name,
        description=description or "",
        channel=channel,
        mode=mode,
        order=order,
    )
    rule.full_clean(exclude=["current_version"])
    try:
        rule.save()
    except IntegrityError:
        raise ValidationError({"name": "Another rule has this name."}) from None
    rule.current_version = _new_version(
        actor=actor, rule=rule, condition=condition, effect=cleaned
    )
    rule.save(update_fields=["current_version"])
    audit_record(
        actor=actor, action="rule.create", target=rule, after=_snapshot(rule),
        reason=reason,
    )  # fmt: skip
    _changed(rule)
    return rule


@transaction.atomic
def rule_update(  # noqa: PLR0913
    *,
    actor: Actor,
    rule: Rule,
    name: str | None = None,
    description: str | None = None,
    condition: str | None = None,
    effect: Any = None,
    order: int | None = None,
    reason: str = "",
) -> Rule:
    """Change a rule; a new condition or effect is a new version."""
    actor.require(ADMIN)
    rule = (
        # Lock the rule's row only: PostgreSQL refuses FOR UPDATE on the nullable
        # side of the join to its current version.
        Rule.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .get(pk=rule.pk)
    )
    before = _snapshot(rule)
    current = rule.current_version
    new_condition = (
        condition if condition is not None else (current.condition if current else "")
    )
    new_effect = (
        effect_clean(rule.channel, effect)
        if effect is not None
        else (current.effect if current else {})
    )
    if condition is not None:
        condition_check(channel=rule.channel, condition=new_condition)
    _counted_check(rule.channel, new_condition, new_effect)
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": "Give the rule a name."})
        if (
            Rule.objects.filter(organisation=rule.organisation, name=name)
            .exclude(pk=rule.pk)
            .exists()
        ):
            raise ValidationError({"name": "Another rule has this name."})
        rule.name = name
    if description is not None:
        rule.description = description
    if order is not None:
        rule.order = order
    if current is None or (new_condition, new_effect) != (
        current.condition,
        current.effect,
    ):
        rule.current_version = _new_version(
            actor=actor, rule=rule, condition=new_condition, effect=new_effect
        )
    after = _snapshot(rule)
    if after == before:
        return rule
    rule.updated_at = timezone.now()
    rule.full_clean()
    rule.save()
    audit_record(
        actor=actor, action="rule.update", target=rule,
        before={k: v for k, v in before.items() if after.get(k) != v},
        after={k: v for k, v in after.items() if before.get(k) != v},
        reason=reason,
    )  # fmt: skip
    _changed(rule)
    return rule


@transaction.atomic
def rule_set_mode(*, actor: Actor, rule: Rule, mode: str, reason: str = "") -> Rule:
    """Live, shadow or off."""
    actor.require(ADMIN)
    if mode not in RuleMode.values:
        raise ValidationError({"mode": f"Choose one of: {', '.join(RuleMode.values)}."})
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    if rule.mode == mode:
        return rule
    before = {"mode": rule.mode}
    rule.mode = mode
    rule.disabled_reason = ""
    rule.updated_at = timezone.now()
    rule.save(update_fields=["mode", "disabled_reason", "updated_at"])
    audit_record(
        actor=actor, action="rule.mode", target=rule, before=before,
        after={"mode": mode}, reason=reason,
    )  # fmt: skip
    from trustconsole.rules import engine

    engine.forget_disabled(rule.pk)
    _changed(rule)
    return rule


@transaction.atomic
def rule_delete(*, actor: Actor, rule: Rule, reason: str = "") -> None:
    """Remove a rule and its versions (the audit trail keeps what it was)."""
    actor.require(ADMIN)
    organisation_id, pk = rule.organisation_id, rule.pk
    audited_delete(
        rule, actor=actor, action="rule.delete", before=_snapshot(rule), reason=reason
    )
    changes.policy_changed(organisation_id, changes.RULES, pk)


def rule_disable_over_budget(*, rule_pk: int, microseconds: int, budget: int) -> bool:
    """Turn off a rule that ran over its time budget; tell the organisation's
    admins (after commit). False when it was already off or is gone."""
    with transaction.atomic():
        rule = (
            Rule.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .filter(pk=rule_pk)
            .first()
        )
        if rule is None or rule.mode == RuleMode.OFF:
            return False
        why = (
            f"Turned off: took {microseconds:,} µs on one event, over its time budget "
            f"of {budget:,} µs, several times in a row."
        )
        before = {"mode": rule.mode}
        rule.mode = RuleMode.OFF
        rule.disabled_reason = why
        rule.updated_at = timezone.now()
        rule.save(update_fields=["mode", "disabled_reason", "updated_at"])
        actor = Actor.system_for(rule.organisation, "rules engine")
        audit_record(
            actor=actor, action="rule.disable", target=rule, before=before,
            after={"mode": RuleMode.OFF}, reason=why,
        )  # fmt: skip
        _changed(rule)
        rule_id = rule.pk

        def notify() -> None:
            from trustconsole.rules import tasks

            try:
                tasks.rule_disabled_notify.apply_async((rule_id,), retry=False)
            except Exception:  # noqa: BLE001 - the broker is down: logged, rule is off
                logger.warning("could not queue the rule-disabled notification")

        transaction.on_commit(notify)
    logger.error("rule %s turned off: %s", rule.name, why)
    return True
