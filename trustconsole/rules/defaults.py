"""The default rule set: today's built-in triggers, as rules each organisation owns.

Every organisation starts with these rules (added when it is created, and by a
migration for those that existed before). They are ordinary rules: admins edit,
shadow, turn off or delete them, and every change is a new version. The
deployment's environment variables give the chat rules' first version:

- **Flagged keywords** (chat message): a message that contains one of
  `VISITORS_FLAGGED_KEYWORDS` records a "flagged keyword" event (High, +40; the
  visitor lands in the review queue once in the danger band).
- **Message velocity** (chat message): more than `VISITORS_VELOCITY_MAX` messages
  from one visitor within `VISITORS_VELOCITY_WINDOW` seconds records a "message
  velocity" event (Medium, +20), once per window.
- **Repeated calls** (inbound call, `defaults_voice.py`): the call that takes one
  number over the organisation's repeated-call threshold in its window (Voice
  settings: `voice.repeated_call_threshold`, and the gate's own count,
  `caller.calls_recent`) records a "repeated calls" event on the caller's visitor,
  once per window.
- **Harassment limit** (outbound check, `defaults_voice.py`): a call to a number
  the account already called `policy.harassment_limit` times in the window
  (`destination.calls_made`) is refused with the violation `harassment`.
- **Event weights** (chat event), one rule per event kind the product records: a
  flagged keyword (High), a user report from the Inbox (High), message velocity
  (Medium) and repeated calls from the voice gate (High) add their risk signal
  (`event.kind == "user_report"` → signal). The levels are those the kinds were
  registered with (`visitors.rules.rule_register`).
- **Customer accounts** (`defaults_accounts`): signup risk, one account-signup
  rule per finding (disposable email High, free-mail Medium, no website Low,
  website/email mismatch Medium, high-risk country High, payment flagged
  Extreme); the usage review's anomalies (numbers without usage High, carrier
  complaints Extreme, a volume spike of calls or of SMS Medium, against the
  organisation's review settings); the restriction of services once one signal
  type's weights add up to its threshold (account risk signal added); and
  repeated outbound denials (outbound call refused: at the Voice → Policy
  threshold, an outbound denials signal at the policy's level).

The voice defaults read per-organisation settings as facts, so the settings pages
keep setting their numbers; an admin may write other numbers into the condition.

The defaults are added once: when the organisation is created, or by the
migration that introduced them (`seed(keys=…)` for the organisations that existed).
A default an admin deleted stays deleted; `key` is stored on the rule
(`Rule.builtin`), so a default is never added twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from trustconsole.rules.defaults_voice import voice_defaults
from trustconsole.rules.rewrite import cel_string

SEEDED_BY = "default rule set"


@dataclass(frozen=True)
class Default:
    """One rule of the default rule set; condition and effect from the settings."""

    key: str
    name: str
    channel: str
    description: str
    order: int
    condition: Callable[[], str]
    effect: Callable[[], dict[str, Any]]
    live: Callable[[], bool] = lambda: True


def _keywords() -> str:
    words = ", ".join(cel_string(w) for w in settings.VISITORS_FLAGGED_KEYWORDS if w)
    return f"contains_any(message.text, [{words}])" if words else "false"


DEFAULTS: tuple[Default, ...] = (
    Default(
        key="flagged_keywords",
        name="Flagged keywords",
        channel="chat_message",
        description=(
            "A chat message containing one of these words or phrases (any case) "
            "records a flagged keyword event: a High risk signal, and the review "
            "queue once the visitor is in the danger band. First written from "
            "VISITORS_FLAGGED_KEYWORDS."
        ),
        order=10,
        condition=_keywords,
        effect=lambda: {"event": {"kind": "flagged_keyword"}},
        live=lambda: any(settings.VISITORS_FLAGGED_KEYWORDS),
    ),
    Default(
        key="message_velocity",
        name="Message velocity",
        channel="chat_message",
        description=(
            "Too many chat messages from one visitor in the velocity window records "
            "a message velocity event (Medium risk signal), at most once per window. "
            "The messages are still delivered. First written from "
            "VISITORS_VELOCITY_MAX; the window is VISITORS_VELOCITY_WINDOW."
        ),
        order=20,
        condition=lambda: f"visitor.messages_recent > {settings.VISITORS_VELOCITY_MAX}",
        effect=lambda: {
            "event": {
                "kind": "message_velocity",
                "once_per_seconds": settings.VISITORS_VELOCITY_WINDOW,
            }
        },
    ),
)


def _event_weight(kind: str, order: int) -> Default:
    def level() -> str:
        from visitors.rules import rule_get

        found = rule_get(kind)
        return found.level if found is not None else "medium"

    def label() -> str:
        from visitors.choices import SIGNAL_TYPE_LABELS

        return SIGNAL_TYPE_LABELS.get(kind, kind)

    return Default(
        key=f"event_{kind}",
        name=f"Event weight: {label()}",
        channel="chat_event",
        description=(
            f"Each {label().lower()} event recorded on a visitor adds a "
            f"{label()} risk signal (the review queue once the visitor is in the "
            "danger band; a whitelisted visitor collects it but is never flagged)."
        ),
        order=order,
        condition=lambda: f"event.kind == {cel_string(kind)}",
        effect=lambda: {"signal": {"type": kind, "level": level()}},
    )


# The event kinds whose signal comes from the default rule set (not from the
# registry's own weight): `visitors.rules.event_record`.
EVENT_KINDS = ("flagged_keyword", "user_report", "message_velocity", "repeated_calls")
DEFAULTS = DEFAULTS + tuple(
    _event_weight(kind, 10 * (n + 1)) for n, kind in enumerate(EVENT_KINDS)
)
DEFAULTS = DEFAULTS + voice_defaults()  # repeated calls, harassment limit
from trustconsole.rules.defaults_accounts import ACCOUNT_DEFAULTS  # noqa: E402

DEFAULTS = DEFAULTS + tuple(Default(**d) for d in ACCOUNT_DEFAULTS)


def seed(
    organisation_id: int,
    rule_model: Any,
    version_model: Any,
    keys: tuple[str, ...] | None = None,
) -> list[Any]:
    """Add the defaults (all, or those of `keys`) the organisation does not have;
    the rules added.

    Takes the model classes so the data migration can pass its historical ones.
    """
    had = set(
        rule_model.objects.filter(organisation_id=organisation_id)
        .exclude(builtin="")
        .values_list("builtin", flat=True)
    )
    taken = set(
        rule_model.objects.filter(organisation_id=organisation_id).values_list(
            "name", flat=True
        )
    )
    added = []
    for default in DEFAULTS:
        if default.key in had or (keys is not None and default.key not in keys):
            continue
        name = default.name
        while name in taken:  # an operator's own rule already has the name
            name = f"{name} (default)"
        taken.add(name)
        added.append(
            rule_model(
                organisation_id=organisation_id,
                name=name,
                description=default.description,
                channel=default.channel,
                mode="live" if default.live() else "off",
                order=default.order,
                builtin=default.key,
            )
        )
    if not added:
        return []
    # Three statements for the whole set (an organisation is created with ~25).
    rule_model.objects.bulk_create(added)
    by_key = {default.key: default for default in DEFAULTS}
    versions = version_model.objects.bulk_create(
        version_model(
            rule=rule,
            number=1,
            condition=by_key[rule.builtin].condition(),
            effect=by_key[rule.builtin].effect(),
            created_by=SEEDED_BY,
        )
        for rule in added
    )
    for rule, version in zip(added, versions, strict=True):
        rule.current_version = version
    rule_model.objects.bulk_update(added, ["current_version"])
    return added


def seed_existing(apps: Any, keys: tuple[str, ...]) -> None:
    """For a data migration: the defaults of `keys` for every organisation that
    exists, with the migration's historical models."""
    rule_model = apps.get_model("rules", "Rule")
    version_model = apps.get_model("rules", "RuleVersion")
    organisations = apps.get_model("core", "Organisation").objects
    for pk in organisations.values_list("pk", flat=True):
        seed(pk, rule_model, version_model, keys=keys)


def default_rules_ensure(organisation: Any) -> list[Any]:
    """The default rule set for a new organisation (every process is told to
    reload its rules). Creating the organisation is the audited change:
    `organisation_create` records the rules added with it; each rule's first
    version is signed "default rule set"."""
    from django.db import transaction

    from trustconsole.policy import changes
    from trustconsole.rules.models import Rule, RuleVersion

    with transaction.atomic():
        added = seed(organisation.pk, Rule, RuleVersion)
        if added:
            changes.policy_changed(organisation.pk, changes.RULES, added[0].pk)
    return added


def default_rule_names(organisation_id: int) -> list[str]:
    """The names of the organisation's rules from the default rule set."""
    from trustconsole.rules.models import Rule

    return list(
        Rule.objects.filter(organisation_id=organisation_id)
        .exclude(builtin="")
        .order_by("channel", "order")
        .values_list("name", flat=True)
    )
