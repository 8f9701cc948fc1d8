"""A national list's files put back when they go missing or are damaged.

Every import into a file-backed list keeps its registry file (the full download, then
each change list since) under POLICY_DNC_SOURCE_DIR/<list>/, named by the version it
made; a new full import drops the older ones. If the current version's files cannot be
read (deleted, truncated, not a list file, a checksum that does not match: a `deep`
check), `dnc_files_repair` builds them again from those sources — the full file, then
the change lists in order — into a private directory, checks that the numbers come out
as recorded, and renames the missing files into place under the names the version row
holds. Processes that could not map the list (they answer `dnc_unavailable` meanwhile)
map it on their next check. The beat task `voicegate.policy.dnc_files_check` runs this
every POLICY_DNC_CHECK_INTERVAL seconds, so a lost file is not a refusal forever.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.core.cache import cache

from trustconsole.core.actor import Actor
from trustconsole.core.services import audit_record
from voicegate.policy import keys, registry, store
from voicegate.policy.choices import DncStorage, ImportMode
from voicegate.policy.models import DncList, DncListVersion

logger = logging.getLogger(__name__)
LOCK_SECONDS = 4 * 3600


def keep_source(
    dnc_list: DncList, version: DncListVersion, path: Path | None, *, region: str
) -> None:
    """Keep the file that made `version` (None: the list was emptied); a full
    version makes every older source useless, so they go. A failure to keep it is
    logged, never raised: the import itself succeeded."""
    try:
        directory = store.source_dir(dnc_list.public_id)
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"v{version.number:09d}"
        if version.mode == ImportMode.FULL:
            for old in directory.iterdir():
                if old.name < stem:
                    old.unlink(missing_ok=True)
        meta = {"mode": version.mode, "region": region, "empty": path is None}
        if path is not None:
            shutil.move(path, directory / f"{stem}.src")  # maybe another disk
        (directory / f"{stem}.json").write_text(json.dumps(meta))
    except OSError:
        logger.exception(
            "DNC list %s version %s: its registry file could not be kept; a lost "
            "list file will need the registry file imported again",
            dnc_list.pk, version.number,
        )  # fmt: skip
        if path is not None:
            path.unlink(missing_ok=True)


@dataclass
class _Step:
    number: int
    mode: str
    region: str | None
    path: Path | None


def _steps(public_id: object, upto: int) -> list[_Step]:
    """The kept sources of versions up to `upto`, from the last full one."""
    directory = store.source_dir(public_id)
    steps: list[_Step] = []
    if not directory.is_dir():
        return steps
    for meta_path in sorted(directory.glob("v*.json")):
        number = int(meta_path.stem[1:])
        if number > upto:
            continue
        meta = json.loads(meta_path.read_text())
        if meta["mode"] == ImportMode.FULL:
            steps = []
        source = None if meta["empty"] else meta_path.with_suffix(".src")
        steps.append(_Step(number, meta["mode"], meta["region"] or None, source))
    return steps


def _readable(dnc_list: DncList, version: DncListVersion, *, deep: bool) -> str:
    """ "" if the version's files map (and, `deep`, their checksums match), else
    why not."""
    try:
        files = store.version_open(
            dnc_list.public_id,
            version.base_file,
            version.adds_file,
            version.dels_file,
            warm=False,
        )
    except registry.DncFileError as exc:
        return str(exc)
    try:
        for part in (files.base, files.adds, files.dels):
            if deep and part.count and not part.verify():
                name = part.path.name if part.path else "a file"
                return f"{name} does not match its checksum"
    finally:
        files.close()
    return ""


def dnc_files_repair(dnc_list: DncList, *, deep: bool = False) -> str:
    """ "ok" | "rebuilt" | "busy" | "no source" | "failed": check one file-backed
    list's current version and rebuild its files if they cannot be read."""
    dnc_list = DncList.objects.select_related("current_version", "organisation").get(
        pk=dnc_list.pk
    )
    version = dnc_list.current_version
    if dnc_list.storage != DncStorage.FILE or version is None:
        return "ok"
    problem = _readable(dnc_list, version, deep=deep)
    if not problem:
        return "ok"
    lock = f"dnc-repair:{dnc_list.pk}"
    if not cache.add(lock, 1, LOCK_SECONDS):
        return "busy"
    try:
        return _rebuild(dnc_list, version, problem)
    finally:
        cache.delete(lock)


def _rebuild(dnc_list: DncList, version: DncListVersion, problem: str) -> str:
    steps = _steps(dnc_list.public_id, version.number)
    if (
        not steps
        or steps[0].mode != ImportMode.FULL
        or steps[-1].number != (version.number)
    ):
        logger.error(
            "DNC-UNAVAILABLE: list %s (%s) version %s: %s, and its registry files "
            "are not kept here: import the registry file again",
            dnc_list.pk, dnc_list.name, version.number, problem,
        )  # fmt: skip
        return "no source"
    logger.warning(
        "DNC list %s (%s) version %s: %s; rebuilding it from %d kept file(s)",
        dnc_list.pk, dnc_list.name, version.number, problem, len(steps),
    )  # fmt: skip
    work = store.work_dir(dnc_list.public_id)
    try:
        built = store.build_full(work, steps[0].path, region=steps[0].region)
        for step in steps[1:]:
            assert step.path is not None
            current = registry.open_version(
                work, built.base_file, built.adds_file, built.dels_file, warm=False
            )
            try:
                built = store.build_changes(
                    work, step.path, current=current, base_file=built.base_file,
                    mode=step.mode, region=step.region,
                )  # fmt: skip
            finally:
                current.close()
        if built.count != version.count:
            raise registry.DncFileError(
                f"the kept files give {built.count:,} numbers, the version "
                f"recorded {version.count:,}"
            )
        directory = store.list_dir(dnc_list.public_id)
        names = zip(
            (built.base_file, built.adds_file, built.dels_file),
            (version.base_file, version.adds_file, version.dels_file),
            strict=True,
        )
        for mine, theirs in names:
            if theirs:
                (work / mine).replace(directory / theirs)
    except Exception:
        logger.exception("DNC list %s: the rebuild failed", dnc_list.pk)
        return "failed"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    audit_record(
        actor=Actor.system_for(dnc_list.organisation, "dnc repair"),
        action="policy.dnc_files_rebuilt",
        target=dnc_list,
        before={"problem": problem[:500]},
        after={"version": version.number, "count": version.count},
    )
    keys.bump(keys.dnc_key(dnc_list.organisation_id))
    return "rebuilt"


def dnc_files_check(*, deep: bool = False) -> dict[str, int]:
    """Check (and repair) every file-backed list with a version: the beat task
    (`deep` also reads every file against its checksum)."""
    outcomes: dict[str, int] = {}
    lists = DncList.objects.filter(
        storage=DncStorage.FILE, current_version__isnull=False
    )
    for dnc_list in lists:
        outcome = dnc_files_repair(dnc_list, deep=deep)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
