"""Change lists as int64 arrays (registry_arrays.py): the array reader accepts and
rejects exactly the lines the line-by-line reader does, reporting bad lines by the
same line numbers; the array merge gives what the list merge and applying one
number at a time give, edge cases included; lookups in a list file answer like a
set; files written from arrays are the files written from `array('q')`."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import numpy as np
import pytest

from voicegate.policy import registry, registry_parse
from voicegate.policy import registry_arrays as arrays
from voicegate.policy.importer import ImportProgress

NANP = 10_000_000_000


def _line_by_line(block: bytes) -> tuple[list[int], list[int], ImportProgress]:
    progress = ImportProgress(size=0)
    lines = block.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    added, deleted = registry_parse.change_lines(
        enumerate(lines, 1), region="US", progress=progress
    )
    return added, deleted, progress


@pytest.mark.parametrize(
    ("block", "left"),
    [
        (b"2015550123,A\n2015550124,D\n9995550125,a\n2025550100,d\n", []),
        (b"201,5550123,A\n202,5550124,D\n", []),
        (b"2015550123,A\r\n2015550124,D\r\n", []),
        (b"201,5550123,D\r\n", []),
        (b"2015550123,A\n201,5550124,D\n2015550125,d\r\n", []),  # mixed widths
        (b"2015550123,A\n201,5550124,D", []),  # no newline at the end
        (b"1015550123,A\n2015550123,A\n", [0]),  # area code 101
        (b"2015550123,X\n2015550124,A\n", [0]),  # unknown flag
        (b"2015550124,A\n20155501x3,A\n", [1]),
        (b"201555 123,A\n", [0]),
        (b"2015550123;A\n", [0]),
        (b"2015550123,A\n201555012,A\n", [1]),  # nine digits
        (b"2015550123,A\n\n2015550124,D\n", [1]),  # a blank line
        (b" 2015550123 , add\n+12015550124,D\n", [0, 1]),  # read line by line
        (b"", []),
    ],
)
def test_a_block_is_read_by_arrays_like_line_by_line(block, left) -> None:
    """GIVEN a block of change lines WHEN read as a byte table THEN the numbers of
    the lines it parses and those of the lines it leaves to the line-by-line reader
    are together what that reader finds, and it leaves only the irregular lines."""
    added, deleted, rest = arrays.parse_block(block)
    assert [index for index, _ in rest] == left
    assert all(added.dtype == np.int64 for added in (added, deleted))
    more, fewer, _ = _line_by_line(b"\n".join(text for _, text in rest))
    expected_added, expected_deleted, _ = _line_by_line(block)
    assert sorted(added.tolist() + more) == sorted(expected_added)
    assert sorted(deleted.tolist() + fewer) == sorted(expected_deleted)


def _random_lines(rng: random.Random, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        number = rng.randrange(2_000_000_000, 10_000_000_000)
        digits = str(number)
        flag = rng.choice("AaDd")
        kind = rng.random()
        if kind < 0.6:
            lines.append(f"{number},{flag}")
        elif kind < 0.7:
            lines.append(f"{digits[:3]},{digits[3:]},{flag}")
        elif kind < 0.75:
            lines.append(f"{number},{flag}\r")
        elif kind < 0.8:
            lines.append(f" {number} , add")
        elif kind < 0.84:
            lines.append("")
        elif kind < 0.88:
            lines.append(f"+1{number},D")
        elif kind < 0.92:
            lines.append(f"{number},X")  # bad: no flag
        elif kind < 0.96:
            lines.append(f"1{number},A")
        else:
            lines.append(f"0{digits[1:]},A")  # bad: not a number
    return lines


@pytest.mark.parametrize("block_size", [registry_parse.BLOCK, 997])
def test_a_change_list_with_irregular_lines_reads_like_the_line_reader(
    tmp_path, monkeypatch, block_size
) -> None:
    """GIVEN 40,000 change lines with a header, blank lines, CRs, `add`, `+1…`,
    bad flags and bad numbers WHEN read by the array reader (in blocks of 4 MB or
    of under 1 kB) THEN it finds the same numbers as the line-by-line reader and
    counts and reports the same rows, with the same line numbers."""
    monkeypatch.setattr(registry_parse, "BLOCK", block_size)
    lines = ["phone,flag", *_random_lines(random.Random(block_size), 40_000)]
    path = tmp_path / "changes.txt"
    path.write_text("\n".join(lines))
    before, after = ImportProgress(size=0), ImportProgress(size=0)
    old = list(registry_parse.read_changes(path, region="US", progress=before))
    new = list(arrays.read_change_arrays(path, region="US", progress=after))
    for side in (0, 1):
        assert sorted(n for batch in new for n in batch[side].tolist()) == sorted(
            n for batch in old for n in batch[side]
        )
    assert (after.rows_read, after.valid, after.invalid) == (
        before.rows_read,
        before.valid,
        before.invalid,
    )
    assert after.invalid > 1000
    assert after.errors == before.errors
    assert (
        after.errors[0]["line"]
        == 1
        + lines[1:].index(
            next(text for text in lines[1:] if text.endswith(",X") or text[:1] == "0")
        )
        + 1
    )
    assert after.bytes_read == path.stat().st_size


def test_outside_the_north_american_plan_the_line_reader_reads(tmp_path) -> None:
    """GIVEN a change list of UK numbers WHEN read for region GB THEN the array
    reader gives what the line reader gives (phonenumbers, not the NANP columns)."""
    path = tmp_path / "changes.txt"
    path.write_text("02079460000,A\n02079460001,D\n12345,A\n")
    before, after = ImportProgress(size=0), ImportProgress(size=0)
    old = list(registry_parse.read_changes(path, region="GB", progress=before))
    new = list(arrays.read_change_arrays(path, region="GB", progress=after))
    assert [(a.tolist(), d.tolist()) for a, d in new] == old
    assert old == [([442079460000], [442079460001])]
    assert after.errors == before.errors and after.invalid == 1


def _file(tmp_path: Path, name: str, numbers: list[int]) -> registry.NumberSet:
    if numbers:
        registry.write_numbers(tmp_path / name, [array("q", sorted(numbers))])
        return registry.NumberSet(tmp_path / name)
    return registry.EMPTY


def _apply(listed: set[int], added: list[int], deleted: list[int]) -> set[int]:
    """One number at a time: deletions, then additions (both in one list: added)."""
    return (listed - set(deleted)) | set(added)


BASE = [NANP + 2_015_000_000 + 3 * i for i in range(1_000)]


@pytest.mark.parametrize(
    ("adds", "dels", "added", "deleted"),
    [
        ([], [], [], []),  # an empty change list
        ([], [], [], BASE),  # everything deleted
        ([], [], [], BASE[:10] * 3),  # repeated deletions
        ([], [], [BASE[0] + 1] * 4, []),  # repeated additions
        ([], [], [], [BASE[0] + 1, BASE[-1] + 9, NANP]),  # deletions of absent numbers
        ([], [], BASE[:50], []),  # additions already on the list
        ([], [], [BASE[5] + 1, BASE[6]], [BASE[5] + 1, BASE[6]]),  # both: added
        ([BASE[0] + 1, BASE[1] + 1], [], [], [BASE[0] + 1]),  # an earlier add leaves
        ([], [BASE[2], BASE[3]], [BASE[2]], []),  # an earlier delete comes back
        ([BASE[0] + 1], [BASE[2]], [BASE[0] + 1], [BASE[2]]),  # said again
        ([], [], [NANP + 2_000_000_000, NANP + 9_999_999_999], []),  # past the ends
    ],
)
def test_the_array_merge_handles_the_edge_cases(
    tmp_path, adds, dels, added, deleted
) -> None:
    """GIVEN a base, earlier adds/dels and a change list WHEN merged as arrays
    THEN the result is the list merge's, the version holds exactly the numbers of
    applying the changes one at a time, adds stay off the base, dels inside it."""
    base = _file(tmp_path, "base.bin", BASE)
    old_adds, old_dels = (
        _file(tmp_path, "adds.bin", adds),
        _file(tmp_path, "dels.bin", dels),
    )
    new_adds, new_dels = arrays.merge(
        base, old_adds, old_dels, [np.array(added, np.int64)], [np.array(deleted)]
    )
    expected = registry.merge_changes(base, adds, dels, added, deleted)
    assert (new_adds.tolist(), new_dels.tolist()) == expected
    before = (set(BASE) - set(dels)) | set(adds)
    after = (set(BASE) - set(new_dels.tolist())) | set(new_adds.tolist())
    assert after == _apply(before, added, deleted)
    assert not set(new_adds.tolist()) & set(BASE)
    assert set(new_dels.tolist()) <= set(BASE)
    for files in (base, old_adds, old_dels):
        files.close()


@pytest.mark.parametrize("seed", range(4))
def test_the_array_merge_equals_the_list_merge_on_random_changes(
    tmp_path, seed
) -> None:
    """GIVEN 200,000 listed numbers and three random change lists (listed and
    unlisted numbers, repeats, both flags) WHEN merged one after the other by
    both merges THEN every step gives the same adds and dels, and the version is
    the numbers of applying them one at a time."""
    rng = random.Random(seed)
    low, high = NANP + 2_000_000_000, NANP + 2_000_000_000 + 600_000
    listed = sorted(rng.sample(range(low, high), 200_000))
    base = _file(tmp_path, "base.bin", listed)
    adds: list[int] = []
    dels: list[int] = []
    expected = set(listed)
    for _ in range(3):
        added = [rng.randrange(low - 100, high + 100) for _ in range(30_000)]
        deleted = [rng.randrange(low - 100, high + 100) for _ in range(30_000)]
        deleted += added[:1_000]
        old = registry.merge_changes(base, adds, dels, added, deleted)
        new = arrays.merge(
            base,
            np.array(adds, np.int64),
            np.array(dels, np.int64),
            np.array(added, np.int64),
            [np.array(deleted[:7_000]), np.array(deleted[7_000:])],
        )
        assert (new[0].tolist(), new[1].tolist()) == old
        adds, dels = old
        expected = _apply(expected, added, deleted)
        assert (set(listed) - set(dels)) | set(adds) == expected
    base.close()


def test_lookups_in_a_list_file_answer_like_a_set(tmp_path, monkeypatch) -> None:
    """GIVEN a list file of 300,000 numbers and a version with adds and dels WHEN
    sorted queries (listed, unlisted, below and above the file's range) are
    looked up in runs of a few queries THEN each answer is the set's."""
    monkeypatch.setattr(arrays, "STEP", 37)
    rng = random.Random(3)
    listed = sorted(
        rng.sample(range(NANP + 2_000_000_000, NANP + 2_001_000_000), 300_000)
    )
    base = _file(tmp_path, "base.bin", listed)
    queries = np.array(
        sorted(
            {
                *rng.sample(listed, 5_000),
                *(rng.randrange(NANP, NANP + 2_002_000_000) for _ in range(5_000)),
                NANP + 1_999_999_999,
                NANP + 2_001_000_001,
            }
        ),
        np.int64,
    )
    answers = arrays.has_each(base, queries)
    members = set(listed)
    assert answers.tolist() == [n in members for n in queries.tolist()]
    assert 4_000 < answers.sum() < 10_000
    assert arrays.has_each(base, np.empty(0, np.int64)).tolist() == []
    adds = _file(tmp_path, "adds.bin", [int(n) + 1 for n in queries[:50]])
    dels = _file(tmp_path, "dels.bin", listed[:100])
    version = registry.VersionFiles(base, adds, dels)
    found = arrays.has_each(version, queries)
    assert found.tolist() == [n in version for n in queries.tolist()]
    version.close()


def test_a_file_written_from_arrays_is_the_file_written_from_array_q(tmp_path) -> None:
    """GIVEN sorted numbers in chunks WHEN written as int64 arrays and as
    `array('q')` THEN the files are byte for byte the same (bucket table, CRC)
    and read back as the numbers."""
    rng = random.Random(9)
    numbers = sorted(
        rng.sample(range(NANP + 2_000_000_000, NANP + 3_000_000_000), 50_000)
    )
    shape = (len(numbers), numbers[0], numbers[-1])
    cuts = [0, 1, 17, 9_000, 9_001, 40_000, len(numbers)]
    chunks = [numbers[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    registry.write_numbers(
        tmp_path / "a.bin", [array("q", chunk) for chunk in chunks], shape=shape
    )
    registry.write_numbers(
        tmp_path / "n.bin", [np.array(chunk, np.int64) for chunk in chunks], shape=shape
    )
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "n.bin").read_bytes()
    written = registry.NumberSet(tmp_path / "n.bin")
    assert list(written) == numbers and written.verify()
    assert numbers[100] in written and numbers[100] + 1 not in written
    written.close()


@pytest.mark.parametrize(
    ("block", "area", "parsed"),
    [
        (b"2015550123\n9995550100\n", False, True),
        (b"2015550123\r\n9995550100\r\n", False, True),
        (b"201,5550123\n999,5550100\n", True, True),
        (b"201,5550123\r\n999,5550100\r\n", True, True),
        (b"2015550123\n1015550100\n", False, False),  # area code 101
        (b"2015550123\n20155501x0\n", False, False),
        (b"12015550123\n12015550124\n", False, False),  # 11 digits: the old reader
        (b"2015550123\n201555012\n", False, False),  # widths differ
        (b"2015550123\n2015550124", False, False),  # no newline at the end
        (b"201;5550123\n", True, False),
    ],
)
def test_a_block_of_the_full_download_is_a_byte_table_or_left_alone(
    block, area, parsed
) -> None:
    """GIVEN a block of the full download WHEN read as a byte table THEN a block
    of one layout gives the numbers the previous reader gives, and any other is
    left to that reader (None)."""
    found = arrays.parse_numbers(block, area)
    assert (found is not None) == parsed
    if found is not None:
        assert found.tolist() == registry_parse._fast(block, area=area)


@pytest.mark.parametrize("kind", ["plain", "area", "crlf", "irregular"])
def test_the_full_download_reads_as_arrays_like_the_list_reader(
    tmp_path, monkeypatch, kind
) -> None:
    """GIVEN a full download of 30,000 numbers (plain, `area,number`, CRLF, or
    with 11-digit, `+1` and bad lines), with a header, WHEN read as arrays in
    blocks under 1 kB THEN the numbers, the rows counted and the errors reported
    are the list reader's, and sorting them gives the sorted unique numbers."""
    monkeypatch.setattr(registry_parse, "BLOCK", 997)
    rng = random.Random(kind)
    numbers = [rng.randrange(2_000_000_000, 2_000_100_000) for _ in range(30_000)]
    end = "\r\n" if kind == "crlf" else "\n"
    if kind == "area":
        lines = [f"{n // 10**7},{n % 10**7:07d}" for n in numbers]
    else:
        lines = [str(n) for n in numbers]
    if kind == "irregular":
        for i in range(60, len(lines), 97):  # after the lines the sniff reads
            lines[i] = rng.choice([f"1{lines[i]}", f"+1{lines[i]}", "12345", ""])
    path = tmp_path / "dnc.txt"
    path.write_text("phone" + end + end.join(lines) + end)
    before, after = ImportProgress(size=0), ImportProgress(size=0)
    old = [n for batch in registry.read_numbers(path, region="US", progress=before)
           for n in batch]  # fmt: skip
    batches = list(arrays.read_number_arrays(path, region="US", progress=after))
    assert all(batch.dtype == np.int64 for batch in batches)
    assert [n for batch in batches for n in batch.tolist()] == old
    assert (after.rows_read, after.valid, after.invalid, after.errors) == (
        before.rows_read, before.valid, before.invalid, before.errors,
    )  # fmt: skip
    assert (after.invalid > 0) == (kind == "irregular")
    sorter = registry.Sorter(tmp_path / "scratch")
    monkeypatch.setattr(registry, "SPILL", 5_000)  # several spills
    for batch in batches:
        sorter.add(batch[::-1])  # out of order: sorted on arrival
    assert sorter.finish(tmp_path / "base.bin") == len(set(old))
    written = registry.NumberSet(tmp_path / "base.bin")
    assert list(written) == sorted(set(old)) and written.verify()
    written.close()
