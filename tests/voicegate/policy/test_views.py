"""Voice → Policy pages: what each role sees and may do, tenant isolation, the
import progress fragment, exports and bounded queries."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.accounts.factories import AccountFactory
from tests.conftest import PASSWORD
from tests.voicegate.factories import DncListFactory, OutboundDenialFactory
from tests.voicegate.policy.conftest import DEST
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.models import AuditEntry
from voicegate.policy import services
from voicegate.policy.choices import ImportStatus
from voicegate.policy.models import (
    ConsentRecord,
    DncChange,
    DncEntry,
    DncImport,
    DncList,
)
from voicegate.policy.tasks import dnc_import_task


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _list(org, name="National DNC", numbers=(), kind="national"):
    actor = Actor.system_for(org, "test")
    dnc_list = services.dnc_list_create(actor=actor, name=name, kind=kind)
    for number in numbers:
        services.dnc_number_add(actor=actor, dnc_list=dnc_list, number=number)
    return dnc_list


def test_the_overview_shows_lists_counts_and_denials(
    org, bob, check, account, django_assert_max_num_queries
) -> None:
    for i in range(4):
        _list(org, f"List {i}", [f"+1415555020{i}"])
    check("+14155550177", "+14155550200", account=account)
    client = logged_in(bob)
    with django_assert_max_num_queries(14):
        response = client.get("/voice/policy/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "List 3" in html
    assert 'data-testid="dnc-count">4<' in html
    assert "caller_id_not_owned" in html and "dnc" in html
    assert "Dialer Ltd" in html  # per-account denial counts
    assert "Create list" not in html  # a viewer reads only


def test_a_viewer_cannot_change_anything(org, bob) -> None:
    dnc_list = _list(org, numbers=[DEST])
    client = logged_in(bob)
    assert client.post("/voice/policy/lists/new/", {"name": "X"}).status_code == 403
    url = f"/voice/policy/lists/{dnc_list.public_id}/remove/"
    assert client.post(url, {"number": DEST}).status_code == 403
    assert client.post("/voice/policy/settings/", {}).status_code == 403
    assert DncList.objects.get().entry_count == 1
    assert DncChange.objects.count() == 1


def test_an_operator_creates_a_list_and_adds_and_removes_numbers(org, oscar) -> None:
    client = logged_in(oscar)
    response = client.post(
        "/voice/policy/lists/new/",
        {"name": "Own list", "kind": "internal", "country": "GB"},
        follow=True,
    )
    assert "List “Own list” created." in response.content.decode()
    dnc_list = DncList.objects.get()
    base = f"/voice/policy/lists/{dnc_list.public_id}"
    page = client.post(f"{base}/add/", {"number": "020 7946 0321"}, follow=True)
    assert "+442079460321 is on the list." in page.content.decode()
    assert "<code>+442079460321</code>" in page.content.decode()
    bad = client.post(f"{base}/add/", {"number": "banana"}, follow=True)
    assert "is not a phone number" in bad.content.decode()
    found = client.get(f"{base}/", {"number": "+44 20 7946 0321"}).content.decode()
    assert "<code>+442079460321</code>" in found
    # Taking a number off asks for the reason: without one the confirmation
    # comes back (the number kept in it) and nothing changes.
    refused = client.post(f"{base}/remove/", {"number": "+442079460321"})
    html = refused.content.decode()
    assert refused.status_code == 400 and 'data-testid="confirm-page"' in html
    assert "Remove +442079460321 from Own list?" in html
    assert 'name="number" value="+442079460321"' in html
    assert "Give the reason; it is kept in the audit trail." in html
    assert DncEntry.objects.count() == 1
    page = client.post(
        f"{base}/remove/",
        {"number": "+442079460321", "reason": "Customer opted in"},
        follow=True,
    )
    assert "was taken off the list" in page.content.decode()
    assert not DncEntry.objects.exists()
    entry = AuditEntry.objects.get(action="policy.dnc_number_remove")
    assert entry.reason == "Customer opted in"
    assert describe(entry).sentence.endswith(
        "removed +442079460321 from the Do-Not-Call list Own list"
    ), describe(entry).sentence


def test_another_organisations_pages_are_404(oscar, other_org) -> None:
    beta = _list(other_org, numbers=[DEST])
    actor = Actor.system_for(other_org, "test")
    consent = services.consent_record(actor=actor, number=DEST, evidence="x")
    client = logged_in(oscar)
    base = f"/voice/policy/lists/{beta.public_id}"
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/export.csv").status_code == 404
    assert client.post(f"{base}/remove/", {"number": DEST}).status_code == 404
    assert client.post(f"{base}/delete/").status_code == 404
    url = f"/voice/policy/consent/{consent.public_id}/remove/"
    assert client.post(url).status_code == 404
    assert DncList.objects.get().entry_count == 1
    assert DncChange.objects.count() == 1
    assert ConsentRecord.objects.count() == 1


def test_upload_then_progress_fragment_until_done(org, oscar, tmp_path) -> None:
    """GIVEN an uploaded CSV WHEN its page is polled by htmx THEN the fragment keeps
    polling while the import waits, and stops with the result once it is done."""
    dnc_list = _list(org)
    client = logged_in(oscar)
    upload = SimpleUploadedFile(
        "registry.csv", b"number\n+14155550142\n+14155550143\nbad\n", "text/csv"
    )
    response = client.post(
        f"/voice/policy/lists/{dnc_list.public_id}/import/",
        {"file": upload, "region": "US"},
    )
    job = DncImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/voice/policy/imports/{job.public_id}/"
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in page
    assert 'http-equiv="refresh"' in page  # without JavaScript the page reloads
    fragment = client.get(response["Location"], HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 1s"' in html
    dnc_import_task(job.pk)
    html = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html
    assert "Import finished: the list now holds 2 numbers." in html
    assert 'data-testid="added">2<' in html
    assert "is not a phone number" in html


def test_a_bad_upload_is_refused_with_a_message(org, oscar) -> None:
    dnc_list = _list(org)
    client = logged_in(oscar)
    upload = SimpleUploadedFile("x.csv", b"\x00\x01\x02binary", "text/csv")
    response = client.post(
        f"/voice/policy/lists/{dnc_list.public_id}/import/",
        {"file": upload},
        follow=True,
    )
    assert "neither a text file nor a gzip or zip archive" in response.content.decode()
    assert not DncImport.objects.exists()


def test_the_export_downloads_every_number(org, bob) -> None:
    dnc_list = _list(org, numbers=[DEST, "+12025550143"])
    response = logged_in(bob).get(
        f"/voice/policy/lists/{dnc_list.public_id}/export.csv"
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert body == "number\n+12025550143\n+14155550199\n"


def test_caller_ids_and_consent_pages(org, oscar) -> None:
    account = AccountFactory(organisation=org, company_name="Dialer Ltd")
    client = logged_in(oscar)
    page = client.post(
        "/voice/policy/caller-ids/",
        {
            "number": "+14155550177",
            "account": str(account.public_id),
            "method": "call",
            "note": "",
        },
        follow=True,
    ).content.decode()
    assert "+14155550177 recorded as verified." in page
    assert "Dialer Ltd" in page and "oscar@alpha.test" in page
    page = client.post(
        "/voice/policy/consent/",
        {"number": DEST, "account": "", "evidence": "Signed form"},
        follow=True,
    ).content.decode()
    assert f"Consent of {DEST} recorded." in page
    assert "Any caller" in page
    bad = client.post(
        "/voice/policy/consent/", {"number": "x", "evidence": "y"}, follow=True
    )
    assert "is not a phone number" in bad.content.decode()
    consent = ConsentRecord.objects.get()
    page = client.post(
        f"/voice/policy/consent/{consent.public_id}/remove/",
        {"reason": "withdrawn"},
        follow=True,
    ).content.decode()
    assert f"Consent of {DEST} withdrawn." in page


def test_denials_page_filters_by_violation(org, bob, check, account) -> None:
    _list(org, numbers=[DEST])
    check("+14155550100", DEST, account=account)
    check("+14155550177", "+14155550143", account=account)
    client = logged_in(bob)
    html = client.get("/voice/policy/denials/", {"code": "dnc"}).content.decode()
    assert DEST in html
    assert "+14155550143" not in html
    assert "+14155550143" in client.get("/voice/policy/denials/").content.decode()


def test_settings_page(org, alice, oscar) -> None:
    form = {
        "harassment_limit": 4,
        "harassment_window_seconds": 3600,
        "blacklisted_do_not_contact": "on",
        "denial_threshold": 3,
        "denial_window_seconds": 600,
        "denial_signal_weight": 20,
    }
    page = logged_in(oscar).get("/voice/policy/settings/").content.decode()
    assert "Only admins change these settings." in page
    admin = logged_in(alice)
    page = admin.post("/voice/policy/settings/", form, follow=True).content.decode()
    assert "Settings saved." in page
    from voicegate.policy.models import PolicySettings

    row = PolicySettings.objects.get(organisation=org)
    assert (row.harassment_limit, row.auto_restrict_voice) == (4, False)
    bad = admin.post("/voice/policy/settings/", {**form, "harassment_limit": 0})
    assert "Ensure this value is greater than or equal to 1" in bad.content.decode()
    assert PolicySettings.objects.get(organisation=org).harassment_limit == 4


def test_a_finished_import_is_shown_on_the_list_page(org, oscar, tmp_path) -> None:
    dnc_list = _list(org)
    job = DncImport.objects.create(
        organisation=org,
        dnc_list=dnc_list,
        file_name="old.csv",
        status=ImportStatus.DONE,
        added=7,
    )
    html = logged_in(oscar).get("/voice/policy/").content.decode()
    assert f"/voice/policy/imports/{job.public_id}/" in html
    assert "(+7)" in html


def test_a_long_list_pages_through_its_numbers(org, bob) -> None:
    dnc_list = _list(org, name="Own", kind="internal")
    DncEntry.objects.bulk_create(
        DncEntry(dnc_list=dnc_list, number=14155550000 + i) for i in range(250)
    )
    DncList.objects.filter(pk=dnc_list.pk).update(entry_count=250)
    client = logged_in(bob)
    html = client.get(f"/voice/policy/lists/{dnc_list.public_id}/").content.decode()
    assert "Page 1 of 3" in html
    assert "+14155550099" in html and "+14155550100" not in html
    html = client.get(
        f"/voice/policy/lists/{dnc_list.public_id}/", {"page": 3}
    ).content.decode()
    assert "+14155550249" in html and "+14155550199" not in html


def test_the_overview_shows_only_its_own_organisations_rows(
    org, other_org, bob
) -> None:
    """GIVEN a Do-Not-Call list and a refused call in each of Alpha and Beta
    WHEN bob (Alpha) opens the policy overview THEN Alpha's are on the page and
    none of Beta's."""
    ours = DncListFactory(organisation=org, name="Alpha hand-kept")
    theirs = DncListFactory(organisation=other_org, name="Beta hand-kept")
    OutboundDenialFactory(organisation=org, to_number="+12025550161")
    OutboundDenialFactory(organisation=other_org, to_number="+12025550162")
    page = logged_in(bob).get("/voice/policy/")
    assert page.status_code == 200
    body = page.content.decode()
    assert ours.name in body
    assert theirs.name not in body
    assert "+12025550161" in body
    assert "+12025550162" not in body
