"""Do-Not-Call lists held as versioned files of sorted 64-bit numbers.

A national registry (the US list has about 250 million numbers) is too big to copy
into every process: as a sorted `array('q')` it costs 2 GB per gunicorn worker. Here
each list version is a file of sorted, unique E.164 digits (little-endian int64 after
a 4 kB header, then a bucket table: see NumberSet) that every process maps read-only
with `mmap`; the kernel keeps one copy of its pages in the page cache for all of
them, and a lookup reads two table entries and bisects one page of the mapping.

A version is a *base* file plus two small sorted files of numbers added to and taken
off it by change lists since (`adds`, `dels`): applying the registry's change list
writes a new version with the same base and new small files, never a full rebuild.

Files are written beside the current ones under a temporary name and renamed into
place, so a reader only ever sees a complete file; the switch to a new version is a
database update that processes notice through the list's version key.

The registry's files are read by registry_parse.py (its readers are re-exported
here). Sorting is an external bucket sort: numbers are spread into buckets by their
top bits, spilled to a scratch file every few million, then each bucket is sorted
on its own.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import mmap
import operator
import os
import sys
import threading
import time
import zlib
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from voicegate.policy import registry_parse

# The readers of the registry's files, where the rest of the code looks for them.
as_of_from_name = registry_parse.as_of_from_name
is_archive = registry_parse.is_archive
read_changes = registry_parse.read_changes
read_numbers = registry_parse.read_numbers

MAGIC_V1 = b"TCDNC1LE"  # format 1: 16-byte header, numbers (read, no longer written)
MAGIC = b"TCDNC2LE"  # format 2: a header page, the numbers, then a bucket table
HEADER_V1 = 16  # magic + count
PAGE = 4096  # the header takes one page, so the numbers start page-aligned
PER_BUCKET = 128  # numbers a bucket of the table holds on average (1 kB)
POPULATE_READ = 22  # madvise(MADV_POPULATE_READ), Linux 5.14+: map pages in
WARM_STEP = 4 * 1024 * 1024  # bytes mapped in per step of the warming thread
WARM_FROM = 16 * 1024 * 1024  # files smaller than this are not worth a thread
TOUCH_STEP = 1024 * 1024  # bytes whose pages are read between two GIL releases
SHIFT = 23  # bucket width: 8.4 million consecutive numbers
SPILL = 4_000_000  # numbers buffered in memory before a spill to the scratch file


class DncFileError(OSError):
    """A list file that is missing, truncated or not a list file at all."""


# --- Reading ---------------------------------------------------------------------


class NumberSet:
    """One read-only file of sorted numbers, mapped into this process.

    Format 2 (written since): a 4 kB header page (magic, count, base, shift, buckets,
    CRC-32 of the numbers), the numbers from offset 4096, then a *bucket table*: bucket
    b holds the numbers n with (n - base) >> shift == b, and table[b] is the position of
    its first one (table[buckets] = count). With about 128 numbers a bucket, a lookup
    reads two table entries and bisects ~1 kB: one page of the 2 GB mapping and ~8
    probes, instead of ~28 probes over ~18 scattered pages (each page a process has not
    touched yet is a page fault, which is what made cold lookups slow). A skewed list
    only makes some buckets longer (a bisect there).
    Format 1 files (no table) are still read, with a bisect over all numbers.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.count = 0
        self._map: mmap.mmap | None = None
        self.view: Any = ()
        self.table: Any = ()
        self.base = self.shift = self.buckets = 0
        self.crc: int | None = None
        if path is None:
            return
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < HEADER_V1:
                    raise DncFileError(f"{path.name} is truncated")
                self._map = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise DncFileError(f"{path} is missing") from None
        try:
            self._open(path, size)
        except DncFileError:
            self.close()
            raise

    def _open(self, path: Path, size: int) -> None:
        assert self._map is not None
        head = self._map[:48]
        if head[:8] not in (MAGIC, MAGIC_V1):
            raise DncFileError(f"{path.name} is not a Do-Not-Call list file")
        if sys.byteorder != "little":
            raise DncFileError("list files are little-endian; this host is not")
        count = int.from_bytes(head[8:16], "little")
        with memoryview(self._map) as whole:
            self._views(path, size, head, count, whole)
        if self.table:
            self._warm_table()

    def _views(
        self, path: Path, size: int, head: bytes, count: int, whole: memoryview
    ) -> None:
        if head[:8] == MAGIC_V1:
            if size != HEADER_V1 + 8 * count:
                raise DncFileError(f"{path.name} is truncated")
            self.view = whole[HEADER_V1:].cast("q")
            self.count = count
            return
        base, shift, buckets, self.crc = (
            int.from_bytes(head[i : i + 8], "little") for i in (16, 24, 32, 40)
        )
        start = table_start(count)
        if len(head) < 48 or size != start + 8 * (buckets + 1) or shift > 62:
            raise DncFileError(f"{path.name} is truncated")
        self.view = whole[PAGE : PAGE + 8 * count].cast("q")
        self.table = whole[start:].cast("q")
        self.base, self.shift, self.buckets = base, shift, buckets
        self.count = count
        if self.table[buckets] != count:
            raise DncFileError(f"{path.name} is damaged")

    def _warm_table(self) -> None:
        start, buckets = table_start(self.count), self.buckets
        # The table is read by every lookup: ask for it in the page cache now and
        # map its pages into this process (one read a page, ~4,000 at 250 million
        # numbers: a few milliseconds).
        if self._map is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._map.madvise(mmap.MADV_WILLNEED, start)
        table = self.table
        sum(table[i] for i in range(0, buckets + 1, PAGE // 8))

    def verify(self) -> bool:
        """Whether the numbers still match the CRC-32 written with them (reads
        the whole file: for a repair check, not for every mapping)."""
        if self.crc is None or not isinstance(self.view, memoryview):
            return True  # format 1 has no checksum
        crc = 0
        step = WARM_STEP // 8
        for start in range(0, self.count, step):
            crc = zlib.crc32(self.view[start : start + step], crc)
        return crc == self.crc

    def warm(self) -> None:
        """Map every page of the file into this process and read one byte of
        each, a few MB at a time with the GIL let go in between (run in a
        thread): until a page is mapped here its first lookup takes a page fault
        (a few µs; longer if the page has to be read from disk). Mapping alone
        is not enough on a virtual machine: after the file's pages were read
        back from disk into memory the hypervisor had taken back, the first read
        of each 4 kB page costs ~7 µs more with no page fault this kernel can see
        (docs/performance/dnc-registry.md, 2026-12-04), so the thread pays that
        instead of the lookups. Stops quietly when the set is closed."""
        try:
            size = len(self._map) if self._map is not None else 0
            for start in range(0, size, WARM_STEP):
                mapping = self._map
                if mapping is None:
                    return
                length = min(WARM_STEP, size - start)
                # An older kernel refuses it: reading below maps the pages.
                with contextlib.suppress(OSError):
                    mapping.madvise(POPULATE_READ, start, length)
                for touch in range(start, start + length, TOUCH_STEP):
                    # One byte a page, copied by C (no buffer export held, so a
                    # close() meanwhile is never refused).
                    mapping[touch : min(touch + TOUCH_STEP, size) : PAGE]
                    time.sleep(0)
        except (ValueError, BufferError, TypeError):
            return  # closed meanwhile

    def warm_in_background(self) -> None:
        """Start `warm` in a daemon thread if the file is big enough to matter."""
        if self._map is not None and len(self._map) >= WARM_FROM:
            threading.Thread(target=self.warm, name="dnc-warm", daemon=True).start()

    def __contains__(self, number: int) -> bool:
        if self.table:
            bucket = (number - self.base) >> self.shift
            if not 0 <= bucket < self.buckets:
                return False
            table = self.table
            lo, hi = table[bucket], table[bucket + 1]
        else:
            lo, hi = 0, self.count
        view = self.view
        i = bisect.bisect_left(view, number, lo, hi)
        return i < hi and view[i] == number

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        return iter(self.view)

    def close(self) -> None:
        """Unmap now (otherwise when the last reference goes)."""
        for view in (self.view, self.table):
            if isinstance(view, memoryview):
                view.release()
        self.view = ()
        self.table = ()
        self.count = 0
        if self._map is not None:
            self._map.close()
            self._map = None


def table_start(count: int) -> int:
    """Offset of the bucket table in a format 2 file of `count` numbers."""
    return PAGE + -(-8 * count // PAGE) * PAGE


def table_shape(count: int, first: int, last: int) -> tuple[int, int]:
    """(shift, buckets) giving about PER_BUCKET numbers a bucket."""
    if not count:
        return 0, 0
    span = last - first + 1
    shift = max(0, (span * PER_BUCKET // count).bit_length() - 1)
    return shift, ((span - 1) >> shift) + 1


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

    def warm(self) -> None:
        """`NumberSet.warm` for each file: the deletions, the additions, the base."""
        for part in (self.dels, self.adds, self.base):
            if part.count:
                part.warm()

    def warm_in_background(self) -> None:
        """Start `warm` in a daemon thread if the files are big enough to matter."""
        if self.mapped_bytes >= WARM_FROM:
            threading.Thread(target=self.warm, name="dnc-warm", daemon=True).start()

    @property
    def mapped_bytes(self) -> int:
        """Bytes of the files mapped (shared with every other process)."""
        return 8 * (self.base.count + self.adds.count + self.dels.count)

    def close(self) -> None:
        """Unmap every file."""
        for part in (self.base, self.adds, self.dels):
            part.close()


def open_version(
    directory: Path, base: str, adds: str, dels: str, *, warm: bool = True
) -> VersionFiles:
    """Map a version's files (`adds`/`dels` may be empty names: none); with `warm`,
    a thread maps every file's pages in (for copies that serve lookups): the
    deletions and additions first, since every lookup reads them before the base."""
    files = VersionFiles(
        NumberSet(directory / base),
        NumberSet(directory / adds) if adds else EMPTY,
        NumberSet(directory / dels) if dels else EMPTY,
    )
    if warm:
        files.warm_in_background()
    return files


# --- Writing -----------------------------------------------------------------------


def write_numbers(
    path: Path,
    chunks: Iterable[array] | Iterable[Any],
    *,
    shape: tuple[int, int, int] | None = None,
) -> int:
    """Write sorted unique numbers (given in order, in chunks: `array('q')` or int64
    arrays) to `path` atomically (format 2): a temporary file beside it, flushed to
    disk, then renamed over. Returns the count.

    `shape` is (about how many, smallest, largest) for the bucket table, so that
    it is built as the chunks go by; without it the chunks are held in memory
    first (small files: change lists, tests).
    """
    if shape is None:
        chunks = [chunk for chunk in chunks if len(chunk)]
        total = sum(len(chunk) for chunk in chunks)
        shape = (total, int(chunks[0][0]), int(chunks[-1][-1])) if total else (0, 0, 0)
    estimate, base, largest = shape
    shift, buckets = table_shape(estimate, base, largest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = crc = 0
    table = array("q")
    try:
        with tmp.open("wb") as out:
            out.write(bytes(PAGE))
            for chunk in chunks:
                if not len(chunk):
                    continue
                values = np.frombuffer(chunk, np.int64)  # no copy
                if values[0] < base or values[-1] > largest:
                    raise ValueError("numbers outside the shape given")
                # Bucket b starts at the first number >= base + (b << shift):
                # the chunk's buckets found with one searchsorted.
                top = (int(values[-1]) - base) >> shift
                if len(table) <= top:
                    starts = np.arange(len(table), top + 1, dtype=np.int64)
                    found = np.searchsorted(values, base + (starts << shift)) + count
                    table.frombytes(found.astype("<i8").tobytes())
                if sys.byteorder != "little":  # pragma: no cover - little-endian CI
                    values = values.astype("<i8")
                crc = zlib.crc32(values.data, crc)
                out.write(values.data)
                count += len(values)
            while len(table) <= buckets:
                table.append(count)
            del table[buckets + 1 :]
            out.write(bytes(table_start(count) - PAGE - 8 * count))
            table.tofile(out)
            out.seek(0)
            out.write(MAGIC + b"".join(
                value.to_bytes(8, "little")
                for value in (count, base, shift, buckets, crc)
            ))  # fmt: skip
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


class Sorter:
    """External bucket sort of numbers into one sorted, unique file.

    Each batch is sorted on arrival as an int64 array (the registry's files come
    sorted by area code, so this is nearly free) and cut into buckets by their top
    bits with one searchsorted for all the bucket boundaries, never a Python step
    per number; buckets are spilled to one scratch file as (offset, count)
    segments every SPILL numbers. At the end a bucket of one segment is already
    sorted (only repeats are looked for); one of several is joined and sorted.
    Memory holds at most SPILL numbers plus the largest bucket being sorted.
    """

    def __init__(self, scratch: Path) -> None:
        scratch.parent.mkdir(parents=True, exist_ok=True)
        self.scratch = scratch
        self._run: IO[bytes] | None = None
        self._buckets: dict[int, list[Any]] = {}
        self._segments: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        self._buffered = 0
        self.added = 0
        self.smallest: int | None = None
        self.largest: int | None = None

    def add(self, numbers: Any) -> None:
        """Take a batch of numbers (a list or an int64 array; any order, repeats
        allowed)."""
        if not len(numbers):
            return
        batch = np.asarray(numbers, dtype=np.int64)
        if not (batch[1:] >= batch[:-1]).all():  # a sorted batch stays as it is
            batch = np.sort(batch)
        first, last = int(batch[0]), int(batch[-1])
        if self.smallest is None or first < self.smallest:
            self.smallest = first
        if self.largest is None or last > self.largest:
            self.largest = last
        keys = range(first >> SHIFT, (last >> SHIFT) + 1)
        bounds = np.searchsorted(batch, np.arange(keys.start + 1, keys.stop) << SHIFT)
        cuts = [0, *bounds.tolist(), len(batch)]
        buckets = self._buckets
        for key, lo, hi in zip(keys, cuts, cuts[1:], strict=False):
            if hi > lo:
                buckets.setdefault(key, []).append(batch[lo:hi])
        self._buffered += len(batch)
        self.added += len(batch)
        if self._buffered >= SPILL:
            self._spill()

    def _spill(self) -> None:
        if self._run is None:
            self._run = self.scratch.open("w+b")
        run = self._run
        for key, parts in self._buckets.items():
            segments = self._segments[key]
            for part in parts:
                segments.append((run.tell(), len(part)))
                run.write(part.data)
        self._buckets.clear()
        self._buffered = 0

    def _sorted_chunks(self) -> Iterator[Any]:
        keys = sorted(set(self._segments) | set(self._buckets))
        run = self._run
        for key in keys:
            parts: list[Any] = []
            for offset, count in self._segments.get(key, ()):
                assert run is not None
                run.seek(offset)
                parts.append(np.frombuffer(run.read(8 * count), np.int64))
            parts.extend(self._buckets.pop(key, ()))
            yield _sorted_unique(parts)

    def finish(self, path: Path) -> int:
        """Write everything to `path`, sorted and unique; returns how many."""
        shape = (self.added, self.smallest or 0, self.largest or 0)
        try:
            return write_numbers(path, self._sorted_chunks(), shape=shape)
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


def _sorted_unique(parts: list[Any]) -> Any:
    """One sorted int64 array without repeats from sorted parts."""
    if len(parts) == 1:
        numbers = parts[0]
    else:
        numbers = np.concatenate(parts)
        if any(parts[i][-1] >= parts[i + 1][0] for i in range(len(parts) - 1)):
            numbers.sort()  # runs that overlap or come out of order
    if len(numbers) > 1:
        repeats = numbers[1:] == numbers[:-1]
        if repeats.any():
            keep = np.ones(len(numbers), bool)
            keep[1:] = ~repeats
            numbers = numbers[keep]
    return numbers


def merge_changes(
    base: NumberSet | VersionFiles,
    adds: Iterable[int],
    dels: Iterable[int],
    added: Iterable[int],
    deleted: Iterable[int],
) -> tuple[list[int], list[int]]:
    """The new (adds, dels) of a version after a change list.

    `adds` never overlaps the base and `dels` is always inside it (both sorted).
    A number both added and deleted by one change list counts as added: when in
    doubt, do not call. With A the additions and D the deletions not also added:
    new adds = (adds - D) | (A not in the base), new dels = (dels - A) | (D in the
    base). Everything stays a sorted list; the set operations are C loops (a set
    is built only to test overlap, and filters only when there is some), and the
    base is asked only about A and D, in order (sorted lookups walk the file).
    """
    coming = _ordered(added)
    coming_set = set(coming)
    going = _minus(_ordered(deleted), coming_set)
    fresh = list(itertools.compress(coming, map(operator.not_, has_each(base, coming))))
    leaving = list(itertools.compress(going, has_each(base, going)))
    old_adds, old_dels = _as_list(adds), _as_list(dels)
    new_adds = _union(_minus(old_adds, set(going)) if going else old_adds, fresh)
    new_dels = _union(_minus(old_dels, coming_set), leaving)
    return new_adds, new_dels


def _as_list(numbers: Iterable[int]) -> list[int]:
    if isinstance(numbers, NumberSet):
        view = numbers.view
        return view.tolist() if isinstance(view, memoryview) else list(view)
    return list(numbers)


def _ordered(numbers: Iterable[int]) -> list[int]:
    """Sorted, without repeats (sorting runs already in order is a linear pass)."""
    ordered = sorted(numbers)
    if any(map(operator.eq, ordered, itertools.islice(ordered, 1, None))):
        return list(dict.fromkeys(ordered))
    return ordered


def _minus(ordered: list[int], leave_out: set[int]) -> list[int]:
    """`ordered` without the numbers of `leave_out`, in order."""
    if not ordered or not leave_out or leave_out.isdisjoint(ordered):
        return ordered
    return list(itertools.filterfalse(leave_out.__contains__, ordered))


def _union(first: list[int], second: list[int]) -> list[int]:
    """Two sorted lists without repeats as one (timsort merges the two runs)."""
    if not first or not second:
        return first or second
    joined = first + second
    joined.sort()
    small, large = sorted((first, second), key=len)
    return joined if set(small).isdisjoint(large) else list(dict.fromkeys(joined))


def has_each(numbers: NumberSet | VersionFiles, queries: list[int]) -> list[bool]:
    """Whether each query is in `numbers`: a tight loop for a change list's
    lookups. `queries` in ascending order: those outside the file's range are
    answered without a lookup, and the rest walk the file forwards."""
    if not isinstance(numbers, NumberSet) or not numbers.table:
        return [number in numbers for number in queries]
    base, shift, buckets = numbers.base, numbers.shift, numbers.buckets
    first = bisect.bisect_left(queries, base)
    last = bisect.bisect_left(queries, base + (buckets << shift), first)
    table: Any = numbers.table
    if (last - first) * 8 > buckets:
        table = table.tolist()  # a list hands out its numbers without making them
    view, find = numbers.view, bisect.bisect_left
    found = [False] * first
    append = found.append
    for number in itertools.islice(queries, first, last):
        bucket = (number - base) >> shift
        hi = table[bucket + 1]
        i = find(view, number, table[bucket], hi)
        append(i < hi and view[i] == number)
    found += [False] * (len(queries) - last)
    return found
