"""A support user works the review queue in a real Chromium."""

from __future__ import annotations

import re

import pytest

from accounts.choices import AccountStatus, RequestStatus
from accounts.models import Evidence
from tests.accounts.factories import PDF, RequestFactory, days_ago

pytestmark = pytest.mark.browser


def test_support_opens_an_overdue_request_views_evidence_and_lifts(
    login, sue, org, _private_media
) -> None:
    """GIVEN an overdue request with an uploaded PDF WHEN sue opens the queue, the
    request and the evidence, and lifts the hold THEN the account is active."""
    from django.core.files.base import ContentFile

    request = RequestFactory(
        account__organisation=org, company_name="Overdue Ltd", submitted=days_ago(15)
    )
    RequestFactory(account__organisation=org, company_name="Fresh Ltd")
    evidence = Evidence(organisation=org, request=request, kind="ein")
    evidence.original_name = "ein-letter.pdf"
    evidence.content_type = "application/pdf"
    evidence.size = len(PDF)
    evidence.file.save("evidence/test/ein.pdf", ContentFile(PDF), save=False)
    evidence.save()

    page = login(sue)
    page.get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name=re.compile(r"^Account review queue \(")).click()
    row = page.locator("tr.overdue", has_text="Overdue Ltd")
    assert row.get_by_text("Overdue", exact=True).is_visible()
    assert page.locator("tr.overdue", has_text="Fresh Ltd").count() == 0
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/accounts/requests/{request.public_id}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="ein-letter.pdf").click()
    assert download.value.suggested_filename == "ein-letter.pdf"
    page.get_by_label("Lift (account active)").check()
    page.get_by_label("Reason").fill("EIN letter checks out")
    page.get_by_role("button", name="Record decision").click()
    assert page.get_by_test_id("request-status").inner_text() == "Lifted"
    request.refresh_from_db()
    request.account.refresh_from_db()
    assert request.status == RequestStatus.LIFTED
    assert request.account.status == AccountStatus.ACTIVE
