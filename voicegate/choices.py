"""Choices of the voicegate app."""

from __future__ import annotations

from django.db import models


class Provider(models.TextChoices):
    """Who sends the call webhooks of a connection."""

    TELNYX_CALL_CONTROL = "telnyx_call_control", "Telnyx Call Control"
    TELNYX_TEXML = "telnyx_texml", "Telnyx TeXML"
    TWILIO = "twilio", "Twilio"
    PLIVO = "plivo", "Plivo"
    GENERIC = "generic", "Generic (PBX, decision API)"


class FailMode(models.TextChoices):
    """What the gate does when it cannot decide (database or cache unreachable)."""

    OPEN = "open", "Fail open (let the call through)"
    CLOSED = "closed", "Fail closed (reject the call)"


class CallerPolicy(models.TextChoices):
    """What to do with withheld or unparseable caller IDs."""

    ALLOW = "allow", "Allow"
    REJECT = "reject", "Reject"


class Decision(models.TextChoices):
    """The answer given for one call."""

    ALLOW = "allow", "Allowed"
    REJECT = "reject", "Rejected"


class Reason(models.TextChoices):
    """Why a call was allowed or rejected."""

    NOT_LISTED = "not_listed", "Caller not listed"
    WHITELISTED = "whitelisted", "Whitelisted visitor"
    BLACKLISTED_VISITOR = "blacklisted_visitor", "Blacklisted visitor"
    BLOCK_LIST = "block_list", "On the organisation block list"
    ANONYMOUS = "anonymous", "Anonymous or withheld caller ID"
    UNPARSEABLE = "unparseable", "Unparseable caller ID"
    FAIL_OPEN = "fail_open", "Gate unavailable, failed open"
    FAIL_CLOSED = "fail_closed", "Gate unavailable, failed closed"


class CommandStatus(models.TextChoices):
    """Delivery of the reject command to the provider (Telnyx Call Control only)."""

    NONE = "", "No command"
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    ALREADY_ENDED = "already_ended", "Call had already ended"
    FAILED = "failed", "Failed"


class OutboxKind(models.TextChoices):
    """Work of the gate that leaves the request through the outbox."""

    REJECT = "reject", "Reject command to Telnyx"
    FORWARD = "forward", "Forward to the downstream app"
