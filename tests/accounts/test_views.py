"""Account pages: list, account page, review queue, request page, on-behalf form."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.choices import AccountStatus, RequestStatus
from accounts.models import Evidence, ReassessmentRequest
from tests.accounts.factories import (
    PNG,
    AccountFactory,
    RequestFactory,
    days_ago,
    png_upload,
)
from tests.conftest import PASSWORD
from trustconsole.core.models import AuditEntry


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_list_filters_and_keeps_its_queries_bounded(
    org, bob, django_assert_max_num_queries
) -> None:
    for n in range(8):
        AccountFactory(organisation=org, company_name=f"Open {n} Ltd")
    AccountFactory(organisation=org, company_name="Stuck Ltd", status="blocked")
    client = logged_in(bob)
    with django_assert_max_num_queries(12):
        response = client.get("/accounts/?status=blocked")
    html = response.content.decode()
    assert "Stuck Ltd" in html
    assert "Open 0 Ltd" not in html
    assert "Open 0 Ltd" in client.get("/accounts/").content.decode()


def test_the_queue_is_oldest_first_with_overdue_rows_highlighted(
    org, bob, django_assert_max_num_queries
) -> None:
    fresh = RequestFactory(account__organisation=org, company_name="Fresh")
    late = RequestFactory(
        account__organisation=org, company_name="Late", submitted=days_ago(15)
    )
    for n in range(5):
        RequestFactory(account__organisation=org, company_name=f"Mid {n}")
    client = logged_in(bob)
    # + 2 for the page's holders and internal notes (one query each).
    with django_assert_max_num_queries(14):
        html = client.get("/accounts/reviews/").content.decode()
    assert html.index("Late") < html.index("Fresh")
    assert (
        f'<tr id="item-{late.public_id}" class="overdue" data-testid="queue-row"'
        in html
    )
    assert late.sla_state() == "overdue" and fresh.sla_state() == "on_time"
    partial = client.get("/accounts/reviews/", headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode()


def test_support_lifts_a_hold_from_the_request_page(org, sue) -> None:
    request = RequestFactory(account__organisation=org)
    client = logged_in(sue)
    url = f"/accounts/requests/{request.public_id}/"
    refused = client.post(url, {"decision": "keep"})
    assert refused.status_code == 400
    assert "Give the internal reason" in refused.content.decode()
    response = client.post(url, {"decision": "lift", "reason": "Verified"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RequestStatus.LIFTED
    assert AuditEntry.objects.get(action="account.lift").actor_label == sue.email


def test_a_viewer_sees_pages_but_cannot_decide(org, bob) -> None:
    request = RequestFactory(account__organisation=org)
    client = logged_in(bob)
    page = client.get(f"/accounts/requests/{request.public_id}/").content.decode()
    assert "Record decision" not in page
    response = client.post(
        f"/accounts/requests/{request.public_id}/",
        {"decision": "lift", "reason": "x"},
    )
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


def test_charlie_gets_404_for_alphas_pages(org, charlie) -> None:
    request = RequestFactory(account__organisation=org)
    evidence = Evidence.objects.create(
        organisation=org, request=request, kind="ein", url="https://x.example"
    )
    client = logged_in(charlie)
    for url in (
        f"/accounts/{request.account.public_id}/",
        f"/accounts/requests/{request.public_id}/",
        f"/accounts/evidence/{evidence.public_id}/",
    ):
        assert client.get(url).status_code == 404, url
    blocked = client.post(
        f"/accounts/{request.account.public_id}/block/", {"reason": "x"}
    )
    assert blocked.status_code == 404


def test_support_raises_a_request_on_behalf_with_an_upload(org, sue) -> None:
    account = AccountFactory(organisation=org, status=AccountStatus.ON_HOLD)
    client = logged_in(sue)
    url = f"/accounts/{account.public_id}/requests/new/"
    bad = client.post(url, {"company_name": "Acme", "services_wanted": ["sms"]})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "A sample message is required when SMS is wanted." in html
    assert "Attach at least one evidence item" in html
    response = client.post(
        url,
        {
            "company_name": "Acme",
            "company_website": "https://acme.example",
            "use_case": "OTP",
            "services_wanted": ["sms"],
            "sample_message": "Code 1234",
            "destination_countries": "GB, us",
            "estimated_units_per_month": "5000",
            "estimated_spend_per_month": "90",
            "evidence_kind_1": "business_card",
            "evidence_file_1": png_upload(),
        },
    )
    assert response.status_code == 302
    request = ReassessmentRequest.objects.get()
    assert request.destination_countries == ["GB", "US"]
    evidence = request.evidence.get()
    page = client.get(f"/accounts/requests/{request.public_id}/").content.decode()
    assert f"/accounts/evidence/{evidence.public_id}/" in page
    download = client.get(f"/accounts/evidence/{evidence.public_id}/")
    assert b"".join(download.streaming_content) == PNG


def test_the_account_page_shows_signals_timeline_and_customer_alert(org, sue) -> None:
    account = AccountFactory(organisation=org)
    client = logged_in(sue)
    response = client.post(
        f"/accounts/{account.public_id}/restrict/",
        {"services": ["sms"], "reason": "Phishing reports"},
    )
    assert response.status_code == 302
    html = client.get(f"/accounts/{account.public_id}/").content.decode()
    # The timeline says it in words, with the change labelled.
    assert "account.restrict" not in html
    assert " restricted " in html and "Restricted services" in html
    assert "Email: Restrictions applied" in html
    assert "Your account has restrictions" in html
    assert "Phishing reports" in html


@pytest.mark.parametrize("role_user", ["oscar", "bob"])
def test_operators_and_viewers_cannot_restrict(org, role_user, request) -> None:
    user = request.getfixturevalue(role_user)
    account = AccountFactory(organisation=org)
    response = logged_in(user).post(
        f"/accounts/{account.public_id}/restrict/",
        {"services": ["sms"], "reason": "x"},
    )
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
