"""The facts a rule condition can read, per channel: one registry in code.

Each channel lists its fact groups (top-level names in a condition, e.g. `caller`)
and their fields with a type, a description and an example. The same registry
type-checks conditions on save (`schema`), builds the facts of a live event
(`build`, only the groups the channel's rules read) and renders the facts
reference page (`reference`).

An event is a plain dict (what the gate saw, or what an operator pastes into
"Test with this event"); loaders derive the rest: the country of a number, the
domain of an email, counts over sliding windows from the shared cache
(`windows.py`), the local time in the organisation's time zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from trustconsole.lib.phones import phone_is_anonymous, phone_region
from trustconsole.rules import windows
from trustconsole.rules.language import ConditionError, Schema, check


class RuleChannel(models.TextChoices):
    """The event a rule listens to."""

    CHAT_MESSAGE = "chat_message", "Chat message"
    CHAT_EVENT = "chat_event", "Chat event (a user report, …)"
    INBOUND_CALL = "inbound_call", "Inbound call"
    OUTBOUND_CHECK = "outbound_check", "Outbound call check"
    ACCOUNT_SIGNUP = "account_signup", "Account signup"
    ACCOUNT_REVIEW = "account_review", "Account usage review"
    ACCOUNT_SIGNAL = "account_signal", "Account risk signal added"
    OUTBOUND_DENIAL = "outbound_denial", "Outbound call refused"


@dataclass(frozen=True)
class Fact:
    """One field of a fact group."""

    name: str
    type: str
    description: str
    example: Any


@dataclass
class EventContext:
    """One event being evaluated: its data and what loaders may read."""

    organisation_id: int
    channel: str
    data: Mapping[str, Any]
    time_zone: str = "UTC"
    now: dt.datetime | None = None
    # Sliding-window counts: count this event (live traffic) or only read (tests
    # and backtests never move the shared counters).
    count: bool = True
    # Live traffic that may be decided more than once (a redelivered webhook, a
    # decision taken again on fresher state): counts are read with this event
    # included but moved only by `engine.commit`, once the event is known new.
    defer: bool = False
    deferred: list[tuple[str, Mapping[str, int]]] = field(default_factory=list)
    # "group.field" names the rules read (costly facts are read only then).
    fields: frozenset[str] = frozenset()


Loader = Callable[[EventContext], dict[str, Any]]


@dataclass(frozen=True)
class Group:
    """A top-level fact (an object with fields)."""

    name: str
    description: str
    fields: tuple[Fact, ...]
    loader: Loader
    costs: str = ""  # what reading it costs, when it is not free


@dataclass(frozen=True)
class ChannelFacts:
    """The facts of one channel."""

    channel: str
    groups: tuple[Group, ...] = field(default_factory=tuple)

    def schema(self) -> Schema:
        """What a condition of this channel may name (for the checker)."""
        return Schema(
            variables={g.name: g.name for g in self.groups},
            objects={g.name: {f.name: f.type for f in g.fields} for g in self.groups},
        )

    def example(self) -> dict[str, Any]:
        """An event of this channel with every field's example value."""
        return {g.name: {f.name: f.example for f in g.fields} for g in self.groups}


# --- Helpers ------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _country(number: str) -> str:
    if not number or not number.startswith("+"):
        return ""
    return phone_region(number) or ""


def _domain(address: str) -> str:
    address = (address or "").strip().lower()
    if "@" in address:
        return address.rsplit("@", 1)[1]
    if "://" in address:
        address = address.split("://", 1)[1]
    return address.split("/", 1)[0].removeprefix("www.")


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value if isinstance(value, str) else str(value or "")


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "y")
    return bool(value)


def _part(ctx: EventContext, key: str) -> Mapping[str, Any]:
    value = ctx.data.get(key)
    return value if isinstance(value, Mapping) else {}


def _reads(ctx: EventContext, group: str, names: tuple[str, ...]) -> bool:
    """Does a rule read one of these fields? (Counts cost a cache round trip, and
    counting starts when a rule first reads the count.)"""
    return any(f"{group}.{name}" in ctx.fields for name in names)


def _counts(
    ctx: EventContext, scope: str, value: str, spans: Mapping[str, int]
) -> dict[str, int]:
    """Sliding-window counts of `value` (this event included when live)."""
    if not value:
        return dict.fromkeys(spans, 0)
    key = f"{ctx.organisation_id}:{scope}:{value}"
    if ctx.count and ctx.defer:
        ctx.deferred.append((key, spans))
        found = windows.counts(key, spans, hit=False, now=ctx.now)
        return {name: n + 1 for name, n in found.items()}
    return windows.counts(key, spans, hit=ctx.count, now=ctx.now)


# --- Groups shared by several channels ----------------------------------------------

WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


def _local(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "local")
    if given:  # a pasted event may fix the time
        return {
            "hour": _int(given, "hour"),
            "weekday": _int(given, "weekday", 1),
            "weekday_name": _str(given, "weekday_name"),
        }
    try:
        tz = zoneinfo.ZoneInfo(ctx.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    now = (ctx.now or dt.datetime.now(dt.UTC)).astimezone(tz)
    return {
        "hour": now.hour,
        "weekday": now.isoweekday(),
        "weekday_name": WEEKDAYS[now.weekday()],
    }


LOCAL: Group = Group(
    "local",
    "The time of the event in the organisation's time zone.",
    (
        Fact("hour", "int", "Hour of the day, 0–23.", 3),
        Fact("weekday", "int", "Day of the week, 1 = Monday … 7 = Sunday.", 6),
        Fact("weekday_name", "string", "Day of the week in words.", "Saturday"),
    ),
    _local,
)

VISITOR_FIELDS = (
    Fact("status", "string", "none, flagged, blacklisted or whitelisted.", "none"),
    Fact("trust_score", "int", "Trust score, 0–100 (100 for a new visitor).", 100),
    Fact("is_new", "bool", "First seen with this message.", example=False),
    Fact("email", "string", "Email given in the widget (lower-cased).", "a@b.test"),
    Fact("email_domain", "string", "Domain of that email.", "b.test"),
    Fact("phone", "string", "Phone given in the widget (E.164).", "+14155550100"),
    Fact("phone_country", "string", "Country of that phone (ISO 3166-1).", "US"),
    Fact("ip", "string", "Client IP address.", "203.0.113.9"),
    Fact("messages_10m", "int", "Messages from this visitor in 10 minutes.", 1),
    Fact("messages_1h", "int", "Messages from this visitor in 1 hour.", 1),
    Fact(
        "messages_recent",
        "int",
        "Messages from this visitor's widget id (their browser) in the velocity "
        "window (VISITORS_VELOCITY_WINDOW seconds, 60 unless set), this one "
        "included; counted in buckets of a tenth of the window, in the same "
        "shared-cache round trip as the gate's decision state.",
        1,
    ),
)


def _visitor(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "visitor")
    email, phone = _str(given, "email").lower(), _str(given, "phone")
    key = _str(given, "id") or _str(given, "widget_id") or email or phone
    out: dict[str, Any] = {
        "status": _str(given, "status") or "none",
        "trust_score": _int(given, "trust_score", 100),
        "is_new": _bool(given, "is_new"),
        "email": email,
        "email_domain": _domain(email),
        "phone": phone,
        "phone_country": _country(phone),
        "ip": _str(given, "ip"),
    }
    if "messages_10m" in given or "messages_1h" in given:
        out["messages_10m"] = _int(given, "messages_10m")
        out["messages_1h"] = _int(given, "messages_1h")
    elif not _reads(ctx, "visitor", ("messages_10m", "messages_1h")):
        out["messages_10m"] = out["messages_1h"] = 0
    else:
        counted = (
            _counts(ctx, "msg", key, {"messages_10m": 600, "messages_1h": 3600})
            if ctx.channel == RuleChannel.CHAT_MESSAGE
            else {}
        )
        out["messages_10m"] = counted.get("messages_10m", 0)
        out["messages_1h"] = counted.get("messages_1h", 0)
    out["messages_recent"] = _recent(ctx, given, key)
    return out


def _recent(ctx: EventContext, given: Mapping[str, Any], key: str) -> int:
    """The velocity window's count (live chat messages move it; others read 0)."""
    if "messages_recent" in given:
        return _int(given, "messages_recent")
    if (
        not _reads(ctx, "visitor", ("messages_recent",))
        or ctx.channel != RuleChannel.CHAT_MESSAGE
        or not ctx.count
        or not key
    ):
        return 0
    from django.conf import settings

    return windows.hit_and_count(
        f"{ctx.organisation_id}:chat:{key}",
        settings.VISITORS_VELOCITY_WINDOW,
        now=ctx.now,
    )


VISITOR = Group(
    "visitor",
    "The visitor who wrote (found by widget id, email or phone).",
    VISITOR_FIELDS,
    _visitor,
    costs="messages_*: one shared-cache round trip per event",
)


def _message(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "message")
    text = _str(given, "text")
    return {"text": text, "length": len(text), "widget": _str(given, "widget")}


MESSAGE = Group(
    "message",
    "The chat message.",
    (
        Fact(
            "text",
            "string",
            "Its text. Helpers: contains_any(message.text, "
            '["word", …]) and matches_re(message.text, "pattern").',
            "hello",
        ),
        Fact("length", "int", "Number of characters.", 5),
        Fact("widget", "string", "Name of the widget it came through.", "Website"),
    ),
    _message,
)


def _chat_event(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "event")
    return {"kind": _str(given, "kind"), "note": _str(given, "note")}


CHAT_EVENT = Group(
    "event",
    "The event recorded on the visitor (e.g. a user report from the widget).",
    (
        Fact("kind", "string", "user_report, flagged_keyword, …", "user_report"),
        Fact("note", "string", "What the reporter wrote.", "spam links"),
    ),
    _chat_event,
)

# --- Calls ----------------------------------------------------------------------------


def _number_facts(
    given: Mapping[str, Any], ctx: EventContext, group: str
) -> dict[str, Any]:
    """A number's facts; its country (a `phonenumbers` parse, the dearest of
    them) only when a rule of the set reads it."""
    raw = _str(given, "number")
    e164 = _str(given, "e164")
    out = {
        "number": raw,
        "e164": e164,
        "valid": bool(e164),
        "anonymous": phone_is_anonymous(raw) if raw else False,
    }
    if not ctx.fields or f"{group}.country" in ctx.fields:
        out["country"] = _country(e164)
    return out


def _caller(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "caller")
    out = _number_facts(given, ctx, "caller")
    out["status"] = _str(given, "status") or "none"
    if "trust_score" in given:
        out["trust_score"] = _int(given, "trust_score", 100)
    elif "caller.trust_score" in ctx.fields and out["e164"]:
        out["trust_score"] = _trust_score(ctx.organisation_id, out["e164"])
    else:
        out["trust_score"] = 100
    out["on_block_list"] = _bool(given, "on_block_list")
    # The gate's own count, from the round trip that logs the call (given by the
    # hook once the call is counted; a pasted event or a backtest gives it or 0).
    out["calls_recent"] = _int(given, "calls_recent")
    if "calls_10m" in given or "calls_1h" in given:
        out["calls_10m"] = _int(given, "calls_10m")
        out["calls_1h"] = _int(given, "calls_1h")
    elif not _reads(ctx, "caller", ("calls_10m", "calls_1h")):
        out["calls_10m"] = out["calls_1h"] = 0
    else:
        out.update(
            _counts(ctx, "caller", out["e164"], {"calls_10m": 600, "calls_1h": 3600})
        )
    return out


def _trust_score(organisation_id: int, e164: str) -> int:
    """The trust score of the visitor with this phone (one indexed query)."""
    from visitors.models import VisitorIdentifier

    found = (
        VisitorIdentifier.objects.filter(
            organisation_id=organisation_id, kind="phone", value=e164
        )
        .values_list("visitor__trust_score", flat=True)
        .first()
    )
    return 100 if found is None else int(found)


NUMBER_FIELDS = (
    Fact("number", "string", "As the provider sent it.", "+2348012345678"),
    Fact("e164", "string", 'E.164, "" when withheld or unparseable.', "+2348012345678"),
    Fact("valid", "bool", "A valid phone number.", example=True),
    Fact("anonymous", "bool", "Withheld / anonymous caller ID.", example=False),
    Fact("country", "string", "Country of the number (ISO 3166-1).", "NG"),
)

CALLER = Group(
    "caller",
    "Who calls.",
    (
        *NUMBER_FIELDS,
        Fact(
            "status",
            "string",
            "blacklisted or whitelisted when a listed visitor "
            "has this number, else none (the gate's memory holds listed visitors "
            "only).",
            "none",
        ),
        Fact("trust_score", "int", "Trust score of that visitor (100 if none).", 100),
        Fact(
            "on_block_list",
            "bool",
            "On the organisation's voice block list.",
            example=False,
        ),
        Fact("calls_10m", "int", "Calls from this number in 10 minutes.", 1),
        Fact("calls_1h", "int", "Calls from this number in 1 hour.", 1),
        Fact(
            "calls_recent",
            "int",
            "Calls from this number in the repeated-call window, this one "
            "included: the gate's own count, from the round trip that logs the "
            "call. A rule reading it runs once the call is logged: it records "
            "events, adds signals or flags, never rejects. Backtests read 0.",
            6,
        ),
    ),
    _caller,
    costs="calls_10m, calls_1h: one shared-cache round trip per call; "
    "trust_score: one indexed query per call (only when a rule reads it)",
)

# Facts known only once the event is counted (the inbound call's own count): the
# rules reading them run after the call is logged (`engine.rule_set(counted=True)`).
COUNTED_FIELDS: dict[str, frozenset[str]] = {
    RuleChannel.INBOUND_CALL: frozenset({"caller.calls_recent"}),
}


# Facts read from a sliding window of the shared cache (moved when live traffic
# reads them): a rule reading one cannot be skipped without changing the counts.
WINDOW_FIELDS: dict[str, frozenset[str]] = {
    RuleChannel.INBOUND_CALL: frozenset(
        {"caller.calls_10m", "caller.calls_1h", "callee.calls_1h"}
    ),
}


def window_fields(channel: str) -> frozenset[str]:
    """The facts of `channel` read from a sliding window."""
    return WINDOW_FIELDS.get(channel, frozenset())


def counted_fields(channel: str) -> frozenset[str]:
    """The facts of `channel` known only once its event is counted."""
    return COUNTED_FIELDS.get(channel, frozenset())


def reads_counted(channel: str, condition: str) -> bool:
    """Does `condition` read a fact known only once the event is counted?"""
    late = counted_fields(channel)
    if not late:
        return False
    try:
        return bool(check(condition, channel_facts(channel).schema()).fields & late)
    except ConditionError:
        return False


def _callee(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "callee")
    out = _number_facts(given, ctx, "callee")
    if "calls_1h" in given:
        out["calls_1h"] = _int(given, "calls_1h")
    elif not _reads(ctx, "callee", ("calls_1h",)):
        out["calls_1h"] = 0
    else:
        out.update(_counts(ctx, "callee", out["e164"], {"calls_1h": 3600}))
    return out


CALLEE = Group(
    "callee",
    "The number called.",
    (*NUMBER_FIELDS, Fact("calls_1h", "int", "Calls to this number in 1 hour.", 1)),
    _callee,
)


def _call(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "call")
    return {
        "provider": _str(given, "provider"),
        "attestation": _str(given, "attestation").upper()[:1],
        "verstat": _str(given, "verstat"),
        "stir_validated": _bool(given, "stir_validated"),
    }


CALL = Group(
    "call",
    "The call as the provider described it. STIR/SHAKEN may add risk; it never "
    "lets a call skip other rules.",
    (
        Fact(
            "provider",
            "string",
            "telnyx_call_control, telnyx_texml, twilio, plivo or generic.",
            "telnyx_call_control",
        ),
        Fact(
            "attestation",
            "string",
            'STIR/SHAKEN attestation "A", "B", "C", or "" '
            "(Telnyx shaken_stir_attestation).",
            "C",
        ),
        Fact(
            "verstat",
            "string",
            "Verification status (Twilio StirVerstat, Telnyx "
            "verstat), e.g. TN-Validation-Passed-A, TN-Validation-Failed.",
            "TN-Validation-Passed-C",
        ),
        Fact(
            "stir_validated",
            "bool",
            "The provider validated the signature (Telnyx shaken_stir_validated).",
            example=False,
        ),
    ),
    _call,
)

# --- Customer accounts and outbound calls --------------------------------------------


def _account(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "account")
    countries = given.get("destination_countries") or []
    email = _str(given, "email_domain") or _domain(_str(given, "email"))
    web = (
        _str(given, "website_domain")
        if "website_domain" in given
        else _domain(_str(given, "website"))
    )
    from accounts import risk  # the lists of free-mail and disposable domains

    return {
        "status": _str(given, "status"),
        "age_days": _int(given, "age_days"),
        "country": _str(given, "country").upper(),
        "country_high_risk": _bool(given, "country_high_risk"),
        "numbers_owned": _int(given, "numbers_owned"),
        "calls_30d": _int(given, "calls_30d"),
        "complaints": _int(given, "complaints"),
        "payment_flagged": _bool(given, "payment_flagged"),
        "email_domain": email,
        "email_free_mail": email in risk.FREE_MAIL_DOMAINS,
        "email_disposable": email in risk.DISPOSABLE_DOMAINS,
        "website_domain": web,
        "website_matches_email": bool(web) and risk.same_site(email, web),
        "destination_countries": [str(c).upper() for c in countries][:300],
        "risk_score": _int(given, "risk_score"),
    }


ACCOUNT: Group = Group(
    "account",
    "The customer account.",
    (
        Fact(
            "status",
            "string",
            "active, on_hold, restricted, blocked, closed.",
            "active",
        ),
        Fact("age_days", "int", "Days since signup.", 3),
        Fact("country", "string", "Country (ISO 3166-1).", "GB"),
        Fact(
            "country_high_risk",
            "bool",
            "The country is on the organisation's high-risk list (Accounts → "
            "Settings).",
            example=False,
        ),
        Fact("numbers_owned", "int", "Phone numbers the account owns.", 40),
        Fact("calls_30d", "int", "Outbound calls in the last 30 days.", 2),
        Fact("complaints", "int", "Carrier complaints.", 0),
        Fact(
            "payment_flagged",
            "bool",
            "Payment flagged by the payment provider.",
            example=False,
        ),
        Fact(
            "email_domain", "string", "Domain of the account's email.", "mailinator.com"
        ),
        Fact(
            "email_free_mail",
            "bool",
            "That domain is a free-mail provider (gmail.com, outlook.com, …; "
            "the product's list).",
            example=False,
        ),
        Fact(
            "email_disposable",
            "bool",
            "That domain hands out disposable addresses (mailinator.com, …; the "
            "product's list).",
            example=True,
        ),
        Fact(
            "website_domain",
            "string",
            'Host of its website without "www." ("" when it gave none).',
            "example.com",
        ),
        Fact(
            "website_matches_email",
            "bool",
            "The website and the email are on the same domain (or one is a "
            "subdomain of the other); false without a website.",
            example=False,
        ),
        Fact("destination_countries", "list<string>", "Countries it calls.", ["GB"]),
        Fact("risk_score", "int", "Signup risk score.", 30),
    ),
    _account,
)


DAY = {"n": 24 * 3600}


def _outbound(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "destination")
    out = _number_facts(given, ctx, "destination")
    out["status"] = _str(given, "status")
    caller = _str(given, "account_key") or "org"
    if "calls_24h" in given or not _reads(ctx, "destination", ("calls_24h",)):
        out["calls_24h"] = _int(given, "calls_24h")
    else:  # this call included; moved once the service knows it is made
        out["calls_24h"] = _counts(ctx, "out_calls", f"{caller}:{out['e164']}", DAY)[
            "n"
        ]
    # The harassment counter, read in the check's own round trip (given by it).
    out["calls_made"] = _int(given, "calls_made")
    if "denials_24h" in given or not _reads(ctx, "destination", ("denials_24h",)):
        out["denials_24h"] = _int(given, "denials_24h")
    else:
        key = f"{ctx.organisation_id}:out_denials:{caller}"
        out["denials_24h"] = windows.counts(key, DAY, hit=False, now=ctx.now)["n"]
    return out


def denial_count(organisation_id: int, account_key: str) -> None:
    """Count one refused outbound check of `account_key` ("account:<id>", "org")."""
    windows.hit(f"{organisation_id}:out_denials:{account_key}", DAY["n"])


DESTINATION = Group(
    "destination",
    "The number an account wants to call.",
    (
        *NUMBER_FIELDS,
        Fact("status", "string", "Status of the visitor with this number.", ""),
        Fact("calls_24h", "int", "Calls by this account to it in 24 hours.", 1),
        Fact("denials_24h", "int", "Denied checks of this account in 24 hours.", 0),
        Fact(
            "calls_made",
            "int",
            "Calls this account (or the organisation) already made to it in the "
            "harassment window, this one not included: the check's own counter, "
            "from its one round trip. Backtests read the value the check log "
            "kept (0 before the log started).",
            2,
        ),
    ),
    _outbound,
)


def _caller_id(ctx: EventContext) -> dict[str, Any]:
    given = _part(ctx, "caller_id")
    out = _number_facts(given, ctx, "caller_id")
    out["owned"] = _bool(given, "owned")
    return out


CALLER_ID = Group(
    "caller_id",
    "The caller ID the account wants to present.",
    (
        *NUMBER_FIELDS,
        Fact("owned", "bool", "Owned or verified by the account.", example=True),
    ),
    _caller_id,
)

# The organisation's settings read as facts (the voice defaults' numbers).
from trustconsole.rules.facts_settings import POLICY, VOICE  # noqa: E402

REGISTRY: dict[str, ChannelFacts] = {
    RuleChannel.CHAT_MESSAGE: ChannelFacts(
        RuleChannel.CHAT_MESSAGE, (VISITOR, MESSAGE, LOCAL)
    ),
    RuleChannel.CHAT_EVENT: ChannelFacts(
        RuleChannel.CHAT_EVENT, (VISITOR, CHAT_EVENT, LOCAL)
    ),
    RuleChannel.INBOUND_CALL: ChannelFacts(
        RuleChannel.INBOUND_CALL, (CALLER, CALLEE, CALL, VOICE, LOCAL)
    ),
    RuleChannel.OUTBOUND_CHECK: ChannelFacts(
        RuleChannel.OUTBOUND_CHECK, (ACCOUNT, CALLER_ID, DESTINATION, POLICY, LOCAL)
    ),
    RuleChannel.ACCOUNT_SIGNUP: ChannelFacts(
        RuleChannel.ACCOUNT_SIGNUP, (ACCOUNT, LOCAL)
    ),
}

# The usage review's, the risk signal's and the refused call's own groups.
from trustconsole.rules.facts_accounts import CHANNELS  # noqa: E402

REGISTRY.update(CHANNELS)


def channel_facts(channel: str) -> ChannelFacts:
    """The registry entry of a channel (KeyError for an unknown one)."""
    return REGISTRY[channel]


def build(ctx: EventContext, names: frozenset[str] | set[str]) -> dict[str, Any]:
    """The facts of `ctx` for the groups in `names` (the others cost nothing)."""
    out: dict[str, Any] = {}
    for group in REGISTRY[ctx.channel].groups:
        if group.name in names:
            out[group.name] = group.loader(ctx)
    return out


def reference() -> list[dict[str, Any]]:
    """Every channel's facts, for the reference page and the API."""
    return [
        {
            "channel": channel,
            "label": RuleChannel(channel).label,
            "groups": [
                {
                    "name": g.name,
                    "description": g.description,
                    "costs": g.costs,
                    "fields": [
                        {
                            "name": f"{g.name}.{f.name}",
                            "type": f.type,
                            "description": f.description,
                            "example": f.example,
                        }
                        for f in g.fields
                    ],
                }
                for g in entry.groups
            ],
        }
        for channel, entry in REGISTRY.items()
    ]
