"""The US National Do-Not-Call Registry on one machine: import, lookups, memory.

Generates a synthetic registry download (one 10-digit number a line, blocks of
consecutive area codes in shuffled order, as the registry's per-area-code files
concatenated), then, in one run:

  * imports it into a national (file-backed) list through a real Celery worker and
    reports rows/s, next to today's database importer (`importer.import_file`, the
    path of hand-kept lists) on a sample of the same file, plus the `area code,
    number` and gzip variants on a sample;
  * applies a change list (additions and deletions) and times it: the whole job
    through the worker (wall and CPU), and in process today's reader and merge
    against the previous ones (bench/dnc_baseline.py) on the same base file;
  * times lookups in the list file: a fresh mapping (cold pages), the same mapping
    warmed, a fresh mapping after the file's pages were dropped from the page cache
    (reads from disk), and the check's own copy;
  * serves the console with gunicorn (3 sync workers) next to the Celery worker,
    sends outbound checks over HTTP so every worker maps the list, and sums the
    proportional set size (PSS, /proc/<pid>/smaps) of all of them before and after;
    then 4 plain processes that touch every page of the file (the worst case);
  * measures today's design (a sorted `array('q')` copy per process) with 4
    processes at `--baseline-numbers`, scaled linearly to `--numbers`;
  * keeps checking a listed and an unlisted number over HTTP while a change list is
    imported, and counts wrong answers across the switch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tc_dnc \\
    REDIS_URL=redis://127.0.0.1:6379/8 python bench/dnc_registry.py --numbers 1000000
    … --numbers 250000000     # the registry's size: minutes, ~9 GB of scratch disk

Everything generated (the registry file, list files, data dir) is deleted at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dnc_lookups as lookups  # noqa: E402
from bench.dnc_lookups import (  # noqa: E402
    LOW,
    kernel_pageout,
    lookup_latencies,
    number,
    percentile,
)

OWNED = "+14155550100"
CHUNK = 1_000_000


def generate(path: Path, count: int, *, area: bool = False, seed: int = 7) -> int:
    """Write `count` numbers in shuffled blocks of CHUNK; returns bytes written."""
    blocks = list(range(0, count, CHUNK))
    random.Random(seed).shuffle(blocks)
    with path.open("wb") as out:
        for start in blocks:
            stop = min(count, start + CHUNK)
            if area:
                text = "".join(
                    f"{n // 10_000_000},{n % 10_000_000:07d}\n"
                    for n in map(number, range(start, stop))
                )
            else:
                numbers = range(number(start), number(stop), lookups.STRIDE)
                text = "\n".join(map(str, numbers)) + "\n"
            out.write(text.encode())
    return path.stat().st_size


def pss_kb(pid: int, *, path_part: str | None = None) -> int:
    """PSS of a process (kB): all of it, or only mappings whose path has path_part."""
    if path_part is None:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        return sum(
            int(line.split()[1])
            for line in text.splitlines()
            if line.startswith("Pss:")
        )
    total, inside = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            inside = len(head) >= 6 and path_part in head[-1]
        elif inside and line.startswith("Pss:"):
            total += int(head[1])
    return total


def children(pid: int) -> list[int]:
    """Direct child processes of pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """Load averages (1, 5, 15 min)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def changed(k: int, count: int, changes: int) -> int:
    """Index of the k-th listed number whose neighbour (+1) the change list adds;
    index + 1 is the listed number it deletes. Spread over every area code."""
    return k * max(2, count // changes)


def valid_pairs(count: int, changes: int) -> tuple[list[str], list[str]]:
    """Valid US numbers on the list and the next number of each (not on it until
    the change list adds it)."""
    from trustconsole.lib.phones import PhoneNumberError, phone_normalise

    rng = random.Random(5)
    on, off = [], []
    while len(on) < 200:
        n = number(changed(rng.randrange(changes), count, changes))
        try:
            pair = phone_normalise(f"+1{n}"), phone_normalise(f"+1{n + 1}")
        except PhoneNumberError:
            continue
        on.append(pair[0])
        off.append(pair[1])
    return on, off


def setup(data: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
    os.environ["DEBUG"] = "true"
    os.environ["TRUSTCONSOLE_DATA_DIR"] = str(data)
    os.environ["POLICY_DNC_FILE_DIR"] = str(data / "dnc")
    os.environ["POLICY_DNC_IMPORT_DIR"] = str(data / "imports")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def child_env(data: Path) -> dict[str, str]:
    env = {**os.environ}
    env.update(
        DEBUG="true",
        TRUSTCONSOLE_DATA_DIR=str(data),
        POLICY_DNC_FILE_DIR=str(data / "dnc"),
        POLICY_DNC_IMPORT_DIR=str(data / "imports"),
        LOG_LEVEL="WARNING",
    )
    return env


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def toucher(path: str, rounds: int) -> None:
    """Child process: map the list file and read every page, then hold it."""
    from voicegate.policy import registry

    numbers = registry.NumberSet(Path(path))
    view = numbers.view
    total = 0
    for i in range(0, numbers.count, 512):  # 512 numbers = one 4 kB page
        total += view[i]
    print("ready", flush=True)
    sys.stdin.readline()
    del view
    numbers.close()


def holder(count: int) -> None:
    """Child process: today's design, a sorted array('q') copy of the list."""
    first = LOW + 10_000_000_000
    numbers = array("q", range(first, first + 32 * count, 32))
    print("ready", len(numbers), flush=True)
    sys.stdin.readline()


def main() -> None:  # noqa: C901 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--baseline-numbers", type=int, default=25_000_000)
    parser.add_argument("--old-importer-rows", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1_500)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    # Spread the synthetic list over 2xx…9xx.
    lookups.STRIDE = 8_000_000_000 // args.numbers
    if lookups.STRIDE < 2:
        raise SystemExit("at most 4,000,000,000 synthetic numbers")

    work = Path(tempfile.mkdtemp(prefix="bench-dnc-", dir=os.environ.get("BENCH_DIR")))
    need = args.numbers * (11 + 8 + 8) * 1.2 + 2e9
    free = shutil.disk_usage(work).free
    print(f"disk: {free / 1e9:.0f} GB free at {work}, {need / 1e9:.1f} GB needed")
    if free < need:
        shutil.rmtree(work)
        raise SystemExit("not enough disk space")
    print(f"load average at the start (1, 5, 15 min): {load()}")
    print(f"the kernel's proactive reclaim: {kernel_pageout()}")
    procs: list[subprocess.Popen] = []
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        run(args, work, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
        print(f"deleted {work}")


def run(args: argparse.Namespace, work: Path, procs: list[subprocess.Popen]) -> None:  # noqa: C901, PLR0915
    data = work / "data"
    setup(data)
    import httpx

    from accounts.models import Account, AccountNumber
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.core.services import token_create
    from voicegate.policy import importer, memory, services
    from voicegate.policy.models import DncImport
    from voicegate.policy.tasks import dnc_import_task

    org = Organisation.objects.create(name="Bench", slug=f"bench-{os.getpid()}")
    actor = Actor.system_for(org, "bench")
    account = Account.objects.create(
        organisation=org,
        company_name="Dialer",
        email="ops@dialer.example",
        country="US",
    )
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    services.policy_settings_update(
        actor=actor,
        harassment_limit=10**9,
        denial_threshold=10**9,
        auto_restrict_voice=False,
    )
    national = services.dnc_list_create(
        actor=actor, name="US National DNC", kind="national", country="US"
    )
    _, token = token_create(actor=actor, name="bench", role="operator")

    # --- The registry file ------------------------------------------------------------
    source = work / "dnc-2026-11-30.txt"
    t0 = time.perf_counter()
    size = generate(source, args.numbers)
    print(
        f"generated {args.numbers:,} numbers ({size / 1e9:.2f} GB) "
        f"in {time.perf_counter() - t0:.0f} s"
    )

    # --- Celery worker (imports) ---------------------------------------------------
    queue = f"bench-dnc-{os.getpid()}"
    worker_log = (work / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trustconsole", "worker", "--pool",
         "solo",
         "--queues", queue, "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--hostname", f"{queue}@%h"],
        cwd=ROOT, env=child_env(data), stdout=worker_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    procs.append(worker)
    time.sleep(3)
    worker_pss_idle = pss_kb(worker.pid)

    def import_via_worker(
        path: Path, *, mode: str = "full"
    ) -> tuple[DncImport, int, float]:
        with path.open("rb") as upload:
            job = services.dnc_import_start(
                actor=actor, dnc_list=national, upload=upload, file_name=path.name,
                mode=mode, enqueue=False,
            )  # fmt: skip
        peak = [0]

        def sample() -> bool:
            peak[0] = max(peak[0], pss_kb(worker.pid))
            job.refresh_from_db()
            return job.status in ("done", "failed")

        cpu = cpu_seconds(worker.pid)
        dnc_import_task.apply_async(args=[job.pk], queue=queue)
        wait(sample, 4 * 3600, "the worker's import")
        if job.status != "done":
            raise SystemExit(f"import failed: {job.error}")
        return job, peak[0], cpu_seconds(worker.pid) - cpu

    # --- Serving: gunicorn workers and the Celery worker map the list -----------------
    port = _free_port()
    web_log = (work / "web.log").open("wb")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trustconsole.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.workers), "--no-control-socket"],
        cwd=ROOT, env=child_env(data), stdout=web_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    procs.append(web)
    url = f"http://127.0.0.1:{port}"
    wait(lambda: _up(httpx, url), 120, "gunicorn")
    wait(lambda: len(children(web.pid)) >= args.workers, 60, "gunicorn workers")
    pids = [web.pid, *children(web.pid), worker.pid]
    headers = {"Authorization": f"Bearer {token}"}
    changes_n = min(args.changes, args.numbers // 2)
    on_list, off_list = valid_pairs(args.numbers, changes_n)
    listed, unlisted = on_list[0], off_list[0]  # unlisted is added by the change list

    def checks(n: int, errors: list[str]) -> None:
        pick = random.Random(n)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for i in range(n):
                to = pick.choice(off_list if i % 2 else on_list)
                body = client.post(
                    "/api/v1/voice/outbound-check",
                    json={"from": OWNED, "to": to, "account": str(account.public_id)},
                ).json()
                if body.get("allowed") != bool(i % 2) and listed_yet:
                    errors.append(f"{to}: {json.dumps(body)}")

    def hammer(total: int, errors: list[str]) -> None:
        threads = [
            threading.Thread(target=checks, args=(total // 6, errors)) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Baseline: every process up and warmed by checks while the national list has
    # no version yet (nothing to map); then the import, then the same checks.
    listed_yet = False
    hammer(args.requests, [])
    before = {pid: pss_kb(pid) for pid in pids}
    listed_yet = True

    print("importing through the Celery worker …", flush=True)
    job, worker_peak, import_cpu = import_via_worker(source)
    seconds = (job.finished_at - job.started_at).total_seconds()
    new_rate = job.rows_read / seconds
    national.refresh_from_db()
    version = national.current_version
    list_file = data / "dnc" / str(national.public_id) / version.base_file
    print(f"  {job.rows_read:,} rows in {seconds:.1f} s")

    # Today's importer (database rows, phonenumbers per row) on a sample.
    sample_rows = min(args.old_importer_rows, args.numbers)
    sample = work / "sample.txt"
    generate(sample, sample_rows, seed=3)
    own = services.dnc_list_create(actor=actor, name="Today's importer")
    t0 = time.perf_counter()
    importer.import_file(sample, list_id=own.pk, region="US")
    old_rate = sample_rows / (time.perf_counter() - t0)

    # The same sample as `area code,number` and gzip, through the new importer.
    from voicegate.policy import registry

    variants = {}
    area = work / "area.txt"
    generate(area, min(args.numbers, 1_000_000), area=True)
    compressed = work / "plain.txt.gz"
    with sample.open("rb") as raw, gzip.open(compressed, "wb", compresslevel=1) as out:
        shutil.copyfileobj(raw, out)
    for name, path in (("area code,number", area), ("gzip", compressed)):
        progress = importer.ImportProgress(size=path.stat().st_size)
        sorter = registry.Sorter(work / "scratch")
        t0 = time.perf_counter()
        for numbers in registry.read_numbers(path, region="US", progress=progress):
            sorter.add(numbers)
        sorter.finish(work / "variant.bin")
        variants[name] = (
            progress.rows_read,
            progress.rows_read / (time.perf_counter() - t0),
        )
        (work / "variant.bin").unlink()

    # --- Lookups in the mapped file ------------------------------------------------
    def copy_open():
        memory.states_clear()
        copy = memory.snapshot(org).dnc.lists[national.pk]
        assert copy.contains(number(0) + 10_000_000_000)
        assert not copy.contains(number(0) + 10_000_000_001)
        return copy, copy_close

    def copy_close(copy) -> None:
        # This process unmaps the list before any PSS is read: a process mapping the
        # pages takes a share of them and would make the serving processes' sum smaller.
        copy.files.close()
        memory.states_clear()

    lookups = lookup_latencies(list_file, args.numbers, copy_open)

    errors: list[str] = []
    t0 = time.perf_counter()
    hammer(args.requests, errors)
    http_seconds = time.perf_counter() - t0
    after = {pid: pss_kb(pid) for pid in pids}
    mapped = {pid: pss_kb(pid, path_part=str(national.public_id)) for pid in pids}

    # Worst case: every page of the file touched by 4 processes.
    touchers = []
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--toucher", str(list_file)],
            cwd=ROOT, env=child_env(data), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        procs.append(proc)
        touchers.append(proc)
    for proc in touchers:
        proc.stdout.readline()
    part = str(national.public_id)
    mapping = [*pids, *(proc.pid for proc in touchers)]
    all_file = {pid: pss_kb(pid, path_part=part) for pid in mapping}
    worst = {pid: pss_kb(pid) for pid in pids}
    for proc in touchers:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=60)

    # Today's design: an array('q') copy per process.
    holders = []
    base_n = min(args.baseline_numbers, args.numbers)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--holder", str(base_n)],
            cwd=ROOT, env=child_env(data), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        procs.append(proc)
        holders.append(proc)
    for proc in holders:
        proc.stdout.readline()
    held = sum(pss_kb(proc.pid) for proc in holders)
    empty = subprocess.Popen(
        [sys.executable, __file__, "--holder", "0"], cwd=ROOT, env=child_env(data),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs.append(empty)
    empty.stdout.readline()
    idle_python = pss_kb(empty.pid)
    for proc in [*holders, empty]:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=60)
    held_added = held - 4 * idle_python

    # --- No gap: a change list switches versions while checks keep coming ------------
    changes = work / "changes-2026-12-01.txt"
    with changes.open("w") as out:
        for k in range(changes_n):
            index = changed(k, args.numbers, changes_n)
            out.write(f"{number(index) + 1},A\n")  # new numbers
            out.write(f"{number(index + 1)},D\n")  # numbers leaving
    watch_errors: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while not stop.is_set():
                for to, expect in ((listed, False), (unlisted, None)):
                    body = client.post(
                        "/api/v1/voice/outbound-check",
                        json={
                            "from": OWNED,
                            "to": to,
                            "account": str(account.public_id),
                        },
                    ).json()
                    if expect is not None and body["allowed"] != expect:
                        watch_errors.append(json.dumps(body))

    watcher = threading.Thread(target=watch)
    watcher.start()
    change_job, _, change_cpu = import_via_worker(changes, mode="changes")
    change_seconds = (change_job.finished_at - change_job.started_at).total_seconds()

    # Every process answers from the new version on its next check.
    def switched() -> bool:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            answers = [
                client.post(
                    "/api/v1/voice/outbound-check",
                    json={
                        "from": OWNED,
                        "to": unlisted,
                        "account": str(account.public_id),
                    },
                ).json()["allowed"]
                for _ in range(3 * args.workers)
            ]
        return not any(answers)

    wait(switched, 60, "every worker to use the new version")
    stop.set()
    watcher.join()
    national.refresh_from_db()

    # The same change list in this process: today's parser and merge against the
    # previous ones (bench/dnc_baseline.py), on the same base file.
    in_process = changes_in_process(list_file, changes)

    # --- Report --------------------------------------------------------------------
    mb = 1024  # kB → MB
    print()
    print(f"numbers: {args.numbers:,}; gunicorn: {args.workers} sync workers")
    print("+ 1 Celery worker (solo pool)")
    print(f"load average at the end (1, 5, 15 min): {load()}")
    print()
    row("import", "rows", "rows/s")
    print("|---|---:|---:|")
    row("registry file → national list, through the Celery worker", job.rows_read,
        new_rate)  # fmt: skip
    for name, (rows, rate) in variants.items():
        row(f"same importer, {name}", rows, rate)
    row("today's importer (database rows, phonenumbers a row)", sample_rows, old_rate)
    row(f"change list, {2 * changes_n:,} rows (half A, half D), whole job",
        change_job.rows_read, change_job.rows_read / change_seconds)  # fmt: skip
    print()
    print(f"import speed-up over today's importer: {new_rate / old_rate:.0f}×")
    per_cpu = job.rows_read / max(import_cpu, 1e-9)
    print(f"the worker's CPU time for the import: {import_cpu:,.0f} s = "
          f"{per_cpu:,.0f} rows per CPU second")  # fmt: skip
    print(
        f"the worker's CPU time for the change list: {change_cpu:,.2f} s = "
        f"{change_job.rows_read / max(change_cpu, 1e-9):,.0f} rows per CPU second"
    )
    print()
    row("change list in process (same base, same file)", "rows", "wall s", "CPU s",
        "rows/s", "rows per CPU s")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for name, (rows, wall, cpu) in in_process.items():
        row(name, rows, f"{wall:.2f}", f"{cpu:.2f}", rows / wall, rows / cpu)
    print()
    print(f"Celery worker PSS: idle {worker_pss_idle / mb:,.0f} MB,")
    print(f"  peak during the import {worker_peak / mb:,.0f} MB")
    print()
    row("lookup in the mapped file (half listed)", "lookups", "p50 µs", "p99 µs",
        "p99.9 µs")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for name, lat in lookups.items():
        row(
            name,
            len(lat),
            *(f"{percentile(lat, q) * 1e6:.2f}" for q in (0.5, 0.99, 0.999)),
        )
    print()
    print(f"{args.requests // 6 * 6:,} checks over HTTP in {http_seconds:.1f} s; ")
    print(f"  wrong answers: {len(errors)} {errors[:2]}")
    print()
    row("process", "PSS before MB", "PSS after MB", "added MB", "list file MB")
    print("|---|---:|---:|---:|---:|")
    workers = [f"gunicorn worker {i + 1}" for i in range(len(pids) - 2)]
    names = ["gunicorn master", *workers, "Celery worker"]
    for name, pid in zip(names, pids, strict=True):
        row(name, before[pid] / mb, after[pid] / mb, (after[pid] - before[pid]) / mb,
            mapped[pid] / mb)  # fmt: skip
    added = sum(after.values()) - sum(before.values())
    row("**all together**", sum(before.values()) / mb, sum(after.values()) / mb,
        f"**{added / mb:,.0f}**", sum(mapped.values()) / mb)  # fmt: skip
    print()
    file_mb = list_file.stat().st_size / 2**20
    print(f"list file: {file_mb:,.0f} MB. With 4 more processes touching every page:")
    print(f"  PSS of the list file over all {len(all_file)} processes mapping it: "
          f"{sum(all_file.values()) / mb:,.0f} MB")  # fmt: skip
    over = (sum(worst.values()) - sum(before.values())) / mb
    print(f"  the serving processes' PSS then: {sum(worst.values()) / mb:,.0f} MB, "
          f"{over:,.0f} MB over before")  # fmt: skip
    scaled = held_added / base_n * args.numbers if base_n else 0
    print(f"today's design, array('q') per process, 4 processes × {base_n:,} numbers:")
    print(f"  {held_added / mb:,.0f} MB added; at {args.numbers:,}: "
          f"{scaled / mb:,.0f} MB (scaled),")  # fmt: skip
    print(f"  {2 * scaled / mb:,.0f} MB while a reload holds two copies")
    print()
    print(f"change list switch while checking: wrong answers {len(watch_errors)}; ")
    print(f"  version {national.current_version.number}, "
          f"{national.entry_count:,} numbers")  # fmt: skip


def changes_in_process(base_file: Path, changes: Path) -> dict:
    """(rows, wall s, CPU s) of reading a change list and merging it into the base
    file: the first path and the pure-Python one before the arrays
    (bench/dnc_baseline.py), and today's (registry_arrays). Same result."""
    import dnc_baseline

    from voicegate.policy import registry, registry_arrays

    base = registry.NumberSet(base_file)
    timings, results = {}, []
    paths = {
        "first: regex scans, sets, a lookup each": dnc_baseline.first_path,
        "previous: columns by slices, list merge (pure Python)": (
            dnc_baseline.previous_path
        ),
        "today's: byte tables, array merge (numpy)": None,
    }
    for name, path in paths.items():
        wall, cpu = time.perf_counter(), time.process_time()
        if path is None:
            progress = importer_progress(changes)
            added, deleted = [], []
            for adds, dels in registry_arrays.read_change_arrays(
                changes, region="US", progress=progress
            ):
                added.append(adds)
                deleted.append(dels)
            rows = progress.rows_read
            new_adds, new_dels = registry_arrays.merge(
                base, registry.EMPTY, registry.EMPTY, added, deleted
            )
            merged = (new_adds.tolist(), new_dels.tolist())
        else:
            rows, merged = path(base, changes)
        timings[name] = (rows, time.perf_counter() - wall, time.process_time() - cpu)
        results.append(merged)
    base.close()
    if any(result != results[0] for result in results):
        raise SystemExit("the change list merges differently from the baselines")
    return timings


def importer_progress(path: Path):
    from voicegate.policy import importer

    return importer.ImportProgress(size=path.stat().st_size)


def row(*cells: object) -> None:
    """One Markdown table row (numbers with thousands separators)."""
    shown = [f"{c:,.0f}" if isinstance(c, (int, float)) else str(c) for c in cells]
    print("| " + " | ".join(shown) + " |")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _up(httpx, url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--toucher":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
        import django

        django.setup()
        toucher(sys.argv[2], 1)
    elif len(sys.argv) == 3 and sys.argv[1] == "--holder":
        holder(int(sys.argv[2]))
    else:
        main()
