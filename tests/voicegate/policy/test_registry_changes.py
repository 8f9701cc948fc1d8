"""Change lists of the national registry at CI size: the column reader gives what
the line-by-line reader gives, or declines; the merge gives what applying one
number at a time gives; a compressed change list with bad lines applied to a
1,000,000-number list answers from the old version until the switch and from
exactly the expected numbers after it."""

from __future__ import annotations

import gzip
import random
from array import array
from pathlib import Path

import pytest

from voicegate.policy import memory, registry, registry_parse, selectors, services
from voicegate.policy.choices import ImportStatus
from voicegate.policy.importer import ImportProgress

NANP = 10_000_000_000
LISTED = [2_015_000_000 + 2 * i for i in range(1_000_000)]  # even: on the list


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            b"2015550123,A\n2015550124,D\n9995550125,a\n2025550100,d\n",
            ([12015550123, 19995550125], [12015550124, 12025550100]),
        ),
        (b"201,5550123,A\n202,5550124,D\n", ([12015550123], [12025550124])),
        (b"2015550123,A\r\n2015550124,D\r\n", ([12015550123], [12015550124])),
        (b"201,5550123,D\r\n", ([], [12015550123])),
        (b"2015550123,A\n2015550124,A\n", ([12015550123, 12015550124], [])),
        (b"1015550123,A\n", None),  # area code 101
        (b"2015550123,X\n", None),  # unknown flag
        (b"20155501x3,A\n", None),
        (b"201555 123,A\n", None),
        (b"2015550123;A\n", None),
        (b"2015550123,A\n201555012,A\n", None),  # nine digits: widths differ
        (b"2015550123,A\n201,5550124,D\n", None),  # layouts differ
        (b"2015550123,A", None),  # no newline at the end
        (b"", None),
    ],
)
def test_a_block_of_change_lines_is_read_by_columns_exactly_or_not_at_all(
    block, expected
) -> None:
    assert registry_parse._column_changes(block) == expected
    if expected is not None:  # the previous fast reader agrees
        assert registry_parse._fast_changes(block) == expected


def _reference_read(lines: list[str]) -> tuple[list[int], list[int]]:
    added, deleted = [], []
    for text in lines:
        digits, flag = text.replace(",", "")[:-1], text[-1]
        (added if flag in "Aa" else deleted).append(NANP + int(digits))
    return added, deleted


@pytest.mark.parametrize("layout", ["plain", "area"])
def test_a_compressed_change_list_reads_like_line_by_line(tmp_path, layout) -> None:
    """GIVEN 600,000 change lines (gzip, a header, both flags in either case)
    WHEN read THEN the numbers are those of each line, in order, over several
    blocks, and every row is counted."""
    rng = random.Random(layout)
    lines = []
    for _ in range(600_000):
        number = rng.randrange(2_000_000_000, 10_000_000_000)
        text = (
            f"{number}"
            if layout == "plain"
            else f"{number // 10**7},{number % 10**7:07d}"
        )
        lines.append(f"{text},{rng.choice('AaDd')}")
    path = tmp_path / "changes.txt.gz"
    path.write_bytes(
        gzip.compress(("number,flag\n" + "\n".join(lines) + "\n").encode())
    )
    progress = ImportProgress(size=path.stat().st_size)
    batches = list(registry.read_changes(path, region="US", progress=progress))
    assert len(batches) > 1
    added = [n for batch, _ in batches for n in batch]
    deleted = [n for _, batch in batches for n in batch]
    assert (added, deleted) == _reference_read(lines)
    assert (progress.rows_read, progress.valid, progress.invalid) == (600_000,) * 2 + (
        0,
    )


def _apply(listed: set[int], added: list[int], deleted: list[int]) -> set[int]:
    """One number at a time: deletions, then additions (added and deleted in one
    change list: added)."""
    return (listed - set(deleted)) | set(added)


def test_two_change_lists_merge_into_a_million_numbers_like_sets(tmp_path) -> None:
    """GIVEN a base of 1,000,000 numbers WHEN two change lists (additions of listed
    and unlisted numbers, deletions of listed and unlisted ones, numbers in both)
    are merged one after the other THEN the version holds exactly the numbers of
    applying them one at a time, adds never overlap the base and dels are in it."""
    registry.write_numbers(
        tmp_path / "base.bin", [array("q", [NANP + n for n in LISTED])]
    )
    base = registry.NumberSet(tmp_path / "base.bin")
    rng = random.Random(14)
    expected = {NANP + n for n in LISTED}
    adds: list[int] = []
    dels: list[int] = []
    for _ in range(2):
        added = [
            NANP + rng.randrange(2_015_000_000, 2_017_000_000) for _ in range(150_000)
        ]
        deleted = [
            NANP + rng.randrange(2_015_000_000, 2_017_000_000) for _ in range(150_000)
        ]
        deleted += added[:5_000]  # both in one change list: added
        adds, dels = registry.merge_changes(base, adds, dels, added, deleted)
        expected = _apply(expected, added, deleted)
        assert adds == sorted(set(adds)) and dels == sorted(set(dels))
        assert not any(registry.has_each(base, adds))
        assert all(registry.has_each(base, dels))
        version = (set(base) - set(dels)) | set(adds)
        assert version == expected
        assert len(base) + len(adds) - len(dels) == len(expected)
    base.close()


def _import(op, dnc_list, path: Path, *, on_progress=None, **options):
    with path.open("rb") as upload:
        job = services.dnc_import_start(
            actor=op, dnc_list=dnc_list, upload=upload, file_name=path.name,
            enqueue=False, **options,
        )  # fmt: skip
    done = services.dnc_import_process(
        import_id=job.pk, every_seconds=0, on_progress=on_progress
    )
    assert done.status == ImportStatus.DONE, done.error
    return done


def _on(op, number: int) -> bool:
    snap = memory.snapshot(op.organisation)
    return bool(snap.dnc.lists_with(NANP + number))


def test_a_change_list_switches_a_million_numbers_without_a_gap(op, tmp_path) -> None:
    """GIVEN a national list of 1,000,000 numbers WHEN a gzip change list of
    410,000 rows (new numbers, numbers already listed, numbers leaving, numbers
    never listed leaving, numbers both added and deleted, a header and bad lines)
    is imported THEN while it is read the check answers from the old version,
    after the switch from a version of exactly the expected numbers on the same
    base file, with the bad lines counted and reported by line."""
    national = services.dnc_list_create(
        actor=op, name="US National DNC", kind="national", country="US"
    )
    full = tmp_path / "dnc-2026-11-30.txt"
    full.write_text("".join(f"{n}\n" for n in LISTED))
    _import(op, national, full)
    national.refresh_from_db()
    base_file = national.current_version.base_file
    rng = random.Random(7)
    unlisted = rng.sample(range(1_000_000), 200_000)
    listed = rng.sample(range(1_000_000), 200_000)
    new = [LISTED[i] + 1 for i in unlisted[:150_000]]
    again = [LISTED[i] for i in listed[:50_000]]
    leaving = [LISTED[i] for i in listed[50_000:]]
    never = [LISTED[i] + 1 for i in unlisted[150_000:190_000]]
    both = [LISTED[i] + 1 for i in unlisted[190_000:]]
    rows = [f"{n},A" for n in new + again + both]
    rows += [f"{n},D" for n in leaving + never + both]
    rng.shuffle(rows)
    rows += ["2015550123,X", "201555012,D"]  # bad flag, nine digits
    changes = tmp_path / "changes-2026-12-01.txt.gz"
    changes.write_bytes(
        gzip.compress(("phone,change\n" + "\n".join(rows) + "\n").encode())
    )
    watched = (leaving[0], new[0], both[0], never[0])
    during: list[tuple[bool, ...]] = []

    def reading(progress: ImportProgress) -> None:
        during.append(tuple(_on(op, n) for n in watched))

    done = _import(op, national, changes, mode="changes", on_progress=reading)
    assert during and set(during) == {(True, False, False, False)}  # the old version
    assert (done.rows_read, done.valid, done.invalid) == (410_002, 410_000, 2)
    assert [e["line"] for e in done.errors] == [410_002, 410_003]
    national.refresh_from_db()
    version = national.current_version
    assert version.base_file == base_file and version.mode == "changes"
    expected = _apply(set(LISTED), new + again + both, leaving + never + both)
    assert (version.additions, version.deletions) == (160_000, 150_000)
    assert national.entry_count == version.count == len(expected) == 1_010_000
    numbers = selectors.FileEntries(national).numbers()
    assert list(numbers) == [NANP + n for n in sorted(expected)]
    assert tuple(_on(op, n) for n in watched) == (False, True, True, False)
