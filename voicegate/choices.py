"""Choices of the voicegate app."""

from __future__ import annotations

from django.db import models

from trustconsole.policy.vocabulary import Reason as _R


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
    """Why a call was allowed or rejected (the decision core's vocabulary)."""

    NOT_LISTED = _R.NOT_LISTED.value, "Caller not listed"
    WHITELISTED = _R.WHITELISTED.value, _R.WHITELISTED.label
    BLACKLISTED_VISITOR = _R.BLACKLISTED_VISITOR.value, _R.BLACKLISTED_VISITOR.label
    BLOCK_LIST = _R.BLOCK_LIST.value, _R.BLOCK_LIST.label
    ANONYMOUS = _R.ANONYMOUS.value, _R.ANONYMOUS.label
    UNPARSEABLE = _R.UNPARSEABLE.value, _R.UNPARSEABLE.label
    FAIL_OPEN = _R.FAIL_OPEN.value, _R.FAIL_OPEN.label
    FAIL_CLOSED = _R.FAIL_CLOSED.value, _R.FAIL_CLOSED.label
    RULE = _R.RULE.value, _R.RULE.label


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
