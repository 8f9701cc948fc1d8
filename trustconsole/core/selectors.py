"""Reads of the core app, always scoped to the actor's organisation."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.models import ApiToken, AuditEntry, Membership, WorkerHeartbeat

M = TypeVar("M", bound=models.Model)


def scoped_get(queryset: QuerySet[M], *, actor: Actor, public_id: object) -> M:
    """One object of the actor's organisation by public id; anything else is a 404."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("Not found.") from None
    obj = queryset.filter(organisation=actor.organisation, public_id=key).first()
    if obj is None:
        raise Http404("Not found.")
    return obj


def membership_list(*, actor: Actor) -> QuerySet[Membership]:
    """Members of the actor's organisation."""
    return Membership.objects.filter(organisation=actor.organisation).select_related(
        "user"
    )


def membership_get(*, actor: Actor, public_id: object) -> Membership:
    """One member of the actor's organisation (404 otherwise)."""
    return scoped_get(membership_list(actor=actor), actor=actor, public_id=public_id)


def token_list(*, actor: Actor) -> QuerySet[ApiToken]:
    """API tokens of the actor's organisation, newest first."""
    return ApiToken.objects.filter(organisation=actor.organisation).select_related(
        "created_by"
    )


def token_get(*, actor: Actor, public_id: object) -> ApiToken:
    """One API token of the actor's organisation (404 otherwise)."""
    return scoped_get(token_list(actor=actor), actor=actor, public_id=public_id)


def audit_list(
    *,
    actor: Actor,
    action: str = "",
    target_type: str = "",
    target_id: str = "",
) -> QuerySet[AuditEntry]:
    """Audit entries of the actor's organisation, newest first, optionally filtered."""
    qs = AuditEntry.objects.filter(organisation=actor.organisation)
    if action:
        qs = qs.filter(action=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    return qs


def audit_for_object(*, actor: Actor, obj: models.Model) -> QuerySet[AuditEntry]:
    """The history shown on an object's page."""
    return audit_list(
        actor=actor,
        target_type=obj._meta.label_lower,
        target_id=str(getattr(obj, "public_id", obj.pk)),
    )


def audit_get(*, actor: Actor, public_id: object) -> AuditEntry:
    """One audit entry of the actor's organisation (404 otherwise)."""
    return scoped_get(audit_list(actor=actor), actor=actor, public_id=public_id)


def demo_logins() -> dict[str, object] | None:
    """The demo's logins when `seed_demo` has run here (shown on the login page)."""
    from trustconsole.core.management.commands.seed_demo import (
        DEMO_PASSWORD,
        DEMO_SLUG,
        DEMO_USERS,
    )

    seeded = Membership.objects.filter(
        organisation__slug=DEMO_SLUG, user__email=DEMO_USERS[0][0]
    ).exists()
    if not seeded:
        return None
    return {"emails": [email for email, _ in DEMO_USERS], "password": DEMO_PASSWORD}


def heartbeat_age_seconds(*, name: str = "housekeeping") -> float | None:
    """Seconds since a periodic task last ran, or None if it never did."""
    beat = WorkerHeartbeat.objects.filter(name=name).first()
    if beat is None:
        return None
    return (timezone.now() - beat.last_run_at).total_seconds()
