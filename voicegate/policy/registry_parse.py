"""Reading the registry's files: the FTC's full download and its change lists.

They come as they come: one 10-digit number a line, or `area code,number`, plain,
gzip or zip, streamed in blocks of 4 MB. A block of plain numbers is parsed in a
few C loops (`replace`, `split`, `map(int, …)`: millions of rows a second); a block
with anything else in it is read line by line, and lines that are not plain NANP
numbers go through `phonenumbers` like every other import. A change list's common
lines (`2015550123,A`, `201,5550123,D`, all one width) are read by columns
(`_column_changes`); a block of mixed widths with two regular-expression scans;
anything else line by line.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from voicegate.policy.importer import (
    ERROR_SAMPLE,
    ImportProgress,
    RowError,
    header_columns,
    number_digits,
)

BLOCK = 4 * 1024 * 1024
NANP = 10_000_000_000  # "1" in front of a 10-digit NANP number makes E.164 digits
LOW, HIGH = 2_000_000_000, 10_000_000_000  # area codes start with 2-9
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
def is_nanp(region: str | None) -> bool:
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
    """All numbers of a block of plain NANP lines, or None if any line is not one.

    The common block, ten digits a line, is read in three C loops: a "1" put in
    front of every line with one `replace` (so the digits parse as E.164), one
    `split`, one `map(int, …)`; min and max then prove every line was a 10-digit
    number with an area code 2-9. Anything else (+1 or 11 digits, blank lines)
    takes the general path below.
    """
    if area:
        block = block.replace(b",", b"")
    body = block[:-1] if block.endswith(b"\n") else block
    try:
        values = list(map(int, (b"1" + body.replace(b"\n", b"\n1")).split()))
    except ValueError:
        values = []
    if (
        values
        and min(values) >= LOW + NANP
        and max(values) < HIGH + NANP
        and len(values) == body.count(b"\n") + 1
    ):
        return values
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
    lines = [line for line in sample.split(b"\n", 51)[:51] if line.strip()]
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
    return number_batches(path, region=region, progress=progress, on_block=on_block)


def number_batches(
    path: Path,
    *,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None = None,
    block_reader: Callable[[bytes, bool], Any] | None = None,
) -> Iterator[Any]:
    """`read_numbers`, with `block_reader(block, area)` tried first on each block of
    plain NANP lines (the numbers of the block, or None for the readers here)."""
    nanp = is_nanp(region)
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
            numbers: Any = None
            if nanp and block_reader is not None:
                numbers = block_reader(block, kind == "area")
            if nanp and numbers is None:
                numbers = _fast(block, area=kind == "area")
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
            if len(numbers):
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
                found = header_columns(row)
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
                nanp = is_nanp(row_region)
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


# A change list's lines are usually all the same width: `2015550123,A` (13 bytes
# with the newline) or `201,5550123,D` (14), maybe with a CR. For each layout: the
# columns of the ten digits, of the commas, of the flag and of the CR.
LAYOUTS = {
    (13, False): (tuple(range(10)), (10,), 11, None),
    (14, False): ((0, 1, 2, *range(4, 11)), (3, 11), 12, None),
    (14, True): (tuple(range(10)), (10,), 11, 12),
    (15, True): ((0, 1, 2, *range(4, 11)), (3, 11), 12, 13),
}
KEEP_ADDED = bytes(0xFF if chr(byte) in "Aa" else 0 for byte in range(256))
NUL_TO_SPACE = bytes.maketrans(b"\x00", b" ")


def _column_changes(block: bytes) -> tuple[list[int], list[int]] | None:
    """(added, deleted) of a block of fixed-width change lines, or None.

    Each column of the block is one strided slice (`block[c::width]`, a C loop):
    separators are compared whole, flags and digits are checked with one
    `translate` each, and every line is rebuilt as `1` + its ten digits (E.164)
    by extended-slice assignment into one buffer. A mask of the added lines,
    applied to the buffer as one big integer, blanks the deleted lines in one
    copy and the added ones in another; one `split` and one `map(int, …)` read
    each. No Python step per line.
    """
    width = block.find(b"\n") + 1
    rows = len(block) // width if width else 0
    layout = LAYOUTS.get((width, block[width - 2 : width - 1] == b"\r"))
    if layout is None or not rows or rows * width != len(block):
        return None
    digits, commas, flag_at, cr_at = layout
    ends = b"\n" * rows
    if block[width - 1 :: width] != ends:
        return None
    separators = [(at, b",") for at in commas] + ([(cr_at, b"\r")] if cr_at else [])
    if any(block[at::width] != byte * rows for at, byte in separators):
        return None
    flags = block[flag_at::width]
    columns = [block[at::width] for at in digits]
    if (
        flags.translate(None, b"AaDd")
        or columns[0].translate(None, b"23456789")  # area codes start with 2-9
        or any(column.translate(None, b"0123456789") for column in columns[1:])
    ):
        return None
    line = bytearray(12 * rows)
    line[0::12] = b"1" * rows
    for offset, column in enumerate(columns, 1):
        line[offset::12] = column
    line[11::12] = ends
    additions = flags.count(b"A") + flags.count(b"a")
    if additions in (0, rows):
        numbers = list(map(int, bytes(line).split()))
        return (numbers, []) if additions else ([], numbers)
    mask = bytearray(12 * rows)
    keep = flags.translate(KEEP_ADDED)
    for offset in range(12):
        mask[offset::12] = keep
    whole, kept = int.from_bytes(line, "little"), int.from_bytes(mask, "little")
    size = 12 * rows
    added, deleted = (
        list(map(int, part.to_bytes(size, "little").translate(NUL_TO_SPACE).split()))
        for part in (whole & kept, whole & ~kept)
    )
    return added, deleted


CHANGE_AREA = re.compile(rb"^(\d{3}),(\d{7}),", re.M)
CHANGE_ADD = re.compile(rb"^([2-9]\d{9}),[Aa]\r?$", re.M)
CHANGE_DEL = re.compile(rb"^([2-9]\d{9}),[Dd]\r?$", re.M)


def _fast_changes(block: bytes) -> tuple[list[int], list[int]] | None:
    """(added, deleted) of a block of `2015550123,A` / `201,5550123,D` lines, read
    with two regular-expression scans and the digit parse of `_fast`; None if any
    line is something else (the line-by-line reader takes the block then)."""
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    if block.count(b",") > lines:  # some lines are `area code,number,flag`
        block = CHANGE_AREA.sub(rb"\1\2,", block)
    found = [CHANGE_ADD.findall(block), CHANGE_DEL.findall(block)]
    if len(found[0]) + len(found[1]) != lines:
        return None
    added, deleted = (
        list(map(int, (b"1" + b"\n1".join(digits)).split())) if digits else []
        for digits in found
    )
    return added, deleted


def _fields(text: bytes) -> list[bytes]:
    return [field.strip() for field in text.replace(b"\t", b",").split(b",")]


def _is_header(text: bytes) -> bool:
    """A change list's first line naming its columns (letters, no known flag)."""
    flag = CHANGE_FLAGS.get(_fields(text)[-1].decode(errors="replace").lower())
    return flag is None and re.search(rb"[A-Za-z]", text) is not None


def change_lines(
    numbered: Iterable[tuple[int, bytes]],
    *,
    region: str | None,
    progress: ImportProgress,
) -> tuple[list[int], list[int]]:
    """(added, deleted) of change lines read one by one, given with their line
    numbers: blank lines are skipped, a header on line 1 too, and lines that are
    not a number and a flag are counted and reported on `progress`."""
    nanp = is_nanp(region)
    added: list[int] = []
    deleted: list[int] = []
    for line, text in numbered:
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
        fields = _fields(text)
        flag = CHANGE_FLAGS.get(fields[-1].decode(errors="replace").lower())
        if line == 1 and _is_header(text):
            continue
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
    return added, deleted


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
    nanp = is_nanp(region)
    source = _Source(path)
    line = 0
    try:
        for index, block in enumerate(_blocks(source)):
            if index == 0 and _is_header(block[: block.find(b"\n") + 1 or None]):
                block = block[block.find(b"\n") + 1 or len(block) :]
                line += 1
            fast = (_column_changes(block) or _fast_changes(block)) if nanp else None
            if fast is not None:
                added, deleted = fast
                line += len(added) + len(deleted)
                progress.rows_read += len(added) + len(deleted)
                progress.valid += len(added) + len(deleted)
                progress.bytes_read = source.position
                yield added, deleted
                if on_block is not None:
                    on_block()
                continue
            lines = block.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            added, deleted = change_lines(
                enumerate(lines, line + 1), region=region, progress=progress
            )
            line += len(lines)
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
