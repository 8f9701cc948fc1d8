"""Prometheus counters and histograms shared by every web and worker process.

Events that happen inside a process (a gate decision, a Celery task finishing) are
counted with prometheus-client in *multiprocess mode*: each process writes its
values to small memory-mapped files in `METRICS_DIR` (settings point
`PROMETHEUS_MULTIPROC_DIR` there before this module is imported), and `/metrics`
adds up the files of every process, so any gunicorn worker answers for all of them
and for the Celery worker processes too when they share the data dir (as the
compose services do through their volume).

Files are named by host and process id. A process that exits leaves its file
behind; `compact()` (run at every scrape and by housekeeping) folds the files of
dead processes of this host into one archive file per type, so the directory stays
small however often Celery replaces its pool processes. Counters only ever grow
while the directory is kept; deleting it resets them, which Prometheus reads as a
restart.

State that lives in the database (queue sizes and ages, overdue reviews, outbox
failures, Do-Not-Call freshness) is not counted here: `trustconsole.core.metrics`
reads it at scrape time.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"
_ARCHIVE = "archive"


def _identifier() -> str:
    # No underscore: prometheus-client splits file names on it.
    return f"{_HOST}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    # Host and pid: containers sharing one volume reuse the same pids.
    values.ValueClass = values.MultiProcessValue(process_identifier=_identifier)

# Seconds; the call gate answers in about a millisecond, the outbound check and the
# chat gate in a few.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

GATE_DECISIONS = Counter(
    "trustconsole_gate_decisions",
    "Decisions of the gates: the inbound call gate (call), the chat widget gate "
    "(chat) and the outbound call policy check (outbound), by decision and reason.",
    ["gate", "decision", "reason"],
)
GATE_LATENCY = Histogram(
    "trustconsole_gate_decision_seconds",
    "Time from the request's arrival to the gate's decision.",
    ["gate"],
    buckets=LATENCY_BUCKETS,
)
GATE_FAIL_MODE = Counter(
    "trustconsole_gate_fail_mode_decisions",
    "Calls the call gate decided in a fail mode (nothing readable): should stay 0.",
    ["mode"],
)
CELERY_TASKS = Counter(
    "trustconsole_celery_tasks",
    "Celery tasks that finished, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
NOTIFICATIONS = Counter(
    "trustconsole_notifications",
    "Operator notifications sent, by trigger and outcome.",
    ["trigger", "outcome"],
)


@functools.lru_cache(maxsize=256)
def _decisions(gate: str, decision: str, reason: str) -> Any:
    return GATE_DECISIONS.labels(gate, decision, reason)


@functools.lru_cache(maxsize=8)
def _latency(gate: str) -> Any:
    return GATE_LATENCY.labels(gate)


def call_decided(record: Mapping[str, Any]) -> None:
    """One call gate decision (not a redelivered event), from its call log record."""
    reason = str(record.get("reason", ""))
    _decisions("call", str(record.get("decision", "")), reason).inc()
    _latency("call").observe(max(record.get("latency_us", 0), 0) / 1e6)
    if reason in ("fail_open", "fail_closed"):
        GATE_FAIL_MODE.labels(reason).inc()


def gate_decided(*, gate: str, decision: str, reason: str, seconds: float) -> None:
    """One decision of the chat gate or the outbound check."""
    _decisions(gate, decision, reason).inc()
    _latency(gate).observe(max(seconds, 0.0))


def chat_gated(*, blocked: bool, seconds: float) -> None:
    """One chat widget message through the chat gate."""
    gate_decided(
        gate="chat",
        decision="block" if blocked else "allow",
        reason="blocked_sender" if blocked else "accepted",
        seconds=seconds,
    )


def outbound_checked(outcome: Any, *, seconds: float) -> None:
    """One outbound call policy check; the reason is its first violation."""
    findings = list(getattr(outcome, "findings", ()))
    gate_decided(
        gate="outbound",
        decision="refuse" if findings else "allow",
        reason=findings[0].code if findings else "allowed",
        seconds=seconds,
    )


def task_finished(*, task: str, outcome: str) -> None:
    """A Celery task ended (success, failure) or asked to be retried (retry)."""
    CELERY_TASKS.labels(task or "unknown", outcome).inc()


def directory() -> Path | None:
    """Where the processes' files are, or None when multiprocess mode is off."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(path) if path else None


@contextlib.contextmanager
def _locked(path: Path, *, exclusive: bool) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    with (path / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_files(path: Path) -> list[tuple[str, Path]]:
    """(type, file) of processes of this host that are gone."""
    dead = []
    for file in path.glob("*.db"):
        typ, _, ident = file.stem.partition("_")
        host, _, pid = ident.rpartition("-")
        if typ == "gauge" or host != _HOST or not pid.isdigit():
            continue
        if int(pid) != os.getpid() and not _alive(int(pid)):
            dead.append((typ, file))
    return dead


def compact() -> int:
    """Fold the files of this host's dead processes into the archive; how many."""
    path = directory()
    if path is None or not path.is_dir():
        return 0
    if not _dead_files(path):
        return 0
    with _locked(path, exclusive=True):
        dead = _dead_files(path)
        archives: dict[str, MmapedDict] = {}
        try:
            for typ, file in dead:
                archive = archives.get(typ)
                if archive is None:
                    archive = archives[typ] = MmapedDict(
                        str(path / f"{typ}_{_ARCHIVE}.db")
                    )
                for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(
                    str(file)
                ):
                    current, _ts = archive.read_value(key)
                    archive.write_value(key, current + value, timestamp)
                file.unlink()
        finally:
            for archive in archives.values():
                archive.close()
    return len(dead)


def exposition(*collectors: Collector) -> tuple[bytes, str]:
    """The text format of every process's counters, then `collectors`' metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    path = directory()
    if path is None:  # one process: its own registry
        registry = REGISTRY
        body = generate_latest(registry)
    else:
        compact()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(path))
        with _locked(path, exclusive=False):
            body = generate_latest(registry)
    extra = CollectorRegistry()
    for collector in collectors:
        extra.register(collector)
    return body + generate_latest(extra), CONTENT_TYPE_LATEST
