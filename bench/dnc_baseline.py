"""The earlier change-list paths, kept as the bench's baselines (bench/dnc_registry.py).

First: each block of a change list was read with two regular-expression scans
(`registry_parse._fast_changes`, still the reader's second fast path), and the merge
built sets and dicts of every number and looked each one up in the base with a
bisect over the whole bucket, additions and deletions alike (`first_path`).

Previous: pure Python without a Python step per line, the column reader of
`registry_parse.read_changes` and the list merge of `registry.merge_changes` (both
still in the code, the reference the array path is tested against;
`previous_path`).

Today's path reads and merges int64 arrays (registry_arrays.py). All three give the
same (adds, dels); the bench checks that, then times them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from pathlib import Path

from voicegate.policy import registry, registry_parse


def first_path(
    base: registry.NumberSet, changes: Path
) -> tuple[int, tuple[list[int], list[int]]]:
    """(rows, (adds, dels)) of the first reader and merge on an empty version."""
    added, deleted = read_changes(changes)
    return len(added) + len(deleted), merge_changes(base, (), (), added, deleted)


def previous_path(
    base: registry.NumberSet, changes: Path
) -> tuple[int, tuple[list[int], list[int]]]:
    """(rows, (adds, dels)) of the pure-Python column reader and list merge."""
    from voicegate.policy import importer

    progress = importer.ImportProgress(size=changes.stat().st_size)
    added: list[int] = []
    deleted: list[int] = []
    for adds, dels in registry_parse.read_changes(
        changes, region="US", progress=progress
    ):
        added += adds
        deleted += dels
    merged = registry.merge_changes(base, (), (), added, deleted)
    return progress.rows_read, merged


def read_changes(path: Path) -> tuple[list[int], list[int]]:
    """(added, deleted) of a change list of plain `number,A` / `number,D` lines."""
    added: list[int] = []
    deleted: list[int] = []
    with path.open("rb") as handle:
        rest = b""
        while data := handle.read(registry_parse.BLOCK):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            found = registry_parse._fast_changes(data[:cut])
            if found is None:
                raise ValueError("the baseline reads plain change lines only")
            added += found[0]
            deleted += found[1]
    return added, deleted


def merge_changes(
    base: registry.NumberSet,
    adds: Iterable[int],
    dels: Iterable[int],
    added: Iterable[int],
    deleted: Iterable[int],
) -> tuple[list[int], list[int]]:
    """The previous merge: sets of everything, sorted lists, a lookup each."""
    coming = sorted(dict.fromkeys(added))
    coming_set = set(coming)
    going = [n for n in sorted(dict.fromkeys(deleted)) if n not in coming_set]
    going_set = set(going)
    adds = list(adds)
    adds_set = set(adds)
    leaving = [n for n in going if n not in adds_set]
    new_dels = [n for n in dels if n not in coming_set]
    new_dels += itertools.compress(leaving, has_each(base, leaving))
    new_dels.sort()
    new_adds = [n for n in adds if n not in going_set]
    new_adds += [
        n
        for n, there in zip(coming, has_each(base, coming), strict=True)
        if not there and n not in adds_set
    ]
    new_adds.sort()
    return new_adds, list(dict.fromkeys(new_dels))


def has_each(numbers: registry.NumberSet, queries: list[int]) -> list[bool]:
    """The previous lookup loop (table entries read from the mapping)."""
    table, view, base = numbers.table, numbers.view, numbers.base
    shift, buckets, find = numbers.shift, numbers.buckets, bisect.bisect_left
    found = []
    for number in queries:
        bucket = (number - base) >> shift
        if 0 <= bucket < buckets:
            hi = table[bucket + 1]
            i = find(view, number, table[bucket], hi)
            found.append(i < hi and view[i] == number)
        else:
            found.append(False)
    return found
