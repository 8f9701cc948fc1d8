"""The decision: who is rejected, who wins, and what happens when state is gone."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection as db_connection

from tests.voicegate.conftest import call_initiated, hook_path, logged
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_upsert, visitor_whitelist
from voicegate import gate, services
from voicegate.choices import CallerPolicy, Decision, FailMode, Reason
from voicegate.gate import OrgSnapshot

pytestmark = pytest.mark.django_db


def _snapshot(**kw: Any) -> OrgSnapshot:
    kw.setdefault("phones", {})
    kw.setdefault("blocked", frozenset())
    return OrgSnapshot(**kw)


def test_blacklisted_visitor_number_is_rejected_in_any_format() -> None:
    org = _snapshot(phones={"+14155550123": ("blacklisted", 7)})
    for caller in (
        "+14155550123",
        "+1 (415) 555-0123",
        "sip:+14155550123@sip.telnyx.com",
    ):
        verdict = gate.decide(org, caller)
        assert (verdict.decision, verdict.reason) == (
            Decision.REJECT,
            Reason.BLACKLISTED_VISITOR,
        )
        assert verdict.visitor_id == 7


def test_whitelist_wins_over_the_block_list() -> None:
    org = _snapshot(
        phones={"+14155550123": ("whitelisted", 3)}, blocked=frozenset({"+14155550123"})
    )
    verdict = gate.decide(org, "+14155550123")
    assert (verdict.decision, verdict.reason) == (Decision.ALLOW, Reason.WHITELISTED)


def test_block_list_and_unlisted() -> None:
    org = _snapshot(blocked=frozenset({"+14155550124"}))
    assert gate.decide(org, "+14155550124").reason == Reason.BLOCK_LIST
    assert gate.decide(org, "+14155550125").decision == Decision.ALLOW


@pytest.mark.parametrize("caller", ["anonymous", "Restricted", "", "+266696687"])
def test_anonymous_follows_the_setting(caller: str) -> None:
    allow = gate.decide(_snapshot(), caller)
    assert (allow.decision, allow.reason) == (Decision.ALLOW, Reason.ANONYMOUS)
    reject = gate.decide(_snapshot(anonymous_policy=CallerPolicy.REJECT), caller)
    assert (reject.decision, reject.reason) == (Decision.REJECT, Reason.ANONYMOUS)


def test_unparseable_follows_its_own_setting() -> None:
    assert gate.decide(_snapshot(), "+1 555 123 4567").reason == Reason.UNPARSEABLE
    strict = _snapshot(unparseable_policy=CallerPolicy.REJECT)
    assert gate.decide(strict, "garbage").decision == Decision.REJECT


@pytest.mark.django_db(transaction=True)
def test_blacklist_applies_to_the_next_call_in_this_process(
    org, telnyx_signer, make_connection, client, telnyx_api
) -> None:
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=["+14155550123"])

    def call() -> str:
        body = json.dumps(call_initiated("+14155550123")).encode()
        response = client.post(
            hook_path(connection),
            body,
            content_type="application/json",
            **telnyx_signer.headers(body),
        )
        assert response.status_code == 200
        return response.json()["decision"]

    assert call() == "allow"
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    assert call() == "reject"
    visitor_whitelist(actor=actor, visitor=visitor, reason="verified customer")
    services.blocked_number_add(actor=actor, number="+14155550123")
    assert call() == "allow"


def _break_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the connection at a database that is not there, and drop the live one."""
    db_connection.close()
    if db_connection.vendor == "sqlite":
        monkeypatch.setitem(
            db_connection.settings_dict, "NAME", "/nonexistent/dir/gone.sqlite3"
        )
    else:
        monkeypatch.setitem(db_connection.settings_dict, "PORT", "1")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fail_mode", "expected", "reason"),
    [(FailMode.OPEN, "allow", "fail_open"), (FailMode.CLOSED, "reject", "fail_closed")],
)
def test_database_unreachable_follows_the_fail_mode(
    org,
    telnyx_signer,
    make_connection,
    client,
    telnyx_api,
    monkeypatch,
    caplog,
    fail_mode,
    expected,
    reason,
) -> None:
    connection = make_connection(
        org, secret=telnyx_signer.public_b64, fail_mode=fail_mode
    )
    body = json.dumps(call_initiated("+14155550123")).encode()
    # A first call warms the gate, then a change forces it to read the database again.
    client.post(
        hook_path(connection), body, content_type="application/json",
        **telnyx_signer.headers(body),
    )  # fmt: skip
    services.blocked_number_add(actor=Actor.system_for(org, "t"), number="+14155550999")
    failures = gate.failure_count()
    _break_database(monkeypatch)
    body = json.dumps(call_initiated("+14155550123")).encode()
    with caplog.at_level(logging.CRITICAL, logger="voicegate.gate"):
        response = client.post(
            hook_path(connection), body, content_type="application/json",
            **telnyx_signer.headers(body),
        )  # fmt: skip
    monkeypatch.undo()
    db_connection.close()
    assert response.status_code == 200
    assert response.json() == {"decision": expected, "reason": reason}
    assert gate.failure_count() == failures + 1
    assert any(f"FAIL-{fail_mode.upper()}" in r.getMessage() for r in caplog.records)
    if expected == "reject":
        # Fail-closed still sends the reject command to the provider.
        assert [r.path.endswith("/actions/reject") for r in telnyx_api.requests] == [
            True
        ]
    else:
        assert telnyx_api.requests == []
    # With Redis the decision waits in its stream and reaches the call log once the
    # database is back; without Redis it could not be logged.
    stored = logged().filter(reason=reason).exists()
    assert stored is (gate.redis_client() is not None)
