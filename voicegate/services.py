"""Writes of the voicegate app: connections, block list, settings, command results.

Every change is audited and bumps the version counter the call gate watches, so it
applies to the next call in every process.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.services import audit_record, audit_snapshot, audited_delete
from trustconsole.lib import netguard
from trustconsole.lib.crypto import HINT_PASTED, is_hint, is_unreadable
from trustconsole.lib.phones import (
    phone_or_field_error,
)
from trustconsole.policy.changes import BLOCKED_NUMBER, VOICE_SETTINGS
from voicegate import gate, selectors
from voicegate.choices import CallerPolicy, FailMode, Provider
from voicegate.models import BlockedNumber, VoiceConnection, VoiceSettings
from voicegate.signatures import telnyx_key_valid

CONNECTION_FIELDS = ["name", "provider", "downstream_url", "fail_mode", "is_active"]
SETTINGS_FIELDS = [
    "anonymous_policy",
    "unparseable_policy",
    "repeated_call_threshold",
    "repeated_call_window_seconds",
]
TELNYX_PROVIDERS = (Provider.TELNYX_CALL_CONTROL, Provider.TELNYX_TEXML)


def _clean_credential(value: str | None) -> str:
    # A stored value no key opens stays as it is (readable again once its key is
    # back); a hint pasted back is not a credential.
    if is_unreadable(value):
        return value  # type: ignore[return-value]
    value = (value or "").strip()
    if is_hint(value):
        raise ValidationError(HINT_PASTED)
    return value


def _clean_connection(connection: VoiceConnection) -> None:
    errors: dict[str, str] = {}
    connection.name = (connection.name or "").strip()
    for name in ("secret", "api_key"):
        try:
            setattr(connection, name, _clean_credential(getattr(connection, name)))
        except ValidationError as exc:
            errors[name] = exc.messages[0]
    if not connection.name:
        errors["name"] = "Give the connection a name."
    if connection.provider not in Provider.values:
        errors["provider"] = f"Choose one of: {', '.join(Provider.values)}."
    if connection.fail_mode not in FailMode.values:
        errors["fail_mode"] = f"Choose one of: {', '.join(FailMode.values)}."
    if "secret" in errors or is_unreadable(connection.secret):
        pass  # checked when it was stored
    elif not connection.secret:
        errors["secret"] = "The verification secret is required."
    elif connection.provider in TELNYX_PROVIDERS and not telnyx_key_valid(
        connection.secret
    ):
        errors["secret"] = (
            "Paste the Telnyx public key from the Mission Control Portal: base64 of "
            "32 bytes (44 characters ending in '=')."
        )
    elif connection.provider == Provider.GENERIC and len(connection.secret) < 16:
        errors["secret"] = "Use a shared token of at least 16 characters."
    if (
        connection.provider == Provider.TELNYX_CALL_CONTROL
        and not connection.api_key
        and "api_key" not in errors
        and not is_unreadable(connection.api_key)
    ):
        errors["api_key"] = "Call Control needs a Telnyx API key to reject calls."
    if connection.downstream_url:
        try:
            URLValidator(schemes=["http", "https"])(connection.downstream_url)
        except ValidationError:
            errors["downstream_url"] = "Enter a full http(s) address of your voice app."
        else:
            try:
                netguard.url_check(connection.downstream_url, schemes=("https", "http"))
            except netguard.UnsafeDestination as exc:
                errors["downstream_url"] = str(exc)
    if errors:
        raise ValidationError(errors)
    if (
        VoiceConnection.objects.filter(
            organisation=connection.organisation, name=connection.name
        )
        .exclude(pk=connection.pk)
        .exists()
    ):
        raise ValidationError({"name": "A connection with this name already exists."})


@transaction.atomic
def connection_create(
    *,
    actor: Actor,
    name: str,
    provider: str,
    secret: str,
    api_key: str = "",
    downstream_url: str = "",
    fail_mode: str = FailMode.OPEN,
) -> VoiceConnection:
    """Add a connection; its webhook URL is ready at once."""
    actor.require()
    connection = VoiceConnection(
        organisation=actor.organisation,
        name=name,
        provider=provider,
        secret=secret,
        api_key=api_key,
        downstream_url=downstream_url,
        fail_mode=fail_mode,
    )
    _clean_connection(connection)
    connection.save()
    audit_record(
        actor=actor,
        action="voice.connection.create",
        target=connection,
        after=audit_snapshot(connection, CONNECTION_FIELDS),
    )
    gate.connections_changed()
    return connection


@transaction.atomic
def connection_update(
    *, actor: Actor, connection: VoiceConnection, reason: str = "", **changes: Any
) -> VoiceConnection:
    """Change a connection; a blank secret or API key keeps the stored one."""
    actor.require()
    allowed = {*CONNECTION_FIELDS, "secret", "api_key"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({f: "This field cannot be changed." for f in unknown})
    before = audit_snapshot(connection, CONNECTION_FIELDS)
    for name, value in changes.items():
        if name in ("secret", "api_key") and not value:
            continue
        setattr(connection, name, value)
    _clean_connection(connection)
    connection.save()
    after = audit_snapshot(connection, CONNECTION_FIELDS)
    if "secret" in changes and changes["secret"]:
        after["secret"] = "(replaced)"
    if "api_key" in changes and changes["api_key"]:
        after["api_key"] = "(replaced)"
    audit_record(
        actor=actor,
        action="voice.connection.update",
        target=connection,
        before=before,
        after=after,
        reason=reason,
    )
    gate.connections_changed()
    return connection


@transaction.atomic
def connection_delete(
    *, actor: Actor, connection: VoiceConnection, reason: str = ""
) -> None:
    """Remove a connection; its webhook URL stops answering."""
    actor.require()
    audited_delete(
        connection,
        actor=actor,
        action="voice.connection.delete",
        before=audit_snapshot(connection, CONNECTION_FIELDS),
        reason=reason,
    )
    gate.connections_changed()


def _normalised_or_error(number: str, field: str = "number") -> str:
    return phone_or_field_error(number, field=field)


@transaction.atomic
def blocked_number_add(
    *, actor: Actor, number: str, reason: str = "", shadow: bool = False
) -> BlockedNumber:
    """Put a number on the organisation block list (in shadow: the gate only logs
    that it would have rejected the call)."""
    actor.require(Role.OPERATOR)
    e164 = _normalised_or_error(number)
    if BlockedNumber.objects.filter(
        organisation=actor.organisation, number=e164
    ).exists():
        raise ValidationError({"number": f"{e164} is already on the block list."})
    blocked = BlockedNumber.objects.create(
        organisation=actor.organisation,
        number=e164,
        reason=reason.strip()[:500],
        added_by=actor.label[:200],
        shadow=bool(shadow),
    )
    audit_record(
        actor=actor,
        action="voice.block_list.shadow_add" if shadow else "voice.block_list.add",
        target=blocked,
        after={"number": e164},
        reason=blocked.reason,
    )
    gate.org_rules_changed(actor.organisation.pk, BLOCKED_NUMBER, e164)
    return blocked


@transaction.atomic
def blocked_number_set_shadow(
    *, actor: Actor, blocked: BlockedNumber, shadow: bool, reason: str = ""
) -> BlockedNumber:
    """Put a shadow block-list entry live (it rejects from the next call), or back
    into shadow."""
    actor.require(Role.OPERATOR)
    if blocked.shadow == bool(shadow):
        return blocked
    blocked.shadow = bool(shadow)
    blocked.save(update_fields=["shadow"])
    audit_record(
        actor=actor,
        action="voice.block_list.shadow" if shadow else "voice.block_list.live",
        target=blocked,
        before={"shadow": not blocked.shadow},
        after={"number": blocked.number, "shadow": blocked.shadow},
        reason=reason.strip(),
    )
    gate.org_rules_changed(actor.organisation.pk, BLOCKED_NUMBER, blocked.number)
    return blocked


@transaction.atomic
def blocked_number_remove(
    *, actor: Actor, blocked: BlockedNumber, reason: str = ""
) -> None:
    """Take a number off the block list."""
    actor.require(Role.OPERATOR)
    audited_delete(
        blocked,
        actor=actor,
        action="voice.block_list.remove",
        before={"number": blocked.number, "reason": blocked.reason},
        reason=reason,
    )
    gate.org_rules_changed(actor.organisation.pk, BLOCKED_NUMBER, blocked.number)


@transaction.atomic
def voice_settings_update(
    *, actor: Actor, reason: str = "", **changes: Any
) -> VoiceSettings:
    """Change the gate settings of the actor's organisation; the first change saves
    the organisation's row (until then it reads the defaults)."""
    actor.require()
    row = selectors.voice_settings_for(actor.organisation.pk)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({f: "Unknown setting." for f in unknown})
    errors: dict[str, str] = {}
    for name in ("anonymous_policy", "unparseable_policy"):
        if name in changes and changes[name] not in CallerPolicy.values:
            errors[name] = f"Choose one of: {', '.join(CallerPolicy.values)}."
    limits = {
        "repeated_call_threshold": (1, 10_000),
        "repeated_call_window_seconds": (10, 7 * 24 * 3600),
    }
    for name, (low, high) in limits.items():
        if name in changes:
            try:
                value = int(changes[name])
            except (TypeError, ValueError):
                errors[name] = "Enter a whole number."
                continue
            if not low <= value <= high:
                errors[name] = f"Enter a number from {low} to {high}."
            changes[name] = value
    if errors:
        raise ValidationError(errors)
    before = audit_snapshot(row, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(row, name, value)
    after = audit_snapshot(row, SETTINGS_FIELDS)
    if after == before:
        return row
    row.save()
    audit_record(
        actor=actor,
        action="voice.settings.update",
        target=row,
        before=before,
        after=after,
        reason=reason,
    )
    gate.org_rules_changed(actor.organisation.pk, VOICE_SETTINGS)
    return row
