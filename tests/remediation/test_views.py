"""Pages: flagged numbers and submission, requests, request page, settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from remediation import poller, services
from remediation.choices import GateStatus, RemediationStatus, SpamRisk
from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationRequest,
    WebhookAttempt,
)
from remediation.providers import UpstreamRemediation
from remediation.selectors import settings_for
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def flagged(enterprise) -> list[str]:
    high, medium = numbers(2)
    low, none = numbers(2, start=10)
    own(enterprise, [high], spam_risk=SpamRisk.HIGH)
    own(enterprise, [medium], spam_risk=SpamRisk.MEDIUM)
    own(enterprise, [low], spam_risk=SpamRisk.LOW)
    own(enterprise, [none], spam_risk=None)
    return [high, medium, low, none]


def test_the_page_lists_flagged_numbers_to_pick(oscar, enterprise, flagged) -> None:
    high, medium, low, none = flagged
    page = browser(oscar).get("/remediation/").content.decode()
    assert high in page and medium in page
    assert low not in page and none not in page
    assert f'name="phone_numbers" value="{high}"' in page
    assert "Submit for remediation" in page


def test_busy_and_cooling_numbers_are_marked(
    oscar, org, enterprise, flagged, actor_for
) -> None:
    high, medium = flagged[:2]
    services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=[high],
        call_purpose="Reminders",
    )
    OwnedNumber.objects.filter(e164=medium).update(
        last_remediated_at=timezone.now() - dt.timedelta(days=2)
    )
    page = browser(oscar).get("/remediation/").content.decode()
    assert f'value="{high}" id="num-' in page
    row_high = page.split(f'value="{high}"')[1].split("</tr>")[0]
    assert "disabled" in row_high.split(">")[0]
    assert "in an in-flight request" in row_high
    assert "in cooldown (will be ineligible)" in page


def test_viewers_read_but_cannot_pick_or_submit(bob, enterprise, flagged) -> None:
    page = browser(bob).get("/remediation/").content.decode()
    assert flagged[0] in page
    assert 'name="phone_numbers"' not in page
    assert "Submit for remediation" not in page
    response = browser(bob).post(
        "/remediation/submit/",
        {
            "enterprise": enterprise.public_id,
            "phone_numbers": flagged[:1],
            "call_purpose": "x",
        },
    )
    assert response.status_code == 403
    assert not RemediationRequest.objects.exists()


def test_closed_gates_are_explained_and_nothing_can_be_picked(oscar, org) -> None:
    enterprise = make_enterprise(org, approved=False, reputation_status="approved")
    own(enterprise, numbers(1))
    page = browser(oscar).get("/remediation/").content.decode()
    assert "Remediation cannot be submitted yet" in page
    assert "loa_status is pending" in page
    assert "Terms of Service are not accepted" in page
    assert 'name="phone_numbers"' not in page


def test_without_enterprises_the_page_says_so(alice, org) -> None:
    page = browser(alice).get("/remediation/").content.decode()
    assert "No enterprises yet" in page
    assert "/settings/remediation/" in page


def test_submitting_from_the_page(oscar, enterprise, flagged) -> None:
    """GIVEN flagged numbers WHEN two are checked and submitted with a purpose THEN
    a pending request exists and the request page opens."""
    response = browser(oscar).post(
        "/remediation/submit/",
        {
            "enterprise": enterprise.public_id,
            "phone_numbers": flagged[:2],
            "call_purpose": "Appointment reminders",
            "contact_email": "ops@example.com",
        },
        follow=True,
    )
    request = RemediationRequest.objects.get()
    assert (
        response.redirect_chain[-1][0] == f"/remediation/requests/{request.public_id}/"
    )
    assert request.phone_numbers_count == 2
    assert request.created_by == "oscar@alpha.test"
    assert "2 number(s) submitted for remediation" in response.content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"call_purpose": "x"}, "phone_numbers must hold 1 to 2,000 numbers"),
        ({"phone_numbers": "PICK", "call_purpose": ""}, "This field is required"),
        (
            {
                "phone_numbers": "PICK",
                "call_purpose": "x",
                "webhook_url": "http://example.com/h",
            },
            "webhook_url must be an https:// URL",
        ),
    ],
)
def test_a_bad_submission_shows_why_and_changes_nothing(
    oscar, enterprise, flagged, form, message
) -> None:
    data = {"enterprise": enterprise.public_id, **form}
    if data.get("phone_numbers") == "PICK":
        data["phone_numbers"] = flagged[:1]
    response = browser(oscar).post("/remediation/submit/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RemediationRequest.objects.exists()


def test_another_organisations_enterprise_is_404(charlie, enterprise, flagged) -> None:
    client = browser(charlie)
    assert (
        client.get(f"/remediation/?enterprise={enterprise.public_id}").status_code
        == 404
    )
    response = client.post(
        "/remediation/submit/",
        {
            "enterprise": enterprise.public_id,
            "phone_numbers": flagged[:1],
            "call_purpose": "x",
        },
    )
    assert response.status_code == 404


def _request(
    org: Any, enterprise: Any, actor_for: Any, count: int = 3, **kw: Any
) -> Any:
    batch = numbers(count, start=100 + RemediationRequest.objects.count() * 10)
    own(enterprise, batch)
    return services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=batch,
        call_purpose="Reminders",
        **kw,
    )


def test_the_requests_list_filters_by_status(
    bob, org, enterprise, actor_for, django_assert_max_num_queries
) -> None:
    pending = _request(org, enterprise, actor_for)
    done = _request(org, enterprise, actor_for)
    RemediationRequest.objects.filter(pk=done.pk).update(
        status=RemediationStatus.COMPLETED
    )
    for _ in range(5):
        _request(org, enterprise, actor_for, count=1)
    client = browser(bob)
    with django_assert_max_num_queries(12):
        page = client.get("/remediation/requests/").content.decode()
    assert page.count('data-testid="request-status"') == 7
    completed = client.get("/remediation/requests/?status=completed").content.decode()
    assert completed.count('data-testid="request-status"') == 1
    assert str(done.public_id) in completed and str(pending.public_id) not in completed
    partial = client.get(
        "/remediation/requests/?status=pending", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in partial and partial.count("data-row-link") == 6


def test_the_request_page_shows_progress_buckets_tiers_webhooks_and_caveat(
    bob, org, enterprise, actor_for, settings
) -> None:
    """GIVEN a request with tier-1 results for two of four numbers and a failed
    webhook attempt THEN its page shows the progress (2 of 4), the five buckets,
    the tier timestamps, the attempt and the caveat about downstream labelling."""
    request = _request(
        org, enterprise, actor_for, count=4, webhook_url="https://hooks.example.com/r"
    )
    batch = list(request.numbers.values_list("e164", flat=True))
    token = poller.claim(request_id=request.pk, due_only=False)
    poller.apply_snapshot(
        request_id=request.pk,
        token=token,
        snapshot=UpstreamRemediation(
            id="up-9",
            status="in_progress",
            tier1_completed_at=timezone.now(),
            results={"remediated": batch[:1], "not_flagged": batch[1:2]},
        ),
    )
    delivery = request.deliveries.get()
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        status_code=503,
        error="answered HTTP 503",
    )
    page = browser(bob).get(f"/remediation/requests/{request.public_id}/")
    html = page.content.decode()
    assert "2 of 4 submitted number(s) have a result" in html
    assert 'value="2"' in html and 'max="4"' in html
    for bucket in (
        "remediated",
        "not_flagged",
        "requires_review",
        "ineligible",
        "refused",
    ):
        assert f'data-testid="bucket-{bucket}"' in html
    assert "may still block or label calls" in html
    assert "answered HTTP 503" in html
    assert 'hx-trigger="every 3s"' in html
    assert "Cancel this remediation request" not in html  # viewer, not pending
    live = browser(bob).get(
        f"/remediation/requests/{request.public_id}/", HTTP_HX_REQUEST="true"
    )
    assert live.content.decode().startswith('<div id="live"')


def test_a_finished_request_stops_refreshing(bob, org, enterprise, actor_for) -> None:
    request = _request(org, enterprise, actor_for)
    services.remediation_cancel(actor=actor_for(org, "operator"), request=request)
    html = browser(bob).get(f"/remediation/requests/{request.public_id}/").content
    assert b"every 3s" not in html
    assert b"Cancelled" in html


def test_cancelling_from_the_page(oscar, org, enterprise, actor_for) -> None:
    request = _request(org, enterprise, actor_for)
    client = browser(oscar)
    assert (
        b"Cancel this remediation request"
        in client.get(f"/remediation/requests/{request.public_id}/").content
    )
    url = f"/remediation/requests/{request.public_id}/cancel/"
    # The one confirmation policy: without a reason nothing is cancelled.
    refused = client.post(url)
    assert refused.status_code == 400
    assert b"Give the reason; it is kept in the audit trail." in refused.content
    response = client.post(url, {"reason": "wrong numbers"}, follow=True)
    assert b"Remediation request cancelled." in response.content
    again = client.post(url, {"reason": "again"}, follow=True)
    assert b"Only a pending request can be cancelled" in again.content


def test_another_organisations_request_is_404(
    charlie, org, enterprise, actor_for
) -> None:
    request = _request(org, enterprise, actor_for)
    client = browser(charlie)
    assert client.get(f"/remediation/requests/{request.public_id}/").status_code == 404
    assert (
        client.post(f"/remediation/requests/{request.public_id}/cancel/").status_code
        == 404
    )


# --- Settings → Remediation -------------------------------------------------------


def test_admins_register_an_enterprise_and_see_the_secret_hint(alice, org) -> None:
    services.settings_row_ensure(organisation=org)  # a signing secret exists
    client = browser(alice)
    page = client.get("/settings/remediation/").content.decode()
    secret = settings_for(organisation=org).webhook_secret
    assert secret not in page and "••••" + secret[-4:] in page
    response = client.post(
        "/settings/remediation/",
        {"action": "enterprise", "name": "Northwind Dental LLC"},
        follow=True,
    )
    enterprise = Enterprise.objects.get()
    assert response.redirect_chain[-1][0].endswith(f"/{enterprise.public_id}/")
    duplicate = client.post(
        "/settings/remediation/",
        {"action": "enterprise", "name": "Northwind Dental LLC"},
    )
    assert duplicate.status_code == 400
    assert "exists" in duplicate.content.decode()


def test_others_read_enterprises_but_not_the_secret(bob, org, enterprise) -> None:
    services.settings_row_ensure(organisation=org)  # a signing secret exists
    client = browser(bob)
    page = client.get("/settings/remediation/").content.decode()
    assert enterprise.name in page
    assert settings_for(organisation=org).webhook_secret not in page
    assert (
        client.post(
            "/settings/remediation/", {"action": "enterprise", "name": "X"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/settings/remediation/enterprises/{enterprise.public_id}/",
            {"action": "accept_terms"},
        ).status_code
        == 403
    )


def test_provider_settings_and_secret_rotation(alice, org) -> None:
    client = browser(alice)
    refused = client.post(
        "/settings/remediation/",
        {
            "action": "settings",
            "provider": "telnyx",
            "api_base": "",
            "cooldown_days": 14,
        },
    )
    assert refused.status_code == 400
    assert "Telnyx needs the organisation" in refused.content.decode()
    saved = client.post(
        "/settings/remediation/",
        {
            "action": "settings",
            "provider": "telnyx",
            "api_key": "KEY0123456789abcd",
            "api_base": "",
            "cooldown_days": 14,
        },
        follow=True,
    )
    assert b"Remediation settings saved." in saved.content
    row = settings_for(organisation=org)
    assert (row.provider, row.cooldown_days, row.api_key) == (
        "telnyx",
        14,
        "KEY0123456789abcd",
    )
    page = saved.content.decode()
    assert "KEY0123456789abcd" not in page and "••••abcd" in page
    before = row.webhook_secret
    refused = client.post("/settings/remediation/", {"action": "rotate"})
    assert (
        refused.status_code == 400 and b'data-testid="confirm-page"' in refused.content
    )
    assert settings_for(organisation=org).webhook_secret == before
    rotated = client.post(
        "/settings/remediation/", {"action": "rotate", "reason": "Receiver rebuilt"}
    )
    after = settings_for(organisation=org).webhook_secret
    assert after != before
    # The new secret is shown once, in the answer to the rotation, then only its end.
    assert rotated.status_code == 200 and after in rotated.content.decode()
    again = client.get("/settings/remediation/").content.decode()
    assert after not in again and "••••" + after[-4:] in again
    entry = AuditEntry.objects.get(action="remediation.webhook_secret_rotate")
    assert after not in str(entry.after) and after[:10] not in str(entry.after)
    assert entry.reason == "Receiver rebuilt"


def test_admins_manage_gates_terms_and_numbers(alice, org) -> None:
    """GIVEN a new enterprise WHEN an admin approves both gates, accepts the terms
    and adds flagged numbers on its page THEN it can remediate and the numbers show
    on the Remediation page; each change is in its history."""
    enterprise = make_enterprise(org, approved=False)
    client = browser(alice)
    page_url = f"/settings/remediation/enterprises/{enterprise.public_id}/"
    client.post(
        page_url,
        {
            "action": "gates",
            "name": enterprise.name,
            "upstream_enterprise_id": "",
            "reputation_status": GateStatus.APPROVED,
            "loa_status": GateStatus.APPROVED,
        },
    )
    client.post(page_url, {"action": "accept_terms"})
    bad = client.post(
        page_url, {"action": "add_numbers", "numbers": "+12025550142\nnot a number"}
    )
    assert bad.status_code == 400
    assert "not a phone number" in bad.content.decode()
    client.post(
        page_url,
        {
            "action": "add_numbers",
            "numbers": "+1 202 555 0142, +12025550143",
            "spam_risk": "high",
            "monitored": "on",
        },
    )
    enterprise.refresh_from_db()
    assert enterprise.can_remediate
    assert enterprise.terms_accepted_by == "alice@alpha.test"
    assert sorted(enterprise.numbers.values_list("e164", flat=True)) == [
        "+12025550142",
        "+12025550143",
    ]
    client.post(f"{page_url}numbers/+12025550143/", {"spam_risk": "low"})
    client.post(
        f"{page_url}numbers/+12025550142/", {"action": "remove", "reason": "Ported"}
    )
    assert list(enterprise.numbers.values_list("e164", "spam_risk")) == [
        ("+12025550143", "low")
    ]
    history = client.get(page_url).content.decode()
    for action in (
        "enterprise.update",
        "enterprise.numbers_add",
        "enterprise.number_update",
        "enterprise.number_remove",
    ):
        assert action in history


def test_an_enterprise_with_requests_cannot_be_removed(
    alice, org, enterprise, actor_for
) -> None:
    _request(org, enterprise, actor_for)
    response = browser(alice).post(
        f"/settings/remediation/enterprises/{enterprise.public_id}/",
        {"action": "delete", "reason": "duplicate"},
        follow=True,
    )
    assert "must stay on record" in response.content.decode()
    assert Enterprise.objects.filter(pk=enterprise.pk).exists()


def test_the_settings_navigation_links_to_remediation(alice) -> None:
    page = browser(alice).get("/settings/members/").content.decode()
    assert 'href="/settings/remediation/"' in page


def test_the_remediation_page_query_count_does_not_grow(
    oscar, org, enterprise, django_assert_max_num_queries
) -> None:
    own(enterprise, numbers(60, start=500))
    client = browser(oscar)
    with django_assert_max_num_queries(16):
        page = client.get("/remediation/").content.decode()
    assert page.count('name="phone_numbers"') == 60
    with django_assert_max_num_queries(16):
        client.get(f"/settings/remediation/enterprises/{enterprise.public_id}/")
