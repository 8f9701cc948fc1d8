"""Writes of the core app. Every state change here, and in every other app,
records itself with `audit_record`."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as LoginUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import (
    ApiToken,
    AuditEntry,
    Membership,
    Organisation,
    WorkerHeartbeat,
)
from trustconsole.core.tokens import token_generate

User = get_user_model()
logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(getattr(value, "public_id", value.pk))
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    return value


def audit_snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of an object as JSON, for an audit entry's before/after."""
    return {name: _json_safe(getattr(obj, name)) for name in fields}


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Append one audit entry for a state change made by `actor` on `target`."""
    return AuditEntry.objects.create(
        organisation=actor.organisation,
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=actor.label[:200],
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(getattr(target, "public_id", target.pk)),
        target_label=str(target)[:200],
        before=_json_safe(before) if before is not None else None,
        after=_json_safe(after) if after is not None else None,
        reason=reason,
    )


def audited_save(
    obj: M,
    *,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    snapshot: Sequence[str] = (),
    reason: str = "",
    update_fields: Sequence[str] | None = None,
) -> M:
    """Validate, save and audit one row, the write most services end with.

    `full_clean()`, `save()` (of `update_fields` only, when given), then one audit
    entry on `obj`: `after` is the saved values of the `snapshot` fields plus the
    `after` given (which wins on a shared key). Call it inside the service's
    transaction, after its own checks.
    """
    obj.full_clean()
    if update_fields is None:
        obj.save()
    else:
        obj.save(update_fields=list(update_fields))
    if snapshot:
        after = {**audit_snapshot(obj, list(snapshot)), **(after or {})}
    audit_record(
        actor=actor,
        action=action,
        target=obj,
        before=before,
        after=after,
        reason=reason,
    )
    return obj


def audited_delete(
    obj: models.Model,
    *,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None = None,
    reason: str = "",
) -> None:
    """Audit a row's removal, then delete it (the entry names it while it exists).

    Call it inside the service's transaction, after its own checks.
    """
    audit_record(actor=actor, action=action, target=obj, before=before, reason=reason)
    obj.delete()


@transaction.atomic
def organisation_create(
    *, name: str, admin_email: str, admin_password: str | None = None
) -> tuple[Organisation, LoginUser, bool]:
    """Create an organisation with its first admin: (org, user, user_created)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "An organisation needs a name."})
    base = slugify(name)[:50] or "org"
    slug, n = base, 2
    while Organisation.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    organisation = Organisation(name=name, slug=slug)
    actor = Actor.system_for(organisation, "create_organisation")
    audited_save(
        organisation,
        actor=actor,
        action="organisation.create",
        after={"name": name, "slug": slug},
    )
    from trustconsole.rules.defaults import default_rule_names

    audit_record(  # added with the organisation (trustconsole.rules.defaults)
        actor=actor,
        action="rule.defaults_add",
        target=organisation,
        after={"rules": default_rule_names(organisation.pk)},
    )
    user, created = user_get_or_create(email=admin_email, password=admin_password)
    membership = Membership.objects.create(
        user=user, organisation=organisation, role=Role.ADMIN
    )
    audit_record(
        actor=actor,
        action="membership.add",
        target=membership,
        after={"user": user.get_username(), "role": Role.ADMIN},
    )
    return organisation, user, created


def user_get_or_create(
    *, email: str, password: str | None = None
) -> tuple[LoginUser, bool]:
    """Find a login user by email (case-insensitive) or create one."""
    email = User.objects.normalize_email(email.strip()).lower()
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": "Enter a valid email address."}) from exc
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    user = User(username=email, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user, True


@transaction.atomic
def membership_add(
    *, actor: Actor, email: str, role: str, password: str | None = None
) -> Membership:
    """Give a login user (created when new) a role in the actor's organisation."""
    actor.require()
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    user, _ = user_get_or_create(email=email, password=password)
    if Membership.objects.filter(user=user, organisation=actor.organisation).exists():
        raise ValidationError({"email": f"{user.email} is already a member."})
    membership = Membership.objects.create(
        user=user, organisation=actor.organisation, role=role
    )
    audit_record(
        actor=actor,
        action="membership.add",
        target=membership,
        after={"user": user.get_username(), "role": role},
    )
    return membership


def _ensure_another_admin(membership: Membership) -> None:
    others = Membership.objects.filter(
        organisation=membership.organisation, role=Role.ADMIN
    ).exclude(pk=membership.pk)
    if membership.role == Role.ADMIN and not others.exists():
        raise ValidationError({"role": "An organisation must keep at least one admin."})


@transaction.atomic
def membership_change_role(
    *, actor: Actor, membership: Membership, role: str, reason: str = ""
) -> Membership:
    """Change a member's role; the last admin cannot be demoted."""
    actor.require()
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if role == membership.role:
        return membership
    if role != Role.ADMIN:
        _ensure_another_admin(membership)
    before = audit_snapshot(membership, ["role"])
    membership.role = role
    return audited_save(
        membership,
        actor=actor,
        action="membership.change_role",
        before=before,
        after={"role": role},
        reason=reason,
        update_fields=["role"],
    )


@transaction.atomic
def membership_remove(
    *, actor: Actor, membership: Membership, reason: str = ""
) -> None:
    """Remove a member from the organisation; the last admin cannot be removed."""
    actor.require()
    _ensure_another_admin(membership)
    audited_delete(
        membership,
        actor=actor,
        action="membership.remove",
        before={"user": membership.user.get_username(), "role": membership.role},
        reason=reason,
    )


@transaction.atomic
def token_create(*, actor: Actor, name: str, role: str) -> tuple[ApiToken, str]:
    """Create an API token; the raw value is returned once and never stored."""
    actor.require()
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. where it is used."})
    raw, prefix, hashed = token_generate()
    token = ApiToken(
        organisation=actor.organisation,
        name=name,
        role=role,
        prefix=prefix,
        token_hash=hashed,
        created_by=actor.user,
    )
    audited_save(
        token,
        actor=actor,
        action="api_token.create",
        after={"name": name, "role": role, "prefix": prefix},
    )
    return token, raw


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken, reason: str = "") -> ApiToken:
    """Revoke a token at once; revoking twice changes nothing."""
    actor.require()
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="api_token.revoke",
        target=token,
        before={"revoked_at": None},
        after={"revoked_at": token.revoked_at},
        reason=reason,
    )
    return token


def token_touch(*, token: ApiToken) -> None:
    """Record when a token was last used, at most once a minute."""
    now = timezone.now()
    if token.last_used_at and (now - token.last_used_at).total_seconds() < 60:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def heartbeat_record(*, name: str, details: dict[str, Any] | None = None) -> None:
    """Note that a periodic task ran (the dashboard shows worker and beat health)."""
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"last_run_at": timezone.now(), "details": details or {}}
    )


def housekeeping_run() -> dict[str, Any]:
    """Periodic upkeep: drop expired sessions and record the heartbeat."""
    from django.contrib.sessions.models import Session

    expired, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    details = {"expired_sessions": expired}
    heartbeat_record(name="housekeeping", details=details)
    return details


# --- Log-in lockouts (trustconsole.core.loginguard) -----------------------------


def _memberships_of(username: str) -> models.QuerySet[Membership]:
    return Membership.objects.filter(user__username__iexact=username).select_related(
        "organisation", "user"
    )


def login_lockout_audit(
    *, lock: Any, username: str, ip: str | None, window: int
) -> None:
    """Record a lockout in the audit trail of each organisation of the account."""
    minutes = max(1, window // 60)
    if lock.kind == "account":
        reason = f"{lock.failures} failed log-ins for this account within {minutes} min"
    else:
        reason = (
            f"{lock.failures} failed log-ins from client IP {ip} within {minutes} min "
            "(the last one for this account)"
        )
    for membership in _memberships_of(username):
        audit_record(
            actor=Actor.system_for(membership.organisation, "log-in guard"),
            action="login.lockout" if lock.kind == "account" else "login.lockout_ip",
            target=membership,
            before={"locked_until": None},
            after={"locked_until": lock.until, "client_ip": ip},
            reason=reason,
        )


def membership_unlock(
    *, actor: Actor, membership: Membership, reason: str = ""
) -> bool:
    """Clear a member's log-in lockout (admin); False when none was in force."""
    from trustconsole.core import loginguard

    actor.require()
    lock = loginguard.lockout_clear(
        kind=loginguard.ACCOUNT, subject=membership.user.get_username()
    )
    if lock is None:
        return False
    audit_record(
        actor=actor,
        action="login.lockout_clear",
        target=membership,
        before={"locked_until": lock.until},
        after={"locked_until": None},
        reason=reason,
    )
    return True


def login_unlock(*, email: str = "", ip: str = "", by: str) -> list[str]:
    """Clear an account's or a client IP's lockout (operators' command); what was
    cleared, in words. An account's clearing is audited in its organisations."""
    from trustconsole.core import loginguard

    cleared = []
    if email:
        lock = loginguard.lockout_clear(kind=loginguard.ACCOUNT, subject=email)
        if lock is not None:
            cleared.append(f"account {loginguard.normalise_username(email)}")
            for membership in _memberships_of(loginguard.normalise_username(email)):
                audit_record(
                    actor=Actor.system_for(membership.organisation, by),
                    action="login.lockout_clear",
                    target=membership,
                    before={"locked_until": lock.until},
                    after={"locked_until": None},
                )
    if ip:
        lock = loginguard.lockout_clear(kind=loginguard.IP, subject=ip)
        if lock is not None:
            cleared.append(f"client IP {ip}")
            logger.warning("log-in lockout of client IP %s cleared by %s", ip, by)
    return cleared


# --- Audit retention ------------------------------------------------------------


@transaction.atomic
def audit_prune(*, days: int, by: str = "audit retention") -> dict[str, int]:
    """Delete audit entries older than `days` days; audited per organisation.

    The one way past the audit trail's guards: raw SQL (the ORM refuses) and, on
    PostgreSQL, `SET LOCAL trustconsole.audit_prune = 'on'` for this one statement
    of this transaction (the trigger refuses every other UPDATE and DELETE).
    Returns the number deleted per organisation slug.
    """
    from django.db import connection
    from django.db.models import Count

    if days < 1:
        raise ValidationError({"days": "Keep at least one day of audit entries."})
    cutoff = timezone.now() - dt.timedelta(days=days)
    old = AuditEntry.objects.filter(created_at__lt=cutoff)
    counts = {
        row["organisation"]: row["n"]
        for row in old.values("organisation").annotate(n=Count("id"))
    }
    if not counts:
        return {}
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("SET LOCAL trustconsole.audit_prune = 'on'")
        cursor.execute(f"DELETE FROM {table} WHERE created_at < %s", [cutoff])
        if postgres:
            cursor.execute("SET LOCAL trustconsole.audit_prune = 'off'")
    pruned = {}
    for organisation in Organisation.objects.filter(pk__in=counts):
        n = counts[organisation.pk]
        pruned[organisation.slug] = n
        audit_record(
            actor=Actor.system_for(organisation, by),
            action="audit.prune",
            target=organisation,
            before={"entries_older_than_cutoff": n},
            after={"entries_older_than_cutoff": 0, "cutoff": cutoff},
            reason=f"retention: audit entries older than {days} days deleted ({n})",
        )
    logger.warning("audit retention deleted %s entries older than %s", counts, cutoff)
    return pruned
