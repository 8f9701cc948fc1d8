"""Reads of the visitors app, scoped to the actor's organisation.

`phone_status_map` is the phone part of what the decision core
(`trustconsole.policy`) keeps in memory; every write that can change it appends a
delta to the core's change log (see services).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.lib.phones import PhoneNumberError, phone_normalise
from trustconsole.lib.processcache import GenerationCache
from visitors.choices import (
    DEFAULT_WEIGHTS,
    IDENTIFIER_FIELDS,
    MAPPED_STATUSES,
    SCORE_MAX,
    Band,
    Channel,
    IdentifierKind,
    ReviewStatus,
    VisitorStatus,
    WeightLevel,
)
from visitors.models import (
    BlockedAttempt,
    Conversation,
    Event,
    IPBlock,
    Message,
    ReviewItem,
    RiskSignal,
    SignalWeightOverride,
    Visitor,
    VisitorIdentifier,
    Widget,
    active_signals_q,
)

# --- The call gate's contract --------------------------------------------------------


def phone_map_version_key(organisation_id: int) -> str:
    """The version key that moves whenever `phone_status_map` may have changed: the
    decision core's one version key of the organisation."""
    from trustconsole.policy.changes import version_key

    return version_key(organisation_id)


def phone_status_map(*, organisation_id: int) -> dict[str, tuple[str, int]]:
    """E.164 → (status, visitor id) for phones of blacklisted/whitelisted visitors."""
    # Filtering on the visitor's organisation (the same as the identifier's) lets
    # PostgreSQL answer from two indexes alone: visitor_org_mapped_idx, then
    # visitor_identifier_vk_idx per mapped visitor.
    rows = VisitorIdentifier.objects.filter(
        visitor__organisation_id=organisation_id,
        visitor__status__in=MAPPED_STATUSES,
        kind=IdentifierKind.PHONE,
    ).values_list("value", "visitor__status", "visitor_id")
    return {value: (status, visitor_id) for value, status, visitor_id in rows}


def visitor_by_phone(*, organisation_id: int, e164: str) -> Visitor | None:
    """The visitor whose record carries this E.164 number, if any."""
    identifier = (
        VisitorIdentifier.objects.filter(
            organisation_id=organisation_id, kind=IdentifierKind.PHONE, value=e164
        )
        .select_related("visitor")
        .first()
    )
    return identifier.visitor if identifier else None


# --- Weights and scores ---------------------------------------------------------------


def signal_weights(*, organisation_id: int) -> dict[str, int]:
    """Level → weight for the organisation (its overrides over the defaults)."""
    weights = dict(DEFAULT_WEIGHTS)
    weights.update(
        SignalWeightOverride.objects.filter(
            organisation_id=organisation_id
        ).values_list("level", "weight")
    )
    return {str(level): weight for level, weight in weights.items()}


def signal_weight_rows(*, actor: Actor) -> list[dict[str, Any]]:
    """Each level with its default and the organisation's weight, for the settings."""
    weights = signal_weights(organisation_id=actor.organisation.pk)
    return [
        {
            "level": level,
            "label": label,
            "default": DEFAULT_WEIGHTS[level],
            "weight": weights[level],
            "overridden": weights[level] != DEFAULT_WEIGHTS[level],
        }
        for level, label in WeightLevel.choices
    ]


def active_weight_total(*, visitor: Visitor) -> int:
    """Sum of the weights of the visitor's signals that count right now."""
    total = RiskSignal.objects.filter(active_signals_q(), visitor=visitor).aggregate(
        total=Sum("weight")
    )["total"]
    return int(total or 0)


@dataclass(frozen=True)
class ScoreExplanation:
    """How a trust score comes about: 100 minus each active signal's weight."""

    start: int
    signals: list[RiskSignal]
    total: int
    score: int

    @property
    def floored(self) -> bool:
        """The weights add up to more than 100; the score stops at 0."""
        return self.total > self.start


def score_explanation(*, visitor: Visitor) -> ScoreExplanation:
    """The signal-by-signal explanation of the visitor's trust score."""
    signals = list(
        RiskSignal.objects.filter(active_signals_q(), visitor=visitor).order_by(
            "-weight", "created_at"
        )
    )
    total = sum(signal.weight for signal in signals)
    return ScoreExplanation(
        start=SCORE_MAX, signals=signals, total=total, score=max(0, SCORE_MAX - total)
    )


# --- Visitors -------------------------------------------------------------------------

_PHONEISH = re.compile(r"^\+?[\d\s().\-]{6,}$")
SORTS = {
    "score": ("trust_score", "-last_seen_at", "-id"),
    "-score": ("-trust_score", "-last_seen_at", "-id"),
    "last_seen": ("last_seen_at", "id"),
    "-last_seen": ("-last_seen_at", "-id"),
}
# How many identifier matches a free-text search looks at (prefix matches).
SEARCH_ID_LIMIT = 500


def search_kind(q: str) -> tuple[str, str]:
    """What a search box value looks like: (kind, normalised value)."""
    q = q.strip()
    try:
        return IdentifierKind.IP, str(ipaddress.ip_address(q))
    except ValueError:
        pass
    if "@" in q:
        return IdentifierKind.EMAIL, q.lower()
    if _PHONEISH.match(q):
        try:
            return IdentifierKind.PHONE, phone_normalise(q)
        except PhoneNumberError:
            digits = re.sub(r"\D", "", q)
            return IdentifierKind.PHONE, ("+" + digits) if digits else q
    return "name", q.lower()


def _search(qs: QuerySet[Visitor], organisation_id: int, q: str) -> QuerySet[Visitor]:
    kind, value = search_kind(q)
    ids = VisitorIdentifier.objects.filter(organisation_id=organisation_id)
    if kind == IdentifierKind.IP:
        return qs.filter(
            pk__in=list(
                ids.filter(kind=kind, value=value).values_list("visitor_id", flat=True)
            )
        )
    if kind == IdentifierKind.PHONE:
        # An exact E.164 first; a partial number matches as a prefix.
        matches = ids.filter(kind=kind, value__startswith=value)
    elif kind == IdentifierKind.EMAIL:
        matches = ids.filter(kind=kind, value__startswith=value)
    else:
        # A word is a name prefix or the start of an email address.
        matches = ids.filter(kind=IdentifierKind.EMAIL, value__startswith=value)
    visitor_ids = list(matches.values_list("visitor_id", flat=True)[:SEARCH_ID_LIMIT])
    if kind == "name":
        return qs.filter(Q(name_search__startswith=value) | Q(pk__in=visitor_ids))
    return qs.filter(pk__in=visitor_ids)


def visitor_list(
    *,
    actor: Actor,
    q: str = "",
    status: str = "",
    score_min: int | None = None,
    score_max: int | None = None,
    band: str = "",
    sort: str = "",
) -> QuerySet[Visitor]:
    """The Visitors page: search by name, email, phone or IP; filter; sort."""
    organisation_id = actor.organisation.pk
    qs = Visitor.objects.filter(organisation_id=organisation_id)
    if q.strip():
        qs = _search(qs, organisation_id, q)
    if status:
        qs = qs.filter(status=status)
    if score_min is not None:
        qs = qs.filter(trust_score__gte=score_min)
    if score_max is not None:
        qs = qs.filter(trust_score__lte=score_max)
    if band:
        qs = qs.filter(band=band)
    return qs.order_by(*SORTS.get(sort, SORTS["-last_seen"]))


def visitor_get(*, actor: Actor, public_id: object) -> Visitor:
    """One visitor of the actor's organisation (404 otherwise)."""
    return scoped_get(Visitor.objects.all(), actor=actor, public_id=public_id)


def visitor_find(*, actor: Actor, text: str) -> Visitor | None:
    """One visitor by profile id or by an exact email, phone, IP or widget id."""
    import uuid

    text = text.strip()
    if not text:
        return None
    try:
        key = uuid.UUID(text.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        pass
    else:
        return Visitor.objects.filter(
            organisation_id=actor.organisation.pk, public_id=key
        ).first()
    kind, value = search_kind(text)
    kinds = [IdentifierKind.WIDGET] if kind == "name" else [kind]
    if kind == "name":
        value = text
    identifier = (
        VisitorIdentifier.objects.filter(
            organisation_id=actor.organisation.pk, kind__in=kinds, value=value
        )
        .select_related("visitor")
        .first()
    )
    return identifier.visitor if identifier else None


def visitor_identifiers(*, visitor: Visitor) -> dict[str, list[str]]:
    """The visitor's identifiers grouped by kind (emails, phones, ips, widget_ids)."""
    grouped: dict[str, list[str]] = {name: [] for name in IDENTIFIER_FIELDS.values()}
    for kind, value in visitor.identifiers.order_by("kind", "value").values_list(
        "kind", "value"
    ):
        grouped[IDENTIFIER_FIELDS[kind]].append(value)
    return grouped


def visitor_signals(*, visitor: Visitor) -> QuerySet[RiskSignal]:
    """Every risk signal of the visitor, active and ended, newest first."""
    return RiskSignal.objects.filter(visitor=visitor).select_related("event")


def signal_get(*, actor: Actor, public_id: object) -> RiskSignal:
    """One risk signal of the actor's organisation (404 otherwise)."""
    return scoped_get(
        RiskSignal.objects.select_related("visitor"), actor=actor, public_id=public_id
    )


def visitor_events(*, visitor: Visitor) -> QuerySet[Event]:
    """The visitor's events, newest first."""
    return Event.objects.filter(visitor=visitor).select_related("conversation")


def visitor_conversations(*, visitor: Visitor) -> QuerySet[Conversation]:
    """The visitor's conversations, latest activity first."""
    return Conversation.objects.filter(visitor=visitor).select_related("widget")


def visitor_blocked_attempts(*, visitor: Visitor) -> QuerySet[BlockedAttempt]:
    """Refused messages and calls of the visitor, newest first."""
    return BlockedAttempt.objects.filter(visitor=visitor)


# --- Review queue ---------------------------------------------------------------------


def review_queue(*, actor: Actor) -> QuerySet[ReviewItem]:
    """Open review-queue items, oldest first, with their visitor and cause."""
    return (
        ReviewItem.objects.filter(
            organisation_id=actor.organisation.pk, status=ReviewStatus.OPEN
        )
        .select_related("visitor", "event", "conversation")
        .order_by("created_at", "id")
    )


def review_queue_badge_counts() -> dict[str, Any]:
    """Subqueries (over an outer organisation row) for the navigation badge: open
    review items and those waiting past the overdue age."""
    from django.conf import settings

    from trustconsole.lib.timeseries import count_subquery

    late = timezone.now() - dt.timedelta(hours=settings.VISITORS_REVIEW_OVERDUE_HOURS)
    open_items = ReviewItem.objects.filter(status=ReviewStatus.OPEN)
    return {
        "review_queue_count": count_subquery(open_items),
        "review_queue_overdue": count_subquery(open_items.filter(created_at__lt=late)),
    }


def review_queue_count(*, organisation_id: int) -> int:
    """How many items wait in the review queue (shown in the navigation)."""
    return ReviewItem.objects.filter(
        organisation_id=organisation_id, status=ReviewStatus.OPEN
    ).count()


def review_item_get(*, actor: Actor, public_id: object) -> ReviewItem:
    """One review item of the actor's organisation (404 otherwise)."""
    return scoped_get(
        ReviewItem.objects.select_related("visitor", "event", "conversation"),
        actor=actor,
        public_id=public_id,
    )


def review_items_get(*, actor: Actor, public_ids: list[str]) -> list[ReviewItem]:
    """Review items of the organisation among `public_ids` (others are ignored)."""
    import uuid

    keys = []
    for value in public_ids:
        try:
            keys.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(
        ReviewItem.objects.filter(
            organisation_id=actor.organisation.pk, public_id__in=keys
        ).select_related("visitor")
    )


def visitor_review_items(*, visitor: Visitor) -> QuerySet[ReviewItem]:
    """All review items of a visitor, newest first."""
    return ReviewItem.objects.filter(visitor=visitor).order_by("-created_at")


# --- IP blocks ------------------------------------------------------------------------


def ip_block_list(*, actor: Actor, include_expired: bool = False) -> QuerySet[IPBlock]:
    """The organisation's IP blocks, newest first (active only unless asked)."""
    qs = IPBlock.objects.filter(organisation_id=actor.organisation.pk)
    if not include_expired:
        qs = qs.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    return qs


def ip_block_get(*, actor: Actor, public_id: object) -> IPBlock:
    """One IP block of the actor's organisation (404 otherwise)."""
    return scoped_get(IPBlock.objects.all(), actor=actor, public_id=public_id)


def ip_block_match(*, organisation_id: int, ip: str) -> IPBlock | None:
    """The active block (address or CIDR) that covers `ip`, if any."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    blocks = IPBlock.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        organisation_id=organisation_id,
        version=address.version,
    )
    for block in blocks:
        if address in ipaddress.ip_network(block.network):
            return block
    return None


# --- Widgets, conversations, inbox ----------------------------------------------------


# Active widgets of this process by key: the gate reads a known key with no query.
# Any change to a widget (deactivated, deleted, its key replaced) moves the
# generation (visitors/receivers.py), so it applies in every process within a
# second; an entry is read from the database again after 30 s.
widget_cache: GenerationCache[Widget] = GenerationCache("visitors:widget-generation")


def widget_by_key(key: str) -> Widget | None:
    """The active widget with this key (the gate's only way in)."""
    if not key:
        return None
    widget = widget_cache.get(key)
    if widget is not None:
        return widget
    widget = (
        Widget.objects.select_related("organisation")
        .filter(key=key, is_active=True)
        .first()
    )
    if widget is not None:
        widget_cache.put(key, widget)
    return widget


def widget_list(*, actor: Actor) -> QuerySet[Widget]:
    """The organisation's chat widgets."""
    return Widget.objects.filter(organisation_id=actor.organisation.pk)


def conversation_list(*, actor: Actor, status: str = "") -> QuerySet[Conversation]:
    """The Inbox: conversations, latest activity first, with their visitors."""
    qs = Conversation.objects.filter(organisation_id=actor.organisation.pk)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("visitor", "widget").order_by("-last_message_at", "-id")


def conversation_get(*, actor: Actor, public_id: object) -> Conversation:
    """One conversation of the actor's organisation (404 otherwise)."""
    return scoped_get(
        Conversation.objects.select_related("visitor", "widget"),
        actor=actor,
        public_id=public_id,
    )


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages, oldest first."""
    return Message.objects.filter(conversation=conversation).order_by(
        "created_at", "id"
    )


def status_counts(*, actor: Actor) -> dict[str, int]:
    """Visitors per status that is not `none` (small sets, index-only counts)."""
    counts = {}
    for status in (
        VisitorStatus.FLAGGED,
        VisitorStatus.BLACKLISTED,
        VisitorStatus.WHITELISTED,
    ):
        counts[str(status)] = Visitor.objects.filter(
            organisation_id=actor.organisation.pk, status=status
        ).count()
    return counts


def dashboard_visitors(*, actor: Actor, since: dt.datetime) -> dict[str, Any]:
    """The dashboard's visitor numbers: chat blocks per day, queue, trust bands."""
    from trustconsole.lib.timeseries import counts_per_day

    org = actor.organisation
    queue = ReviewItem.objects.filter(organisation=org, status=ReviewStatus.OPEN)
    oldest = queue.order_by("created_at").values_list("created_at", flat=True).first()
    bands = dict(
        Visitor.objects.filter(organisation=org)
        .order_by()
        .values_list("band")
        .annotate(n=Count("pk"))
    )
    chat = counts_per_day(
        BlockedAttempt.objects.filter(
            organisation=org, channel=Channel.CHAT, created_at__gte=since
        )
    )
    return {
        "chat_blocked": {day: n for (day, _), n in chat.items()},
        "queue_open": queue.count(),
        "queue_oldest_at": oldest,
        "bands": {band: bands.get(band, 0) for band in Band.values},
    }


def events_attach_messages(events: Iterable[Event]) -> None:
    """Give each event its `message` (the chat message it refers to), one query."""
    events = list(events)
    ids = {e.detail.get("message_id") for e in events if isinstance(e.detail, dict)}
    ids.discard(None)
    messages: dict[str, Message] = {}
    if ids:
        valid = []
        for raw in ids:
            try:
                valid.append(uuid.UUID(str(raw)))
            except ValueError:
                continue
        messages = {
            str(m.public_id): m for m in Message.objects.filter(public_id__in=valid)
        }
    for event in events:
        detail = event.detail if isinstance(event.detail, dict) else {}
        # The message the event is about, for the page (not a field of Event).
        setattr(event, "message", messages.get(str(detail.get("message_id"))))  # noqa: B010
