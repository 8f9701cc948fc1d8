"""Choices of the visitors app: statuses, bands, weight levels, identifier kinds."""

from __future__ import annotations

from django.db import models

from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS as _SCALE
from trustconsole.policy.vocabulary import Reason as _Reason


class VisitorStatus(models.TextChoices):
    """Where a visitor stands; blacklisted visitors are blocked organisation-wide."""

    NONE = "none", "No status"
    FLAGGED = "flagged", "Flagged"
    BLACKLISTED = "blacklisted", "Blacklisted"
    WHITELISTED = "whitelisted", "Whitelisted"


# Statuses that the call gate's phone map carries.
MAPPED_STATUSES = (VisitorStatus.BLACKLISTED, VisitorStatus.WHITELISTED)


class Band(models.TextChoices):
    """Trust-score bands: danger 0–30, caution 31–69, safe 70–100."""

    DANGER = "danger", "Danger"
    CAUTION = "caution", "Caution"
    SAFE = "safe", "Safe"


DANGER_MAX = 30
CAUTION_MAX = 69
SCORE_MAX = 100


def band_for(score: int) -> str:
    """The band a trust score falls into."""
    if score <= DANGER_MAX:
        return Band.DANGER
    if score <= CAUTION_MAX:
        return Band.CAUTION
    return Band.SAFE


class IdentifierKind(models.TextChoices):
    """How a visitor is recognised."""

    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    IP = "ip", "IP address"
    WIDGET = "widget", "Widget visitor id"


# The field (and upsert argument) each identifier kind is given in.
IDENTIFIER_FIELDS: dict[str, str] = {
    IdentifierKind.EMAIL: "emails",
    IdentifierKind.PHONE: "phones",
    IdentifierKind.IP: "ips",
    IdentifierKind.WIDGET: "widget_ids",
}


class WeightLevel(models.TextChoices):
    """How much a risk signal lowers the trust score."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    EXTREME = "extreme", "Extreme"


# The one weight scale (trustconsole.policy.vocabulary); organisations may override
# it for visitors (SignalWeight).
DEFAULT_WEIGHTS: dict[str, int] = {level: _SCALE[level] for level in WeightLevel.values}


class SignalSource(models.TextChoices):
    """Where a risk signal or event came from (other apps may pass their own)."""

    CONSOLE = "console", "Console"
    API = "api", "API"
    WIDGET = "widget", "Chat widget"
    VOICE = "voice", "Voice"
    SYSTEM = "system", "System"


# Signal types every organisation has. Rules registered by apps add their own
# (see visitors.rules.rule_register); labels are looked up in SIGNAL_TYPE_LABELS.
BLACKLISTED_SIGNAL = "blacklisted_visitor"
SIGNAL_TYPE_LABELS: dict[str, str] = {
    BLACKLISTED_SIGNAL: "Blacklisted visitor",
    "abusive_language": "Abusive language",
    "spam": "Spam",
    "fraud_attempt": "Fraud attempt",
    "chargeback": "Chargeback",
    "impersonation": "Impersonation",
    "other": "Other",
}
# Types an operator may add by hand (the blacklist signal comes only with Blacklist).
MANUAL_SIGNAL_TYPES = (
    "abusive_language",
    "spam",
    "fraud_attempt",
    "chargeback",
    "impersonation",
    "other",
)


def signal_type_label(signal_type: str) -> str:
    """The human name of a signal type (registered or built in)."""
    return SIGNAL_TYPE_LABELS.get(signal_type) or signal_type.replace("_", " ").title()


class SignalEnd(models.TextChoices):
    """Why a risk signal stopped counting."""

    REMOVED = "removed", "Removed"
    EXPIRED = "expired", "Expired"
    CLEARED = "cleared", "Cleared with the status"


class ReviewStatus(models.TextChoices):
    """A review-queue item is open until someone acts on it."""

    OPEN = "open", "Open"
    BLACKLISTED = "blacklisted", "Blacklisted"
    WHITELISTED = "whitelisted", "Whitelisted"
    DISMISSED = "dismissed", "Dismissed"


class ReviewAction(models.TextChoices):
    """What the review queue's Actions column offers."""

    BLACKLIST = "blacklist", "Blacklist"
    WHITELIST = "whitelist", "Whitelist"
    DISMISS = "dismiss", "Dismiss"


class Channel(models.TextChoices):
    """Where a blocked attempt came in."""

    CHAT = "chat", "Chat"
    VOICE = "voice", "Voice"


class BlockReason(models.TextChoices):
    """Why an attempt was blocked (codes of the decision core's vocabulary)."""

    BLACKLISTED = _Reason.BLACKLISTED_VISITOR.value, _Reason.BLACKLISTED_VISITOR.label
    IP_BLOCK = _Reason.IP_BLOCK.value, _Reason.IP_BLOCK.label
    RULE = _Reason.RULE.value, _Reason.RULE.label


class ConversationStatus(models.TextChoices):
    """Open conversations wait for an answer; resolved ones are done (a new message
    from the visitor opens them again)."""

    OPEN = "open", "Open"
    CLOSED = "closed", "Resolved"


class Sender(models.TextChoices):
    """Who wrote a message."""

    VISITOR = "visitor", "Visitor"
    AGENT = "agent", "Agent"
