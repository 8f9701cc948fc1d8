"""CSV imports: a generated 1,000,000-row file, streaming memory, the management
command's progress line, bad rows, failures and a real worker."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import wait_for
from tests.voicegate.policy.conftest import OWNED, codes
from trustconsole.core.models import AuditEntry
from voicegate.policy import memory, services
from voicegate.policy.choices import ImportStatus
from voicegate.policy.models import DncEntry, DncImport, DncList
from voicegate.policy.tasks import dnc_import_task


def _write_csv(path: Path, rows: int, *, start: int = 2_015_550_000) -> Path:
    """`rows` US numbers in E.164, one per row, with a header; streamed to disk."""
    with path.open("w") as out:
        out.write("phone_number,name\n")
        block = []
        for i in range(rows):
            block.append(f"+1{start + i},Subscriber {i}\n")
            if len(block) == 50_000:
                out.write("".join(block))
                block = []
        out.write("".join(block))
    return path


def _start(op, dnc_list, path: Path, *, region: str = ""):
    with path.open("rb") as upload:
        return services.dnc_import_start(
            actor=op,
            dnc_list=dnc_list,
            upload=upload,
            file_name=path.name,
            region=region,
            enqueue=False,
        )


def test_a_million_row_csv_is_imported_with_progress(
    op, account, check, tmp_path
) -> None:
    """GIVEN a generated 1,000,000-row CSV (plus 1,000 unusable rows and 5,000
    repeats) WHEN it is imported into a national list THEN progress is recorded on
    the import row as it goes, every usable number is in the list's new version
    once, the counts add up, the check maps the new file, and the upload is deleted
    afterwards."""
    path = _write_csv(tmp_path / "registry.csv", 1_000_000)
    with path.open("a") as out:
        for i in range(1_000):
            out.write(f"not-a-number-{i},Bad\n")
        for i in range(5_000):
            out.write(f"+1{2_015_550_000 + i},Repeat\n")
    dnc_list = services.dnc_list_create(actor=op, name="US National", kind="national")
    job = _start(op, dnc_list, path)
    assert job.status == ImportStatus.PENDING
    assert job.file_size == path.stat().st_size

    seen: list[tuple[int, int, int]] = []

    def watch(progress) -> None:
        row = DncImport.objects.get(pk=job.pk)
        seen.append((row.bytes_read, row.rows_read, progress.percent))

    done = services.dnc_import_process(
        import_id=job.pk, on_progress=watch, every_seconds=0
    )
    assert done.status == ImportStatus.DONE, done.error
    assert done.rows_read == 1_006_000
    assert done.valid == 1_005_000
    assert done.invalid == 1_000
    assert done.added == 1_000_000
    assert done.duplicates == 5_000
    assert done.percent == 100
    assert len(done.errors) == 20
    assert done.errors[0] == {
        "line": 1_000_002,
        "value": "not-a-number-0",
        "reason": "is not a phone number",
    }
    # Progress was written to the row block by block (4 MB each), moving forward.
    assert len(seen) >= 5
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[0][2] < 25
    assert seen[-1][2] == 100
    dnc_list.refresh_from_db()
    assert dnc_list.entry_count == 1_000_000
    assert dnc_list.current_version.count == 1_000_000
    assert not DncEntry.objects.exists()  # the national list lives in its files
    assert not list(Path(services.import_dir()).glob("*.csv"))
    audit = AuditEntry.objects.get(action="policy.dnc_import_done")
    assert audit.after["added"] == 1_000_000
    assert audit.after["version"] == 1
    # The check maps the new version on its next call.
    assert codes(check(OWNED, "+12015999999", account=account)) == ["dnc"]
    assert check(OWNED, "+12016550000", account=account)["allowed"] is True
    index = memory.state_for(op.organisation).dnc.value
    copy = index.lists[dnc_list.pk]
    assert copy.files.mapped_bytes == 8_000_000
    assert index.nbytes == 0  # nothing copied into this process


def test_memory_does_not_grow_with_the_file(op, tmp_path, monkeypatch) -> None:
    """GIVEN batches of 1,000 numbers and files of 5,000 and 50,000 rows WHEN each
    is imported THEN the peak Python memory of the import is about the same: the
    file is streamed, one batch at a time."""
    from voicegate.policy import importer

    monkeypatch.setattr(importer, "BATCH", 1_000)
    peaks = []
    for rows in (5_000, 50_000):
        dnc_list = services.dnc_list_create(actor=op, name=f"List {rows}")
        path = _write_csv(tmp_path / f"{rows}.csv", rows, start=3_015_550_000)
        job = _start(op, dnc_list, path)
        tracemalloc.start()
        try:
            services.dnc_import_process(import_id=job.pk)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert DncList.objects.get(pk=dnc_list.pk).entry_count == rows
    small, large = peaks
    # Ten times the rows (1.3 MB of file), not even a quarter more memory.
    assert large < small * 1.25, peaks


def test_headers_countries_blank_lines_and_bad_rows(op, check, account, tmp_path):
    """GIVEN a CSV with a BOM, a header naming `telephone` and `country`, national
    numbers of two countries, blank lines and bad rows WHEN imported THEN each
    number is read in its row's country and bad rows are reported by line."""
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "\ufeffname,telephone,country\n"
        "Ann,(415) 555-0142,US\n"
        "\n"
        "Bob,020 7946 0321,GB\n"
        'Cy,"+49 30 123456",\n'
        "Di,12,US\n"
        "Ed,,US\n"
        "Fay,+1 415 555 0142,\n".encode()
    )
    dnc_list = services.dnc_list_create(actor=op, name="Mixed", country="US")
    done = services.dnc_import_process(import_id=_start(op, dnc_list, path).pk)
    assert done.status == ImportStatus.DONE
    assert (done.rows_read, done.valid, done.invalid) == (6, 4, 2)
    assert (done.added, done.duplicates) == (3, 1)
    assert [e["line"] for e in done.errors] == [6, 7]
    assert done.errors[1]["reason"] == "is empty"
    assert sorted(
        DncEntry.objects.filter(dnc_list=dnc_list).values_list("number", flat=True)
    ) == [4930123456, 14155550142, 442079460321]
    assert codes(check(OWNED, "+442079460321", account=account)) == ["dnc"]


def test_a_file_without_header_uses_the_first_column(op, tmp_path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("4155550142\n4155550143,extra,columns\n")
    dnc_list = services.dnc_list_create(actor=op, name="Plain")
    done = services.dnc_import_process(
        import_id=_start(op, dnc_list, path, region="US").pk
    )
    assert done.added == 2


def test_empty_and_binary_files_are_refused(op, tmp_path) -> None:
    from django.core.exceptions import ValidationError

    dnc_list = services.dnc_list_create(actor=op, name="Own")
    for name, content in (("empty.csv", b""), ("photo.csv", b"\x89PNG\r\n\x00\x00")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValidationError) as exc:
            _start(op, dnc_list, path)
        assert "file" in exc.value.message_dict
    assert not DncImport.objects.exists()
    assert not list(Path(services.import_dir()).glob("*"))


def test_an_import_runs_once(op, tmp_path) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    job = _start(op, dnc_list, _write_csv(tmp_path / "a.csv", 10))
    assert dnc_import_task(job.pk) == {"rows": 10, "added": 10, "invalid": 0}
    assert dnc_import_task(job.pk) is None


def test_a_vanished_file_fails_the_import_visibly(op, tmp_path) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    job = _start(op, dnc_list, _write_csv(tmp_path / "a.csv", 10))
    Path(job.file_path).unlink()
    done = services.dnc_import_process(import_id=job.pk)
    assert done.status == ImportStatus.FAILED
    assert "FileNotFoundError" in done.error
    assert done.finished_at is not None


def test_the_command_prints_a_progress_line(org, tmp_path) -> None:
    path = _write_csv(tmp_path / "national.csv", 30_000)
    out = io.StringIO()
    call_command(
        "import_dnc",
        str(path),
        organisation="alpha",
        list="US National DNC",
        create=True,
        kind="national",
        country="US",
        stdout=out,
    )
    text = out.getvalue()
    assert "100%  30,000 rows read, 30,000 valid, 0 unusable" in text
    assert "Imported 30,000 rows into US National DNC: 30,000 added" in text
    dnc_list = DncList.objects.get(organisation=org, name="US National DNC")
    assert dnc_list.entry_count == 30_000
    assert dnc_list.kind == "national"
    assert DncImport.objects.get().created_by == "system: import_dnc"


def test_the_command_explains_what_is_missing(org, tmp_path) -> None:
    from django.core.management.base import CommandError

    path = _write_csv(tmp_path / "a.csv", 3)
    with pytest.raises(CommandError, match="add --create"):
        call_command("import_dnc", str(path), organisation="alpha", list="Nope")
    with pytest.raises(CommandError, match="No organisation"):
        call_command("import_dnc", str(path), organisation="zzz", list="Nope")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_dnc", "/nonexistent.csv", organisation="alpha", list="x")


@pytest.mark.worker
def test_a_real_worker_imports_an_upload(
    org, api_client_for, celery_worker_queue, tmp_path
) -> None:
    """GIVEN a CSV uploaded through the API WHEN a real Celery worker picks the task
    up THEN polling the import shows it finished with every number added."""
    client = api_client_for(org, "operator")
    created = client.post(
        "/api/v1/voice/dnc-lists", {"name": "Own", "kind": "internal"}, format="json"
    )
    assert created.status_code == 201, created.json()
    path = _write_csv(tmp_path / "upload.csv", 25_000)
    with path.open("rb") as upload:
        response = client.post(
            f"/api/v1/voice/dnc-lists/{created.json()['id']}/imports",
            {"file": upload, "region": "US"},
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    url = f"/api/v1/voice/dnc-imports/{response.json()['id']}"
    body = wait_for(
        lambda: (b := client.get(url).json())["status"] in ("done", "failed") and b,
        timeout=60,
        what="the worker to finish the import",
    )
    assert body["status"] == "done", body
    assert body["added"] == 25_000
    assert body["percent"] == 100
