"""CSV import: file checks, per-row problems with line numbers, dry run, the real
import through the services, its audit entry and the role rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.voicegate.factories import BlockedNumberFactory
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry
from trustconsole.csvio import services
from trustconsole.csvio.models import CsvImport
from visitors import services as visitor_services
from visitors.models import IPBlock, Visitor
from voicegate.models import BlockedNumber

pytestmark = pytest.mark.django_db

VISITORS = (
    "name,emails,phones,ips,widget_ids,status,status_reason,signals\n"
    "Dana Scully,dana@fbi.example,+12025550143,,,blacklisted,Threats,spam:high\n"
    "Fox Mulder,not-an-email,12345,,,maybe,,nonsense\n"
    "Walter Skinner,walter@fbi.example;WS@fbi.example,,198.51.100.7,,,,\n"
    "Existing,known@x.example,,,,whitelisted,,\n"
)


def upload(text: str | bytes, name: str = "visitors.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.fixture
def oscar_actor(org, oscar):
    return Actor(organisation=org, role=Role.OPERATOR, user=oscar)


def start(actor, text, *, kind="visitors", dry_run=False) -> CsvImport:
    job = services.import_start(
        actor=actor, kind=kind, upload=upload(text), dry_run=dry_run, enqueue=False
    )
    return services.import_process(import_id=job.pk)


# --- Bad files: a clear error naming the file, nothing changed -----------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"name,emails\n", "no rows"),
        (b"name,emails\n\xff\xfeDana,d@x.example\n", "not UTF-8"),
        (b"nom,courriel\nDana,d@x.example\n", "unknown column(s) 'nom'"),
        (b"name,status\nDana,none\n", "missing column(s)"),
        (b'name,emails\n"Dana,d@x.example\n', "not valid CSV"),
    ],
)
def test_bad_files_are_refused_whole(oscar_actor, content, needle) -> None:
    with pytest.raises(ValidationError) as exc:
        services.import_start(
            actor=oscar_actor, kind="visitors", upload=upload(content), enqueue=False
        )
    assert needle in exc.value.message_dict["file"][0]
    assert not CsvImport.objects.exists() and not Visitor.objects.exists()


def test_a_file_over_the_limit_is_refused(oscar_actor, settings) -> None:
    settings.CSV_IMPORT_MAX_BYTES = 1024
    text = "number\n" + "+12025550143\n" * 200
    with pytest.raises(ValidationError) as exc:
        services.import_start(
            actor=oscar_actor, kind="block_list", upload=upload(text), enqueue=False
        )
    assert "CSV_IMPORT_MAX_BYTES" in exc.value.message_dict["file"][0]


def test_a_bom_and_aliases_are_accepted(oscar_actor) -> None:
    job = start(oscar_actor, "\ufeffName,Email,Phone\nDana,d@x.example,+12025550143\n")
    assert (job.status, job.created, job.invalid) == ("done", 1, 0)


# --- Dry run then import -------------------------------------------------------------


def test_dry_run_reports_every_problem_and_changes_nothing(oscar_actor, org) -> None:
    visitor_services.visitor_upsert(
        actor=oscar_actor, name="Existing", emails=["known@x.example"]
    )
    before = AuditEntry.objects.count()
    job = start(oscar_actor, VISITORS, dry_run=True)
    assert job.status == "done"
    assert (job.created, job.updated, job.unchanged, job.invalid) == (2, 1, 0, 1)
    problems = {(e["line"], e["field"]) for e in job.errors}
    assert problems == {(3, "emails"), (3, "phones"), (3, "status"), (3, "signals")}
    assert {c["line"]: c["action"] for c in job.changes} == {
        2: "create",
        4: "create",
        5: "update",
    }
    assert "No status → whitelisted" in job.changes[2]["summary"]
    assert Visitor.objects.count() == 1
    assert AuditEntry.objects.count() == before


def test_the_real_import_applies_rows_and_audits_once(oscar_actor, org) -> None:
    visitor_services.visitor_upsert(
        actor=oscar_actor, name="Existing", emails=["known@x.example"]
    )
    dry = start(oscar_actor, VISITORS, dry_run=True)
    real = services.import_apply(actor=oscar_actor, job=dry, enqueue=False)
    real = services.import_process(import_id=real.pk)
    assert (real.created, real.updated, real.invalid, real.rows_done) == (2, 1, 1, 4)
    dana = Visitor.objects.get(name="Dana Scully")
    assert dana.status == "blacklisted" and dana.status_reason == "Threats"
    assert set(dana.signals.values_list("signal_type", flat=True)) == {
        "blacklisted_visitor",
        "spam",
    }
    walter = Visitor.objects.get(name="Walter Skinner")
    assert sorted(walter.identifiers.values_list("value", flat=True)) == [
        "198.51.100.7",
        "walter@fbi.example",
        "ws@fbi.example",
    ]
    assert Visitor.objects.get(name="Existing").status == "whitelisted"
    assert not Visitor.objects.filter(name="Fox Mulder").exists()
    entry = AuditEntry.objects.get(action="csv_import.run")
    assert describe(entry).sentence == (
        "oscar@alpha.test imported visitors.csv into Visitors: 2 created, "
        "1 updated, 0 unchanged, 1 rows with errors"
    )
    # Each change is in the visitor's own history too.
    assert AuditEntry.objects.filter(action="visitor.blacklist").count() == 1
    # Importing the same file again changes nothing more.
    again = start(oscar_actor, VISITORS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_only_a_finished_dry_run_can_be_applied(oscar_actor) -> None:
    real = start(oscar_actor, "number\n+12025550143\n", kind="block_list")
    with pytest.raises(ValidationError):
        services.import_apply(actor=oscar_actor, job=real, enqueue=False)


def test_block_list_rows(oscar_actor, org) -> None:
    BlockedNumberFactory(organisation=org, number="+12025550100")
    job = start(
        oscar_actor,
        "number,reason\n+12025550100,old\n555-CALL-NOW,x\n+1 202 555 0143,Robocalls\n"
        "+12025550143,again\n",
        kind="block_list",
    )
    assert (job.created, job.unchanged, job.invalid) == (1, 2, 1)
    assert job.errors[0]["line"] == 3 and job.errors[0]["field"] == "number"
    assert BlockedNumber.objects.get(number="+12025550143").reason == "Robocalls"


def test_ip_block_rows_report_all_problems_of_a_row(oscar_actor, org) -> None:
    future = (timezone.now() + dt.timedelta(days=30)).date().isoformat()
    job = start(
        oscar_actor,
        "network,reason,expires_at\n"
        f"198.51.100.0/24,Credential stuffing,{future}\n"
        "10.0.0.0/2,,yesterday\n"
        "2001:db8::1,Scraper,\n",
        kind="ip_blocks",
    )
    assert (job.created, job.invalid) == (2, 1)
    assert {(e["line"], e["field"]) for e in job.errors} == {
        (3, "network"),
        (3, "reason"),
        (3, "expires_at"),
    }
    assert set(IPBlock.objects.values_list("network", flat=True)) == {
        "198.51.100.0/24",
        "2001:db8::1/128",
    }


def test_a_row_with_the_wrong_number_of_cells(oscar_actor) -> None:
    job = start(oscar_actor, "number,reason\n+12025550143,a,b\n", kind="block_list")
    assert job.errors == [
        {"line": 2, "field": "row", "reason": "3 cells where the header has 2."}
    ]


def test_viewers_and_support_cannot_import(org, bob) -> None:
    for role in (Role.VIEWER, Role.SUPPORT):
        with pytest.raises(PermissionDenied):
            services.import_start(
                actor=Actor(organisation=org, role=role, user=bob),
                kind="block_list",
                upload=upload("number\n+12025550143\n"),
                enqueue=False,
            )


def test_a_member_demoted_before_the_worker_runs_it(org, oscar, oscar_actor) -> None:
    job = services.import_start(
        actor=oscar_actor,
        kind="block_list",
        upload=upload("number\n+12025550143\n"),
        enqueue=False,
    )
    oscar.memberships.update(role=Role.VIEWER)
    job = services.import_process(import_id=job.pk)
    assert job.status == "failed" and "role" in job.error
    assert not BlockedNumber.objects.exists()


def test_a_system_actor_imports_and_a_deleted_member_does_not(org, oscar) -> None:
    system = Actor.system_for(org, "seed")
    job = start(system, "number\n+12025550143\n", kind="block_list")
    assert job.status == "done" and job.created == 1
    pending = services.import_start(
        actor=Actor(organisation=org, role=Role.OPERATOR, user=oscar),
        kind="block_list",
        upload=upload("number\n+12025550144\n"),
        enqueue=False,
    )
    oscar.delete()
    job = services.import_process(import_id=pending.pk)
    assert job.status == "failed" and "left the organisation" in job.error
