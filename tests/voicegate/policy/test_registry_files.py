"""The list file format: the bucket table finds exactly the numbers written, for
any spread of numbers; files of the previous format are still read; a damaged
table is refused."""

from __future__ import annotations

import random
import struct
from array import array
from pathlib import Path

import pytest

from voicegate.policy import registry


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
