"""Backtests of outbound-check drafts: every logged check of the window.

The check log (`voicegate.policy.checklog`, `OutboundCheck`) keeps each check,
allowed or refused, with the facts the rules were given: the account's status
and numbers, the caller ID and whether it was owned, the destination and its
visitor's status, the calls already made to it (the harassment counter) and the
policy settings. Sliding counts (`destination.calls_24h`, `denials_24h`) are
recomputed from the log itself; the account's other facts are read as of each
day, only when a condition names them. Before an organisation's first logged
check only refused checks were kept (the denial log), so those are replayed
there, with what the denial log holds.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

from trustconsole.rules import facts
from trustconsole.rules.language import check
from trustconsole.rules.models import Backtest


def checks(
    backtest: Backtest,
) -> Iterator[tuple[str, dict[str, Any] | None, str, dict[str, Any]]]:
    """Every outbound check of the window, allowed or refused, from the check log
    (`OutboundCheck`: the facts the rules saw); before the organisation's first
    logged check, the refused ones of the denial log (all that was kept then).
    A whitelisted destination's check is yielded without an event: the rules
    never judge it."""
    from accounts.selectors import account_rule_facts
    from voicegate.policy.models import OutboundCheck

    first = _first_check(backtest)
    yield from _denials(backtest, before=first)
    if first is None:
        return
    reads = _fields_read(backtest)
    # Account facts beyond the logged status and numbers cost queries: read only
    # when the draft (or the current version) names one, once per account and day.
    logged = ("account.status", "account.numbers_owned")
    full = any(f.startswith("account.") and f not in logged for f in reads)
    account_days: dict[tuple[int, dt.date], dict[str, Any]] = {}
    calls: dict[tuple[str, str], collections.deque[dt.datetime]] = (
        collections.defaultdict(collections.deque)
    )
    denials: dict[str, collections.deque[dt.datetime]] = collections.defaultdict(
        collections.deque
    )
    rows = (
        _checks_window(OutboundCheck.objects, backtest)
        .select_related("account")
        .order_by("occurred_at", "id")
    )
    for row in rows.iterator(chunk_size=1000):
        at, key = row.occurred_at, row.account_key
        account = row.account
        summary = {
            "kind": "outbound_check",
            "id": row.pk,
            "at": at.isoformat(),
            "account": account.company_name if account else "",
            "from": row.from_e164,
            "to": row.to_e164 or row.to_number,
            "allowed": row.allowed,
            "codes": row.codes,
        }
        identity = str(account.public_id) if account else row.from_e164
        made = calls[(key, row.to_e164)]
        refused = denials[key]
        for times in (made, refused):
            while times and times[0] <= at - dt.timedelta(hours=24):
                times.popleft()
        event: dict[str, Any] | None = None
        if not row.whitelisted:
            given: dict[str, Any] = {}
            if account is not None:
                given = {"id": str(account.public_id)}
                if full:
                    found = (account.pk, at.date())
                    if found not in account_days:
                        account_days[found] = account_rule_facts(
                            account=account, today=at.date()
                        )
                    given.update(account_days[found])
                given.update(status=row.account_status, numbers_owned=row.numbers_owned)
            event = {
                "account": given,
                "caller_id": {
                    "number": row.from_number,
                    "e164": row.from_e164,
                    "owned": row.caller_id_owned,
                },
                "destination": {
                    "number": row.to_number,
                    "e164": row.to_e164,
                    "status": row.destination_status,
                    "account_key": key,
                    "calls_made": row.calls_made,
                    # As the live check read them: the calls made to this number
                    # in 24 hours with this one, the account's refusals before it.
                    "calls_24h": len(made) + 1 if row.to_e164 else 0,
                    "denials_24h": len(refused),
                },
                "policy": {
                    "harassment_limit": row.harassment_limit,
                    "harassment_window_seconds": row.harassment_window_seconds,
                },
            }
        if row.allowed and row.to_e164:
            made.append(at)
        elif not row.allowed:
            refused.append(at)
        yield identity, event, at.isoformat(), summary


def _first_check(backtest: Backtest) -> dt.datetime | None:
    """When the organisation's check log starts (None: nothing logged yet)."""
    from voicegate.policy.models import OutboundCheck

    return (
        OutboundCheck.objects.filter(organisation_id=backtest.organisation_id)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


def _checks_window(manager: Any, backtest: Backtest) -> Any:
    return manager.filter(
        organisation_id=backtest.organisation_id,
        occurred_at__gte=backtest.window_start,
        occurred_at__lt=backtest.window_end,
    )


def _fields_read(backtest: Backtest) -> frozenset[str]:
    """The facts the draft and the rule's current version read."""
    schema = facts.channel_facts(backtest.channel).schema()
    conditions = [backtest.condition]
    version = backtest.rule.current_version if backtest.rule else None
    if version is not None:
        conditions.append(version.condition)
    return frozenset(f for c in conditions for f in check(c, schema).fields)


def _denials_before(backtest: Backtest, first: dt.datetime | None) -> Any:
    from voicegate.policy.models import OutboundDenial

    rows = OutboundDenial.objects.filter(
        organisation_id=backtest.organisation_id,
        created_at__gte=backtest.window_start,
        created_at__lt=backtest.window_end,
    )
    return rows if first is None else rows.filter(created_at__lt=first)


def checks_count(backtest: Backtest) -> int:
    """How many checks `checks` replays (the backtest's total)."""
    from voicegate.policy.models import OutboundCheck

    first = _first_check(backtest)
    logged = 0
    if first is not None:
        logged = _checks_window(OutboundCheck.objects, backtest).count()
    return int(_denials_before(backtest, first).count()) + logged


def capped_hours(backtest: Backtest) -> int:
    """Hours of the window in which the log kept only the first allowed checks."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    from voicegate.policy import checklog
    from voicegate.policy.models import OutboundCheck

    return int(
        _checks_window(OutboundCheck.objects, backtest)
        .filter(allowed=True)
        .annotate(hour=TruncHour("occurred_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(n=Count("id"))
        .filter(n__gte=checklog.per_hour())
        .count()
    )


def _denials(
    backtest: Backtest, *, before: dt.datetime | None
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """The refused checks of the denial log (before the check log started): the
    numbers, the account's current status and whether the caller ID was owned
    (from the codes); the refusals of the account in 24 hours before each."""
    refused: dict[str, collections.deque[dt.datetime]] = collections.defaultdict(
        collections.deque
    )
    rows = (
        _denials_before(backtest, before)
        .order_by("created_at", "id")
        .values_list(
            "id", "created_at", "from_number", "to_number", "codes",
            "account__public_id", "account__status", "account__country",
            "account__company_name",
        )
    )  # fmt: skip
    for pk, at, caller, callee, codes, apublic, astatus, country, name in rows.iterator(
        chunk_size=1000
    ):
        key = f"account:{apublic}" if apublic else "org"
        times = refused[key]
        while times and times[0] <= at - dt.timedelta(hours=24):
            times.popleft()
        event = {
            "account": {"status": astatus or "", "country": country or ""},
            "caller_id": {
                "number": caller,
                "e164": caller if caller.startswith("+") else "",
                "owned": "caller_id_not_owned" not in codes.split(","),
            },
            "destination": {
                "number": callee,
                "e164": callee if callee.startswith("+") else "",
                "account_key": key,
                "calls_24h": 0,
                "denials_24h": len(times),
            },
        }
        times.append(at)
        summary = {
            "kind": "outbound_denial",
            "id": pk,
            "at": at.isoformat(),
            "account": name or "",
            "from": caller,
            "to": callee,
            "allowed": False,
            "codes": codes,
        }
        yield str(apublic or caller), event, at.isoformat(), summary
