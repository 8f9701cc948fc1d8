"""The precedence, written once for every channel (the table is in
docs/architecture/decision-core.md). Pure and in memory: `decide(state, channel,
identities)` reads only the state (`PRECEDENCE` lists each channel's steps in order).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from trustconsole.lib.phones import (
    PhoneNumberError,
    phone_is_anonymous,
    phone_normalise,
)
from trustconsole.policy.state import Entry, OrgState, account_entry
from trustconsole.policy.vocabulary import Channel, Reason, Step

# Steps in the order they are tried, per channel (docs/architecture/decision-core.md).
PRECEDENCE: dict[str, tuple[str, ...]] = {
    Channel.CHAT: (
        Step.BLACKLIST, Step.WHITELIST, Step.IP_BLOCK, Step.RULE, Step.DEFAULT,
    ),
    Channel.INBOUND_CALL: (
        Step.CALLER_ID, Step.BLACKLIST, Step.WHITELIST, Step.BLOCK_LIST, Step.RULE,
        Step.DEFAULT,
    ),
    Channel.OUTBOUND_CALL: (
        Step.ACCOUNT_STATUS, Step.BLACKLIST, Step.WHITELIST, Step.BLOCK_LIST,
        Step.DNC, Step.OUTBOUND_RULE, Step.DEFAULT,
    ),
    Channel.ACCOUNT_ACTION: (Step.ACCOUNT_STATUS, Step.BLACKLIST, Step.DEFAULT),
}  # fmt: skip
# Identity kinds a visitor's status applies through. IP addresses are shared (an
# office, a carrier NAT), so a listed visitor's IP neither blocks nor trusts.
VISITOR_KINDS = ("widget", "email", "phone")
HELD_STATUSES = frozenset({"on_hold", "blocked", "closed"})


@dataclass(frozen=True, slots=True)
class Identities:
    """Who is involved in what is being decided."""

    phones: tuple[str, ...] = ()  # E.164
    emails: tuple[str, ...] = ()  # lower-cased
    widget_ids: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    caller: str | None = None  # inbound: the caller ID as the provider sent it
    account: str | None = None  # a customer account's public id
    service: str = "voice"  # account actions: the service asked for


@dataclass(frozen=True, slots=True)
class Verdict:
    """One decision and what decided it."""

    channel: str
    allowed: bool
    reason: str
    step: str
    identity: tuple[str, str] | None = None  # (kind, value) that matched
    entry: Entry | None = None
    e164: str = ""  # inbound: the caller as E.164 ("" when withheld/unparseable)
    detail: str = ""
    # Rules as data (`trustconsole.rules`): the rule that decided, and the shadow
    # rules that matched too (each {id, name, version, mode, effect}).
    rule: dict[str, Any] | None = None
    shadow_rules: tuple[dict[str, Any], ...] = ()
    # Shadow block-list entries that matched: what they would have rejected.
    shadow_entries: tuple[dict[str, Any], ...] = ()

    @property
    def visitor_id(self) -> int | None:
        """The matched visitor's id (for logs and counters)."""
        entry = self.entry
        return entry.pk if entry is not None and entry.kind == "visitor" else None

    def explanation(self) -> dict[str, Any]:
        """What decided: step, reason, the identity that matched, the entry."""
        return explanation(self)


def _deny(channel: str, reason: str, step: str, *args: Any, **kw: Any) -> Verdict:
    return Verdict(channel, False, reason, step, *args, **kw)  # noqa: FBT003


def _allow(channel: str, reason: str, step: str, *args: Any, **kw: Any) -> Verdict:
    return Verdict(channel, True, reason, step, *args, **kw)  # noqa: FBT003


# The explanations of verdicts that name nothing (no identity, entry, rule or
# detail: most calls are "not listed"), by (channel, allowed, reason, step): a
# handful, built once instead of on every logged call.
_PLAIN_EXPLANATIONS: dict[tuple[str, bool, str, str], dict[str, Any]] = {}


def explanation(verdict: Verdict) -> dict[str, Any]:
    """The explanation stored with a logged decision and returned by the API."""
    if (
        verdict.identity is None
        and verdict.entry is None
        and verdict.rule is None
        and not verdict.detail
        and not verdict.shadow_rules
        and not verdict.shadow_entries
    ):
        key = (verdict.channel, verdict.allowed, verdict.reason, verdict.step)
        found = _PLAIN_EXPLANATIONS.get(key)
        if found is None:
            found = _PLAIN_EXPLANATIONS[key] = _explanation(verdict)
        # A dict (and lists) of its own for each caller, which may change it.
        return {**found, "shadow_rules": [], "shadow_entries": []}
    return _explanation(verdict)


def _explanation(verdict: Verdict) -> dict[str, Any]:
    steps = PRECEDENCE.get(verdict.channel, ())
    number = steps.index(verdict.step) + 1 if verdict.step in steps else None
    return {
        "channel": verdict.channel,
        "decision": "allow" if verdict.allowed else "deny",
        "reason": verdict.reason,
        "step": verdict.step,
        "step_number": number,
        "identity": (
            {"kind": verdict.identity[0], "value": verdict.identity[1]}
            if verdict.identity
            else None
        ),
        "entry": verdict.entry.as_dict() if verdict.entry is not None else None,
        "rule": verdict.rule,
        "shadow_rules": list(verdict.shadow_rules),
        "shadow_entries": list(verdict.shadow_entries),
        "sentence": sentence(verdict),
    }


_STEP_WORDS: dict[str, str] = {
    Step.CALLER_ID: "the caller ID rule",
    Step.ACCOUNT_STATUS: "the account status",
    Step.BLACKLIST: "the blacklist",
    Step.WHITELIST: "the whitelist",
    Step.IP_BLOCK: "an IP block",
    Step.BLOCK_LIST: "the voice block list",
    Step.DNC: "a Do-Not-Call list",
    Step.OUTBOUND_RULE: "an outbound call rule",
    Step.RULE: "an organisation rule",
    Step.DEFAULT: "no rule (nothing matched)",
    Step.FAIL_MODE: "the fail mode (state unreachable)",
}


def sentence(verdict: Verdict) -> str:
    """`Denied by the blacklist: phone +1… is visitor Mallory's, blacklisted by …`."""
    head = (
        ("Allowed" if verdict.allowed else "Denied")
        + " by "
        + _STEP_WORDS.get(verdict.step, verdict.step)
    )
    parts = []
    if verdict.identity:
        parts.append(f"{verdict.identity[0]} {verdict.identity[1]}")
    entry = verdict.entry
    if verdict.rule is not None and verdict.step in (Step.RULE, Step.OUTBOUND_RULE):
        parts.append(f"rule {verdict.rule['name']} (version {verdict.rule['version']})")
    if entry is not None:
        what = {
            "visitor": f"visitor {entry.label or entry.id[:8]} ({entry.status})",
            "ip_block": f"IP block {entry.label}",
            "blocked_number": f"block-list entry {entry.label}",
            "account": f"account {entry.label} ({entry.status})",
        }.get(entry.kind, entry.kind)
        parts.append(("matched " if parts else "") + what)
        if entry.added_by or entry.added_at:
            parts.append(
                "set by "
                + (entry.added_by or "someone")
                + (
                    f" on {entry.added_at[:16].replace('T', ' ')}"
                    if entry.added_at
                    else ""
                )
            )
        if entry.reason:
            parts.append(f"reason: {entry.reason}")
    elif verdict.detail:
        parts.append(verdict.detail)
    text = head + (": " + ", ".join(parts) if parts else "") + "."
    if verdict.shadow_entries:
        text += (
            " Would have been rejected by "
            + ", ".join(
                f"the shadow blacklist of visitor {e['label'] or e['id'][:8]}"
                if e["kind"] == "visitor"
                else f"the shadow block-list entry {e['label']}"
                for e in verdict.shadow_entries
            )
            + " (not acting)."
        )
    if verdict.shadow_rules:
        text += (
            " Shadow rules that matched (not acting): "
            + ", ".join(
                f"{r['name']} (version {r['version']})" for r in verdict.shadow_rules
            )
            + "."
        )
    return text


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@functools.lru_cache(maxsize=65536)
def caller_normalised(raw: str) -> str | None:
    """A caller ID as E.164, or None when it is not a valid number."""
    try:
        return phone_normalise(raw)
    except PhoneNumberError:
        return None


Match = tuple[Entry, str, str]  # (visitor entry, identity kind, value)


def _visitor_matches(state: OrgState, ids: Identities) -> tuple[Match | None, ...]:
    """(first blacklisted match, first whitelisted match), in one pass over the
    identities in kind order (widget id, email, phone)."""
    black = white = None
    idents, visitors = state.idents, state.visitors
    for kind, values in (
        ("widget", ids.widget_ids),
        ("email", ids.emails),
        ("phone", ids.phones),
    ):
        if not values:
            continue
        table = idents[kind]
        if not table:
            continue
        for value in values:
            found = visitors.get(table.get(value, -1))
            if found is None:
                continue
            status = found[0].status
            if status == "blacklisted":
                if black is None:
                    black = (found[0], kind, value)
            elif status == "whitelisted" and white is None:
                white = (found[0], kind, value)
            # a shadow blacklist (any other status) acts on nothing here
    return black, white


def account_denial(entry: Entry | None, service: str) -> str:
    """Why the account may not use `service` now ("" if it may)."""
    if entry is None:
        return ""
    if entry.status == "on_hold":
        return "The account is on hold (signup risk assessment)."
    if entry.status == "blocked":
        return "The account is blocked."
    if entry.status == "closed":
        return "The account is closed (permanently blocked)."
    if service in entry.services:
        return f"The account is restricted for {service}."
    return ""


def evaluate(state: OrgState, channel: str, ids: Identities) -> list[Verdict]:
    """Every denial of the channel's steps, in precedence order (a whitelist
    removes the steps it overrides). Empty: nothing denies (DNC is the outbound
    check's own step)."""
    return _evaluate(state, channel, ids)[0]


def _evaluate(
    state: OrgState, channel: str, ids: Identities
) -> tuple[list[Verdict], Match | None]:
    found: list[Verdict] = []
    steps = PRECEDENCE[channel]
    do_not_contact = channel != Channel.OUTBOUND_CALL or state.do_not_contact
    if Step.ACCOUNT_STATUS in steps and ids.account:
        entry = account_entry(state, ids.account)
        why = account_denial(entry, ids.service)
        if why:
            found.append(
                _deny(
                    channel,
                    Reason.ACCOUNT_RESTRICTED,
                    Step.ACCOUNT_STATUS,
                    ("account", ids.account),
                    entry,
                    detail=why,
                )
            )
    match, whitelisted = _visitor_matches(state, ids)
    if Step.BLACKLIST in steps and do_not_contact and match is not None:
        reason = (
            Reason.BLACKLISTED_DESTINATION
            if channel == Channel.OUTBOUND_CALL
            else Reason.BLACKLISTED_VISITOR
        )
        found.append(
            _deny(
                channel,
                reason,
                Step.BLACKLIST,
                (match[1], match[2]),
                match[0],
            )
        )
        return found, None
    if Step.WHITELIST not in steps:
        whitelisted = None
    if whitelisted is not None:
        return found, whitelisted
    if Step.IP_BLOCK in steps:
        for ip in ids.ips:
            block = state.ip_block(ip)
            if block is not None:
                found.append(
                    _deny(channel, Reason.IP_BLOCK, Step.IP_BLOCK, ("ip", ip), block)
                )
                break
    if Step.BLOCK_LIST in steps and do_not_contact and state.blocked:
        for phone in ids.phones:
            listed = state.blocked.get(phone)
            if listed is not None and not listed.shadow:  # shadow: inbound only
                reason = (
                    Reason.BLOCKED_DESTINATION
                    if channel == Channel.OUTBOUND_CALL
                    else Reason.BLOCK_LIST
                )
                found.append(
                    _deny(
                        channel,
                        reason,
                        Step.BLOCK_LIST,
                        ("phone", phone),
                        listed,
                    )
                )
                break
    return found, None


def decide(state: OrgState, channel: str, ids: Identities) -> Verdict:
    """The verdict: the first denial in precedence order, else why it is allowed."""
    if channel == Channel.INBOUND_CALL:
        return decide_call(state, ids.caller or "")
    denials, whitelisted = _evaluate(state, channel, ids)
    if denials:
        return denials[0]
    if whitelisted is not None:
        return _allow(
            channel,
            Reason.WHITELISTED,
            Step.WHITELIST,
            (whitelisted[1], whitelisted[2]),
            whitelisted[0],
        )
    return _allow(channel, Reason.NOT_LISTED, Step.DEFAULT)


def decide_call(state: OrgState, caller: str) -> Verdict:
    """An inbound call by its caller ID as the provider sent it (the hot path)."""
    channel = Channel.INBOUND_CALL
    voice = state.voice
    if phone_is_anonymous(caller):
        return Verdict(
            channel,
            voice.anonymous_policy != "reject",
            Reason.ANONYMOUS,
            Step.CALLER_ID,
            detail=f"caller ID {caller!r} is withheld",
        )
    phones = state.idents["phone"]
    if _E164.fullmatch(caller) and (
        caller in phones
        or caller in state.blocked
        or voice.unparseable_policy != "reject"
    ):
        # Providers send E.164: look it up as it is. Listed numbers were validated
        # when stored; an unlisted one is allowed whether or not it is valid, so it
        # is not parsed (parsing is most of a decision's cost).
        e164: str | None = caller
    else:
        e164 = caller_normalised(caller)
    if e164 is None:
        return Verdict(
            channel,
            voice.unparseable_policy != "reject",
            Reason.UNPARSEABLE,
            Step.CALLER_ID,
            detail=f"caller ID {caller!r} is not a phone number",
        )
    found = state.visitors.get(phones.get(e164, -1))
    shadow: tuple[dict[str, Any], ...] = ()
    if found is not None and found[0].shadow:  # logged, then decided as unlisted
        shadow, found = (found[0].as_dict(),), None
    if found is not None:
        entry = found[0]
        if entry.status == "blacklisted":
            return _deny(
                channel,
                Reason.BLACKLISTED_VISITOR,
                Step.BLACKLIST,
                ("phone", e164),
                entry,
                e164,
            )
        return _allow(
            channel, Reason.WHITELISTED, Step.WHITELIST, ("phone", e164), entry, e164
        )
    listed = state.blocked.get(e164)
    if listed is not None:
        if listed.shadow:  # logged as what it would have done; the call goes on
            return _allow(
                channel,
                Reason.NOT_LISTED,
                Step.DEFAULT,
                e164=e164,
                shadow_entries=(*shadow, listed.as_dict()),
            )
        return _deny(
            channel,
            Reason.BLOCK_LIST,
            Step.BLOCK_LIST,
            ("phone", e164),
            listed,
            e164,
            shadow_entries=shadow,
        )
    return _allow(
        channel, Reason.NOT_LISTED, Step.DEFAULT, e164=e164, shadow_entries=shadow
    )


def rule_verdict(channel: str, reason: str, step: str, detail: str) -> Verdict:
    """A denial by a rule outside the identity steps (the outbound check's own)."""
    return _deny(channel, reason, step, detail=detail)


def fail_verdict(channel: str, *, closed: bool, error: str) -> Verdict:
    """The verdict when the state cannot be consulted."""
    return Verdict(
        channel,
        not closed,
        Reason.FAIL_CLOSED if closed else Reason.FAIL_OPEN,
        Step.FAIL_MODE,
        detail=error[:200],
    )
