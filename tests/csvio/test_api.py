"""CSV import and export through the API: 202 and a status to poll, clear 400s
naming the file, 403 for viewers, 404 across organisations, streamed CSV."""

from __future__ import annotations

import csv
import io

import pytest

from tests.csvio.test_import import upload
from tests.voicegate.factories import BlockedNumberFactory
from trustconsole.core.choices import Role
from trustconsole.csvio import services
from trustconsole.csvio.models import CsvImport
from voicegate.models import BlockedNumber

pytestmark = pytest.mark.django_db


def test_upload_dry_run_poll_and_apply(api_client_for, org) -> None:
    client = api_client_for(org, Role.OPERATOR)
    response = client.post(
        "/api/v1/imports/",
        {"kind": "block_list", "file": upload("number\n+12025550143\nnope\n")},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["dry_run"], body["rows_total"]) == ("pending", True, 2)
    job = CsvImport.objects.get(public_id=body["id"])
    services.import_process(import_id=job.pk)
    status = client.get(f"/api/v1/imports/{body['id']}/").json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["problems"] == [
        {"line": 3, "field": "number", "reason": status["problems"][0]["reason"]}
    ]
    assert status["changes"][0]["action"] == "create"
    applied = client.post(f"/api/v1/imports/{body['id']}/apply/")
    assert applied.status_code == 202
    assert applied.json()["dry_run_of"] == body["id"]
    assert not BlockedNumber.objects.exists()  # the worker has not run it yet
    listing = client.get("/api/v1/imports/", {"kind": "block_list"}).json()
    assert listing["count"] == 2


def test_bad_files_are_400_naming_the_file(api_client_for, org) -> None:
    client = api_client_for(org, Role.ADMIN)
    response = client.post(
        "/api/v1/imports/",
        {"kind": "ip_blocks", "file": upload("address\n1.2.3.4\n")},
        format="multipart",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["field"] == "file" and "header is wrong" in errors[0]["reason"]
    assert not CsvImport.objects.exists()


def test_viewers_may_read_but_not_import(api_client_for, org) -> None:
    client = api_client_for(org, Role.VIEWER)
    response = client.post(
        "/api/v1/imports/",
        {"kind": "block_list", "file": upload("number\n+12025550143\n")},
        format="multipart",
    )
    assert response.status_code == 403
    assert client.get("/api/v1/imports/").status_code == 200


def test_other_organisations_imports_are_404(api_client_for, org, other_org) -> None:
    mine = api_client_for(org, Role.OPERATOR).post(
        "/api/v1/imports/",
        {"kind": "block_list", "file": upload("number\n+12025550143\n")},
        format="multipart",
    )
    outsider = api_client_for(other_org, Role.ADMIN)
    job_id = mine.json()["id"]
    assert outsider.get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert outsider.post(f"/api/v1/imports/{job_id}/apply/").status_code == 404
    assert outsider.get("/api/v1/imports/").json()["count"] == 0


def test_exports_stream_csv_with_filters(api_client_for, org, other_org) -> None:
    BlockedNumberFactory(organisation=org, number="+12025550100", reason="a")
    BlockedNumberFactory(organisation=org, number="+14155550100", reason="b")
    BlockedNumberFactory(organisation=other_org, number="+12025550101")
    client = api_client_for(org, Role.VIEWER)
    response = client.get("/api/v1/exports/block-list/", {"q": "415"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == ["+14155550100"]
    bad = client.get("/api/v1/exports/visitors/", {"score_min": 90, "score_max": 10})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "score_max"
    visitors = client.get("/api/v1/exports/visitors/", {"status": "blacklisted"})
    assert b"".join(visitors.streaming_content).decode().startswith("name,emails,")
    assert (
        client.get("/api/v1/exports/ip-blocks/", {"expired": "true"}).status_code == 200
    )
