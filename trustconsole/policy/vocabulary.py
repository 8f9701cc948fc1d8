"""One vocabulary for every decision: channels, precedence steps, reasons, weights.

The apps' own choices (`voicegate.choices.Reason`, `visitors.choices.BlockReason`,
`voicegate.policy.choices.Violation`) are the subsets of `Reason` their columns and
API answers use; their values and labels come from here.
"""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    """Where a decision is asked for."""

    CHAT = "chat", "Chat message"
    INBOUND_CALL = "inbound_call", "Inbound call"
    OUTBOUND_CALL = "outbound_call", "Outbound call"
    ACCOUNT_ACTION = "account_action", "Account action"


class Step(models.TextChoices):
    """The precedence steps, in the order they are tried (the table in
    docs/architecture/decision-core.md)."""

    CALLER_ID = "caller_id", "Caller ID format (withheld, unparseable)"
    ACCOUNT_STATUS = "account_status", "Customer account status"
    BLACKLIST = "blacklist", "Blacklisted visitor"
    WHITELIST = "whitelist", "Whitelisted visitor"
    IP_BLOCK = "ip_block", "IP block"
    BLOCK_LIST = "block_list", "Voice block list"
    DNC = "dnc", "Do-Not-Call list"
    OUTBOUND_RULE = "outbound_rule", "Outbound rule (caller ID, emergency, limit)"
    RULE = "rule", "Organisation rule (rules as data)"
    DEFAULT = "default", "Nothing matched"
    FAIL_MODE = "fail_mode", "State unreachable (fail mode)"


class Reason(models.TextChoices):
    """Every reason a decision can give, on every channel."""

    NOT_LISTED = "not_listed", "Not listed"
    WHITELISTED = "whitelisted", "Whitelisted visitor"
    BLACKLISTED_VISITOR = "blacklisted_visitor", "Blacklisted visitor"
    BLOCK_LIST = "block_list", "On the organisation block list"
    IP_BLOCK = "ip_block", "Blocked IP address"
    ANONYMOUS = "anonymous", "Anonymous or withheld caller ID"
    UNPARSEABLE = "unparseable", "Unparseable caller ID"
    FAIL_OPEN = "fail_open", "Gate unavailable, failed open"
    FAIL_CLOSED = "fail_closed", "Gate unavailable, failed closed"
    ACCOUNT_RESTRICTED = "account_restricted", "Account restricted"
    RULE = "rule", "Matched an organisation rule"
    # Outbound check codes (the API's violation codes).
    DNC = "dnc", "Destination on a Do-Not-Call list"
    CALLER_ID_NOT_OWNED = "caller_id_not_owned", "Caller ID not owned or verified"
    EMERGENCY_NUMBER = "emergency_number", "Emergency number"
    BLACKLISTED_DESTINATION = "blacklisted_destination", "Blacklisted visitor"
    BLOCKED_DESTINATION = "blocked_destination", "On the organisation block list"
    HARASSMENT = "harassment", "Too many calls to one destination"
    DNC_STALE = "dnc_stale", "National Do-Not-Call list older than 31 days"
    DNC_UNAVAILABLE = "dnc_unavailable", "Do-Not-Call list cannot be read"


def label(code: str) -> str:
    """The words for a reason code (the code itself if it is unknown)."""
    try:
        return str(Reason(code).label)
    except ValueError:
        return code


class Weight(models.IntegerChoices):
    """The one risk-signal weight scale (visitors, accounts, outbound denials)."""

    LOW = 10, "Low (+10)"
    MEDIUM = 20, "Medium (+20)"
    HIGH = 40, "High (+40)"
    EXTREME = 70, "Extreme (+70)"


# Level name → default weight (an organisation may override them for visitors).
DEFAULT_WEIGHTS: dict[str, int] = {
    "low": Weight.LOW.value,
    "medium": Weight.MEDIUM.value,
    "high": Weight.HIGH.value,
    "extreme": Weight.EXTREME.value,
}
