"""No main page is wider than a 1366 px screen, with the demo data and long text."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.choices import EvidenceKind
from accounts.models import Account, Evidence, ReassessmentRequest
from remediation.models import Enterprise, RemediationRequest
from tests.accounts.factories import RequestFactory
from trustconsole.csvio.models import CsvImport
from visitors.models import Conversation, Visitor
from voicegate.models import VoiceConnection
from voicegate.policy.models import DncList

pytestmark = pytest.mark.browser

LONG_URL = "https://example.com/" + "very-long-path-segment-" * 7 + "certificate.pdf"


def _pages() -> list[str]:
    """Every main page and one of each detail page."""
    req = ReassessmentRequest.objects.order_by("-id").first()
    return [
        "/",
        "/security/visitors/",
        f"/security/visitors/{Visitor.objects.first().public_id}/",
        "/security/ip-blocks/",
        "/security/weights/",
        "/security/widgets/",
        "/review/",
        "/inbox/",
        f"/inbox/{Conversation.objects.first().public_id}/",
        "/voice/",
        "/voice/calls/",
        "/voice/connections/",
        f"/voice/connections/{VoiceConnection.objects.first().public_id}/",
        "/voice/block-list/",
        "/voice/settings/",
        "/voice/policy/",
        f"/voice/policy/lists/{DncList.objects.first().public_id}/",
        "/voice/policy/denials/",
        "/accounts/",
        "/accounts/reviews/",
        "/accounts/settings/",
        f"/accounts/{req.account.public_id}/",
        f"/accounts/requests/{req.public_id}/",
        f"/accounts/{req.account.public_id}/requests/new/",
        "/remediation/",
        "/remediation/requests/",
        f"/remediation/requests/{RemediationRequest.objects.first().public_id}/",
        "/settings/remediation/",
        f"/settings/remediation/enterprises/{Enterprise.objects.first().public_id}/",
        "/settings/members/",
        "/settings/tokens/",
        "/settings/audit/",
        "/search/?q=Quick",
        "/csv/visitors/import/",
        f"/csv/imports/{CsvImport.objects.first().public_id}/",
        "/settings/notifications/",
        "/settings/notifications/sent/",
        "/notifications/",
        "/settings/rules/",
        "/settings/rules/new/",
        "/settings/rules/facts/",
    ]


def _dry_run_with_long_values(organisation) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from trustconsole.core.actor import Actor
    from trustconsole.csvio import services

    text = f"number,reason\n{LONG_URL},{LONG_URL}\n+12025550143,{LONG_URL}\n"
    job = services.import_start(
        actor=Actor.system_for(organisation, "test"),
        kind="block_list",
        upload=SimpleUploadedFile("numbers.csv", text.encode()),
        dry_run=True,
        enqueue=False,
    )
    services.import_process(import_id=job.pk)


def test_no_main_page_is_wider_than_the_viewport_at_1366(page, transactional_db):
    """GIVEN the demo data and a reassessment request full of long unbroken text
    WHEN each main page is opened at 1366×768 THEN none scrolls sideways."""
    call_command("seed_demo", "--quiet-login")
    account = Account.objects.get(company_name="Quick Leads")
    req = RequestFactory(
        account=account,
        organisation=account.organisation,
        company_website=LONG_URL,
        use_case="Transactional-notifications-" * 8,
        sample_message="Your-verification-code-is-123456-" * 6,
    )
    Evidence.objects.create(
        organisation=account.organisation,
        request=req,
        kind=EvidenceKind.PRESS_MENTION,
        url=LONG_URL,
    )
    _dry_run_with_long_values(account.organisation)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/login/")
    page.get_by_label("Email").fill("admin@demo.test")
    page.get_by_label("Password").fill("trustconsole-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    wide = {}
    for path in _pages():
        page.goto(path)
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 1366:
            wide[path] = width
        # Nor does anything spill out of its card (a table or a long link).
        spilled = page.evaluate(
            "[...document.querySelectorAll('.card')]"
            ".filter((c) => c.scrollWidth > c.clientWidth + 1).length"
        )
        if spilled:
            wide[path] = f"{spilled} card(s) overflow"
    assert not wide, f"pages wider than 1366 px: {wide}"
