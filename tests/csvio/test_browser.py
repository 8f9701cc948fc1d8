"""An operator checks a visitors CSV with a dry run, sees the row with a problem,
then imports it for real through the Celery worker and watches the progress."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready
from trustconsole.core.models import AuditEntry
from visitors.models import Visitor

pytestmark = [pytest.mark.browser, pytest.mark.worker]

ROWS = 120


def test_dry_run_shows_the_bad_row_then_the_import_runs_on_the_worker(
    login, oscar, org, celery_worker_queue, tmp_path
) -> None:
    """GIVEN a file of 120 visitors with one bad email on line 4 WHEN oscar
    uploads it as a dry run from Security → Visitors THEN the page lists line 4's
    problem and what would change, and nothing changed; WHEN he imports it THEN
    the page follows the worker's progress (no reload) to 119 created, 1 skipped,
    and the audit log has one sentence for the import."""
    path = tmp_path / "visitors.csv"
    lines = ["name,emails,phones,status,signals"]
    for i in range(ROWS):
        email = "not-an-email" if i == 2 else f"v{i}@example.com"
        lines.append(f"Visitor {i},{email},+1202555{i:04d},,spam:low")
    lines[1] = "Dana Scully,dana@fbi.example,+12025559999,blacklisted,spam:high"
    path.write_text("\n".join(lines) + "\n")

    page = login(oscar)
    page.goto("/security/visitors/")
    page_ready(page)
    page.get_by_role("link", name="Import CSV").click()
    page_ready(page, "**/csv/visitors/import/")
    expect(page.get_by_label("Dry run")).to_be_checked()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page_ready(page, "**/csv/imports/*/")
    expect(page.get_by_role("heading", name="Dry run of visitors.csv")).to_be_visible()
    expect(page.get_by_test_id("import-outcome")).to_contain_text(
        "nothing was changed", timeout=90_000
    )
    errors = page.get_by_test_id("import-errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr").first).to_contain_text("4")
    expect(errors).to_contain_text("'not-an-email' is not a valid email address.")
    expect(page.get_by_test_id("count-created")).to_have_text(str(ROWS - 1))
    expect(page.get_by_test_id("import-changes")).to_contain_text(
        "new visitor Dana Scully; blacklisted; signals spam (high)"
    )
    assert not Visitor.objects.exists()

    page.get_by_test_id("import-apply").click()
    page_ready(page, "**/csv/imports/*/")
    expect(page.get_by_role("heading", name="Import of visitors.csv")).to_be_visible()
    page.evaluate("window.__stayed = true")  # lost if the page reloaded
    bar = page.get_by_test_id("import-bar")
    expect(bar).to_be_visible()
    expect(page.get_by_test_id("import-outcome")).to_contain_text(
        f"Import finished: {ROWS - 1} created, 0 updated, 0 unchanged, 1 row skipped",
        timeout=120_000,
    )
    assert page.evaluate("window.__stayed") is True
    expect(bar).to_have_attribute("value", "100")
    expect(page.get_by_test_id("rows-done")).to_have_text(f"{ROWS} of {ROWS}")
    assert Visitor.objects.count() == ROWS - 1
    assert Visitor.objects.get(name="Dana Scully").status == "blacklisted"

    page.goto("/settings/audit/")
    page_ready(page)
    expect(page.get_by_text(
        f"oscar@alpha.test imported visitors.csv into Visitors: {ROWS - 1} created"
    )).to_be_visible()  # fmt: skip
    assert AuditEntry.objects.filter(action="csv_import.run").count() == 1
