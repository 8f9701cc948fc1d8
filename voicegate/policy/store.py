"""Where file-backed Do-Not-Call lists keep their versions, and how they are built.

Each list has a directory POLICY_DNC_FILE_DIR/<list public id>/ holding the files of
its current and previous versions (older ones are pruned after a switch). Building
writes under new names beside the files in use; nothing a reader maps is ever
rewritten in place. These helpers touch files only: services/national.py records
versions, switches lists and audits.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from voicegate.policy import registry, registry_arrays
from voicegate.policy.importer import ImportProgress


def list_dir(public_id: object) -> Path:
    """The directory of one list's files."""
    return Path(settings.POLICY_DNC_FILE_DIR) / str(public_id)


def version_open(
    public_id: object, base: str, adds: str, dels: str, *, warm: bool = True
) -> registry.VersionFiles:
    """Map one version (DncFileError if a file is missing or damaged); `warm=False`
    for a short look that should not map the whole file into this process."""
    return registry.open_version(list_dir(public_id), base, adds, dels, warm=warm)


@dataclass
class Built:
    """Files written for a new version and what went into them."""

    base_file: str
    adds_file: str
    dels_file: str
    base_count: int
    additions: int
    deletions: int
    progress: ImportProgress

    @property
    def count(self) -> int:
        """Numbers on the list in this version."""
        return self.base_count + self.additions - self.deletions


def _name(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}.bin"


def work_dir(public_id: object) -> Path:
    """A private directory for one build, beside the list's files (same file system,
    so adopting its files is a rename); prune never looks inside."""
    path = list_dir(public_id) / f".build-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def adopt(public_id: object, work: Path, built: Built) -> None:
    """Move a build's files next to the ones in use and drop the work directory."""
    directory = list_dir(public_id)
    for name in (built.base_file, built.adds_file, built.dels_file):
        if name and (work / name).exists():
            (work / name).replace(directory / name)
    shutil.rmtree(work, ignore_errors=True)


def build_full(
    work: Path,
    source: Path | None,
    *,
    region: str | None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> Built:
    """Sort a registry file (None: nothing, an emptied list) into a new base file
    in `work`."""
    directory = work
    progress = ImportProgress(size=source.stat().st_size if source else 0)
    base = _name("base")
    sorter = registry.Sorter(directory / f".scratch-{uuid.uuid4().hex[:12]}")
    try:
        if source is not None:
            for numbers in registry_arrays.read_number_arrays(
                source,
                region=region,
                progress=progress,
                on_block=(lambda: on_progress(progress)) if on_progress else None,
            ):
                sorter.add(numbers)
        count = sorter.finish(directory / base)
    finally:
        sorter.close()
    progress.bytes_read = progress.size
    return Built(base, "", "", count, 0, 0, progress)


def build_changes(
    work: Path,
    source: Path,
    *,
    current: registry.VersionFiles,
    base_file: str,
    mode: str,
    region: str | None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> Built:
    """Apply a change list (or a file of additions or deletions) to the current
    version: same base file, new small `adds`/`dels` files (written in `work`)."""
    directory = work
    progress = ImportProgress(size=source.stat().st_size)
    report = (lambda: on_progress(progress)) if on_progress else None
    added: list[registry_arrays.Numbers] = []
    deleted: list[registry_arrays.Numbers] = []
    if mode == "changes":
        for adds, dels in registry_arrays.read_change_arrays(
            source, region=region, progress=progress, on_block=report
        ):
            added.append(adds)
            deleted.append(dels)
    else:
        target = added if mode == "additions" else deleted
        target.extend(
            registry_arrays.read_number_arrays(
                source, region=region, progress=progress, on_block=report
            )
        )
    new_adds, new_dels = registry_arrays.merge(
        current.base, current.adds, current.dels, added, deleted
    )
    del added, deleted
    adds_file = _name("adds") if len(new_adds) else ""
    dels_file = _name("dels") if len(new_dels) else ""
    if adds_file:
        registry.write_numbers(directory / adds_file, [new_adds])
    if dels_file:
        registry.write_numbers(directory / dels_file, [new_dels])
    progress.bytes_read = progress.size
    return Built(
        base_file,
        adds_file,
        dels_file,
        current.base.count,
        len(new_adds),
        len(new_dels),
        progress,
    )


def prune(public_id: object, *, keep: set[str]) -> None:
    """Delete every file of the list but `keep` (processes that still map an old
    file keep reading it: the mapping outlives the name)."""
    directory = list_dir(public_id)
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name not in keep and path.is_file() and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def source_dir(public_id: object) -> Path:
    """Where the registry files behind a list's current version are kept
    (repair.py)."""
    return Path(settings.POLICY_DNC_SOURCE_DIR) / str(public_id)


def remove_all(public_id: object) -> None:
    """Delete the list's files and kept sources (the list itself was deleted)."""
    shutil.rmtree(list_dir(public_id), ignore_errors=True)
    shutil.rmtree(source_dir(public_id), ignore_errors=True)
