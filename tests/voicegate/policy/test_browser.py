"""An operator imports a Do-Not-Call file in a real Chromium and watches it finish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from voicegate.policy import services
from voicegate.policy.models import DncList

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_the_import_page_shows_progress_until_the_worker_is_done(
    login, oscar, org, celery_worker_queue, tmp_path
) -> None:
    """GIVEN a list WHEN oscar uploads a 60,000-row CSV from the list page THEN the
    import page updates itself (htmx, no reload) until the real worker has
    finished, and the list shows its new count."""
    services.dnc_list_create(
        actor=Actor.system_for(org, "test"), name="US National DNC", country="US"
    )
    path = tmp_path / "registry.csv"
    with path.open("w") as out:
        out.write("number\n")
        out.writelines(f"{2015550000 + i}\n" for i in range(60_000))
        out.write("not a number\n")

    page = login(oscar)
    page.goto("/voice/policy/")
    page.get_by_role("link", name="US National DNC").click()
    page_ready(page, "**/voice/policy/lists/**")
    page.get_by_label("File:", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Upload and import").click()
    page_ready(page, "**/voice/policy/imports/**")
    page.evaluate("window.__stayed = true")  # lost if the page reloaded
    progress = page.get_by_test_id("import-progress")
    assert progress.get_attribute("data-status") in ("pending", "running", "done")
    expect(page.get_by_text("Import finished")).to_be_visible(timeout=90_000)
    assert page.evaluate("window.__stayed") is True
    expect(page.locator("progress#import-bar")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("added")).to_have_text("60000")
    expect(page.get_by_role("cell", name="not a number")).to_be_visible()
    page.get_by_role("link", name="← US National DNC").click()
    page_ready(page, "**/voice/policy/lists/**")
    expect(page.get_by_test_id("entry-count")).to_have_text("60000")
    assert DncList.objects.get().entry_count == 60_000


def test_the_policy_pages_work_from_the_keyboard(login, oscar, org) -> None:
    """GIVEN the overview WHEN oscar creates a list with the keyboard only THEN he
    lands on the new list's page."""
    page = login(oscar)
    page.goto("/voice/policy/")
    page_ready(page)
    page.get_by_label("Name").focus()
    page.keyboard.type("Own list")
    page.keyboard.press("Enter")
    page_ready(page, "**/voice/policy/lists/**")
    expect(page.get_by_role("heading", name="Own list")).to_be_visible()
    assert DncList.objects.filter(name="Own list").exists()  # the page is its redirect


def test_a_stale_national_list_is_flagged_on_the_policy_page(
    login, oscar, org, tmp_path
) -> None:
    """GIVEN a national list whose registry file is 40 days old WHEN oscar opens
    Voice → Policy THEN the page warns about the FTC 31-day rule, the list's row
    shows its date and version, and the list page shows how it is kept."""
    import datetime as dt

    from django.utils import timezone

    actor = Actor.system_for(org, "test")
    national = services.dnc_list_create(
        actor=actor, name="US National DNC", kind="national", country="US"
    )
    path = tmp_path / "dnc.txt"
    path.write_text("".join(f"{2015550000 + i}\n" for i in range(1_000)))
    as_of = timezone.localdate() - dt.timedelta(days=40)
    with path.open("rb") as upload:
        job = services.dnc_import_start(
            actor=actor, dnc_list=national, upload=upload, file_name="dnc.txt",
            as_of=as_of, enqueue=False,
        )  # fmt: skip
    services.dnc_import_process(import_id=job.pk)

    page = login(oscar)
    page.goto("/voice/policy/")
    page_ready(page, "**/voice/policy/")
    expect(page.get_by_test_id("dnc-freshness")).to_contain_text("40 days old")
    row = page.get_by_role("row", name="US National DNC")
    expect(row).to_contain_text("older than 31 days")
    expect(row).to_contain_text("version 1")
    page.screenshot(path=str(tmp_path / "policy-stale.png"), full_page=True)
    page.get_by_role("link", name="US National DNC").click()
    page_ready(page, "**/voice/policy/lists/**")
    expect(page.get_by_test_id("as-of")).to_have_text(as_of.isoformat())
    expect(page.get_by_text("Versioned files")).to_be_visible()
    expect(page.get_by_test_id("entry-count")).to_have_text("1000")
