"""An operator imports a Do-Not-Call file in a real Chromium and watches it finish."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
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
    page.get_by_label("File:", exact=True).set_input_files(str(path))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url("**/voice/policy/imports/**")
    page.evaluate("window.__stayed = true")  # lost if the page reloaded
    progress = page.get_by_test_id("import-progress")
    assert progress.get_attribute("data-status") in ("pending", "running", "done")
    page.get_by_text("Import finished").wait_for(timeout=90_000)
    assert page.evaluate("window.__stayed") is True
    assert page.locator("progress#import-bar").get_attribute("value") == "100"
    assert page.get_by_test_id("added").inner_text() == "60000"
    assert page.get_by_role("cell", name="not a number").is_visible()
    page.get_by_role("link", name="← US National DNC").click()
    assert page.get_by_test_id("entry-count").inner_text() == "60000"
    assert DncList.objects.get().entry_count == 60_000


def test_the_policy_pages_work_from_the_keyboard(login, oscar, org) -> None:
    """GIVEN the overview WHEN oscar creates a list with the keyboard only THEN he
    lands on the new list's page."""
    page = login(oscar)
    page.goto("/voice/policy/")
    page.get_by_label("Name").focus()
    page.keyboard.type("Own list")
    page.keyboard.press("Enter")
    page.wait_for_url("**/voice/policy/lists/**")
    assert page.get_by_role("heading", name="Own list").is_visible()
    wait_for(lambda: DncList.objects.filter(name="Own list").exists(), what="list")


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
    banner = page.get_by_test_id("dnc-freshness")
    banner.wait_for()
    assert "40 days old" in banner.inner_text()
    row = page.get_by_role("row", name="US National DNC")
    assert "older than 31 days" in row.inner_text()
    assert "version 1" in row.inner_text()
    page.screenshot(path=str(tmp_path / "policy-stale.png"), full_page=True)
    page.get_by_role("link", name="US National DNC").click()
    page.get_by_test_id("as-of").wait_for()
    assert page.get_by_test_id("as-of").inner_text() == as_of.isoformat()
    assert "Versioned files" in page.get_by_text("Versioned files").inner_text()
    assert page.get_by_test_id("entry-count").inner_text() == "1000"
