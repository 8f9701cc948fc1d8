"""The list file format: the bucket table finds exactly the numbers written, for
any spread of numbers; files of the previous format are still read; a damaged
table is refused."""

from __future__ import annotations

import random
import struct
from array import array
from pathlib import Path

import pytest

from voicegate.policy import registry, registry_parse


def _write(path: Path, numbers: list[int], *, chunk: int = 1000) -> registry.NumberSet:
    ordered = sorted(set(numbers))
    chunks = [array("q", ordered[i : i + chunk]) for i in range(0, len(ordered), chunk)]
    assert registry.write_numbers(path, chunks) == len(ordered)
    return registry.NumberSet(path)


@pytest.mark.parametrize(
    "numbers",
    [
        [],
        [12015550123],
        [1, 2, 3, 2**40],
        list(range(12_000_000_000, 12_000_050_000, 3)),  # dense and even
        # skewed: one crowded exchange and a few numbers far away
        [*range(12_015_550_000, 12_015_560_000), 14_155_550_100, 19_999_999_999],
        random.Random(3).sample(range(12_000_000_000, 20_000_000_000), 20_000),
    ],
    ids=["empty", "one", "tiny", "dense", "skewed", "random"],
)
def test_every_number_written_is_found_and_no_other(tmp_path, numbers) -> None:
    found = _write(tmp_path / "list.bin", numbers, chunk=777)
    assert list(found) == sorted(set(numbers)) and len(found) == len(set(numbers))
    assert (
        found.buckets == 0
        or 20 <= len(numbers) / found.buckets <= 256
        or (len(numbers) < 128)
    )
    listed = set(numbers)
    probes = [*numbers, *(n + 1 for n in numbers), *(n - 1 for n in numbers)]
    probes += [0, -5, 2**62, 10**15]
    for number in probes:
        assert (number in found) == (number in listed), number
    found.close()


def test_a_file_of_the_previous_format_is_still_read(tmp_path) -> None:
    path = tmp_path / "old.bin"
    numbers = array("q", range(12_015_550_000, 12_015_560_000, 7))
    path.write_bytes(
        registry.MAGIC_V1 + struct.pack("<q", len(numbers)) + numbers.tobytes()
    )
    found = registry.NumberSet(path)
    assert found.table == () and len(found) == len(numbers)
    assert 12_015_550_007 in found and 12_015_550_008 not in found
    found.close()


def test_a_damaged_table_or_header_is_refused(tmp_path) -> None:
    path = tmp_path / "list.bin"
    _write(path, list(range(12_015_550_000, 12_015_560_000))).close()
    data = bytearray(path.read_bytes())
    data[-8:] = struct.pack("<q", 3)  # the table's last entry must be the count
    path.write_bytes(bytes(data))
    with pytest.raises(registry.DncFileError, match="damaged"):
        registry.NumberSet(path)
    path.write_bytes(bytes(data[:-16]))
    with pytest.raises(registry.DncFileError, match="truncated"):
        registry.NumberSet(path)


def test_warming_maps_the_file_and_stops_when_closed(tmp_path) -> None:
    found = _write(tmp_path / "list.bin", list(range(0, 3_000_000, 2)), chunk=100_000)
    found.warm()
    assert 2 in found and 3 not in found
    found.close()
    found.warm()  # closed: nothing to do, no error


def _resident_kb(path: Path) -> int:
    """Kilobytes of `path`'s mapping in this process that are mapped in (Rss)."""
    found, inside = 0, False
    with Path("/proc/self/smaps").open() as smaps:
        for line in smaps:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:
                inside = line.rstrip().endswith(str(path))
            elif inside and head[0] == "Rss:":
                found += int(head[1])
    return found


def test_warming_a_version_maps_every_file_and_keeps_its_answers(tmp_path) -> None:
    """GIVEN a version whose base, additions and deletions are mapped, unwarmed
    WHEN its files are warmed THEN every page of each is mapped in (a lookup takes
    no first-touch fault there) and lookups still apply the deletions and additions."""
    base = list(range(12_000_000_000, 12_000_600_000, 2))  # ~2.4 MB
    adds = list(range(12_100_000_001, 12_100_400_001, 2))  # ~1.6 MB
    dels = base[1000:201_000]
    for name, numbers in (("base", base), ("adds", adds), ("dels", dels)):
        _write(tmp_path / f"{name}.bin", numbers).close()
    files = registry.open_version(
        tmp_path, "base.bin", "adds.bin", "dels.bin", warm=False
    )
    files.warm()
    for name in ("base", "adds", "dels"):
        path = tmp_path / f"{name}.bin"
        assert _resident_kb(path) * 1024 >= path.stat().st_size
    assert base[0] in files and base[999] in files and base[201_000] in files
    assert base[1000] not in files and base[200_999] not in files
    assert adds[0] in files and adds[-1] in files and adds[-1] + 1 not in files
    assert len(files) == len(base) + len(adds) - len(dels)
    files.close()


def test_closing_while_the_warming_thread_reads_is_never_refused(
    tmp_path, monkeypatch
) -> None:
    """GIVEN a list being warmed WHEN it is closed between two steps of the warming
    THEN the close succeeds and the warming stops without an error."""
    found = _write(tmp_path / "list.bin", list(range(0, 3_000_000, 2)), chunk=100_000)
    steps = []

    def close_on_first_pause(seconds: float) -> None:
        steps.append(seconds)
        if len(steps) == 1:
            found.close()

    monkeypatch.setattr(registry.time, "sleep", close_on_first_pause)
    found.warm()
    assert len(steps) == 1 and found.count == 0 and 2 not in found


def _reference_merge(base, adds, dels, added, deleted):
    """The rule, one number at a time: deletions first, an addition wins."""
    new_adds, new_dels = set(adds), set(dels)
    for number in set(deleted) - set(added):
        if number in new_adds:
            new_adds.discard(number)
        elif number in base:
            new_dels.add(number)
    for number in set(added):
        new_dels.discard(number)
        if number not in base:
            new_adds.add(number)
    return sorted(new_adds), sorted(new_dels)


@pytest.mark.parametrize("seed", range(5))
def test_a_change_list_merges_like_one_number_at_a_time(tmp_path, seed) -> None:
    rng = random.Random(seed)
    universe = range(12_015_550_000, 12_015_560_000)
    listed = set(rng.sample(universe, 4000))
    base = _write(tmp_path / "base.bin", sorted(listed))
    adds = sorted(rng.sample(sorted(set(universe) - listed), 300))
    dels = sorted(rng.sample(sorted(listed), 300))
    added = [rng.choice(universe) for _ in range(800)]
    deleted = [rng.choice(universe) for _ in range(800)] + added[:50]
    assert registry.merge_changes(base, adds, dels, added, deleted) == (
        _reference_merge(listed, adds, dels, added, deleted)
    )
    base.close()


def test_change_list_blocks_are_read_fast_or_line_by_line(tmp_path) -> None:
    from voicegate.policy.importer import ImportProgress

    path = tmp_path / "changes.txt"
    path.write_bytes(b"2015550123,A\n201,5550124,d\r\n2015550125,D\n")
    fast = registry_parse._fast_changes(path.read_bytes())
    assert fast == ([12015550123], [12015550124, 12015550125])
    path.write_bytes(b"phone,flag\n+1 201 555 0126,add\n2015550127,A\n")
    assert registry_parse._fast_changes(path.read_bytes()) is None
    progress = ImportProgress(size=path.stat().st_size)
    batches = list(registry.read_changes(path, region="US", progress=progress))
    assert batches == [([12015550126, 12015550127], [])]
    assert progress.valid == 2


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (b"2015550123\n9995550000\n", [12015550123, 19995550000]),
        (b"2015550123\r\n2025550143", [12015550123, 12025550143]),  # CRLF, no last \n
        (
            b"12015550123\n+12025550143\n2125550100\n",
            [12015550123, 12025550143, 12125550100],
        ),
        (b"2015550123\n\n2025550143\n", [12015550123, 12025550143]),  # blank line
        (b"2015550123\n1015550123\n", None),  # area code 101: not a NANP number
        (b"201555012\n", None),  # nine digits
        (b"20155501234\n", None),  # eleven digits without the 1
        (b"2015550123\nabc\n", None),
    ],
)
def test_a_block_of_plain_lines_parses_exactly_or_not_at_all(block, expected) -> None:
    assert registry_parse._fast(block, area=False) == expected


def test_a_block_of_area_code_lines_parses_like_plain_ones() -> None:
    assert registry_parse._fast(b"201,5550123\n202,5550143\n", area=True) == [
        12015550123,
        12025550143,
    ]
