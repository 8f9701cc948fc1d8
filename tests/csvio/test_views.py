"""CSV pages: upload errors in the form, progress page, streamed exports with the
list's filters, role rules and other organisations' imports (404)."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from tests.csvio.test_import import upload
from tests.voicegate.factories import BlockedNumberFactory
from trustconsole.core.actor import Actor
from trustconsole.csvio import services
from trustconsole.csvio.models import CsvImport
from visitors import services as visitor_services
from visitors.models import IPBlock

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def people(org, other_org):
    actor = Actor.system_for(org, "test")
    dana = visitor_services.visitor_upsert(
        actor=actor,
        name="Dana Scully",
        emails=["dana@fbi.example"],
        phones=["+12025550143"],
    )
    visitor_services.risk_signal_add(
        actor=actor, visitor=dana, signal_type="spam", level="high"
    )
    visitor_services.visitor_blacklist(actor=actor, visitor=dana, reason="Threats")
    visitor_services.visitor_upsert(actor=actor, name="Fox Mulder", ips=["203.0.113.9"])
    visitor_services.visitor_upsert(
        actor=Actor.system_for(other_org, "test"), name="Other", emails=["o@x.example"]
    )
    return dana


def test_visitor_export_streams_the_filtered_list(client, bob, people) -> None:
    client.force_login(bob)  # a viewer sees the list, so may export it
    response = client.get("/csv/visitors/export/")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="visitors-')
    rows = _rows(response)
    assert sorted(r["name"] for r in rows) == ["Dana Scully", "Fox Mulder"]
    dana = next(r for r in rows if r["name"] == "Dana Scully")
    assert dana["emails"] == "dana@fbi.example" and dana["phones"] == "+12025550143"
    assert dana["status"] == "blacklisted" and dana["status_reason"] == "Threats"
    assert set(dana["signals"].split(";")) == {
        "spam:high",
        "blacklisted_visitor:extreme",
    }
    assert dana["id"] == str(people.public_id) and dana["band"] == "danger"
    filtered = _rows(client.get("/csv/visitors/export/", {"status": "blacklisted"}))
    assert [r["name"] for r in filtered] == ["Dana Scully"]
    searched = _rows(client.get("/csv/visitors/export/", {"q": "203.0.113.9"}))
    assert [r["name"] for r in searched] == ["Fox Mulder"]


def test_an_export_imports_again_unchanged(client, alice, org, people) -> None:
    client.force_login(alice)
    text = b"".join(client.get("/csv/visitors/export/").streaming_content)
    job = services.import_start(
        actor=Actor(organisation=org, role="admin", user=alice),
        kind="visitors",
        upload=upload(text),
        enqueue=False,
    )
    job = services.import_process(import_id=job.pk)
    assert (job.invalid, job.created, job.updated, job.unchanged) == (0, 0, 0, 2)


def test_bad_export_filters_are_a_400(client, bob, people) -> None:
    client.force_login(bob)
    response = client.get("/csv/visitors/export/", {"score_min": "lots"})
    assert response.status_code == 400
    assert b"score_min" in response.content


def test_block_list_and_ip_block_exports(client, bob, org, other_org) -> None:
    BlockedNumberFactory(organisation=org, number="+12025550100", reason="spam")
    BlockedNumberFactory(organisation=org, number="+14155550100")
    BlockedNumberFactory(organisation=other_org, number="+12025550199")
    visitor_services.ip_block_create(
        actor=Actor.system_for(org, "t"), network="198.51.100.7", reason="Scraper"
    )
    IPBlock.objects.create(
        organisation=other_org,
        network="10.1.0.0/16",
        version=4,
        reason="x",
        created_by="x",
    )
    client.force_login(bob)
    numbers = _rows(client.get("/csv/block_list/export/", {"q": "202"}))
    assert [(r["number"], r["reason"]) for r in numbers] == [("+12025550100", "spam")]
    blocks = _rows(client.get("/csv/ip_blocks/export/"))
    assert [(b["network"], b["reason"]) for b in blocks] == [
        ("198.51.100.7", "Scraper")
    ]


def test_list_pages_link_export_and_import_by_role(client, bob, oscar) -> None:
    client.force_login(bob)
    page = client.get("/security/visitors/", {"status": "flagged"}).content.decode()
    assert 'href="/csv/visitors/export/?status=flagged"' in page
    assert "/csv/visitors/import/" not in page
    client.force_login(oscar)
    for url, kind in [
        ("/security/visitors/", "visitors"),
        ("/voice/block-list/", "block_list"),
        ("/security/ip-blocks/", "ip_blocks"),
    ]:
        assert f"/csv/{kind}/import/" in client.get(url).content.decode()


def test_viewers_cannot_open_or_post_the_import(client, bob) -> None:
    client.force_login(bob)
    assert client.get("/csv/visitors/import/").status_code == 403
    response = client.post(
        "/csv/visitors/import/", {"file": upload("name,emails\nA,a@x.example\n")}
    )
    assert response.status_code == 403
    assert not CsvImport.objects.exists()


def test_a_bad_file_is_a_form_error_and_changes_nothing(client, oscar) -> None:
    client.force_login(oscar)
    response = client.post(
        "/csv/block_list/import/",
        {"file": upload(b"number\n\xff+1202\n", "numbers.csv"), "dry_run": "on"},
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()
    assert not CsvImport.objects.exists()
    assert client.get("/csv/nonsense/import/").status_code == 404


def test_upload_shows_progress_then_outcome(client, oscar, org) -> None:
    client.force_login(oscar)
    response = client.post(
        "/csv/block_list/import/",
        {
            "file": upload("number,reason\n+12025550143,x\nbad,y\n", "n.csv"),
            "dry_run": "on",
        },
    )
    job = CsvImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/csv/imports/{job.public_id}/"
    pending = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in pending and "Waiting for a worker" in pending
    services.import_process(import_id=job.pk)
    done = client.get(response["Location"]).content.decode()
    assert "Dry run finished: nothing was changed." in done
    assert "every 1s" not in done
    assert "&#x27;bad&#x27; " in done or "'bad'" in done
    apply = client.post(f"/csv/imports/{job.public_id}/apply/")
    real = CsvImport.objects.exclude(pk=job.pk).get()
    assert apply["Location"] == f"/csv/imports/{real.public_id}/"
    assert real.dry_run is False and real.dry_run_of == job
    errors = b"".join(
        client.get(f"/csv/imports/{job.public_id}/errors/").streaming_content
    )
    assert errors.decode().splitlines()[1].startswith("3,number,")


def test_another_organisations_import_is_a_404(client, charlie, oscar, org) -> None:
    job = services.import_start(
        actor=Actor(organisation=org, role="operator", user=oscar),
        kind="block_list",
        upload=upload("number\n+12025550143\n"),
        dry_run=True,
        enqueue=False,
    )
    services.import_process(import_id=job.pk)
    client.force_login(charlie)
    for suffix in ("", "errors/"):
        assert client.get(f"/csv/imports/{job.public_id}/{suffix}").status_code == 404
    assert client.post(f"/csv/imports/{job.public_id}/apply/").status_code == 404
    assert client.get("/csv/imports/not-a-uuid/").status_code == 404
    assert CsvImport.objects.count() == 1


def test_formula_looking_cells_export_as_text_and_import_back(
    client, alice, org
) -> None:
    actor = Actor.system_for(org, "test")
    visitor_services.visitor_upsert(
        actor=actor, name='=HYPERLINK("http://evil.example")', widget_ids=["@w1"]
    )
    client.force_login(alice)
    text = b"".join(client.get("/csv/visitors/export/").streaming_content)
    row = next(csv.DictReader(io.StringIO(text.decode())))
    assert row["name"] == '\'=HYPERLINK("http://evil.example")'
    assert row["widget_ids"] == "'@w1"
    job = services.import_start(
        actor=Actor(organisation=org, role="admin", user=alice),
        kind="visitors",
        upload=upload(text),
        enqueue=False,
    )
    job = services.import_process(import_id=job.pk)
    assert (job.unchanged, job.invalid) == (1, 0), job.errors
