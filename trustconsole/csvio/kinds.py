"""What each kind of CSV holds, and how one row is checked, planned and applied.

A row is first *parsed* (every field checked; all problems of the row reported
together), then *planned* against the database (create, update or unchanged, in
words) and, for a real import, *applied* through the apps' public services, which
check the actor's role and audit each change themselves. A dry run stops after
the plan and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from trustconsole.core.actor import Actor

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
LIST_SEPARATOR = ";"


class RowError(Exception):
    """Problems of one row: field → reason (every one found)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass
class Plan:
    """What one row does: the action, in words, and what `apply` needs."""

    action: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One pass over a file: who acts, the file's name, and what earlier rows of
    this pass would already have done (so a dry run plans like the import acts)."""

    actor: Actor
    file_name: str
    seen: dict[tuple[str, str], int] = field(default_factory=dict)


def _split(value: str) -> list[str]:
    return [
        part.strip() for part in (value or "").split(LIST_SEPARATOR) if part.strip()
    ]


def _messages(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {k: " ".join(v) for k, v in exc.message_dict.items()}
    return {"row": " ".join(exc.messages)}


def _expiry(raw: str) -> dt.datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise ValueError(
                f"{raw!r} is not a date (2026-12-31 or 2026-12-31T18:00Z)."
            )
        value = dt.datetime.combine(day, dt.time.max)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value <= timezone.now():
        raise ValueError("The expiry must be in the future.")
    return value


@dataclass(frozen=True)
class Kind:
    """One kind of CSV: its columns and its row functions."""

    name: str
    label: str
    columns: tuple[str, ...]  # what an import reads (and an export writes first)
    required: tuple[tuple[str, ...], ...]  # each: at least one of these columns
    read_only: tuple[str, ...]  # exported, ignored on import
    aliases: dict[str, str]
    parse: Callable[[dict[str, str]], dict[str, Any]]
    plan: Callable[[Run, int, dict[str, Any]], Plan]
    apply: Callable[[Run, int, Plan], str]
    list_url: str
    example: str

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.columns + self.read_only

    def header_problem(self, header: list[str]) -> str | None:
        """Why a header cannot be imported, in words (None when it can)."""
        names = [self.aliases.get(h, h) for h in header]
        unknown = [
            h for h, n in zip(header, names, strict=True) if n not in self.all_columns
        ]
        dupes = sorted({n for n in names if names.count(n) > 1})
        missing = [
            " or ".join(group) for group in self.required if not set(group) & set(names)
        ]
        problems = []
        if unknown:
            problems.append("unknown column(s) " + ", ".join(repr(u) for u in unknown))
        if dupes:
            problems.append("repeated column(s) " + ", ".join(dupes))
        if missing:
            problems.append("missing column(s) " + "; ".join(missing))
        if not problems:
            return None
        return (
            f"The header is wrong: {', '.join(problems)}. A {self.label.lower()} "
            f"file starts with: {','.join(self.columns)} (e.g. “{self.example}”)."
        )


# --- Visitors ------------------------------------------------------------------------

_ID_FIELDS = ("emails", "phones", "ips", "widget_ids")


def _visitor_parse(row: dict[str, str]) -> dict[str, Any]:
    from visitors import services
    from visitors.choices import BLACKLISTED_SIGNAL, SIGNAL_TYPE_LABELS, WeightLevel

    normalise = {
        "emails": services.normalise_email,
        "phones": services.normalise_phone,
        "ips": services.normalise_ip,
        "widget_ids": services.normalise_widget_id,
    }
    problems: dict[str, str] = {}
    data: dict[str, Any] = {"name": (row.get("name") or "").strip()[:200]}
    for name in _ID_FIELDS:
        values = []
        for raw in _split(row.get(name, "")):
            try:
                values.append(normalise[name](raw))
            except ValidationError as exc:
                problems[name] = " ".join(
                    [problems.get(name, ""), *_messages(exc).values()]
                ).strip()
        data[name] = list(dict.fromkeys(values))
    if not problems and not any(data[name] for name in _ID_FIELDS):
        problems["emails"] = (
            "Give at least one email, phone number, IP address or widget visitor id."
        )
    status = (row.get("status") or "").strip().lower()
    if status not in ("", "none", "flagged", "blacklisted", "whitelisted"):
        problems["status"] = (
            f"{status!r} is not a status; use blacklisted, whitelisted, none or "
            "leave it empty (flagged comes from the score and is left as it is)."
        )
    data["status"] = "" if status == "flagged" else status
    data["status_reason"] = (row.get("status_reason") or "").strip()
    signals: list[tuple[str, str]] = []
    for raw in _split(row.get("signals", "")):
        signal_type, _, level = raw.partition(":")
        signal_type, level = signal_type.strip(), level.strip().lower()
        if signal_type == BLACKLISTED_SIGNAL:
            continue  # comes with the blacklisted status, never on its own
        if signal_type not in SIGNAL_TYPE_LABELS or level not in WeightLevel.values:
            types = [t for t in SIGNAL_TYPE_LABELS if t != BLACKLISTED_SIGNAL]
            problems["signals"] = (
                f"{raw!r} is not type:level; types: {', '.join(types)}; "
                f"levels: {', '.join(WeightLevel.values)}."
            )
            continue
        if (signal_type, level) not in signals:
            signals.append((signal_type, level))
    data["signals"] = signals
    if problems:
        raise RowError(problems)
    return data


def _pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    from visitors.choices import IdentifierKind

    kinds = dict(
        zip(
            _ID_FIELDS,
            (
                IdentifierKind.EMAIL,
                IdentifierKind.PHONE,
                IdentifierKind.IP,
                IdentifierKind.WIDGET,
            ),
            strict=True,
        )
    )
    return [(str(kinds[name]), value) for name in _ID_FIELDS for value in data[name]]


def _visitor_plan(run: Run, line: int, data: dict[str, Any]) -> Plan:
    from visitors.models import RiskSignal, Visitor, VisitorIdentifier, active_signals_q

    pairs = _pairs(data)
    query = Q(pk__in=[])
    for kind, value in pairs:
        query |= Q(kind=kind, value=value)
    owned = list(
        VisitorIdentifier.objects.filter(
            query, organisation_id=run.actor.organisation.pk
        ).values_list("kind", "value", "visitor_id")
    )
    owners = {visitor_id for _, _, visitor_id in owned}
    if len(owners) > 1:
        names = dict(Visitor.objects.filter(pk__in=owners).values_list("pk", "name"))
        held = ", ".join(f"{v} ({names.get(o) or 'unnamed'})" for _, v, o in owned)
        raise RowError(
            {
                "emails": f"These identifiers belong to different visitors: {held}. "
                "Merge them on the security profile first, or split the row."
            }
        )
    earlier = {run.seen[p] for p in pairs if p in run.seen}
    label = data["name"] or (pairs[0][1] if pairs else "visitor")
    if not owners:
        for pair in pairs:
            run.seen.setdefault(pair, line)
        if earlier:
            return Plan(
                UPDATE, f"{label}: joins the visitor of line {min(earlier)}", data
            )
        parts = [f"new visitor {label}"]
        if data["status"] in ("blacklisted", "whitelisted"):
            parts.append(data["status"])
        if data["signals"]:
            parts.append(
                "signals " + ", ".join(f"{t} ({lv})" for t, lv in data["signals"])
            )
        return Plan(CREATE, "; ".join(parts), data)
    visitor = Visitor.objects.get(pk=owners.pop())
    have = {(k, v) for k, v, _ in owned}
    new_ids = [value for pair in pairs if pair not in have for value in [pair[1]]]
    parts = []
    if data["name"] and data["name"] != visitor.name:
        parts.append(f"name “{visitor.name}” → “{data['name']}”")
    if new_ids:
        parts.append("adds " + ", ".join(new_ids))
    status = data["status"]
    if status and status != visitor.status:
        parts.append(f"status {visitor.get_status_display()} → {status}")
    active = set(
        RiskSignal.objects.filter(active_signals_q(), visitor=visitor).values_list(
            "signal_type", "level"
        )
    )
    new_signals = [s for s in data["signals"] if s not in active]
    if new_signals:
        parts.append(
            "adds signals " + ", ".join(f"{t} ({lv})" for t, lv in new_signals)
        )
    data = {**data, "visitor": visitor, "new_signals": new_signals}
    name = visitor.display_name
    if not parts:
        return Plan(UNCHANGED, f"{name}: nothing to change", data)
    return Plan(UPDATE, f"{name}: " + "; ".join(parts), data)


def _visitor_apply(run: Run, line: int, plan: Plan) -> str:
    from visitors import services
    from visitors.choices import VisitorStatus

    data = plan.data
    if plan.action == UNCHANGED:
        return UNCHANGED
    actor = run.actor
    visitor = services.visitor_upsert(
        actor=actor,
        name=data["name"],
        emails=data["emails"],
        phones=data["phones"],
        ips=data["ips"],
        widget_ids=data["widget_ids"],
    )
    reason = data["status_reason"] or f"CSV import {run.file_name}, line {line}"
    status = data["status"]
    if status == VisitorStatus.BLACKLISTED and visitor.status != status:
        visitor = services.visitor_blacklist(
            actor=actor, visitor=visitor, reason=reason
        )
    elif status == VisitorStatus.WHITELISTED and visitor.status != status:
        visitor = services.visitor_whitelist(
            actor=actor, visitor=visitor, reason=reason
        )
    elif status == VisitorStatus.NONE and visitor.status != status:
        visitor = services.visitor_clear_status(
            actor=actor, visitor=visitor, reason=reason
        )
    signals = data.get("new_signals", data["signals"])
    for signal_type, level in signals:
        services.risk_signal_add(
            actor=actor,
            visitor=visitor,
            signal_type=signal_type,
            level=level,
            source="import",
            note=f"CSV import {run.file_name}, line {line}",
        )
    return CREATE if getattr(visitor, "upsert_created", False) else UPDATE


# --- Voice block list ---------------------------------------------------------------


def _number_parse(row: dict[str, str]) -> dict[str, Any]:
    from trustconsole.lib.phones import PhoneNumberError, phone_normalise

    raw = (row.get("number") or "").strip()
    try:
        number = phone_normalise(raw)
    except PhoneNumberError as exc:
        raise RowError({"number": f"{raw!r} {exc.reason}."}) from None
    return {"number": number, "reason": (row.get("reason") or "").strip()[:500]}


def _number_plan(run: Run, line: int, data: dict[str, Any]) -> Plan:
    from voicegate.models import BlockedNumber

    number = data["number"]
    key = ("number", number)
    if key in run.seen:
        return Plan(UNCHANGED, f"{number}: already on line {run.seen[key]}", data)
    run.seen[key] = line
    if BlockedNumber.objects.filter(
        organisation=run.actor.organisation, number=number
    ).exists():
        return Plan(UNCHANGED, f"{number}: already on the block list", data)
    return Plan(CREATE, f"{number}: added to the block list", data)


def _number_apply(run: Run, line: int, plan: Plan) -> str:
    from voicegate import services

    if plan.action == UNCHANGED:
        return UNCHANGED
    services.blocked_number_add(
        actor=run.actor,
        number=plan.data["number"],
        reason=plan.data["reason"] or f"CSV import {run.file_name}, line {line}",
    )
    return CREATE


# --- IP blocks ------------------------------------------------------------------------


def _ip_parse(row: dict[str, str]) -> dict[str, Any]:
    from visitors.services import normalise_network

    problems: dict[str, str] = {}
    network = None
    try:
        network = str(normalise_network(row.get("network") or ""))
    except ValidationError as exc:
        problems.update(_messages(exc))
    reason = (row.get("reason") or "").strip()
    if not reason:
        problems["reason"] = "Say why the address is blocked."
    try:
        expires_at = _expiry(row.get("expires_at", ""))
    except ValueError as exc:
        problems["expires_at"] = str(exc)
        expires_at = None
    if problems:
        raise RowError(problems)
    return {"network": network, "reason": reason, "expires_at": expires_at}


def _ip_plan(run: Run, line: int, data: dict[str, Any]) -> Plan:
    from visitors.models import IPBlock

    network = data["network"]
    key = ("network", network)
    if key in run.seen:
        return Plan(UNCHANGED, f"{network}: already on line {run.seen[key]}", data)
    run.seen[key] = line
    existing = IPBlock.objects.filter(
        organisation_id=run.actor.organisation.pk, network=network
    ).first()
    if existing is not None and existing.is_active():
        return Plan(UNCHANGED, f"{existing.display}: already blocked", data)
    until = f" until {data['expires_at']:%Y-%m-%d %H:%M}" if data["expires_at"] else ""
    return Plan(CREATE, f"{network}: blocked{until}", data)


def _ip_apply(run: Run, line: int, plan: Plan) -> str:
    from visitors import services

    if plan.action == UNCHANGED:
        return UNCHANGED
    services.ip_block_create(
        actor=run.actor,
        network=plan.data["network"],
        reason=plan.data["reason"],
        expires_at=plan.data["expires_at"],
    )
    return CREATE


KINDS: dict[str, Kind] = {
    "visitors": Kind(
        name="visitors",
        label="Visitors",
        columns=("name", *_ID_FIELDS, "status", "status_reason", "signals"),
        required=(_ID_FIELDS,),
        read_only=("id", "trust_score", "band", "last_seen_at"),
        aliases={"email": "emails", "phone": "phones", "ip": "ips"},
        parse=_visitor_parse,
        plan=_visitor_plan,
        apply=_visitor_apply,
        list_url="visitors:visitor_list",
        example="Dana Scully,dana@example.com;d@example.org,+12025550143,,,"
        "blacklisted,Threats,spam:high",
    ),
    "block_list": Kind(
        name="block_list",
        label="Voice block list",
        columns=("number", "reason"),
        required=(("number",),),
        read_only=("added_by", "created_at"),
        aliases={"phone": "number"},
        parse=_number_parse,
        plan=_number_plan,
        apply=_number_apply,
        list_url="voicegate:block_list",
        example="+12025550143,Robocalls",
    ),
    "ip_blocks": Kind(
        name="ip_blocks",
        label="IP blocks",
        columns=("network", "reason", "expires_at"),
        required=(("network",), ("reason",)),
        read_only=("created_by", "created_at"),
        aliases={"ip": "network"},
        parse=_ip_parse,
        plan=_ip_plan,
        apply=_ip_apply,
        list_url="visitors:ip_block_list",
        example="198.51.100.0/24,Credential stuffing,2026-12-31",
    ),
}
