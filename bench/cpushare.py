"""Where a benchmark's CPU went: the machine's busy/idle/steal shares and each
process group's CPU time per request, read from /proc around a measured run.

    before = cpushare.snapshot()
    ... run wrk ...
    after = cpushare.snapshot()
    print(cpushare.describe(before, after, requests, server_pid=proc.pid))

Groups: the server under test (the pid given and its children: gunicorn's master
and workers), `wrk` (running, or ended and waited for by this process),
`redis-server`, `postgres`, this process (the bench itself: the provider
stand-in's threads), and everything else. `redis-server` and `postgres` are the
machine's shared servers: whatever else uses them meanwhile is counted there.
Figures are in µs of CPU per request (user + system), from the kernel's clock
ticks (10 ms each: a run of a few seconds at hundreds of requests a second reads
to a few µs).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")
NAMED = ("wrk", "redis-server", "postgres")


@dataclass
class Snapshot:
    """The machine's CPU counters (ticks) and each process's (comm, ppid, ticks)."""

    busy: int = 0
    idle: int = 0
    steal: int = 0
    children_us: float = 0.0  # this process's ended children (wrk, once it exits)
    procs: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    # Each process's main thread: (ns on a CPU, ns waiting for one), schedstat.
    sched: dict[int, tuple[int, int]] = field(default_factory=dict)
    at_ns: int = 0


def snapshot() -> Snapshot:
    """The counters now."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0]
    fields = [int(x) for x in first.split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    snap = Snapshot(
        busy=user + nice + system + irq + softirq,
        idle=idle + iowait,
        steal=steal,
        children_us=(ended.ru_utime + ended.ru_stime) * 1e6,
    )
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        # After the comm: state ppid ... utime (14th field of the line) stime (15th).
        ticks = int(rest[11]) + int(rest[12])
        snap.procs[int(entry.name)] = (comm, int(rest[1]), ticks)
        try:
            ran, waited, _slices = Path(entry.path, "schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        snap.sched[int(entry.name)] = (int(ran), int(waited))
    snap.at_ns = time.monotonic_ns()
    return snap


def _descendants(procs: dict[int, tuple[str, int, int]], root: int) -> set[int]:
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, (_comm, ppid, _ticks) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def groups(before: Snapshot, after: Snapshot, server_pid: int) -> dict[str, float]:
    """CPU µs spent in each group between the two snapshots."""
    server = _descendants(after.procs, server_pid)
    spent: dict[str, float] = {"server": 0.0, **dict.fromkeys(NAMED, 0.0)}
    spent["bench"] = 0.0
    spent["other"] = 0.0
    for pid, (comm, _ppid, ticks) in after.procs.items():
        was = before.procs.get(pid)
        delta = ticks - (was[2] if was and was[0] == comm else 0)
        if delta <= 0:
            continue
        if pid in server:
            name = "server"
        elif pid == os.getpid():
            name = "bench"
        elif comm in NAMED:
            name = comm
        else:
            name = "other"
        spent[name] += delta * TICK_US
    # wrk has exited by the second snapshot: its time is in our ended children's.
    spent["wrk"] += after.children_us - before.children_us
    return spent


def serving_time(
    before: Snapshot, after: Snapshot, requests: int, server_pid: int
) -> tuple[float, float, float]:
    """µs per request the server's worker processes' main threads spent on a CPU,
    waiting for one (runnable), and neither (blocked: on a socket, a lock, a
    sleep), over the whole run: each worker's wall time is one of the three."""
    workers = _descendants(after.procs, server_pid) - {server_pid}
    wall = (after.at_ns - before.at_ns) * len(workers)
    ran = waited = 0
    for pid in workers:
        if pid in after.sched and pid in before.sched:
            ran += after.sched[pid][0] - before.sched[pid][0]
            waited += after.sched[pid][1] - before.sched[pid][1]
    blocked = max(0, wall - ran - waited)
    return ran / requests / 1e3, waited / requests / 1e3, blocked / requests / 1e3


def describe(before: Snapshot, after: Snapshot, requests: int, server_pid: int) -> str:
    """One line: the machine's shares, then each group's µs per request."""
    total = (after.busy - before.busy) + (after.idle - before.idle)
    steal = after.steal - before.steal
    if total <= 0 or requests <= 0:
        return "cpu: not measured"
    busy = (after.busy - before.busy) / total
    spent = groups(before, after, server_pid)
    per = ", ".join(f"{name} {us / requests:.0f}" for name, us in spent.items())
    stolen = steal / (total + steal)
    ran, waited, blocked = serving_time(before, after, requests, server_pid)
    return (
        f"cpu: busy {busy:.0%}, idle {1 - busy:.0%}, steal {stolen:.0%}; "
        f"µs of CPU per request: {per} (all {sum(spent.values()) / requests:.0f}); "
        f"workers' main threads per request: {ran:.0f} µs on a CPU, {waited:.0f} "
        f"waiting for one, {blocked:.0f} blocked"
    )
