"""The organisation at a glance: the numbers behind the dashboard's charts.

One function builds them for both the page and `/api/v1/dashboard/`, so the JSON
always equals what the charts draw. Each app answers through its own selector.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.lib.timeseries import day_range, window_start

DAYS = 30


def _url(name: str, **query: str) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def dashboard_data(
    *, actor: Actor, today: dt.date | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every dashboard number of the actor's organisation, JSON-ready."""
    from accounts.selectors import dashboard_accounts
    from remediation.selectors import dashboard_outcomes
    from visitors.selectors import dashboard_visitors
    from voicegate.policy.selectors import dashboard_refusals
    from voicegate.selectors import dashboard_calls

    now = now or timezone.now()
    days = day_range(days=DAYS, today=today)
    since = window_start(days[0])
    first, last = days[0].isoformat(), days[-1].isoformat()
    calls = dashboard_calls(actor=actor, since=since)
    visitors = dashboard_visitors(actor=actor, since=since)
    accounts = dashboard_accounts(actor=actor)
    oldest = visitors["queue_oldest_at"]
    return {
        "organisation": actor.organisation.name,
        "generated_at": now.isoformat(),
        "first_day": first,
        "last_day": last,
        "calls": {
            "link": _url("voicegate:calls", date_from=first, date_to=last),
            "days": [
                {
                    "date": day.isoformat(),
                    "allowed": calls["per_day"].get((day, "allow"), 0),
                    "rejected": calls["per_day"].get((day, "reject"), 0),
                }
                for day in days
            ],
        },
        "chat_blocked": {
            "link": _url("visitors:visitor_list", status="blacklisted"),
            "days": [
                {
                    "date": day.isoformat(),
                    "blocked": visitors["chat_blocked"].get(day, 0),
                }
                for day in days
            ],
        },
        "review_queue": {
            "link": _url("visitors:review_queue"),
            "open": visitors["queue_open"],
            "oldest_at": oldest.isoformat() if oldest else None,
            "oldest_age_seconds": int((now - oldest).total_seconds())
            if oldest
            else None,
        },
        "trust_bands": {
            "link": _url("visitors:visitor_list"),
            "counts": visitors["bands"],
        },
        "accounts": {
            "link": _url("accounts:index"),
            "by_status": accounts["by_status"],
            "overdue_reviews": accounts["overdue_reviews"],
            "overdue_link": _url("accounts:index", overdue="on"),
        },
        "remediation_outcomes": {
            "link": _url("remediation:request_list"),
            "counts": dashboard_outcomes(actor=actor),
        },
        "outbound_refused": {
            "link": _url("voicegate:policy_denials"),
            "counts": dashboard_refusals(actor=actor, since=since),
        },
        "gate_fail_mode": {
            "link": _url("voicegate:calls", date_from=first, date_to=last),
            "counts": calls["fail_mode"],
        },
    }


# Colours of the console's palette (static/css/console.css).
RED, AMBER, GREEN, BLUE, GREY = "#b3261e", "#9a6700", "#1a7f37", "#2451b7", "#8a94a3"
BAND_COLOURS = {"danger": RED, "caution": AMBER, "safe": GREEN}
STATUS_COLOURS = {
    "active": GREEN,
    "on_hold": AMBER,
    "restricted": AMBER,
    "blocked": RED,
    "closed": GREY,
}
BUCKET_COLOURS = {
    "remediated": GREEN,
    "not_flagged": BLUE,
    "requires_review": AMBER,
    "ineligible": GREY,
    "refused": RED,
}


def dashboard_charts(data: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's numbers drawn as inline SVG."""
    from accounts.choices import AccountStatus
    from remediation.choices import Bucket
    from trustconsole.lib.charts import Bar, Series, horizontal_bars, per_day_bars
    from visitors.choices import Band
    from voicegate.policy.choices import Violation

    def link(base: str, **query: str) -> str:
        return f"{base.split('?')[0]}?{urlencode(query)}"

    calls = data["calls"]["days"]
    chat = data["chat_blocked"]["days"]
    return {
        "calls": per_day_bars(
            days=[d["date"] for d in calls],
            series=[
                Series("Rejected", RED, [d["rejected"] for d in calls]),
                Series("Allowed", GREEN, [d["allowed"] for d in calls]),
            ],
            title="Calls rejected and allowed per day",
        ),
        "chat_blocked": per_day_bars(
            days=[d["date"] for d in chat],
            series=[Series("Blocked", RED, [d["blocked"] for d in chat])],
            title="Chat messages blocked per day",
        ),
        "trust_bands": horizontal_bars(
            bars=[
                Bar(
                    label,
                    data["trust_bands"]["counts"][value],
                    BAND_COLOURS[value],
                    link(data["trust_bands"]["link"], band=value),
                )
                for value, label in Band.choices
            ],
            title="Visitors by trust band",
        ),
        "accounts": horizontal_bars(
            bars=[
                Bar(
                    label,
                    data["accounts"]["by_status"][value],
                    STATUS_COLOURS.get(value, GREY),
                    link(data["accounts"]["link"], status=value),
                )
                for value, label in AccountStatus.choices
            ],
            title="Customer account statuses",
        ),
        "remediation_outcomes": horizontal_bars(
            bars=[
                Bar(
                    label,
                    data["remediation_outcomes"]["counts"][value],
                    BUCKET_COLOURS.get(value, GREY),
                    data["remediation_outcomes"]["link"],
                )
                for value, label in Bucket.choices
            ],
            title="Remediated numbers by outcome",
        ),
        "outbound_refused": horizontal_bars(
            bars=[
                Bar(
                    label,
                    data["outbound_refused"]["counts"][value],
                    RED,
                    link(data["outbound_refused"]["link"], code=value),
                )
                for value, label in Violation.choices
            ],
            title="Outbound calls refused by violation",
        ),
    }
