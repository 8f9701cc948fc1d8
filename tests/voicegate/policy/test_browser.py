"""An operator imports a Do-Not-Call file in a real Chromium and watches it finish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.core.actor import Actor
from voicegate.models import DncList
from voicegate.policy import services

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
    page.get_by_label("CSV file").set_input_files(str(path))
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
