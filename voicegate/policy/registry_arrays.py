"""The registry's change lists read, looked up and merged as int64 arrays (numpy).

A change list of two million lines is read and merged into a version in array
operations, never a Python step per line:

  * a block of the file is a byte table (`np.frombuffer`): when every line has one
    width it is reshaped to rows × width, otherwise the lines of each known width
    are gathered by their offsets. Columns are checked whole (commas, CR, the flag,
    digits, an area code 2-9) and the ten digits of each row become one int64. Rows
    that fit no layout (`add`, spaces, `+1…`, blank lines, bad lines) go through the
    line-by-line reader (`registry_parse.change_lines`), which counts and reports
    bad lines by their line number as before;
  * membership in the base file is one `np.searchsorted` over its mapping;
  * the merge of base/adds/dels works on sorted unique arrays (a sort of two sorted
    runs, membership by `searchsorted`).

Same answers as `registry.merge_changes` (the tests check it on random data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from voicegate.policy import registry, registry_parse
from voicegate.policy.importer import ImportProgress

Numbers = NDArray[np.int64]
Mask = NDArray[np.bool_]

NONE: Numbers = np.empty(0, np.int64)
POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)  # 10^9 … 10^0
COMMA, CR, NEWLINE, ZERO = ord(","), ord("\r"), ord("\n"), ord("0")
ADD_FLAGS, DEL_FLAGS = b"Aa", b"Dd"

# The layouts of a change line by its length without the newline: the columns of
# its ten digits, of its commas, of its flag and of its CR (None: no CR).
AREA_DIGITS = (0, 1, 2, *range(4, 11))
LAYOUTS: dict[int, list[tuple[tuple[int, ...], tuple[int, ...], int, int | None]]] = {
    12: [(tuple(range(10)), (10,), 11, None)],  # 2015550123,A
    13: [
        (AREA_DIGITS, (3, 11), 12, None),  # 201,5550123,D
        (tuple(range(10)), (10,), 11, 12),  # 2015550123,A\r
    ],
    14: [(AREA_DIGITS, (3, 11), 12, 13)],  # 201,5550123,D\r
}


# --- Reading ------------------------------------------------------------------------


def _rows(table: NDArray[np.uint8], length: int) -> tuple[Numbers, Mask, Mask]:
    """(E.164 numbers, added?, parsed?) of the rows of a k × length byte table.

    Every check is a whole column at a time; a row-wise test of the digits is made
    only when some byte of the digit columns is not a digit.
    """
    count = len(table)
    parsed = np.zeros(count, bool)
    added = np.zeros(count, bool)
    numbers = np.zeros(count, np.int64)
    for digits, commas, flag_at, cr_at in LAYOUTS[length]:
        fits = ~parsed
        for at in commas:
            fits &= table[:, at] == COMMA
        if cr_at is not None:
            fits &= table[:, cr_at] == CR
        flag = table[:, flag_at] & np.uint8(0xDF)  # A/a → A, D/d → D
        adding = flag == ord("A")
        fits &= adding | (flag == ord("D"))
        columns = (
            table[:, digits[0] : digits[-1] + 1]
            if digits == tuple(range(digits[0], digits[-1] + 1))
            else table[:, list(digits)]
        )
        values = columns - np.uint8(ZERO)  # not a digit: > 9 (uint8 wraps)
        wrong = values > 9
        if wrong.any():
            fits &= ~wrong.any(axis=1)
        fits &= values[:, 0] >= 2  # area codes start with 2-9
        if not fits.any():
            continue
        found = np.ones(count, np.int64)  # the leading 1 of +1
        for at in range(10):
            found *= 10
            found += values[:, at]
        np.copyto(numbers, found, where=fits)
        np.copyto(added, adding, where=fits)
        parsed |= fits
        if parsed.all():
            break
    return numbers, added, parsed


def parse_block(block: bytes) -> tuple[Numbers, Numbers, list[tuple[int, bytes]]]:
    """(added, deleted, lines left over) of a block of change lines.

    The lines left over, (0-based index in the block, text), are those of no known
    layout, for the line-by-line reader.
    """
    if not block:
        return NONE, NONE, []
    data = np.frombuffer(block, np.uint8)
    width = block.find(b"\n") + 1
    if (
        width - 1 in LAYOUTS
        and len(block) % width == 0
        and (data[width - 1 :: width] == NEWLINE).all()
    ):
        numbers, adding, parsed = _rows(data.reshape(-1, width), width - 1)
        left = [
            (i, block[i * width : (i + 1) * width - 1])
            for i in np.flatnonzero(~parsed).tolist()
        ]
    else:
        ends = np.flatnonzero(data == NEWLINE)
        if block[-1:] != b"\n":
            ends = np.append(ends, len(block))
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts
        numbers = np.zeros(len(ends), np.int64)
        adding = np.zeros(len(ends), bool)
        parsed = np.zeros(len(ends), bool)
        for length in LAYOUTS:
            rows = np.flatnonzero(lengths == length)
            if not len(rows):
                continue
            table = data[starts[rows, None] + np.arange(length)]
            found, plus, fits = _rows(table, length)
            numbers[rows], adding[rows], parsed[rows] = found, plus, fits
        left = [
            (i, block[starts[i] : ends[i]]) for i in np.flatnonzero(~parsed).tolist()
        ]
    return numbers[parsed & adding], numbers[parsed & ~adding], left


def read_change_arrays(
    path: Path,
    *,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None = None,
) -> Iterator[tuple[Numbers, Numbers]]:
    """Batches of (added, deleted) E.164 numbers (int64 arrays) from a change list,
    counting rows on `progress` like `registry_parse.read_changes` (same lines
    accepted, same errors reported)."""
    if not registry_parse.is_nanp(region):
        for plus, gone in registry_parse.read_changes(
            path, region=region, progress=progress, on_block=on_block
        ):
            yield as_numbers(plus), as_numbers(gone)
        return
    source = registry_parse._Source(path)
    line = 0  # lines before this block
    try:
        for index, block in enumerate(registry_parse._blocks(source)):
            first = block[: block.find(b"\n") + 1 or None]
            if index == 0 and registry_parse._is_header(first):
                block = block[len(first) :]
                line += 1
            added, deleted, left = parse_block(block)
            progress.rows_read += len(added) + len(deleted)
            progress.valid += len(added) + len(deleted)
            if left:
                more, fewer = registry_parse.change_lines(
                    ((line + 1 + i, text) for i, text in left),
                    region=region,
                    progress=progress,
                )
                if more:
                    added = np.concatenate((added, as_numbers(more))).astype(
                        np.int64, copy=False
                    )
                if fewer:
                    deleted = np.concatenate((deleted, as_numbers(fewer))).astype(
                        np.int64
                    )
            line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            progress.bytes_read = source.position
            yield added, deleted
            if on_block is not None:
                on_block()
    finally:
        source.close()


# The full download's lines: ten digits, or `area code,number`, maybe with a CR.
# By the width of a line with its newline: the columns of the digits and of the
# comma (None: none), per kind of file.
NUMBER_LAYOUTS: dict[tuple[bool, int], tuple[tuple[int, ...], int | None]] = {
    (False, 11): (tuple(range(10)), None),
    (False, 12): (tuple(range(10)), None),  # with a CR
    (True, 12): (AREA_DIGITS, 3),
    (True, 13): (AREA_DIGITS, 3),  # with a CR
}


def parse_numbers(block: bytes, area: bool) -> Numbers | None:  # noqa: FBT001
    """E.164 numbers of a block of the full download whose lines all have one
    width (a byte table, checked a column at a time), or None: the block is then
    read by registry_parse's readers (the same numbers, or the bad lines found)."""
    width = block.find(b"\n") + 1
    layout = NUMBER_LAYOUTS.get((area, width))
    if layout is None or len(block) % width:
        return None
    digits, comma = layout
    table = np.frombuffer(block, np.uint8).reshape(-1, width)
    if not (table[:, -1] == NEWLINE).all():
        return None
    if width - 1 > digits[-1] + 1 and not (table[:, -2] == CR).all():
        return None  # a column after the digits that is not a CR
    if comma is not None and not (table[:, comma] == COMMA).all():
        return None
    columns = (
        table[:, digits[0] : digits[-1] + 1]
        if comma is None
        else table[:, list(digits)]
    )
    values = columns - np.uint8(ZERO)
    if (values > 9).any() or (values[:, 0] < 2).any():  # area codes start with 2-9
        return None
    found = np.ones(len(table), np.int64)  # the leading 1 of +1
    for at in range(10):
        found *= 10
        found += values[:, at]
    return found


def read_number_arrays(
    path: Path,
    *,
    region: str | None,
    progress: ImportProgress,
    on_block: Callable[[], None] | None = None,
) -> Iterator[Numbers]:
    """`registry_parse.read_numbers` as int64 arrays: a block of one width is read
    as a byte table, any other by the readers there (same rows counted, same
    errors reported)."""
    for numbers in registry_parse.number_batches(
        path,
        region=region,
        progress=progress,
        on_block=on_block,
        block_reader=parse_numbers,
    ):
        yield as_numbers(numbers)


def as_numbers(numbers: Any) -> Numbers:
    """An int64 array of numbers: a list, an `array('q')`, a NumberSet's mapping
    (no copy: a read-only view of the file) or an array."""
    if isinstance(numbers, np.ndarray):
        return numbers.astype(np.int64, copy=False)
    view = getattr(numbers, "view", numbers)
    if isinstance(view, memoryview) or hasattr(view, "typecode"):
        return np.frombuffer(view, np.int64) if len(view) else NONE
    return np.fromiter(view, np.int64) if len(view) else NONE


# --- Set operations on sorted unique arrays ------------------------------------------


def unique(numbers: Numbers) -> Numbers:
    """Sorted, without repeats."""
    ordered = np.sort(numbers)
    if len(ordered) > 1:
        keep = np.empty(len(ordered), bool)
        keep[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
        if not keep.all():
            ordered = ordered[keep]
    return ordered


def within(queries: Numbers, numbers: Numbers) -> Mask:
    """Whether each query is in `numbers` (sorted): one searchsorted."""
    if not len(numbers) or not len(queries):
        return np.zeros(len(queries), bool)
    at = np.searchsorted(numbers, queries)
    np.minimum(at, len(numbers) - 1, out=at)
    return numbers[at] == queries


def minus(first: Numbers, second: Numbers) -> Numbers:
    """`first` without the numbers of `second` (both sorted, unique)."""
    if not len(first) or not len(second):
        return first
    return first[~within(first, second)]


def union(first: Numbers, second: Numbers) -> Numbers:
    """Both sorted unique arrays as one."""
    if not len(first) or not len(second):
        return first if len(first) else second
    return unique(np.concatenate((first, second)))


def has_each(numbers: Any, queries: Numbers) -> Mask:
    """Whether each query is in a NumberSet or a VersionFiles (the files'
    mappings searched in place)."""
    if isinstance(numbers, registry.VersionFiles):
        found = has_each(numbers.base, queries)
        if numbers.dels.count:
            found &= ~within(queries, as_numbers(numbers.dels))
        if numbers.adds.count:
            found |= within(queries, as_numbers(numbers.adds))
        return found
    if not isinstance(numbers, registry.NumberSet) or not numbers.table:
        return within(queries, as_numbers(numbers))
    return _within_file(numbers, queries)


STEP = 4096  # queries searched together in the stretch of the file they span


def _within_file(numbers: registry.NumberSet, queries: Numbers) -> Mask:
    """Whether each sorted query is in a format 2 file: the bucket table gives the
    stretch of the file a run of STEP queries falls in, and one searchsorted a run
    looks there (~17 probes a query where the whole file takes ~26, most of them
    on pages the run shares)."""
    values = as_numbers(numbers)
    table = np.frombuffer(numbers.table, np.int64)
    found = np.zeros(len(queries), bool)
    if not len(queries) or not len(values):
        return found
    last = numbers.buckets - 1
    first_bucket = (queries[::STEP] - numbers.base) >> numbers.shift
    ends = queries[STEP - 1 :: STEP]
    if len(ends) < len(first_bucket):
        ends = np.append(ends, queries[-1])
    last_bucket = (ends - numbers.base) >> numbers.shift
    starts = table[np.clip(first_bucket, 0, last)].tolist()
    stops = table[np.clip(last_bucket, 0, last) + 1].tolist()
    for run, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
        if hi <= lo:
            continue
        part = queries[run * STEP : (run + 1) * STEP]
        found[run * STEP : (run + 1) * STEP] = within(part, values[lo:hi])
    return found


def merge(
    base: Any,
    adds: Any,
    dels: Any,
    added: Iterable[Numbers] | Numbers,
    deleted: Iterable[Numbers] | Numbers,
) -> tuple[Numbers, Numbers]:
    """The new (adds, dels) of a version after a change list, as sorted int64
    arrays: the rules of `registry.merge_changes` (a number both added and deleted
    counts as added; additions already in the base and deletions not in it leave
    no trace)."""
    coming = unique(_joined(added))
    going = minus(unique(_joined(deleted)), coming)
    fresh = coming[~has_each(base, coming)]
    leaving = going[has_each(base, going)]
    new_adds = union(minus(as_numbers(adds), going), fresh)
    new_dels = union(minus(as_numbers(dels), coming), leaving)
    return new_adds, new_dels


def _joined(parts: Iterable[Numbers] | Numbers) -> Numbers:
    if isinstance(parts, np.ndarray):
        return parts
    arrays = [as_numbers(part) for part in parts]
    return np.concatenate(arrays) if arrays else NONE
