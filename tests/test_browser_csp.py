"""With the Content-Security-Policy on, the main pages load without one violation:
no inline script, no inline handler, no inline style, nothing from elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

from trustconsole.core.actor import Actor
from visitors.services import visitor_upsert
from voicegate import services as voice_services

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/security/visitors/",
    "/security/ip-blocks/",
    "/security/weights/",
    "/security/widgets/",
    "/review/",
    "/inbox/",
    "/voice/calls/",
    "/voice/connections/",
    "/voice/block-list/",
    "/voice/settings/",
    "/voice/policy/",
    "/accounts/",
    "/accounts/reviews/",
    "/accounts/settings/",
    "/remediation/",
    "/remediation/requests/",
    "/settings/remediation/",
    "/settings/members/",
    "/settings/tokens/",
    "/settings/audit/",
    "/api/docs/",
]

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_the_main_pages_report_no_csp_violation(page, login, alice, org) -> None:
    """GIVEN an admin with a visitor and a voice connection WHEN every main page
    (and the visitor's profile, the connection page, the log-in page) is opened
    THEN each answers with the policy and neither the page nor the browser console
    reports a single violation."""
    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Dana", emails=["dana@example.com"])
    connection = voice_services.connection_create(
        actor=actor, name="Main line", provider="twilio", secret="tok-123"
    )
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    page.context.add_init_script(WATCH)
    response = page.goto("/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    login(alice)
    pages = [
        *PAGES,
        f"/security/visitors/{visitor.public_id}/",
        f"/voice/connections/{connection.public_id}/",
    ]
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        seen: list[Any] = page.evaluate("window.__cspViolations")
        problems += [f"{path}: {v}" for v in seen]
    assert problems == []


def test_confirmations_and_the_organisation_switch_work_without_inline_script(
    page, login, alice, org, other_org
) -> None:
    """The handlers moved to static JS still work: a confirm() guards Revoke (a
    dismissed dialog changes nothing, an accepted one revokes), and choosing
    another organisation switches to it."""
    from trustconsole.core.choices import Role
    from trustconsole.core.models import ApiToken, Membership
    from trustconsole.core.services import token_create

    Membership.objects.create(user=alice, organisation=other_org, role=Role.ADMIN)
    token, _ = token_create(
        actor=Actor.system_for(org, "test"), name="CI", role=Role.VIEWER
    )
    login(alice)
    page.goto("/settings/tokens/")
    questions: list[str] = []

    def answer(dialog: Any, *, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    # The one confirmation policy: a reason first, then the question.
    page.get_by_label("Reason (required, kept in the audit trail)").fill("rotated")
    page.once("dialog", lambda d: answer(d, accept=False))
    page.get_by_role("button", name="Revoke").click()  # returns once answered
    assert questions == ["Revoke CI? Clients using it stop working at once."]
    token.refresh_from_db()
    assert token.revoked_at is None
    page.once("dialog", lambda d: answer(d, accept=True))
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Token CI revoked.").wait_for()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    page.get_by_label("Organisation").select_option("beta")
    page.get_by_text("Now working in Beta.").wait_for()
