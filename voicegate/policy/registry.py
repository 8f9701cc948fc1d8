"""Do-Not-Call lists held as versioned files of sorted 64-bit numbers.

A national registry (the US list has about 250 million numbers) is too big to copy
into every process: as a sorted `array('q')` it costs 2 GB per gunicorn worker. Here
each list version is a file of sorted, unique E.164 digits (little-endian int64 after
a 16-byte header) that every process maps read-only with `mmap`; the kernel keeps one
copy of its pages in the page cache for all of them, and a lookup is a `bisect` over
a `memoryview` of the mapping (about 30 probes for 250 million numbers).

A version is a *base* file plus two small sorted files of numbers added to and taken
off it by change lists since (`adds`, `dels`): applying the registry's change list
writes a new version with the same base and new small files, never a full rebuild.

Files are written beside the current ones under a temporary name and renamed into
place, so a reader only ever sees a complete file; the switch to a new version is a
database update that processes notice through the list's version key.

The importer reads the registry's files as they come: one 10-digit number a line,
or `area code,number`, plain, gzip or zip, streamed in blocks of 4 MB. A block of
plain numbers is parsed with one `split()` and `map(int, …)` (millions of rows a
second); a block with anything else in it is read line by line, and lines that are
not plain NANP numbers go through `phonenumbers` like every other import. Sorting
is an external bucket sort: numbers are spread into buckets by their top bits,
spilled to a scratch file every few million, then each bucket is sorted on its own.
"""

from __future__ import annotations

import bisect
import csv
import functools
import gzip
import io
import mmap
import os
import re
import sys
import zipfile
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from voicegate.policy.importer import (
    ERROR_SAMPLE,
    ImportProgress,
    RowError,
    _header,
    number_digits,
)

MAGIC = b"TCDNC1LE"  # format 1, little-endian int64 numbers
HEADER = 16  # magic + count
BLOCK = 4 * 1024 * 1024
NANP = 10_000_000_000  # "1" in front of a 10-digit NANP number makes E.164 digits
LOW, HIGH = 2_000_000_000, 10_000_000_000  # area codes start with 2-9
SHIFT = 23  # bucket width: 8.4 million consecutive numbers
SPILL = 4_000_000  # numbers buffered in memory before a spill to the scratch file
AREA_LINE = re.compile(rb"^\s*\d{3}\s*,\s*\d{7}\s*$")
PLAIN_LINE = re.compile(rb"^\s*\+?\d{10,11}\s*$")
DATE_IN_NAME = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)")
CHANGE_FLAGS = {
    "a": True, "add": True, "added": True, "addition": True, "+": True, "i": True,
    "d": False, "del": False, "delete": False, "deleted": False, "deletion": False,
    "-": False, "r": False, "remove": False,
}  # fmt: skip
FLAGS = {
    key.encode(): value
    for name, value in CHANGE_FLAGS.items()
    for key in (name, name.upper(), name.capitalize())
}


class DncFileError(OSError):
    """A list file that is missing, truncated or not a list file at all."""


# --- Reading ---------------------------------------------------------------------


class NumberSet:
    """One read-only file of sorted numbers, mapped into this process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.count = 0
        self._map: mmap.mmap | None = None
        self.view: Any = ()
        if path is None:
            return
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < HEADER:
                    raise DncFileError(f"{path.name} is truncated")
                self._map = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise DncFileError(f"{path} is missing") from None
        head = self._map[:HEADER]
        if head[:8] != MAGIC:
            self._map.close()
            raise DncFileError(f"{path.name} is not a Do-Not-Call list file")
        if sys.byteorder != "little":
            self._map.close()
            raise DncFileError("list files are little-endian; this host is not")
        self.count = int.from_bytes(head[8:16], "little")
        if size != HEADER + 8 * self.count:
            self._map.close()
            raise DncFileError(f"{path.name} is truncated")
        self.view = memoryview(self._map)[HEADER:].cast("q")

    def __contains__(self, number: int) -> bool:
        view = self.view
        i = bisect.bisect_left(view, number)
        return i < self.count and view[i] == number

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        return iter(self.view)

    def close(self) -> None:
        """Unmap now (otherwise when the last reference goes)."""
        if self._map is not None:
            self.view.release()
            self._map.close()
            self._map = None
            self.view = ()
            self.count = 0


EMPTY = NumberSet()


class VersionFiles:
    """One list version: the base file, minus `dels`, plus `adds`."""

    def __init__(self, base: NumberSet, adds: NumberSet, dels: NumberSet) -> None:
        self.base, self.adds, self.dels = base, adds, dels

    def __contains__(self, number: int) -> bool:
        if self.dels.count and number in self.dels:
            return False
        if self.adds.count and number in self.adds:
            return True
        return number in self.base

    def __len__(self) -> int:
        return self.base.count + self.adds.count - self.dels.count

    def __iter__(self) -> Iterator[int]:
        """Every number, in order (the base merged with the additions)."""
        import heapq

        dels = self.dels
        for number in heapq.merge(self.base, self.adds):
            if not (dels.count and number in dels):
                yield number

    @property
    def mapped_bytes(self) -> int:
        """Bytes of the files mapped (shared with every other process)."""
        return 8 * (self.base.count + self.adds.count + self.dels.count)

    def close(self) -> None:
        """Unmap every file."""
        for part in (self.base, self.adds, self.dels):
            part.close()


def open_version(directory: Path, base: str, adds: str, dels: str) -> VersionFiles:
    """Map a version's files (`adds`/`dels` may be empty names: none)."""
    return VersionFiles(
        NumberSet(directory / base),
        NumberSet(directory / adds) if adds else EMPTY,
        NumberSet(directory / dels) if dels else EMPTY,
    )


# --- Writing -----------------------------------------------------------------------


def write_numbers(path: Path, chunks: Iterable[array]) -> int:
    """Write sorted unique numbers (given in order, in chunks) to `path` atomically:
    a temporary file beside it, flushed to disk, then renamed over. Returns the count.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with tmp.open("wb") as out:
            out.write(MAGIC + bytes(8))
            for chunk in chunks:
                if sys.byteorder != "little":  # pragma: no cover - little-endian CI
                    chunk = array("q", chunk)
                    chunk.byteswap()
                chunk.tofile(out)
                count += len(chunk)
            out.seek(8)
            out.write(count.to_bytes(8, "little"))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


class Sorter:
    """External bucket sort of numbers into one sorted, unique file.

    Memory holds at most SPILL numbers plus the largest bucket being sorted; the
    rest waits in one scratch file as (bucket, offset, count) segments.
    """

    def __init__(self, scratch: Path) -> None:
        scratch.parent.mkdir(parents=True, exist_ok=True)
        self.scratch = scratch
        self._run: IO[bytes] | None = None
        self._buckets: defaultdict[int, array] = defaultdict(lambda: array("q"))
        self._segments: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        self._buffered = 0
        self.added = 0

    def add(self, numbers: list[int]) -> None:
        """Take a batch of numbers (any order, repeats allowed)."""
        buckets = self._buckets
        for number in numbers:
            buckets[number >> SHIFT].append(number)
        self._buffered += len(numbers)
        self.added += len(numbers)
        if self._buffered >= SPILL:
            self._spill()

    def _spill(self) -> None:
        if self._run is None:
            self._run = self.scratch.open("w+b")
        run = self._run
        for key, numbers in self._buckets.items():
            self._segments[key].append((run.tell(), len(numbers)))
            numbers.tofile(run)
        self._buckets.clear()
        self._buffered = 0

    def _sorted_chunks(self) -> Iterator[array]:
        keys = sorted(set(self._segments) | set(self._buckets))
        run = self._run
        for key in keys:
            numbers = array("q")
            for offset, count in self._segments.get(key, ()):
                assert run is not None
                run.seek(offset)
                numbers.fromfile(run, count)
            numbers.extend(self._buckets.pop(key, ()))
            yield array("q", sorted(set(numbers)))

    def finish(self, path: Path) -> int:
        """Write everything to `path`, sorted and unique; returns how many."""
        try:
            return write_numbers(path, self._sorted_chunks())
        finally:
            self.close()

    def close(self) -> None:
        """Drop the scratch file."""
        if self._run is not None:
            self._run.close()
            self._run = None
        self.scratch.unlink(missing_ok=True)
        self._buckets.clear()
        self._segments.clear()


# --- Parsing the registry's files -------------------------------------------------


class _Source:
    """The uploaded file, decompressed on the fly; `position` is in the raw file."""

    def __init__(self, path: Path) -> None:
        self.raw = path.open("rb")
        head = self.raw.read(4)
        self.raw.seek(0)
        self._zip: zipfile.ZipFile | None = None
        self._members: list[str] = []
        self._current: IO[bytes] | None = None
        if head[:2] == b"\x1f\x8b":
            self._current = cast(IO[bytes], gzip.GzipFile(fileobj=self.raw))
        elif head == b"PK\x03\x04":
            self._zip = zipfile.ZipFile(self.raw)
            self._members = sorted(
                info.filename for info in self._zip.infolist() if not info.is_dir()
            )
            self._next_member()
        else:
            self._current = self.raw

    def _next_member(self) -> bool:
        if self._zip is None or not self._members:
            self._current = None
            return False
        self._current = self._zip.open(self._members.pop(0))
        return True

    @property
    def position(self) -> int:
        """Bytes of the raw (possibly compressed) file consumed so far."""
        try:
            return self.raw.tell()
        except ValueError:
            return 0

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of text; zip members are joined with a newline."""
        while self._current is not None:
            data = self._current.read(size)
            if data:
                return data
            if not self._next_member():
                return b""
            return b"\n"
        return b""

    def close(self) -> None:
        """Close the member, the archive and the raw file."""
        for handle in (self._current, self._zip, self.raw):
            if handle is not None:
                handle.close()


def is_archive(head: bytes) -> bool:
    """gzip or zip (the registry's download comes compressed)."""
    return head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04"


def _blocks(source: _Source) -> Iterator[bytes]:
    """Blocks of whole lines."""
    rest = b""
    while True:
        data = source.read(BLOCK)
        if not data:
            if rest:
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[: cut + 1]


@functools.cache
def _is_nanp(region: str | None) -> bool:
    """Whether numbers without + are read in the North American plan (+1)."""
    from phonenumbers import country_code_for_region

    return region is None or country_code_for_region(region) == 1


def _one(line: bytes, region: str | None, *, nanp: bool) -> int:
    """E.164 digits of one line of a registry file (RowError if unusable)."""
    text = line.strip()
    if nanp:
        if AREA_LINE.match(text):
            text = text.replace(b",", b"").replace(b" ", b"")
        if text.isdigit() or (text[:1] == b"+" and text[1:].isdigit()):
            value = int(text)
            if LOW <= value < HIGH:
                return value + NANP
            if LOW + NANP <= value < HIGH + NANP:
                return value
    return number_digits(text.decode("utf-8", errors="replace"), region)


def _fast(block: bytes, *, area: bool) -> list[int] | None:
    """All numbers of a block of plain NANP lines, or None if any line is not one."""
    if area:
        block = block.replace(b",", b"")
    tokens = block.split()
    try:
        values = list(map(int, tokens))
    except ValueError:
        return None
    numbers = [
        value + NANP if value < HIGH else value
        for value in values
        if LOW <= value < HIGH or LOW + NANP <= value < HIGH + NANP
    ]
    return numbers if len(numbers) == len(tokens) else None


def _note(progress: ImportProgress, line: int, value: bytes, reason: str) -> None:
    progress.invalid += 1
    if len(progress.errors) < ERROR_SAMPLE:
        progress.errors.append(
            {
                "line": line,
                "value": value.decode("utf-8", errors="replace").strip()[:64],
                "reason": reason,
            }
        )


def _sniff(sample: bytes) -> tuple[str, bool]:
    """("plain" | "area" | "csv", first line is a header) from the file's start."""
    lines = [line for line in sample.split(b"\n")[:51] if line.strip()]
    if lines and len(sample) == BLOCK:
        lines = lines[:-1]  # the last one may be cut
    header = bool(lines) and bool(re.search(rb"[A-Za-z]", lines[0]))
    body = lines[1:] if header else lines
    if body and all(PLAIN_LINE.match(line) for line in body):
        return "plain", header
    if body and all(AREA_LINE.match(line) for line in body):
        return "area", header
    return "csv", header


def read_numbers(
    path: Path,
    *,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None = None,
) -> Iterator[list[int]]:
    """Batches of E.164 digits from a registry file, counting rows on `progress`.

    `on_block` is called after each block (the caller reports progress from it).
    """
    nanp = _is_nanp(region)
    source = _Source(path)
    try:
        blocks = _blocks(source)
        first = next(blocks, b"")
        kind, header = _sniff(first)
        if kind == "csv":
            yield from _read_csv(first, blocks, source, region, progress, on_block)
            return
        line = 0
        for index, block in enumerate(_chain(first, blocks)):
            lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            if index == 0 and header:
                cut = block.find(b"\n") + 1 or len(block)
                block = block[cut:]
                line += 1
                lines -= 1
            numbers = _fast(block, area=kind == "area") if nanp else None
            if numbers is not None:
                progress.rows_read += len(numbers)
                progress.valid += len(numbers)
            else:
                numbers = []
                for offset, text in enumerate(block.split(b"\n")):
                    if not text.strip():
                        continue
                    progress.rows_read += 1
                    try:
                        numbers.append(_one(text, region, nanp=nanp))
                    except RowError as exc:
                        _note(progress, line + offset + 1, text, exc.reason)
                        continue
                    progress.valid += 1
            line += lines
            progress.bytes_read = source.position
            if numbers:
                yield numbers
            if on_block is not None:
                on_block()
    finally:
        source.close()


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _read_csv(
    first: bytes,
    blocks: Iterator[bytes],
    source: _Source,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None,
) -> Iterator[list[int]]:
    """A CSV with other columns: the same rules as the database importer."""
    number_col, country_col = 0, None
    line = 0
    for index, block in enumerate(_chain(first, blocks)):
        text = block.decode("utf-8-sig" if index == 0 else "utf-8", errors="replace")
        numbers: list[int] = []
        for row in csv.reader(io.StringIO(text)):
            line += 1
            if line == 1 and row:
                found = _header(row)
                if found is not None:
                    number_col, country_col = found
                    continue
            if not row or not any(cell.strip() for cell in row):
                continue
            progress.rows_read += 1
            value = row[number_col] if number_col < len(row) else ""
            row_region = region
            if country_col is not None and country_col < len(row):
                row_region = row[country_col].strip().upper() or region
            try:
                nanp = _is_nanp(row_region)
                numbers.append(_one(value.encode(), row_region, nanp=nanp))
            except RowError as exc:
                _note(progress, line, value.encode(), exc.reason)
                continue
            progress.valid += 1
        progress.bytes_read = source.position
        if numbers:
            yield numbers
        if on_block is not None:
            on_block()


def read_changes(
    path: Path,
    *,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None = None,
) -> Iterator[tuple[list[int], list[int]]]:
    """Batches of (added, deleted) numbers from a change list: each line is a
    number (or `area code,number`) and a flag as its last field (`A`/`D`, `add`/
    `delete`, `+`/`-`); a header line is skipped."""
    nanp = _is_nanp(region)
    source = _Source(path)
    line = 0
    try:
        for block in _blocks(source):
            added: list[int] = []
            deleted: list[int] = []
            lines = block.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            for text in lines:
                line += 1
                # The common line, `2015550123,A` or `201,5550123,D`, without the
                # general parser: a few hundred nanoseconds.
                head, _, flag_text = text.rpartition(b",")
                flag = FLAGS.get(flag_text.strip())
                digits = head.replace(b",", b"")
                if (
                    nanp
                    and flag is not None
                    and len(digits) == 10
                    and digits.isdigit()
                    and digits[0] > 49  # area codes start with 2-9
                ):
                    progress.rows_read += 1
                    progress.valid += 1
                    (added if flag else deleted).append(int(digits) + NANP)
                    continue
                if not text.strip():
                    continue
                fields = [f.strip() for f in text.replace(b"\t", b",").split(b",")]
                flag = CHANGE_FLAGS.get(fields[-1].decode(errors="replace").lower())
                if line == 1 and flag is None and re.search(rb"[A-Za-z]", text):
                    continue  # header
                progress.rows_read += 1
                if flag is None or len(fields) < 2:
                    _note(progress, line, text, "has no A (added) or D (deleted) flag")
                    continue
                try:
                    number = _one(b",".join(fields[:-1]), region, nanp=nanp)
                except RowError as exc:
                    _note(progress, line, text, exc.reason)
                    continue
                progress.valid += 1
                (added if flag else deleted).append(number)
            progress.bytes_read = source.position
            yield added, deleted
            if on_block is not None:
                on_block()
    finally:
        source.close()


def as_of_from_name(name: str) -> tuple[int, int, int] | None:
    """A date written in a file name (`dnc-2026-11-30.txt.gz`, `20261130.zip`)."""
    found = DATE_IN_NAME.search(name)
    if not found:
        return None
    year, month, day = (int(part) for part in found.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day


def merge_changes(
    base: NumberSet | VersionFiles,
    adds: Iterable[int],
    dels: Iterable[int],
    added: set[int],
    deleted: set[int],
) -> tuple[list[int], list[int]]:
    """The new (adds, dels) of a version after a change list.

    `adds` never overlaps the base and `dels` is always inside it. A number both
    added and deleted by one change list counts as added: when in doubt, do not call.
    """
    new_adds = set(adds)
    new_dels = set(dels)
    base_has = base.__contains__
    for number in deleted - added:
        if number in new_adds:
            new_adds.discard(number)
        elif base_has(number):
            new_dels.add(number)
    for number in added:
        new_dels.discard(number)
        if not base_has(number):
            new_adds.add(number)
    return sorted(new_adds), sorted(new_dels)
