"""Monitoring pages: Settings → Remediation, the enterprise page, the Remediation
page's review list and billable refresh, a number's history with its chart, and a
request's "did the risk fall"; roles and tenant isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from remediation.choices import Bucket, SpamRisk
from remediation.models import (
    OwnedNumber,
    RemediationNumber,
    RemediationRequest,
    ReputationObservation,
    ReputationRefresh,
)
from remediation.selectors import settings_for
from tests.conftest import PASSWORD
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.models import AuditEntry

BATCH = numbers(4, start=400)


def login(client, user) -> Any:
    assert client.login(username=user.email, password=PASSWORD)
    return client


@pytest.fixture
def approved(settings, sandbox_from_client, org) -> Any:
    settings.REMEDIATION_SANDBOX_APPROVAL_SECONDS = 0
    enterprise = make_enterprise(org)
    own(enterprise, BATCH, spam_risk=None)
    return enterprise


def enterprise_url(enterprise) -> str:
    return f"/settings/remediation/enterprises/{enterprise.public_id}/"


def test_an_admin_enables_monitoring_and_registers_numbers(
    client, alice, approved
) -> None:
    """GIVEN an approved enterprise WHEN alice enables monitoring and registers two
    numbers from its page THEN the page shows the provider's status and the
    numbers as registered; the audit says so."""
    login(client, alice)
    page = client.get(enterprise_url(approved))
    assert b"Enable monitoring (billable)" in page.content
    bad = client.post(
        enterprise_url(approved),
        {"action": "monitoring_enable", "loa_document_id": "", "check_frequency": "x"},
    )
    assert bad.status_code == 400
    assert b"This field is required" in bad.content
    done = client.post(
        enterprise_url(approved),
        {
            "action": "monitoring_enable",
            "loa_document_id": "doc_1",
            "check_frequency": "weekly",
        },
        follow=True,
    )
    assert b"Monitoring enabled" in done.content
    assert b"Weekly" in done.content
    registered = client.post(
        enterprise_url(approved),
        {"action": "monitoring_register", "register_numbers": "\n".join(BATCH[:2])},
        follow=True,
    )
    assert b"2 number(s) registered for monitoring." in registered.content
    assert OwnedNumber.objects.filter(registered_at__isnull=False).count() == 2
    refused = client.post(
        enterprise_url(approved),
        {"action": "monitoring_register", "register_numbers": "+12025559999"},
    )
    assert refused.status_code == 400
    assert b"is not a number of this enterprise" in refused.content
    assert AuditEntry.objects.filter(action="reputation.numbers_register").count() == 1


def test_a_viewer_reads_but_changes_nothing(client, bob, approved) -> None:
    login(client, bob)
    page = client.get(enterprise_url(approved))
    assert page.status_code == 200
    assert b"Enable monitoring (billable)" not in page.content
    response = client.post(
        enterprise_url(approved),
        {
            "action": "monitoring_enable",
            "loa_document_id": "d",
            "check_frequency": "daily",
        },  # fmt: skip
    )
    assert response.status_code == 403
    approved.refresh_from_db()
    assert not approved.monitoring_enabled


def test_an_operator_refreshes_after_confirming_it_is_billable(
    client, alice, oscar, approved
) -> None:
    """GIVEN registered numbers WHEN oscar refreshes without ticking the billable
    box THEN nothing is queued; with it, one refresh job is queued."""
    login(client, alice)
    client.post(
        enterprise_url(approved),
        {
            "action": "monitoring_enable",
            "loa_document_id": "d",
            "check_frequency": "daily",
        },  # fmt: skip
    )
    client.post(
        enterprise_url(approved),
        {"action": "monitoring_register", "register_numbers": "\n".join(BATCH)},
    )
    OwnedNumber.objects.filter(e164=BATCH[0]).update(spam_risk=SpamRisk.HIGH)
    client.logout()
    login(client, oscar)
    index = client.get(f"/remediation/?enterprise={approved.public_id}")
    assert b"I understand this refresh is billable" in index.content
    form = {"enterprise": str(approved.public_id), "phone_numbers": [BATCH[0]]}
    unconfirmed = client.post("/remediation/refresh/", form, follow=True)
    assert b"Confirm that a refresh is billable" in unconfirmed.content
    assert not ReputationRefresh.objects.exists()
    queued = client.post(
        "/remediation/refresh/", {**form, "confirm_billable": "on"}, follow=True
    )
    assert b"Refresh of 1 number(s) queued (billable)." in queued.content
    assert ReputationRefresh.objects.get().phone_numbers == [BATCH[0]]


def test_the_review_list_suggests_a_batch(client, oscar, org, settings) -> None:
    """GIVEN one newly elevated number and one in cooldown WHEN oscar opens
    Remediation THEN both are listed for review, only the first is suggested, and
    the suggested batch comes pre-checked; switched off, no review list shows."""
    enterprise = make_enterprise(org)
    now = timezone.now()
    own(enterprise, BATCH[:2], spam_risk=SpamRisk.HIGH, elevated_at=now)
    OwnedNumber.objects.filter(e164=BATCH[1]).update(
        last_remediated_at=now - dt.timedelta(days=40), elevated_at=now
    )
    row = settings_for(organisation=org)
    row.cooldown_days = 60
    row.save()
    login(client, oscar)
    page = client.get(f"/remediation/?enterprise={enterprise.public_id}")
    assert b"Newly flagged: review (2)" in page.content
    assert b"Pick the suggested batch (1)" in page.content
    picked = client.get(f"/remediation/?enterprise={enterprise.public_id}&suggest=1")
    html = picked.content.decode()
    assert f'value="{BATCH[0]}" id="num-1"  checked' in html or (
        f'value="{BATCH[0]}"' in html and html.count("checked>") == 1
    )
    row.review_flagged = False
    row.save()
    off = client.get(f"/remediation/?enterprise={enterprise.public_id}")
    assert b"Newly flagged: review" not in off.content


def test_a_numbers_history_page_draws_its_risk(
    client, bob, org, django_assert_max_num_queries
) -> None:
    """GIVEN three observations (low, high, low) THEN the page shows them in a table
    and as an SVG chart with one point each, in a bounded number of queries."""
    enterprise = make_enterprise(org)
    (number,) = own(enterprise, BATCH[:1], spam_risk=SpamRisk.LOW)
    start = timezone.now() - dt.timedelta(days=3)
    for day, risk in enumerate(["low", "high", "low"]):
        ReputationObservation.objects.create(
            organisation=org, enterprise=enterprise, number=number,
            observed_at=start + dt.timedelta(days=day), source="scheduled",
            spam_risk=risk, maturity_score=70,
        )  # fmt: skip
    login(client, bob)
    with django_assert_max_num_queries(12):
        page = client.get(
            f"/remediation/enterprises/{enterprise.public_id}/numbers/{BATCH[0]}/"
        )
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'aria-label="Spam risk of' in html
    assert html.count('data-risk="high"') == 1
    assert html.count('data-risk="low"') == 2
    assert "Scheduled check" in html


def test_other_organisations_get_404(client, charlie, org, approved) -> None:
    login(client, charlie)
    assert client.get(enterprise_url(approved)).status_code == 404
    url = f"/remediation/enterprises/{approved.public_id}/numbers/{BATCH[0]}/"
    assert client.get(url).status_code == 404
    refresh = client.post(
        "/remediation/refresh/",
        {
            "enterprise": str(approved.public_id),
            "phone_numbers": [BATCH[0]],
            "confirm_billable": "on",
        },  # fmt: skip
    )
    assert refresh.status_code == 404


def test_a_request_shows_whose_risk_fell(client, bob, org) -> None:
    """GIVEN a completed request whose follow-up found one remediated number low and
    one still high THEN the request page says which is which."""
    enterprise = make_enterprise(org)
    own(enterprise, BATCH[:2])
    now = timezone.now()
    request = RemediationRequest.objects.create(
        organisation=org, enterprise=enterprise, status="completed",
        call_purpose="Reminders", phone_numbers_count=2, phone_numbers_submitted=2,
        phone_numbers_ineligible=0, created_by="oscar", provider="sandbox",
        results_available=True, follow_up_due_at=now, follow_up_done_at=now,
    )  # fmt: skip
    for position, (e164, after) in enumerate(
        zip(BATCH[:2], ["low", "high"], strict=True)
    ):
        RemediationNumber.objects.create(
            request=request, enterprise=enterprise, e164=e164, position=position,
            eligible=True, in_flight=False, outcome=Bucket.REMEDIATED,
            risk_before="high", risk_after=after, risk_after_at=now,
        )  # fmt: skip
    login(client, bob)
    html = client.get(f"/remediation/requests/{request.public_id}/").content.decode()
    assert "1 remediated and now low" in html
    assert "1 remediated but still flagged" in html


def test_monitoring_settings_are_admin_only_and_validated(
    client, alice, oscar, org
) -> None:
    login(client, alice)
    page = client.get("/settings/remediation/")
    assert f"/hooks/reputation/{org.public_id}/".encode() in page.content
    bad = client.post(
        "/settings/remediation/",
        {"action": "monitoring", "time_zone": "Mars/Olympus", "telnyx_public_key": "x"},
    )
    assert bad.status_code == 400
    assert b"is not a known time zone" in bad.content or b"Ed25519" in bad.content
    ok = client.post(
        "/settings/remediation/",
        {"action": "monitoring", "time_zone": "Europe/Berlin", "review_flagged": "on"},
        follow=True,
    )
    assert b"Monitoring settings saved." in ok.content
    org.refresh_from_db()
    assert org.time_zone == "Europe/Berlin"
    entry = AuditEntry.objects.get(action="reputation.settings_update")
    assert entry.reason == "Monitoring settings changed: time zone."
    client.logout()
    login(client, oscar)
    denied = client.post(
        "/settings/remediation/", {"action": "monitoring", "time_zone": "UTC"}
    )
    assert denied.status_code == 403
