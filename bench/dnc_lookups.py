"""Lookups in a mapped Do-Not-Call list file, timed one by one (`dnc_registry.py`):
the synthetic numbers, the probes, the rounds after warming with their page faults,
the same bisect with no product code around it, and the kernel's proactive reclaim
found on this machine (it unmaps cold pages of a mapping, so a lookup can fault
after warming)."""

from __future__ import annotations

import bisect
import os
import random
import resource
import threading
import time
from array import array
from pathlib import Path

STRIDE = 32  # synthetic numbers: 2000000000 + i * STRIDE, over every area code
LOW = 2_000_000_000


def number(i: int) -> int:
    """The i-th synthetic 10-digit number."""
    return LOW + i * STRIDE


def probes(count: int, n: int, *, seed: int) -> list[int]:
    """n lookups, half of listed numbers, half of their unlisted neighbours (+1)."""
    rng = random.Random(seed)
    found = [number(rng.randrange(count)) + 10_000_000_000 for _ in range(n // 2)]
    found += [p + 1 for p in found]  # +1: never on the list (stride ≥ 2)
    rng.shuffle(found)
    return found


def timed(contains, numbers: list[int], faults: list | None = None) -> array:
    """Seconds of each lookup, in an array allocated (and its pages touched) before
    the first one, so that no result makes an object or a page; `faults` (if
    given) gets this process's (minor, major) page faults over the lookups alone."""
    clock = time.perf_counter
    lat = array("d", bytes(8 * len(numbers)))
    before = page_faults()
    for k, p in enumerate(numbers):
        t = clock()
        contains(p)
        lat[k] = clock() - t
    if faults is not None:
        after = page_faults()
        faults[:] = [after[0] - before[0], after[1] - before[1]]
    return lat


def page_faults() -> tuple[int, int]:
    """This process's (minor, major) page faults so far: a major one is a page
    read from disk (a page the kernel reclaimed, see `kernel_pageout`)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_majflt


def _label(name: str, n: int, faults: list) -> str:
    which = "first 100,000" if n == 0 else "after 400,000 more"
    return f"{name}, {which} ({faults[0]:,} minor, {faults[1]:,} major page faults)"


def settled(found: dict, name: str, contains, count: int, *, seed: int) -> None:
    """Five rounds of 100,000 lookups after warming; the first and the last kept,
    with this process's page faults in each (a kernel that pages out cold
    memory, see `kernel_pageout`, unmaps pages warming had mapped)."""
    settled_together(found, [(name, contains)], count, seed=seed)


def settled_together(found: dict, named: list, count: int, *, seed: int) -> None:
    """`settled` for several lookups at once, their rounds taken in turn (round 1 of
    each, then round 2 of each …), so that each sees the same time since the file
    was read and the same machine; the first named reads each round's pages first."""
    kept: dict[str, list] = {}
    for n in range(5):
        numbers = probes(count, 100_000, seed=seed + n)
        for name, contains in named:
            faults: list = []
            lat = timed(contains, numbers, faults)
            if n in (0, 4):
                kept.setdefault(name, []).append((_label(name, n, faults), lat))
    for rounds in kept.values():
        for label, lat in rounds:
            found[label] = lat


def raw_lookup(numbers):
    """The same lookup as `NumberSet.__contains__` with nothing around it: the
    bucket's bounds from the table, one bisect (the floor for this machine)."""
    view, table, base, shift = numbers.view, numbers.table, numbers.base, numbers.shift
    left = bisect.bisect_left

    def contains(p: int) -> bool:
        b = (p - base) >> shift
        lo, hi = table[b], table[b + 1]
        i = left(view, p, lo, hi)
        return i < hi and view[i] == p

    return contains


def kernel_pageout() -> str:
    """The kernel's proactive reclaim (DAMON schemes) as found, in words."""
    root = Path("/sys/kernel/mm/damon/admin/kdamonds")
    found = []
    for state in sorted(root.glob("*/state")):
        actions = {
            a.read_text().strip()
            for a in state.parent.glob("contexts/*/schemes/*/action")
        }
        found.append(f"kdamond {state.parent.name} {state.read_text().strip()}, "
                     f"schemes: {', '.join(sorted(actions)) or 'none'}")  # fmt: skip
    return "; ".join(found) or "no DAMON reclaim found"


def lookup_latencies(path: Path, count: int, copy_open=None) -> dict[str, list[float]]:
    """Lookups in the list file: from a fresh mapping of a file in the page cache
    (each page this process has not touched yet is a page fault), the same
    mapping warmed, and a fresh mapping after the file's pages were dropped from
    the page cache (`posix_fadvise(DONTNEED)` drops the pages no process maps:
    every first touch of those is a read from disk).

    `copy_open()` (optional) gives the check's copy of the list (a `DncListCopy`
    mapping the same file, its warming thread started) and `copy_close(copy)`:
    it is timed twice in the same rounds as the file, so that both are measured
    under the same conditions: once while the file's pages are in memory since
    the import, and once after the drop, the copy's own warming having read the
    file back from disk (with the file's mapping, warmed again, beside it)."""
    from voicegate.policy import registry

    found: dict[str, list[float]] = {}
    cold = registry.NumberSet(path)
    found["fresh mapping, file in the page cache (cold pages)"] = timed(
        cold.__contains__, probes(count, 200_000, seed=11)
    )
    t0 = time.perf_counter()
    cold.warm()
    print(f"  mapping every page in (the warming thread's work): "
          f"{time.perf_counter() - t0:.2f} s")  # fmt: skip
    settled(found, "the same mapping, warmed", cold.__contains__, count, seed=13)
    settled(found, "the limit: the same bisect inline, no product code",
            raw_lookup(cold), count, seed=31)  # fmt: skip
    if copy_open is not None:
        copy, copy_close = copy_open()
        copy.files.warm()  # what the copy's own thread does in the background
        _warming_done()
        settled(found, "the check's copy (`DncListCopy.contains`), warmed",
                copy.contains, count, seed=22)  # fmt: skip
        copy_close(copy)  # a mapped page is not dropped by DONTNEED
    cold.close()
    with path.open("rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    disk = registry.NumberSet(path)
    t0 = time.perf_counter()
    found["fresh mapping after dropping the file from the page cache"] = timed(
        disk.__contains__, probes(count, 20_000, seed=14)
    )
    print(f"  20,000 lookups after the drop: {time.perf_counter() - t0:.1f} s")
    disk.close()
    if copy_open is not None:
        copy, copy_close = copy_open()
        t0 = time.perf_counter()
        copy.files.warm()  # reads the rest of the file back from disk
        _warming_done()
        print(f"  the copy's warming after the drop: {time.perf_counter() - t0:.2f} s")
        again = registry.NumberSet(path)
        again.warm()
        named = [
            ("read back from disk, warmed: the check's copy", copy.contains),
            ("read back from disk, warmed: the list file", again.__contains__),
            ("read back from disk, warmed: the same bisect inline", raw_lookup(again)),
        ]
        settled_together(found, named, count, seed=41)
        again.close()
        copy_close(copy)
        previous_warming_rounds(found, path, count)
    return found


def previous_warming_rounds(found: dict, path: Path, count: int) -> None:
    """The same drop and read back, warmed as before 2026-12-04: every page mapped
    in with `madvise(MADV_POPULATE_READ)`, none read. The check's copy's own
    lookup (`DncListCopy.contains` over the version's files) and the bare bisect."""
    from voicegate.policy import memory, registry

    with path.open("rb") as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    time.sleep(10)  # the freed memory is handed back to the host meanwhile
    base = registry.NumberSet(path)
    t0 = time.perf_counter()
    size = len(base._map)
    for start in range(0, size, registry.WARM_STEP):
        base._map.madvise(
            registry.POPULATE_READ, start, min(registry.WARM_STEP, size - start)
        )
    print(f"  the previous warming after a drop: {time.perf_counter() - t0:.2f} s")
    files = registry.VersionFiles(base, registry.EMPTY, registry.EMPTY)
    copy = memory.DncListCopy(0, "previous warming", 0, files=files, storage="file")
    named = [
        ("read back, previous warming (pages mapped, none read): the check's copy",
         copy.contains),
        ("read back, previous warming: the same bisect inline", raw_lookup(base)),
    ]  # fmt: skip
    settled_together(found, named, count, seed=51)
    base.close()


def _warming_done() -> None:
    """Wait for the copy's own warming thread (so that no other thread of this
    process runs during the timed rounds)."""
    for thread in threading.enumerate():
        if thread.name == "dnc-warm":
            thread.join()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]
