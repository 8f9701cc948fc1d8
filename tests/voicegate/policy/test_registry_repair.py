"""A national list whose files went missing or were damaged is rebuilt from the
kept registry files instead of refusing checks forever."""

from __future__ import annotations

import gzip
import logging

from tests.voicegate.policy.conftest import OWNED, codes
from tests.voicegate.policy.test_registry import _import, _numbers, national
from trustconsole.core.audit_text import sentence
from trustconsole.core.models import AuditEntry
from voicegate.policy import memory, repair, store
from voicegate.policy.tasks import dnc_files_check_task

__all__ = ["national"]  # the fixture, shared with test_registry


def _registry(op, national, tmp_path):
    """A gzip full download, then a change list and a file of additions."""
    numbers = _numbers(20_000)
    full = tmp_path / "dnc-2026-11-30.txt.gz"
    with gzip.open(full, "wt") as out:
        out.write("".join(f"{n}\n" for n in numbers))
    _import(op, national, full)
    national.refresh_from_db()
    changes = tmp_path / "changes-2026-12-01.txt"
    changes.write_text(f"2025550143,A\n{numbers[0]},D\n201,{numbers[1] % 10**7},D\n")
    _import(op, national, changes, mode="changes")
    national.refresh_from_db()
    more = tmp_path / "additions-2026-12-01.txt"
    more.write_text("2025550144\n")
    _import(op, national, more, mode="additions")
    national.refresh_from_db()
    return numbers


def _destinations(check, account, numbers) -> list[list[str]]:
    return [
        codes(check(OWNED, f"+1{n}", account=account))
        for n in (numbers[0], numbers[1], numbers[2], 2025550143, 2025550144)
    ]


EXPECTED = [[], [], ["dnc"], ["dnc"], ["dnc"]]


def test_a_missing_list_file_is_rebuilt_from_the_kept_registry_files(
    op, national, tmp_path, check, account
) -> None:
    """GIVEN a national list made by a full import and two change lists WHEN its
    files vanish THEN checks answer `dnc_unavailable` until the worker's check
    rebuilds every file from the kept registry files (same names, same numbers),
    audited; then checks answer as before."""
    numbers = _registry(op, national, tmp_path)
    version = national.current_version
    assert _destinations(check, account, numbers) == EXPECTED
    assert dnc_files_check_task() == {"ok": 1}
    for path in store.list_dir(national.public_id).iterdir():
        path.unlink()
    memory.states_clear()  # a process starting now
    assert codes(check(OWNED, f"+1{numbers[2]}", account=account)) == [
        "dnc_unavailable"
    ]
    assert dnc_files_check_task() == {"rebuilt": 1}
    kept = {p.name for p in store.list_dir(national.public_id).iterdir()}
    assert kept == set(version.files)
    memory.states_clear()
    assert _destinations(check, account, numbers) == EXPECTED
    entry = AuditEntry.objects.get(action="policy.dnc_files_rebuilt")
    assert "rebuilt the files of" in sentence(entry)
    assert entry.after == {"version": version.number, "count": version.count}


def test_a_damaged_file_is_rebuilt_and_a_deep_check_finds_a_changed_byte(
    op, national, tmp_path, check, account
) -> None:
    numbers = _registry(op, national, tmp_path)
    base = store.list_dir(national.public_id) / national.current_version.base_file
    data = bytearray(base.read_bytes())
    base.write_bytes(bytes(data[:-100]))  # truncated
    assert repair.dnc_files_check() == {"rebuilt": 1}
    assert base.read_bytes() == bytes(data)
    data[4096 + 8 * 5] ^= 0x01  # one number changed: the header still fits
    base.write_bytes(bytes(data))
    assert repair.dnc_files_check() == {"ok": 1}
    assert repair.dnc_files_check(deep=True) == {"rebuilt": 1}
    data[4096 + 8 * 5] ^= 0x01
    assert base.read_bytes() == bytes(data)
    memory.states_clear()
    assert _destinations(check, account, numbers) == EXPECTED


def test_without_kept_files_the_list_stays_refused_and_says_why(
    op, national, tmp_path, check, account, caplog
) -> None:
    numbers = _registry(op, national, tmp_path)
    for path in store.list_dir(national.public_id).iterdir():
        path.unlink()
    for path in store.source_dir(national.public_id).iterdir():
        path.unlink()
    with caplog.at_level(logging.ERROR):
        assert repair.dnc_files_check() == {"no source": 1}
    assert "import the registry file again" in caplog.text
    memory.states_clear()
    assert codes(check(OWNED, f"+1{numbers[2]}", account=account)) == [
        "dnc_unavailable"
    ]


def test_a_new_full_import_drops_older_kept_files(op, national, tmp_path) -> None:
    _registry(op, national, tmp_path)
    assert len(list(store.source_dir(national.public_id).glob("*.src"))) == 3
    again = tmp_path / "dnc-2026-12-02.txt"
    again.write_text("2015550000\n")
    _import(op, national, again)
    national.refresh_from_db()
    kept = sorted(p.name for p in store.source_dir(national.public_id).iterdir())
    stem = f"v{national.current_version.number:09d}"
    assert kept == [f"{stem}.json", f"{stem}.src"]
