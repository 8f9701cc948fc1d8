"""IP blocks: block an address or CIDR range, lift it, expire it."""

from __future__ import annotations

import datetime as dt
import ipaddress

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from trustconsole.lib.confirm import reason_required
from trustconsole.policy import changes
from visitors.models import IPBlock
from visitors.services.common import OPERATOR

# Networks wider than these would block whole providers or the internet.
MIN_PREFIX = {4: 8, 6: 16}


def normalise_network(raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or CIDR range as a network; refuses garbage and too-wide ranges."""
    value = (raw or "").strip()
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            {"network": f"{raw!r} is not an IPv4/IPv6 address or CIDR range."}
        ) from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValidationError(
            {
                "network": f"/{network.prefixlen} is too wide; the widest allowed "
                f"IPv{network.version} range is /{MIN_PREFIX[network.version]}."
            }
        )
    return network


@transaction.atomic
def ip_block_create(
    *,
    actor: Actor,
    network: str,
    reason: str,
    expires_at: dt.datetime | None = None,
) -> IPBlock:
    """Block an IP address or CIDR range (IPv4/IPv6), optionally until a time."""
    actor.require(OPERATOR)
    errors: dict[str, str] = {}
    try:
        parsed = normalise_network(network)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        parsed = None
    if not (reason or "").strip():
        errors["reason"] = "Say why the address is blocked."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    assert parsed is not None
    text = str(parsed)
    existing = IPBlock.objects.filter(
        organisation_id=actor.organisation.pk, network=text
    ).first()
    if existing is not None:
        if existing.is_active():
            raise ValidationError({"network": f"{text} is already blocked."})
        changes.policy_changed(existing.organisation_id, changes.IP_BLOCK, existing.pk)
        existing.delete()  # an expired leftover the cleanup has not reached yet
    block = IPBlock(
        organisation_id=actor.organisation.pk,
        network=text,
        version=parsed.version,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=actor.label[:200],
    )
    block.full_clean()
    block.save()
    changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
    audit_record(
        actor=actor,
        action="ip_block.create",
        target=block,
        after={"network": text, "expires_at": expires_at},
        reason=block.reason,
    )
    return block


@transaction.atomic
def ip_block_remove(*, actor: Actor, block: IPBlock, reason: str) -> None:
    """Lift an IP block; the reason is required (trustconsole/lib/confirm.py)."""
    actor.require(OPERATOR)
    reason = reason_required(reason)
    audit_record(
        actor=actor,
        action="ip_block.remove",
        target=block,
        before={"network": block.network, "expires_at": block.expires_at},
        reason=reason,
    )
    changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
    block.delete()


def ip_blocks_expire_due(*, now: dt.datetime | None = None) -> int:
    """Beat: delete IP blocks whose expiry has passed (each deletion audited)."""
    now = now or timezone.now()
    removed = 0
    for block in IPBlock.objects.filter(expires_at__lte=now).select_related(
        "organisation"
    ):
        with transaction.atomic():
            actor = Actor.system_for(block.organisation, "ip block expiry")
            if not IPBlock.objects.filter(pk=block.pk).exists():
                continue
            audit_record(
                actor=actor,
                action="ip_block.expire",
                target=block,
                before={"network": block.network, "expires_at": block.expires_at},
            )
            changes.policy_changed(block.organisation_id, changes.IP_BLOCK, block.pk)
            block.delete()
            removed += 1
    return removed
