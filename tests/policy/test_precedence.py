"""The precedence table of docs/architecture/decision-core.md, checked for
every combination of identity states on every channel.

The expected verdicts are written here from the documented table, independently
of `trustconsole.policy.decide`: a change to either that the other does not follow
fails this test.
"""

from __future__ import annotations

import itertools
import time

import pytest

from trustconsole.policy.decide import Identities, decide, evaluate
from trustconsole.policy.state import Entry, OrgState
from trustconsole.policy.vocabulary import Channel

PHONE = "+14155550123"
EMAIL = "mallory@example.com"
WIDGET = "w-42"
IP = "198.51.100.7"
ACCOUNT = "2f1c7a0e-0000-4000-8000-000000000001"

VISITOR = ("none", "blacklisted", "whitelisted")
ACCOUNT_STATES = ("none", "active", "restricted_voice", "on_hold", "blocked")
CHANNELS = tuple(Channel.values)


def _state(visitor: str, ip_blocked: bool, listed: bool, account: str, dnc: bool):
    state = OrgState(1, caught_up_at=time.monotonic())
    if visitor != "none":
        entry = Entry("visitor", "v-1", 7, visitor, "alice", "2026-01-01", "because")
        idents = (("phone", PHONE), ("email", EMAIL), ("widget", WIDGET))
        state.visitors[7] = (entry, idents)
        for kind, value in idents:
            state.idents[kind][value] = 7
    if ip_blocked:
        state.nets[(4, 32)] = {
            int.from_bytes(bytes(map(int, IP.split("."))), "big"): Entry(
                "ip_block", "b-1", 3, label=f"{IP}/32"
            )
        }
    if listed:
        state.blocked[PHONE] = Entry("blocked_number", "n-1", 4, label=PHONE)
    state.do_not_contact = dnc
    if account == "none":
        state.accounts[ACCOUNT] = None
    else:
        status, services = {
            "active": ("active", frozenset()),
            "restricted_voice": ("restricted", frozenset({"voice"})),
            "on_hold": ("on_hold", frozenset()),
            "blocked": ("blocked", frozenset()),
        }[account]
        state.accounts[ACCOUNT] = Entry(
            "account", ACCOUNT, 9, status, label="Dialer", services=services
        )
    return state


def expected(channel, visitor, ip_blocked, listed, account, dnc):
    """(allowed, reason, step) from the documented table, first matching row."""
    account_denies = account in ("restricted_voice", "on_hold", "blocked")
    if channel == Channel.CHAT:
        if visitor == "blacklisted":
            return False, "blacklisted_visitor", "blacklist"
        if visitor == "whitelisted":
            return True, "whitelisted", "whitelist"
        if ip_blocked:
            return False, "ip_block", "ip_block"
        return True, "not_listed", "default"
    if channel == Channel.INBOUND_CALL:
        if visitor == "blacklisted":
            return False, "blacklisted_visitor", "blacklist"
        if visitor == "whitelisted":
            return True, "whitelisted", "whitelist"
        if listed:
            return False, "block_list", "block_list"
        return True, "not_listed", "default"
    if channel == Channel.OUTBOUND_CALL:
        if account_denies:
            return False, "account_restricted", "account_status"
        if dnc and visitor == "blacklisted":
            return False, "blacklisted_destination", "blacklist"
        if visitor == "whitelisted":
            return True, "whitelisted", "whitelist"
        if dnc and listed:
            return False, "blocked_destination", "block_list"
        return True, "not_listed", "default"
    # Account action: the account's status, then its email on the blacklist.
    if account_denies:
        return False, "account_restricted", "account_status"
    if visitor == "blacklisted":
        return False, "blacklisted_visitor", "blacklist"
    return True, "not_listed", "default"


COMBINATIONS = list(
    itertools.product(
        CHANNELS, VISITOR, (False, True), (False, True), ACCOUNT_STATES, (True, False)
    )
)


@pytest.mark.parametrize(
    ("channel", "visitor", "ip_blocked", "listed", "account", "dnc"),
    COMBINATIONS,
    ids=["-".join(map(str, c)) for c in COMBINATIONS],
)
def test_the_documented_precedence(channel, visitor, ip_blocked, listed, account, dnc):
    state = _state(visitor, ip_blocked, listed, account, dnc)
    ids = Identities(
        phones=(PHONE,),
        emails=(EMAIL,),
        widget_ids=(WIDGET,),
        ips=(IP,),
        caller=PHONE,
        account=ACCOUNT,
        service="voice",
    )
    if channel == Channel.CHAT:
        ids = Identities(emails=(EMAIL,), widget_ids=(WIDGET,), ips=(IP,))
    elif channel == Channel.ACCOUNT_ACTION:
        ids = Identities(emails=(EMAIL,), account=ACCOUNT, service="voice")
    verdict = decide(state, channel, ids)
    want = expected(channel, visitor, ip_blocked, listed, account, dnc)
    assert (verdict.allowed, verdict.reason, verdict.step) == want
    why = verdict.explanation()
    assert why["step"] == want[2] and why["decision"] == (
        "allow" if want[0] else "deny"
    )
    if want[2] in ("blacklist", "whitelist"):
        assert why["entry"]["id"] == "v-1" and why["entry"]["added_by"] == "alice"
        assert why["identity"]["kind"] in ("phone", "email", "widget")
    # The outbound check lists every identity violation, first the deciding one.
    if channel == Channel.OUTBOUND_CALL:
        denials = evaluate(state, channel, ids)
        assert [d.reason for d in denials][:1] == ([] if want[0] else [want[1]])


def test_withheld_and_unparseable_callers_follow_the_settings() -> None:
    state = _state("blacklisted", False, True, "none", True)
    assert decide(state, Channel.INBOUND_CALL, Identities(caller="anonymous")).step == (
        "caller_id"
    )
    verdict = decide(state, Channel.INBOUND_CALL, Identities(caller="garbage"))
    assert (verdict.allowed, verdict.reason) == (True, "unparseable")


def test_an_expired_ip_block_does_not_apply() -> None:
    state = _state("none", True, False, "none", True)
    entry = next(iter(state.nets[(4, 32)].values()))
    key = next(iter(state.nets[(4, 32)]))
    state.nets[(4, 32)][key] = Entry(
        entry.kind, entry.id, entry.pk, label=entry.label, expires=time.time() - 1
    )
    assert decide(state, Channel.CHAT, Identities(ips=(IP,))).allowed
