"""Browser pages of the core app: login, dashboard, switcher, settings, health."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from trustconsole.core.models import ApiToken, Membership
from trustconsole.core.tokens import token_hash


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_need_a_login(client, db) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_dashboard_shows_the_organisation_and_navigation(alice) -> None:
    html = logged_in(alice).get("/").content.decode()
    for item in (
        "Dashboard",
        "Security → Visitors",
        "Visitor reviews",
        "Inbox",
        "Voice",
        "Accounts",
        "Remediation",
        "Settings",
    ):
        assert item in html
    assert "Alpha" in html


def test_a_user_in_two_organisations_can_switch(alice, other_org) -> None:
    Membership.objects.create(user=alice, organisation=other_org, role="viewer")
    client = logged_in(alice)
    assert 'name="organisation"' in client.get("/").content.decode()
    response = client.post("/organisation/switch/", {"organisation": "beta"})
    assert response.status_code == 302
    me = client.get("/api/v1/me/").json()
    assert (me["organisation_slug"], me["role"]) == ("beta", "viewer")


def test_switching_to_a_foreign_organisation_is_404(alice, charlie, other_org) -> None:
    client = logged_in(alice)
    assert (
        client.post("/organisation/switch/", {"organisation": "beta"}).status_code
        == 404
    )
    assert client.get("/api/v1/me/").json()["organisation_slug"] == "alpha"


def test_a_viewer_sees_members_but_cannot_change_them(alice, bob) -> None:
    client = logged_in(bob)
    html = client.get("/settings/members/").content.decode()
    assert "alice@alpha.test" in html and "Add a member" not in html
    alice_membership = Membership.objects.get(user=alice)
    response = client.post(
        f"/settings/members/{alice_membership.public_id}/role/", {"role": "viewer"}
    )
    assert response.status_code == 403
    assert (
        client.post(
            "/settings/members/", {"email": "x@alpha.test", "role": "admin"}
        ).status_code
        == 403
    )
    alice_membership.refresh_from_db()
    assert alice_membership.role == "admin"


def test_the_outsider_gets_404_on_our_members(alice, charlie) -> None:
    membership = Membership.objects.get(user=alice)
    response = logged_in(charlie).post(
        f"/settings/members/{membership.public_id}/remove/"
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_adding_a_member_with_a_bad_email_shows_a_form_error(alice) -> None:
    response = logged_in(alice).post(
        "/settings/members/", {"email": "nope", "role": "viewer"}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert Membership.objects.count() == 1


def test_a_new_token_is_shown_once_and_stored_hashed(alice) -> None:
    client = logged_in(alice)
    response = client.post("/settings/tokens/", {"name": "zapier", "role": "viewer"})
    html = response.content.decode()
    token = ApiToken.objects.get(name="zapier")
    raw = html.split('data-testid="new-token">')[1].split("<")[0]
    assert token.token_hash == token_hash(raw)
    assert raw not in client.get("/settings/tokens/").content.decode()


def test_the_audit_log_shows_changes_and_pages_with_htmx(alice, bob) -> None:
    client = logged_in(alice)
    client.post(
        f"/settings/members/{Membership.objects.get(user=bob).public_id}/role/",
        {"role": "support", "reason": "rota"},
    )
    html = client.get("/settings/audit/").content.decode()
    assert "membership.change_role" in html and "rota" in html
    fragment = client.get("/settings/audit/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('<div id="audit-table">')
    assert "<html" not in fragment


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_unreachable(client) -> None:
    from trustconsole.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.update(broker_url="redis://127.0.0.1:1/0", broker_transport_options={})
    try:
        response = client.get("/healthz")
    finally:
        app.conf.update(broker_url=saved[0], broker_transport_options=saved[1])
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
