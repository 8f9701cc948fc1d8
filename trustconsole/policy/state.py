"""One in-memory decision state per organisation per process, kept by deltas.

What a decision needs of an organisation, on every channel: the identities (phone,
email, widget id, IP) of its blacklisted and whitelisted visitors, its IP blocks, its
voice block list, the call gate's settings, whether blacklisted visitors are
do-not-contact, and (loaded on first use) its customer accounts' status.

One version scheme: the organisation's version key (`changes.version_key`) moves
after every commit that appended to the change log. A process whose state was
caught up at another version reads the log since its position and applies the
deltas (each names something to read again: a visitor, an IP block, a number...).
It rebuilds the whole state only when it is too far behind (more than
POLICY_MAX_DELTAS changes), when it has not caught up for longer than the log is
kept, or when the organisation's id now names another organisation.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from trustconsole.lib import sharedcache
from trustconsole.policy import changes
from trustconsole.policy.models import PolicyChange

logger = logging.getLogger(__name__)

# The version of state caught up while the cache could not be read: it matches no
# version the cache holds, so the first decision after recovery catches up again.
UNKNOWN = -1
# Changes are re-read this far back (in log ids): on PostgreSQL a transaction that
# took a lower id can commit after a higher one was read.
LOOKBACK = 64
MAPPED_STATUSES = ("blacklisted", "whitelisted")
IDENTITY_KINDS = ("widget", "email", "phone", "ip")


def _max_deltas() -> int:
    return int(getattr(settings, "POLICY_MAX_DELTAS", 5000))


def _retention() -> float:
    return float(getattr(settings, "POLICY_CHANGE_RETENTION_SECONDS", 86400))


def _max_age() -> float:
    return float(getattr(settings, "POLICY_COPY_MAX_AGE", 300))


def _degraded_seconds() -> float:
    return float(getattr(settings, "VOICEGATE_DEGRADED_RELOAD_SECONDS", 5.0))


@dataclass(frozen=True, slots=True)
class Entry:
    """A list entry or status that can decide: what it is, who put it there, why."""

    kind: str  # "visitor", "ip_block", "blocked_number", "account", "setting"
    id: str  # public id (visitor, IP block, block-list entry, account) or name
    pk: int | None = None
    status: str = ""
    added_by: str = ""
    added_at: str = ""  # ISO 8601
    reason: str = ""
    label: str = ""  # what an operator recognises: a network, a number, a name
    expires: float | None = None  # epoch seconds (IP blocks)
    services: frozenset[str] = frozenset()  # restricted services (accounts)
    shadow: bool = False  # a shadow block: logged as "would have rejected" only

    def as_dict(self) -> dict[str, Any]:
        """The explanation's `entry`."""
        found: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "added_by": self.added_by,
            "added_at": self.added_at or None,
            "reason": self.reason,
        }
        if self.shadow:
            found["shadow"] = True
        return found


@dataclass(frozen=True, slots=True)
class VoiceRules:
    """The call gate's settings."""

    anonymous_policy: str = "allow"
    unparseable_policy: str = "allow"
    repeated_call_threshold: int = 5
    repeated_call_window_seconds: int = 600


@dataclass(eq=False)
class OrgState:
    """Everything a decision reads of one organisation, in this process."""

    organisation_id: int
    identity: str = ""  # the organisation's public id when built
    version: int | None = None
    position: int = 0  # the newest change-log id applied
    caught_up_at: float = 0.0  # monotonic
    visitors: dict[int, tuple[Entry, tuple[tuple[str, str], ...]]] = field(
        default_factory=dict
    )
    idents: dict[str, dict[str, int]] = field(
        default_factory=lambda: {kind: {} for kind in IDENTITY_KINDS}
    )
    # (IP version, prefix length) → network as an int → block; block id → place.
    nets: dict[tuple[int, int], dict[int, Entry]] = field(default_factory=dict)
    net_of: dict[int, tuple[tuple[int, int], int]] = field(default_factory=dict)
    blocked: dict[str, Entry] = field(default_factory=dict)
    voice: VoiceRules = field(default_factory=VoiceRules)
    do_not_contact: bool = True
    accounts: dict[str, Entry | None] = field(default_factory=dict)
    account_ids: dict[int, str] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)  # ids applied within the lookback
    # Moves when the organisation's rules change (`trustconsole.rules.engine`
    # recompiles a rule set built at another generation).
    rules_generation: int = 0
    rule_sets: dict[str, Any] = field(default_factory=dict)  # channel → compiled set
    lock: threading.RLock = field(default_factory=threading.RLock)
    rebuilds: int = 0
    deltas: int = 0
    stamps: dict[str, int] = field(default_factory=dict)  # kind → deltas applied

    def stamp(self, kind: str) -> tuple[int, int]:
        """Moves whenever a delta of `kind` is applied or the state is rebuilt:
        other copies kept by the same log (the outbound check's lists) compare it
        with the stamp they were built at."""
        return (self.rebuilds, self.stamps.get(kind, 0))

    def status_of(self, kind: str, value: str) -> tuple[Entry, str, str] | None:
        """(visitor entry, kind, value) when a listed visitor carries the value."""
        pk = self.idents[kind].get(value)
        if pk is None:
            return None
        found = self.visitors.get(pk)
        return (found[0], kind, value) if found is not None else None

    def ip_block(self, ip: str, now: float | None = None) -> Entry | None:
        """The active IP block covering `ip`, if any."""
        if not self.nets:
            return None
        parsed = _address(ip)
        if parsed is None:
            return None
        ip_version, value, bits = parsed
        now = time.time() if now is None else now
        for (version, prefix), table in self.nets.items():
            if version != ip_version:
                continue
            shift = bits - prefix
            entry = table.get((value >> shift) << shift)
            if entry is not None and (entry.expires is None or entry.expires > now):
                return entry
        return None


@functools.lru_cache(maxsize=65536)
def _address(ip: str) -> tuple[int, int, int] | None:
    """(IP version, address as an int, bits) of `ip`; IPv4-mapped IPv6 as IPv4."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.version, int(address), address.max_prefixlen


_STATES: dict[int, OrgState] = {}
_LOCK = threading.Lock()


def reset() -> None:
    """Forget every organisation's state (tests, benchmarks, a cold start)."""
    with _LOCK:
        _STATES.clear()


def state_get(organisation_id: int) -> OrgState | None:
    """What this process holds for the organisation, without any I/O."""
    return _STATES.get(organisation_id)


def version_name(organisation_id: int) -> str:
    """The shared-cache key of the organisation's current version."""
    return "version:" + changes.version_key(organisation_id)


def version_read(organisation_id: int) -> int:
    """The organisation's current version, or UNKNOWN if the cache cannot say."""
    try:
        value = sharedcache.get(version_name(organisation_id))
    except Exception:
        return UNKNOWN
    return int(value or 0)


def current(organisation_id: int) -> OrgState:
    """The organisation's state, caught up with its current version (one cache
    read; database reads only when something changed)."""
    return state_for(organisation_id, version_read(organisation_id))


def fresh_enough(state: OrgState, version: int) -> bool:
    """May a decision use `state` as it is, given the current `version`?"""
    age = time.monotonic() - state.caught_up_at
    if version == UNKNOWN or state.version == UNKNOWN:
        if version == UNKNOWN:
            return age < _degraded_seconds()
        return False
    return state.version == version and age < _max_age()


def state_for(organisation_id: int, version: int) -> OrgState:
    """The state, caught up if `version` is not the one it was caught up at.

    `version` UNKNOWN (the cache is unreachable): the log is read at most every
    VOICEGATE_DEGRADED_RELOAD_SECONDS. Database errors propagate (the caller's
    fail mode decides).
    """
    state = _STATES.get(organisation_id)
    if state is not None and fresh_enough(state, version):
        return state
    with _LOCK:
        state = _STATES.get(organisation_id)
        if state is None:
            state = OrgState(organisation_id)
            _STATES[organisation_id] = state
    with state.lock:
        if state.caught_up_at and fresh_enough(state, version):
            return state
        if not state.caught_up_at:
            _build(state)
        else:
            catch_up(state)
        state.version = version
        return state


# --- Building and catching up --------------------------------------------------------


def _organisation_identity(organisation_id: int) -> str:
    from trustconsole.core.models import Organisation

    found = (
        Organisation.objects.filter(pk=organisation_id)
        .values_list("public_id", flat=True)
        .first()
    )
    return str(found or "")


def _build(state: OrgState) -> None:
    """Read everything of the organisation (first use, or too far behind)."""
    org_id = state.organisation_id
    # Read before the tables: a change made while building is applied next time.
    recent = list(
        PolicyChange.objects.filter(organisation_id=org_id)
        .order_by("-id")
        .values_list("id", flat=True)[:LOOKBACK]
    )
    position = recent[0] if recent else 0
    state.identity = _organisation_identity(org_id)
    state.visitors = {}
    state.idents = {kind: {} for kind in IDENTITY_KINDS}
    for pk, loaded in _load_visitors(org_id, None).items():
        _visitor_put(state, pk, loaded)
    state.nets, state.net_of = {}, {}
    for pk, entry in _load_ip_blocks(org_id, None).items():
        _ip_put(state, pk, entry)
    state.blocked = _load_blocked(org_id, None)
    state.voice = _load_voice(org_id)
    state.do_not_contact = _load_do_not_contact(org_id)
    state.accounts, state.account_ids = {}, {}
    state.position = position
    state.seen = set(recent)
    state.caught_up_at = time.monotonic()
    state.rules_generation += 1
    state.rebuilds += 1


def catch_up(state: OrgState) -> int:
    """Apply the changes logged since the state's position; returns how many.

    Rebuilds instead when too far behind or after a long silence.
    """
    org_id = state.organisation_id
    if time.monotonic() - state.caught_up_at > _retention() / 2:
        _build(state)
        return 0
    limit = _max_deltas()
    rows = list(
        PolicyChange.objects.filter(
            organisation_id=org_id, id__gt=max(0, state.position - LOOKBACK)
        )
        .order_by("id")
        .values_list("id", "kind", "ref")[: limit + LOOKBACK + 1]
    )
    new = [row for row in rows if row[0] not in state.seen]
    if len(new) > limit:
        logger.info(
            "decision state of organisation %s is %d changes behind: rebuilding",
            org_id,
            len(new),
        )
        _build(state)
        return 0
    if new and _organisation_identity(org_id) != state.identity:
        _build(state)  # the id now names another organisation
        return 0
    apply(state, [(kind, ref) for _, kind, ref in new])
    if new:
        state.position = max(state.position, max(row[0] for row in new))
        state.seen.update(row[0] for row in new)
        floor = state.position - LOOKBACK
        state.seen = {i for i in state.seen if i > floor}
    state.caught_up_at = time.monotonic()
    return len(new)


def apply(state: OrgState, deltas: Iterable[tuple[str, str]]) -> None:
    """Read again what the deltas name and put it in place (idempotent)."""
    refs: dict[str, set[str]] = {}
    for kind, ref in deltas:
        refs.setdefault(kind, set()).add(ref)
    if not refs:
        return
    org_id = state.organisation_id
    for kind in refs:
        state.stamps[kind] = state.stamps.get(kind, 0) + 1
    if changes.VISITOR in refs:
        pks = {int(ref) for ref in refs[changes.VISITOR] if ref.isdigit()}
        loaded = _load_visitors(org_id, pks)
        for pk in pks:
            _visitor_put(state, pk, loaded.get(pk))
    if changes.IP_BLOCK in refs:
        pks = {int(ref) for ref in refs[changes.IP_BLOCK] if ref.isdigit()}
        loaded_blocks = _load_ip_blocks(org_id, pks)
        for pk in pks:
            _ip_put(state, pk, loaded_blocks.get(pk))
    if changes.BLOCKED_NUMBER in refs:
        numbers = refs[changes.BLOCKED_NUMBER]
        loaded_numbers = _load_blocked(org_id, numbers)
        for number in numbers:
            entry = loaded_numbers.get(number)
            if entry is None:
                state.blocked.pop(number, None)
            else:
                state.blocked[number] = entry
    if changes.VOICE_SETTINGS in refs:
        state.voice = _load_voice(org_id)
    if changes.POLICY_SETTINGS in refs:
        state.do_not_contact = _load_do_not_contact(org_id)
    if changes.RULES in refs:
        state.rules_generation += 1
    if changes.ACCOUNT in refs:
        for ref in refs[changes.ACCOUNT]:
            public_id = state.account_ids.pop(int(ref), None) if ref.isdigit() else None
            if public_id is not None:
                state.accounts.pop(public_id, None)
    state.deltas += sum(len(v) for v in refs.values())


def _visitor_put(
    state: OrgState,
    pk: int,
    loaded: tuple[Entry, tuple[tuple[str, str], ...]] | None,
) -> None:
    """Replace one visitor: new identities first, then drop the ones it lost, so a
    decision reading meanwhile never sees a listed visitor unlisted."""
    old = state.visitors.get(pk)
    if loaded is not None:
        state.visitors[pk] = loaded
        for kind, value in loaded[1]:
            if kind in state.idents:
                state.idents[kind][value] = pk
    else:
        state.visitors.pop(pk, None)
    keep = set(loaded[1]) if loaded is not None else set()
    for kind, value in old[1] if old is not None else ():
        table = state.idents.get(kind)
        if (kind, value) not in keep and table is not None and table.get(value) == pk:
            del table[value]


def _ip_put(state: OrgState, pk: int, entry: Entry | None) -> None:
    place = state.net_of.pop(pk, None)
    if place is not None:
        table = state.nets.get(place[0])
        if table is not None and table.get(place[1]) is not None:
            if table[place[1]].pk == pk:
                del table[place[1]]
            if not table:
                del state.nets[place[0]]
    if entry is None:
        return
    network = ipaddress.ip_network(entry.label, strict=False)
    key = (network.version, network.prefixlen)
    value = int(network.network_address)
    state.nets.setdefault(key, {})[value] = entry
    state.net_of[pk] = (key, value)


# --- Loaders (one query each; the apps' tables, read here only) ----------------------


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _load_visitors(
    organisation_id: int, pks: set[int] | None
) -> dict[int, tuple[Entry, tuple[tuple[str, str], ...]]]:
    """Listed (blacklisted/whitelisted) visitors → entry and identities, and the
    visitors on a shadow blacklist (`Entry.shadow`, their own status)."""
    from visitors.models import VisitorIdentifier

    if pks is not None and not pks:
        return {}
    found: dict[int, tuple[Entry, list[tuple[str, str]]]] = {}
    listed = VisitorIdentifier.objects.filter(
        visitor__organisation_id=organisation_id, visitor__status__in=MAPPED_STATUSES
    )
    trial = VisitorIdentifier.objects.filter(
        visitor__organisation_id=organisation_id,
        visitor__shadow_blacklisted_at__isnull=False,
    ).exclude(visitor__status__in=MAPPED_STATUSES)
    # (rows, where "who, when, why" come from, shadow?)
    for rows, prefix, shadow in (
        (listed, "visitor__status_changed", False),
        (trial, "visitor__shadow_blacklisted", True),
    ):
        if pks is not None:
            rows = rows.filter(visitor_id__in=pks)
        why = "visitor__shadow_blacklist_reason" if shadow else "visitor__status_reason"
        for pk, kind, value, status, public_id, name, by, at, reason in (
            rows.values_list(
                "visitor_id", "kind", "value", "visitor__status",
                "visitor__public_id", "visitor__name", f"{prefix}_by", f"{prefix}_at",
                why,
            )
        ):  # fmt: skip
            item = found.get(pk)
            if item is None:
                entry = Entry(
                    kind="visitor", id=str(public_id), pk=pk, status=status,
                    added_by=by, added_at=_iso(at), reason=reason, label=name,
                    shadow=shadow,
                )  # fmt: skip
                item = found[pk] = (entry, [])
            item[1].append((kind, value))
    return {pk: (entry, tuple(idents)) for pk, (entry, idents) in found.items()}


def _load_ip_blocks(organisation_id: int, pks: set[int] | None) -> dict[int, Entry]:
    from visitors.models import IPBlock

    rows = IPBlock.objects.filter(organisation_id=organisation_id)
    if pks is not None:
        rows = rows.filter(pk__in=pks)
    return {
        pk: Entry(
            kind="ip_block",
            id=str(public_id),
            pk=pk,
            added_by=by,
            added_at=_iso(at),
            reason=reason,
            label=network,
            expires=expires.timestamp() if expires else None,
        )
        for pk, public_id, network, by, at, reason, expires in rows.values_list(
            "pk", "public_id", "network", "created_by", "created_at", "reason",
            "expires_at",
        )
    }  # fmt: skip


def _load_blocked(
    organisation_id: int, numbers: Iterable[str] | None
) -> dict[str, Entry]:
    from voicegate.models import BlockedNumber

    rows = BlockedNumber.objects.filter(organisation_id=organisation_id)
    if numbers is not None:
        rows = rows.filter(number__in=list(numbers))
    return {
        number: Entry(
            kind="blocked_number",
            id=str(public_id),
            pk=pk,
            added_by=by,
            added_at=_iso(at),
            reason=reason,
            label=number,
            shadow=shadow,
        )
        for pk, public_id, number, by, at, reason, shadow in rows.values_list(
            "pk", "public_id", "number", "added_by", "created_at", "reason", "shadow"
        )
    }


def _load_voice(organisation_id: int) -> VoiceRules:
    from voicegate.models import VoiceSettings

    row = (
        VoiceSettings.objects.filter(organisation_id=organisation_id)
        .values_list(
            "anonymous_policy",
            "unparseable_policy",
            "repeated_call_threshold",
            "repeated_call_window_seconds",
        )
        .first()
    )
    return VoiceRules(*row) if row else VoiceRules()


def _load_do_not_contact(organisation_id: int) -> bool:
    from voicegate.policy.models import PolicySettings

    row = (
        PolicySettings.objects.filter(organisation_id=organisation_id)
        .values_list("blacklisted_do_not_contact", flat=True)
        .first()
    )
    return True if row is None else bool(row)


def account_entry(state: OrgState, public_id: str) -> Entry | None:
    """A customer account's status, from memory (read once, then kept by deltas).

    None when the organisation has no such account.
    """
    if public_id in state.accounts:
        return state.accounts[public_id]
    from accounts.models import Account

    row = (
        Account.objects.filter(
            organisation_id=state.organisation_id, public_id=public_id
        )
        .values_list(
            "pk", "company_name", "status", "restricted_services",
            "status_reason", "status_changed_at", "status_by",
        )
        .first()
    )  # fmt: skip
    entry = None
    if row is not None:
        pk, name, status, services, reason, at, by = row
        entry = Entry(
            kind="account",
            id=str(public_id),
            pk=pk,
            status=status,
            added_by=by or "",
            added_at=_iso(at),
            reason=reason,
            label=name,
            services=frozenset(services or ()),
        )
        with state.lock:
            state.account_ids[pk] = str(public_id)
    with state.lock:
        state.accounts[str(public_id)] = entry
        if len(state.accounts) > 50_000:  # bounded: drop the oldest half
            for key in list(state.accounts)[:25_000]:
                state.accounts.pop(key, None)
    return entry


def changes_prune(*, older_than: float | None = None) -> int:
    """Delete change-log rows older than POLICY_CHANGE_RETENTION_SECONDS.

    A process that has not caught up for half that long rebuilds instead of
    reading the log, so nothing it needs is ever pruned.
    """
    import datetime as dt

    from django.utils import timezone

    seconds = _retention() if older_than is None else older_than
    cutoff = timezone.now() - dt.timedelta(seconds=seconds)
    deleted, _ = PolicyChange.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def state_rebuild(state: OrgState) -> None:
    """Read everything of the organisation again (the benchmark of a rebuild)."""
    _build(state)
