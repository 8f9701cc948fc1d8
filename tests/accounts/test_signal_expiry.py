"""Account risk signals that expire: a rule's `expires_hours`, support's
`expires_at`, the beat task that records each expiry, the page and the API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts import tasks
from accounts.choices import AccountStatus, SignalSource, SignalType
from accounts.models import Account, AccountSignal
from accounts.services import account_signal_add
from tests.accounts.factories import AccountFactory
from tests.conftest import wait_for
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from trustconsole.rules.models import Rule

pytestmark = pytest.mark.usefixtures("rules_engine_fresh")

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
RULE = {
    "name": "Lead-gen domains",
    "channel": "account_signup",
    "condition": 'account.email_domain == "leads.example"',
    "effect": {
        "account_signal": {
            "type": "manual",
            "level": "medium",
            "note": "Lead-gen domain {account.email_domain}.",
            "expires_hours": 3,
        }
    },
}


@pytest.fixture
def support_api(org, api_client_for):
    return api_client_for(org, "support")


def _signup(support_api) -> dict:
    response = support_api.post(
        "/api/v1/accounts",
        {
            "company_name": "Lead Co",
            "email": "ops@leads.example",
            "website": "https://leads.example",
            "country": "GB",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_a_rule_signal_expires_and_the_task_lowers_the_score_and_audits(
    org, sue, api_client_for, support_api
) -> None:
    """GIVEN a live signup rule whose account signal expires after 3 hours WHEN an
    account signs up THEN it carries the signal (+20) until then; after 3 hours the
    beat task lowers the score to 0 and audits it in words, once."""
    admin = api_client_for(org, "admin")
    created = admin.post("/api/v1/rules/", RULE, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["current_version"]["effect_words"].endswith("for 3 h")
    rule_id = created.json()["id"]
    assert (
        admin.post(
            f"/api/v1/rules/{rule_id}/mode/", {"mode": "live"}, format="json"
        ).status_code
        == 200
    )
    with time_machine.travel(START, tick=False):
        body = _signup(support_api)
        [signal] = body["signals"]
        assert (signal["signal_type"], signal["weight"]) == ("manual", 20)
        assert signal["expires_at"] == "2026-03-02T12:00:00Z"
        assert signal["expired"] is False
        assert body["risk_score"] == 20
        client = Client()
        client.force_login(sue)
        page = client.get(f"/accounts/{body['id']}/").content.decode()
        assert "expires in 3 h" in page
    account = Account.objects.get(public_id=body["id"])

    with time_machine.travel(START + dt.timedelta(hours=3, minutes=1), tick=False):
        # Expired: no longer counted anywhere it is read, even before the task runs.
        detail = support_api.get(f"/api/v1/accounts/{body['id']}").json()
        assert detail["signals"] == []
        assert tasks.signals_expire() == 1
        assert tasks.signals_expire() == 0  # idempotent
        account.refresh_from_db()
        assert account.risk_score == 0
        listed = support_api.get(
            f"/api/v1/accounts/{body['id']}/signals?include_expired=true"
        ).json()["results"]
        assert [(s["signal_type"], s["expired"]) for s in listed] == [("manual", True)]
        assert (
            support_api.get(f"/api/v1/accounts/{body['id']}/signals").json()["results"]
            == []
        )
        page = client.get(f"/accounts/{body['id']}/").content.decode()
        assert "No risk signals." in page
        assert "Expired signals" in page and "Lead-gen domain leads.example." in page
    [entry] = AuditEntry.objects.filter(action="account.signal_expire")
    words = describe(entry)
    assert words.sentence == (
        "system: account signal expiry noted that the risk signal Noted by support "
        f"on the customer account {account} expired"
    )
    assert {(c.label, c.before, c.after) for c in words.changes} >= {
        ("Risk score", "20", "0")
    }
    assert AccountSignal.objects.get().expiry_recorded_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("hours", [0, 8761, "3", True, 2.5])
def test_the_rules_api_refuses_a_bad_expiry_naming_the_field(
    org, api_client_for, hours
) -> None:
    effect = {"account_signal": {**RULE["effect"]["account_signal"]}}
    effect["account_signal"]["expires_hours"] = hours
    response = api_client_for(org, "admin").post(
        "/api/v1/rules/", dict(RULE, effect=effect), format="json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "effect.account_signal.expires_hours"
    assert error["reason"] == "A whole number of hours, 1–8760 (or leave it out)."
    assert not Rule.objects.filter(name=RULE["name"]).exists()


@pytest.mark.django_db
def test_the_edit_form_keeps_an_expiry_and_refuses_a_bad_one(org, alice) -> None:
    rule = Rule.objects.get(organisation=org, builtin="signup_no_website")
    client = Client()
    client.force_login(alice)
    form = {
        "name": rule.name,
        "condition": 'account.website_domain == ""',
        "account_signal_level": "low",
        "account_signal_type": "no_website",
        "order": rule.order,
    }
    bad = client.post(
        f"/settings/rules/{rule.public_id}/",
        {**form, "account_signal_expires_hours": "0"},
    )
    assert bad.status_code == 400
    assert 'data-testid="error-account_signal_expires_hours"' in bad.content.decode()
    good = client.post(
        f"/settings/rules/{rule.public_id}/",
        {**form, "account_signal_expires_hours": "48"},
    )
    assert good.status_code == 302, good.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.current_version.effect["account_signal"]["expires_hours"] == 48
    page = client.get(f"/settings/rules/{rule.public_id}/").content.decode()
    assert 'name="account_signal_expires_hours" value="48"' in page


@pytest.mark.django_db
def test_support_posts_a_signal_with_an_expiry_in_the_future_only(
    org, support_api
) -> None:
    account = AccountFactory(organisation=org)
    url = f"/api/v1/accounts/{account.public_id}/signals"
    with time_machine.travel(START, tick=False):
        past = support_api.post(
            url,
            {
                "signal_type": "manual",
                "weight": 10,
                "expires_at": "2026-03-02T08:59:00Z",
            },
            format="json",
        )
        assert past.status_code == 400
        [error] = past.json()["errors"]
        assert (error["field"], error["reason"]) == (
            "expires_at",
            "An expiry must be in the future.",
        )
        bad = support_api.post(
            url,
            {"signal_type": "manual", "weight": 10, "expires_at": "soon"},
            format="json",
        )
        assert bad.status_code == 400
        assert [e["field"] for e in bad.json()["errors"]] == ["expires_at"]
        ok = support_api.post(
            url,
            {"signal_type": "manual", "weight": 10, "expires_at": "2026-03-02T11:00Z"},
            format="json",
        )
    assert ok.status_code == 201, ok.content
    assert (ok.json()["expires_at"], ok.json()["expired"]) == (
        "2026-03-02T11:00:00Z",
        False,
    )
    assert AccountSignal.objects.count() == 1


@pytest.mark.django_db
def test_an_expired_signal_no_longer_adds_up_to_a_restriction(org, support_api) -> None:
    """GIVEN three outbound-denial signals of +10 that expired WHEN a fourth is
    added THEN their type adds up to 10, below the default restriction rule's 40:
    the account is not restricted (four live ones would restrict voice)."""
    account = AccountFactory(organisation=org)
    url = f"/api/v1/accounts/{account.public_id}/signals"
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            response = support_api.post(
                url,
                {
                    "signal_type": "outbound_denials",
                    "weight": 10,
                    "expires_at": "2026-03-02T10:00Z",
                },
                format="json",
            )
            assert response.status_code == 201
    with time_machine.travel(START + dt.timedelta(hours=2), tick=False):
        response = support_api.post(
            url, {"signal_type": "outbound_denials", "weight": 10}, format="json"
        )
        assert response.status_code == 201
        detail = support_api.get(f"/api/v1/accounts/{account.public_id}").json()
    assert detail["status"] == AccountStatus.ACTIVE
    assert detail["risk_score"] == 10
    assert [s["weight"] for s in detail["signals"]] == [10]


@pytest.mark.worker
def test_a_real_worker_records_an_expired_signal(org, celery_worker_queue) -> None:
    """GIVEN a signal whose expiry has passed WHEN the beat task goes through the
    broker to a real worker THEN the stored score drops and the expiry is audited."""
    account = AccountFactory(organisation=org)
    signal = account_signal_add(
        actor=Actor.system_for(org, "test"),
        account=account,
        signal_type=SignalType.MANUAL,
        weight=40,
        source=SignalSource.SUPPORT,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert Account.objects.get(pk=account.pk).risk_score == 40
    AccountSignal.objects.filter(pk=signal.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    tasks.signals_expire.delay()
    wait_for(
        lambda: AuditEntry.objects.filter(action="account.signal_expire").first(),
        what="the worker to record the expiry",
    )
    assert Account.objects.get(pk=account.pk).risk_score == 0
    signal.refresh_from_db()
    assert signal.expiry_recorded_at is not None
