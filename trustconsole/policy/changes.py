"""The explicit step every service that changes a decision's inputs takes.

`policy_changed(organisation_id, kind, ref)` appends a delta to the change log in
the caller's transaction and, once it commits, moves the organisation's version key;
every process then reads the log since its last position on its next decision.
"""

from __future__ import annotations

import contextlib

from django.db import transaction

from trustconsole.lib.versioned import version_bump
from trustconsole.policy.models import PolicyChange

# What a delta names (`ref` in brackets):
VISITOR = "visitor"  # a visitor's status or identifiers (visitor id)
IP_BLOCK = "ip_block"  # an IP block added, removed or expired (block id)
BLOCKED_NUMBER = "blocked_number"  # the voice block list (E.164 number)
VOICE_SETTINGS = "voice_settings"  # the call gate's settings
POLICY_SETTINGS = "policy_settings"  # the outbound check's settings
ACCOUNT = "account"  # a customer account's status or restrictions (account id)
# The outbound check's lists, read again as a whole (or replayed from their own
# logs, for Do-Not-Call entries) when one of these arrives:
DNC = "dnc"  # Do-Not-Call lists, their entries and single-number changes
CALLER_IDS = "caller_ids"  # verified caller IDs
CONSENT = "consent"  # consent records
OWNED_NUMBERS = "owned_numbers"  # numbers owned by accounts or enterprises (source)
RULES = "rules"  # an organisation's rules as data (rule id)
KINDS = (
    VISITOR,
    IP_BLOCK,
    BLOCKED_NUMBER,
    VOICE_SETTINGS,
    POLICY_SETTINGS,
    ACCOUNT,
    DNC,
    CALLER_IDS,
    CONSENT,
    OWNED_NUMBERS,
    RULES,
)


def version_key(organisation_id: int) -> str:
    """The one version key of an organisation's decision state."""
    return f"policy:org:{organisation_id}"


def policy_changed(organisation_id: int, kind: str, ref: object = "") -> None:
    """Record that `kind` `ref` changed; every process applies it on its next
    decision (after this transaction commits)."""
    assert kind in KINDS, kind
    PolicyChange.objects.create(
        organisation_id=organisation_id, kind=kind, ref=str(ref)[:64]
    )
    _bump(version_key(organisation_id))


def _bump(key: str) -> None:
    """Move the version now (the writing process, and tests that never commit, see
    the change at once) and again after commit (other processes then read the log
    with the row in it). A cache that cannot be reached only delays the change until
    processes catch up by age (POLICY_COPY_MAX_AGE)."""
    try:
        version_bump(key)
    except Exception:  # noqa: BLE001 - the change is in the log; readers catch up
        return

    def later() -> None:
        with contextlib.suppress(Exception):
            version_bump(key)

    transaction.on_commit(later)


def policy_changed_many(organisation_id: int, kind: str, refs: list[object]) -> None:
    """`policy_changed` for many refs of one kind, in one insert."""
    if not refs:
        return
    PolicyChange.objects.bulk_create(
        [
            PolicyChange(organisation_id=organisation_id, kind=kind, ref=str(r)[:64])
            for r in refs
        ]
    )
    _bump(version_key(organisation_id))
