"""The rules API: admins edit, operators test, viewers read, other organisations 404."""

from __future__ import annotations

import pytest

from tests.rules.factories import make_rule
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.rules.defaults import DEFAULTS
from trustconsole.rules.models import Rule, RuleVersion

pytestmark = pytest.mark.django_db

NEW = {
    "name": "Nigerian robocalls",
    "channel": "inbound_call",
    "condition": 'caller.country == "NG" && caller.calls_10m > 5',
    "effect": {"reject": True, "signal": {"type": "spam", "level": "high"}},
}


def test_an_admin_creates_a_rule_in_shadow_and_changes_it_into_a_new_version(
    org, alice, api_client_for
) -> None:
    client = api_client_for(org, "admin")
    created = client.post("/api/v1/rules/", NEW, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["mode"], body["current_version"]["number"]) == ("shadow", 1)
    assert (
        body["current_version"]["effect_words"]
        == "add a High risk signal (Spam), reject the call"
    )
    changed = client.patch(
        f"/api/v1/rules/{body['id']}/",
        {"condition": 'caller.country == "NG"', "reason": "broader"},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["current_version"]["number"] == 2
    versions = client.get(f"/api/v1/rules/{body['id']}/versions/").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    entry = AuditEntry.objects.filter(action="rule.update").get()
    words = describe(entry)
    assert "changed the rule Nigerian robocalls" in words.sentence
    assert {c.label for c in words.changes} == {"Version", "Condition"}
    live = client.post(
        f"/api/v1/rules/{body['id']}/mode/", {"mode": "live"}, format="json"
    )
    assert live.json()["mode"] == "live"
    assert (
        "set the rule Nigerian robocalls to Live"
        in describe(AuditEntry.objects.get(action="rule.mode")).sentence
    )


def test_a_bad_condition_is_refused_with_its_line_column_and_reason(
    org, api_client_for
) -> None:
    client = api_client_for(org, "admin")
    bad = dict(NEW, condition='caller.country == "NG" &&\n  caller.countri == "GH"')
    response = client.post("/api/v1/rules/", bad, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "condition"
    assert error["reason"].startswith("Line 2, column 10: Unknown field countri")
    assert not Rule.objects.filter(builtin="").exists()


@pytest.mark.parametrize(
    ("effect", "field"),
    [
        ({"block": True}, "effect.block"),
        ({"signal": {"type": "spam", "level": "huge"}}, "effect.signal.level"),
        ({"explode": True}, "effect"),
        ({}, "effect"),
    ],
)
def test_a_bad_effect_is_refused_naming_the_part(
    org, api_client_for, effect, field
) -> None:
    response = api_client_for(org, "admin").post(
        "/api/v1/rules/", dict(NEW, effect=effect), format="json"
    )
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not Rule.objects.filter(builtin="").exists()


def test_operators_and_viewers_read_but_do_not_edit(org, api_client_for) -> None:
    rule = make_rule(org, "caller.valid", {"reject": True})
    for role in ("operator", "viewer"):
        client = api_client_for(org, role)
        # The rule and the organisation's default rule set.
        assert client.get("/api/v1/rules/").json()["count"] == 1 + len(DEFAULTS)
        assert client.post("/api/v1/rules/", NEW, format="json").status_code == 403
        assert (
            client.patch(
                f"/api/v1/rules/{rule.public_id}/", {"name": "x"}, format="json"
            ).status_code
            == 403
        )
        assert (
            client.post(
                f"/api/v1/rules/{rule.public_id}/mode/", {"mode": "live"}, format="json"
            ).status_code
            == 403
        )
    assert Rule.objects.filter(builtin="").get().mode == "shadow"
    assert RuleVersion.objects.filter(rule__builtin="").count() == 1


def test_another_organisations_rule_is_404(org, other_org, api_client_for) -> None:
    theirs = make_rule(other_org, "caller.valid", {"reject": True})
    client = api_client_for(org, "admin")
    for method, url in (
        ("get", f"/api/v1/rules/{theirs.public_id}/"),
        ("patch", f"/api/v1/rules/{theirs.public_id}/"),
        ("delete", f"/api/v1/rules/{theirs.public_id}/"),
        ("get", f"/api/v1/rules/{theirs.public_id}/versions/"),
        ("post", f"/api/v1/rules/{theirs.public_id}/mode/"),
    ):
        assert (
            getattr(client, method)(url, {"mode": "off"}, format="json").status_code
            == 404
        )
    listed = client.get("/api/v1/rules/").json()["results"]
    assert {r["id"] for r in listed} == {
        str(r.public_id) for r in Rule.objects.filter(organisation=org)
    }
    assert str(theirs.public_id) not in {r["id"] for r in listed}
    assert Rule.objects.filter(builtin="").get().mode == "shadow"


def test_an_operator_tests_a_draft_on_an_event_and_sees_the_trace(
    org, api_client_for
) -> None:
    client = api_client_for(org, "operator")
    response = client.post(
        "/api/v1/rules/test/",
        {
            "channel": "inbound_call",
            "condition": 'caller.country == "NG" && call.attestation != "A"',
            "event": {
                "caller": {"number": "+2348012345678", "e164": "+2348012345678"},
                "call": {"attestation": "C"},
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decided_by"]["name"] == "draft"
    assert body["trace"][0]["matched"] is True
    assert body["facts"]["caller"]["country"] == "NG"
    viewer = api_client_for(org, "viewer").post(
        "/api/v1/rules/test/", {}, format="json"
    )
    assert viewer.status_code == 403


def test_testing_the_organisations_rules_lists_live_and_shadow_matches(
    org, api_client_for
) -> None:
    make_rule(org, "caller.valid", {"reject": True}, mode="live", name="valid numbers")
    make_rule(org, 'caller.country == "NG"', {"reject": True}, name="nigeria")
    body = (
        api_client_for(org, "admin")
        .post(
            "/api/v1/rules/test/",
            {
                "channel": "inbound_call",
                "event": {"caller": {"e164": "+2348012345678"}},
            },
            format="json",
        )
        .json()
    )
    assert body["decided_by"]["name"] == "valid numbers"
    assert [r["name"] for r in body["shadow_matches"]] == ["nigeria"]


def test_a_test_with_a_bad_event_or_condition_is_a_400(org, api_client_for) -> None:
    client = api_client_for(org, "admin")
    unknown = client.post(
        "/api/v1/rules/test/",
        {"channel": "inbound_call", "event": {"nope": {}}},
        format="json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "event"
    bad = client.post(
        "/api/v1/rules/test/",
        {"channel": "inbound_call", "event": {}, "condition": "caller."},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["reason"].startswith("Line 1, column")


def test_the_facts_reference_comes_from_the_registry(org, api_client_for) -> None:
    body = api_client_for(org, "viewer").get("/api/v1/rules/facts/").json()
    channels = {c["channel"]: c for c in body["channels"]}
    assert set(channels) == {
        "chat_message",
        "chat_event",
        "inbound_call",
        "outbound_check",
        "account_signup",
        "account_review",
        "account_signal",
        "outbound_denial",
    }
    signal_fields = [
        f["name"] for g in channels["account_signal"]["groups"] for f in g["fields"]
    ]
    assert "signal.type_total" in signal_fields
    call_fields = [
        f["name"] for g in channels["inbound_call"]["groups"] for f in g["fields"]
    ]
    assert {"caller.country", "call.attestation", "call.verstat", "local.hour"} <= set(
        call_fields
    )


def test_deleting_a_rule_is_audited(org, alice, api_client_for) -> None:
    rule = make_rule(org, "caller.valid", {"reject": True})
    assert (
        api_client_for(org, "admin")
        .delete(f"/api/v1/rules/{rule.public_id}/")
        .status_code
        == 204
    )
    assert not Rule.objects.filter(builtin="").exists()
    assert AuditEntry.objects.filter(
        action="rule.delete", target_id=str(rule.public_id)
    ).exists()
