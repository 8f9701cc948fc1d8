"""National Do-Not-Call lists kept as versioned, memory-mapped files: the registry's
file formats, change lists, freshness, a missing file, and real second processes
that map the same file and keep answering while another one imports."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import ROOT, child_env
from tests.voicegate.policy.conftest import OWNED, codes
from trustconsole.core.models import AuditEntry
from voicegate.policy import memory, registry, selectors, services, store
from voicegate.policy.choices import ImportStatus
from voicegate.policy.models import DncEntry, DncImport, DncList

START = 2_015_550_000  # (201) 555-0000: a real US area code and exchange


def _numbers(count: int, *, start: int = START) -> list[int]:
    return [start + i for i in range(count)]


def _import(op, dnc_list, path: Path, **options):
    with path.open("rb") as upload:
        job = services.dnc_import_start(
            actor=op, dnc_list=dnc_list, upload=upload, file_name=path.name,
            enqueue=False, **options,
        )  # fmt: skip
    done = services.dnc_import_process(import_id=job.pk, every_seconds=0)
    assert done.status == ImportStatus.DONE, done.error
    return done


@pytest.fixture
def national(op):
    return services.dnc_list_create(
        actor=op, name="US National DNC", kind="national", country="US"
    )


def _admin(op):
    from trustconsole.core.actor import Actor

    return Actor(organisation=op.organisation, role="admin", system="test")


def _on(op, number: int) -> bool:
    """Whether the check finds `number` (10-digit US) on a Do-Not-Call list now."""
    snap = memory.snapshot(op.organisation)
    return bool(snap.dnc.lists_with(10_000_000_000 + number))


def test_plain_area_code_gzip_and_zip_files_give_the_same_list(
    op, national, tmp_path
) -> None:
    """GIVEN the same 50,000 numbers as the registry ships them — one 10-digit
    number a line, `area code,number`, gzip and a zip of two files — WHEN each is
    imported THEN each gives a version holding exactly those numbers."""
    numbers = _numbers(50_000)
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"{n}\n" for n in reversed(numbers)))
    area = tmp_path / "area.txt"
    area.write_text("".join(f"{n // 10**7},{n % 10**7:07d}\n" for n in numbers))
    packed = tmp_path / "dnc.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    archive = tmp_path / "dnc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("201.txt", "".join(f"{n}\n" for n in numbers[:25_000]))
        out.writestr("202.txt", "".join(f"{n}\n" for n in numbers[25_000:]))
    expected = [10_000_000_000 + n for n in numbers]
    for version, path in enumerate((plain, area, packed, archive), start=1):
        done = _import(op, national, path)
        assert (done.rows_read, done.valid, done.invalid) == (50_000, 50_000, 0)
        assert done.added == 50_000
        national.refresh_from_db()
        assert national.current_version.number == version
        assert national.entry_count == 50_000
        assert list(selectors.FileEntries(national).numbers()) == expected, path.name
    assert not DncEntry.objects.exists()
    assert _on(op, numbers[-1]) and not _on(op, numbers[-1] + 1)


def test_bad_lines_in_a_registry_file_are_reported_by_line(
    op, national, tmp_path
) -> None:
    path = tmp_path / "registry.txt"
    path.write_text(
        "Phone Number\n2015550100\n2015550101\nnot a number\n\n555 01\n"
        "+1 415 555 0142\n2015550100\n"
    )
    done = _import(op, national, path)
    assert (done.rows_read, done.valid, done.invalid) == (6, 4, 2)
    assert (done.added, done.duplicates) == (3, 1)
    assert [e["line"] for e in done.errors] == [4, 6]
    assert done.errors[0]["reason"] == "is not a phone number"
    assert _on(op, 4155550142)


def test_a_change_list_applies_without_rebuilding_the_list(
    op, national, tmp_path, check, account
) -> None:
    """GIVEN a national list of 100,000 numbers WHEN the registry's change list
    (additions and deletions, flagged A/D) is imported THEN a new version keeps the
    same base file with small files of changes, the count moves by exactly the
    changes, the check answers from it, and numbers both added and deleted in one
    change list count as added."""
    numbers = _numbers(100_000)
    base = tmp_path / "full.txt"
    base.write_text("".join(f"{n}\n" for n in numbers))
    first = _import(op, national, base)
    national.refresh_from_db()
    base_file = national.current_version.base_file
    changes = tmp_path / "changes.txt"
    changes.write_text(
        "number,change\n"
        "2025550143,A\n"  # new
        "202,5550144,add\n"  # new, area code and number
        f"{numbers[0]},D\n"  # leaves
        f"{numbers[1]},delete\n"  # leaves
        "4155550199,D\n"  # was never on the list: nothing to remove
        f"{numbers[2]},A\n"  # already there
        "2025550145,A\n2025550145,D\n"  # both in one list: kept (do not call)
        "2025550146,X\n"  # unknown flag
    )
    done = _import(op, national, changes, mode="changes")
    assert (done.rows_read, done.valid, done.invalid) == (9, 8, 1)
    assert done.errors[0]["reason"] == "has no A (added) or D (deleted) flag"
    national.refresh_from_db()
    version = national.current_version
    assert version.number == first.version.number + 1
    assert version.mode == "changes"
    assert version.base_file == base_file  # no rebuild of 100,000 numbers
    assert (version.additions, version.deletions) == (3, 2)
    assert national.entry_count == 100_001 == version.count
    assert codes(check(OWNED, "+12025550143", account=account)) == ["dnc"]
    assert codes(check(OWNED, "+12025550145", account=account)) == ["dnc"]
    assert check(OWNED, f"+1{numbers[0]}", account=account)["allowed"] is True
    # A second change list builds on the first one's changes.
    more = tmp_path / "more.txt"
    more.write_text("2025550143\n")
    _import(op, national, more, mode="deletions")
    national.refresh_from_db()
    assert national.entry_count == 100_000
    assert national.current_version.base_file == base_file
    assert check(OWNED, "+12025550143", account=account)["allowed"] is True
    audit = AuditEntry.objects.filter(action="policy.dnc_import_done").first()
    assert audit.after["mode"] == "deletions"
    # Only the current and the previous version's files are kept.
    kept = {p.name for p in store.list_dir(national.public_id).iterdir()}
    previous = national.versions.get(number=version.number)
    assert kept == set(national.current_version.files) | set(previous.files)


def test_single_numbers_on_a_national_list_survive_a_change_list(
    op, national, tmp_path
) -> None:
    path = tmp_path / "full.txt"
    path.write_text("2015550100\n2015550101\n")
    _import(op, national, path)
    services.dnc_number_add(actor=op, dnc_list=national, number="+12025550177")
    services.dnc_number_remove(
        actor=op, dnc_list=national, number="+12015550100", reason="x"
    )
    with pytest.raises(ValidationError):
        services.dnc_number_remove(
            actor=op, dnc_list=national, number="+12015550100", reason="x"
        )
    national.refresh_from_db()
    assert national.entry_count == 2
    assert _on(op, 2025550177) and not _on(op, 2015550100)
    changes = tmp_path / "changes.txt"
    changes.write_text("2015550199,A\n")
    _import(op, national, changes, mode="changes")
    national.refresh_from_db()
    assert national.entry_count == 3
    assert _on(op, 2025550177) and not _on(op, 2015550100) and _on(op, 2015550199)
    # A new full registry file replaces the list, single changes made before it too.
    path.write_text("2015550300\n")
    _import(op, national, path)
    national.refresh_from_db()
    assert national.entry_count == 1
    assert not _on(op, 2025550177) and _on(op, 2015550300)


def test_change_lists_need_a_national_list_with_a_version(op, national, tmp_path):
    path = tmp_path / "changes.txt"
    path.write_text("2015550100,A\n")
    own = services.dnc_list_create(actor=op, name="Own")
    for dnc_list, field in ((own, "mode"), (national, "mode")):
        with pytest.raises(ValidationError) as exc, path.open("rb") as upload:
            services.dnc_import_start(
                actor=op, dnc_list=dnc_list, upload=upload, file_name="c.txt",
                mode="changes", enqueue=False,
            )  # fmt: skip
        assert field in exc.value.message_dict
    with pytest.raises(ValidationError) as exc, path.open("rb") as upload:
        services.dnc_import_start(
            actor=op, dnc_list=national, upload=upload, file_name="c.txt",
            as_of=timezone.localdate() + dt.timedelta(days=3), enqueue=False,
        )  # fmt: skip
    assert "as_of" in exc.value.message_dict
    assert not DncImport.objects.exists()


def test_a_failed_import_leaves_the_old_version_answering(op, national, tmp_path):
    path = tmp_path / "full.txt"
    path.write_text("2015550100\n")
    _import(op, national, path)
    with path.open("rb") as upload:
        job = services.dnc_import_start(
            actor=op, dnc_list=national, upload=upload, file_name="x.txt",
            enqueue=False,
        )  # fmt: skip
    Path(job.file_path).unlink()
    failed = services.dnc_import_process(import_id=job.pk)
    assert failed.status == ImportStatus.FAILED
    national.refresh_from_db()
    assert national.current_version.number == 1
    assert _on(op, 2015550100)
    assert not list(store.list_dir(national.public_id).glob(".build-*"))


# --- Freshness --------------------------------------------------------------------


def _dated(op, national, tmp_path, days_ago: int) -> None:
    path = tmp_path / "full.txt"
    path.write_text("2015550100\n")
    _import(op, national, path, as_of=timezone.localdate() - dt.timedelta(days_ago))


def test_a_national_list_older_than_31_days_warns_or_refuses(
    op, national, tmp_path, check, account
) -> None:
    """GIVEN a national list from 40 days ago WHEN a US destination is checked THEN
    the answer warns (the default) or, if the organisation says so, refuses with
    `dnc_stale`; destinations outside the list's country are not affected, and a
    list from 31 days ago is still fresh."""
    _dated(op, national, tmp_path, 40)
    answer = check(OWNED, "+14155550199", account=account)
    assert answer["allowed"] is True
    assert [w["code"] for w in answer["warnings"]] == ["dnc_stale"]
    assert "40 days ago" in answer["warnings"][0]["message"]
    assert check(OWNED, "+442079460321", account=account)["warnings"] == []
    services.policy_settings_update(actor=_admin(op), dnc_stale_mode="refuse")
    answer = check(OWNED, "+14155550199", account=account)
    assert codes(answer) == ["dnc_stale"]
    assert answer["warnings"] == []
    rows = selectors.dnc_list_freshness()
    assert rows[0]["stale"] is True and rows[0]["age_days"] == 40
    assert rows[0]["file_ok"] is True and rows[0]["version"] == 1
    _dated(op, national, tmp_path, 31)
    assert check(OWNED, "+14155550199", account=account)["allowed"] is True
    assert selectors.dnc_list_freshness(actor=op)[0]["stale"] is False


def test_the_registry_date_comes_from_the_file_name(op, national, tmp_path) -> None:
    path = tmp_path / "dnc-2026-11-03.txt"
    path.write_text("2015550100\n")
    with path.open("rb") as upload:
        job = services.dnc_import_start(
            actor=op, dnc_list=national, upload=upload, file_name=path.name,
            enqueue=False,
        )  # fmt: skip
    assert job.as_of == dt.date(2026, 11, 3)


def test_the_policy_page_shows_a_stale_national_list(
    op, national, tmp_path, bob
) -> None:
    from django.test import Client

    from tests.conftest import PASSWORD

    _dated(op, national, tmp_path, 45)
    client = Client()
    assert client.login(username=bob.username, password=PASSWORD)
    html = client.get("/voice/policy/").content.decode()
    assert 'data-testid="dnc-freshness"' in html
    assert "45 days old" in html
    assert "older than 31 days" in html


# --- A missing file -----------------------------------------------------------------


def test_a_missing_list_file_fails_closed_by_default_never_a_500(
    op, national, tmp_path, account, api_client_for, caplog
) -> None:
    """GIVEN a national list whose file has vanished from this server WHEN a
    process that has not mapped it yet checks a US destination THEN the answer is
    a refusal `dnc_unavailable` (fail closed; a warning if the organisation fails
    open), logged loudly; destinations in other countries are not affected, and
    importing the registry file again puts things right."""
    _dated(op, national, tmp_path, 1)
    for path in store.list_dir(national.public_id).iterdir():
        path.unlink()
    memory.states_clear()  # a process starting now
    client = api_client_for(op.organisation, "operator")
    body = {"from": OWNED, "to": "+14155550199", "account": str(account.public_id)}
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/voice/outbound-check", body, format="json")
    assert response.status_code == 200
    assert response.json()["allowed"] is False
    assert codes(response.json()) == ["dnc_unavailable"]
    assert "DNC-UNAVAILABLE" in caplog.text
    other = {**body, "to": "+442079460321"}
    assert client.post("/api/v1/voice/outbound-check", other, format="json").json()[
        "allowed"
    ]
    assert selectors.dnc_list_freshness()[0]["file_ok"] is False
    services.policy_settings_update(actor=_admin(op), dnc_unavailable_mode="warn")
    answer = client.post("/api/v1/voice/outbound-check", body, format="json").json()
    assert answer["allowed"] is True
    assert [w["code"] for w in answer["warnings"]] == ["dnc_unavailable"]
    _dated(op, national, tmp_path, 1)
    answer = client.post("/api/v1/voice/outbound-check", body, format="json").json()
    assert answer.pop("explanation")["decision"] == "allow"
    assert answer == {"allowed": True, "violations": [], "warnings": []}


# --- Real second processes --------------------------------------------------------

CHILD = """
import json, os, sys
import django
django.setup()
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from voicegate.policy import services
org = Organisation.objects.get(slug="alpha")
actor = Actor.system_for(org, "second process")
print(json.dumps({"pid": os.getpid()}), flush=True)
for line in sys.stdin:
    answers = {}
    for to in json.loads(line):
        outcome = services.outbound_check(
            actor=actor, from_number=sys.argv[1], to_number=to
        )
        answers[to] = outcome.allowed
    print(json.dumps(answers), flush=True)
"""


class Second:
    """A second Django process answering checks on request (stdin → stdout)."""

    def __init__(self, settings) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, OWNED],
            cwd=ROOT,
            env=child_env(POLICY_DNC_FILE_DIR=str(settings.POLICY_DNC_FILE_DIR)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = json.loads(self.proc.stdout.readline())["pid"]

    def allowed(self, *numbers: str) -> dict[str, bool]:
        self.proc.stdin.write(json.dumps(numbers) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the second process died"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=20)


@pytest.fixture
def second(transactional_db, settings):
    started: list[Second] = []

    def start() -> Second:
        started.append(Second(settings))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


def _verified(op) -> None:
    services.caller_id_verify(actor=op, number=OWNED, method="document")


def test_a_second_process_maps_the_same_file(op, national, tmp_path, second):
    """GIVEN a national list imported here WHEN a second process checks a number
    THEN it answers from the very file this process wrote, mapped read-only and
    shared (no private copy of its pages), not from a copy of the numbers."""
    _verified(op)
    path = tmp_path / "full.txt"
    path.write_text("".join(f"{n}\n" for n in _numbers(300_000)))
    _import(op, national, path, as_of=timezone.localdate())
    national.refresh_from_db()
    file = store.list_dir(national.public_id) / national.current_version.base_file
    other = second()
    assert other.allowed("+12015550100", "+12025550100") == {
        "+12015550100": False,
        "+12025550100": True,
    }
    maps = Path(f"/proc/{other.pid}/maps").read_text().splitlines()
    mapped = [line for line in maps if line.endswith(str(file))]
    assert mapped, "the second process does not map the list file"
    assert all(line.split()[1] == "r--s" for line in mapped)  # read-only, shared
    smaps = Path(f"/proc/{other.pid}/smaps").read_text().split(str(file))[1]
    private_dirty = int(smaps.split("Private_Dirty:")[1].split()[0])
    assert private_dirty == 0
    # This process maps the same inode.
    snap = memory.snapshot(op.organisation)
    assert snap.dnc.lists[national.pk].files.base.path.samefile(file)


def test_a_reimport_switches_atomically_while_another_process_answers(
    op, national, tmp_path, second, settings
) -> None:
    """GIVEN version 1 of a national list and a second process answering checks
    WHEN this process imports version 2 THEN while the import runs the second
    process keeps answering from version 1 (no gap: a number on both is refused
    throughout), and after the switch it answers from version 2 on its next check,
    with version 1's file still there for anyone who mapped it."""
    _verified(op)
    both, only_old, only_new = "+12015550100", "+12015550101", "+12015550102"
    v1 = tmp_path / "v1.txt"
    v1.write_text(
        "2015550100\n2015550101\n"
        + "".join(f"{n}\n" for n in _numbers(200_000, start=2035550000))
    )
    _import(op, national, v1)
    national.refresh_from_db()
    old_file = store.list_dir(national.public_id) / national.current_version.base_file
    other = second()
    before = {both: False, only_old: False, only_new: True}
    assert other.allowed(both, only_old, only_new) == before
    v2 = tmp_path / "v2.txt"
    v2.write_text(
        "2015550100\n2015550102\n"
        + "".join(f"{n}\n" for n in _numbers(400_000, start=2035550000))
    )
    during: list[dict[str, bool]] = []

    def watch(progress) -> None:
        during.append(other.allowed(both, only_old, only_new))

    with v2.open("rb") as upload:
        job = services.dnc_import_start(
            actor=op, dnc_list=national, upload=upload, file_name="v2.txt",
            enqueue=False,
        )  # fmt: skip
    done = services.dnc_import_process(
        import_id=job.pk, on_progress=watch, every_seconds=0
    )
    assert done.status == ImportStatus.DONE
    assert during and all(answer == before for answer in during)
    after = other.allowed(both, only_old, only_new)
    assert after == {both: False, only_old: True, only_new: False}
    assert old_file.exists()  # the previous version's file stays
    assert DncList.objects.get(pk=national.pk).current_version.number == 2


def test_the_command_imports_a_change_list_with_its_date(org, tmp_path) -> None:
    import io

    full = tmp_path / "dnc.txt.gz"
    full.write_bytes(gzip.compress(b"2015550100\n2015550101\n"))
    out = io.StringIO()
    call_command(
        "import_dnc", str(full), organisation="alpha", list="US National DNC",
        create=True, kind="national", country="US", as_of="2026-11-20", stdout=out,
    )  # fmt: skip
    assert (
        "Version 1 (full list (replaces the list), as of 2026-11-20)" in out.getvalue()
    )
    changes = tmp_path / "changes.txt"
    changes.write_text("201,5550102,A\n201,5550100,D\n")
    out = io.StringIO()
    call_command(
        "import_dnc", str(changes), organisation="alpha", list="US National DNC",
        mode="changes", as_of="2026-11-27", stdout=out,
    )  # fmt: skip
    assert "Version 2" in out.getvalue()
    national = DncList.objects.get(organisation=org)
    assert national.entry_count == 2
    assert national.as_of == dt.date(2026, 11, 27)


def test_the_api_imports_a_change_list_and_refuses_bad_options(
    org, api_client_for, tmp_path
) -> None:
    client = api_client_for(org, "operator")
    created = client.post(
        "/api/v1/voice/dnc-lists",
        {"name": "US National", "kind": "national", "country": "US"},
        format="json",
    ).json()
    assert created["storage"] == "file"
    assert created["version"] is None and created["as_of"] is None
    url = f"/api/v1/voice/dnc-lists/{created['id']}/imports"
    bad = client.post(
        url,
        {"file": _upload(tmp_path, b"2015550100,A\n"), "mode": "changes"},
        format="multipart",
    )
    assert bad.status_code == 400
    assert "mode" in bad.json()["errors"] or "mode" in str(bad.json())
    wrong = client.post(
        url,
        {"file": _upload(tmp_path, b"2015550100\n"), "mode": "everything"},
        format="multipart",
    )
    assert wrong.status_code == 400
    full = client.post(
        url,
        {
            "file": _upload(tmp_path, gzip.compress(b"2015550100\n")),
            "as_of": "2026-11-25",
        },
        format="multipart",
    )
    assert full.status_code == 202, full.json()
    assert full.json()["mode"] == "full" and full.json()["as_of"] == "2026-11-25"
    services.dnc_import_process(import_id=DncImport.objects.get().pk)
    detail = client.get(f"/api/v1/voice/dnc-lists/{created['id']}").json()
    assert (detail["version"], detail["entry_count"]) == (1, 1)
    assert DncImport.objects.count() == 1


def _upload(tmp_path: Path, content: bytes):
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    return path.open("rb")


def test_registry_files_are_complete_or_refused(tmp_path) -> None:
    path = tmp_path / "list.bin"
    from array import array

    assert registry.write_numbers(path, [array("q", [1, 5, 9])]) == 3
    numbers = registry.NumberSet(path)
    assert 5 in numbers and 6 not in numbers and list(numbers) == [1, 5, 9]
    numbers.close()
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(registry.DncFileError, match="truncated"):
        registry.NumberSet(path)
    path.write_bytes(b"not a list file at all")
    with pytest.raises(registry.DncFileError, match="not a Do-Not-Call list"):
        registry.NumberSet(path)
    with pytest.raises(registry.DncFileError, match="missing"):
        registry.NumberSet(tmp_path / "nothing.bin")


def test_emptying_and_deleting_a_national_list(
    op, national, tmp_path, django_capture_on_commit_callbacks
) -> None:
    """GIVEN an imported national list WHEN it is emptied THEN a new, empty version
    answers (audited); WHEN it is deleted THEN its files go with it."""
    path = tmp_path / "full.txt"
    path.write_text("2015550100\n2015550101\n")
    _import(op, national, path)
    services.dnc_list_empty(actor=op, dnc_list=national, reason="new registry")
    national.refresh_from_db()
    assert (national.entry_count, national.current_version.number) == (0, 2)
    assert not _on(op, 2015550100)
    entry = AuditEntry.objects.get(action="policy.dnc_list_empty")
    assert entry.before == {"entry_count": 2} and entry.reason == "new registry"
    directory = store.list_dir(national.public_id)
    assert directory.is_dir()
    with django_capture_on_commit_callbacks(execute=True):
        services.dnc_list_delete(actor=op, dnc_list=national, reason="not needed")
    assert not DncList.objects.filter(pk=national.pk).exists()
    assert not directory.exists()
