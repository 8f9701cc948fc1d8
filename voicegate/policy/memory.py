"""The check's per-process copies of its data, kept by the decision core's log.

One cache round trip per check reads the organisation's one version key (plus the
harassment counter); when it moved, the decision state reads the change log since
its position (`trustconsole.policy.state`), and each copy here whose kind had a
delta since it was built (`OrgState.stamp`) is refreshed before it is used, so an
allowed check touches no database.

Do-Not-Call lists are the big one. A hand-kept (database) list is a sorted
`array('q')` of E.164 digits per process (8 bytes a number) searched with `bisect`.
A national (file-backed) list is not copied at all: its current version's files are
mapped read-only (registry.py), so every process shares one copy in the page cache
and switching to a new version is opening a file. Single-number changes do not
rebuild either: they are replayed from the DncChange log into a small overlay. A
list is read (or mapped) again only when its `generation` moves (an import
finished, the list was emptied).
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max

from trustconsole.core.models import Organisation
from trustconsole.policy import changes
from trustconsole.policy import state as core_state
from trustconsole.policy.state import UNKNOWN
from voicegate.policy import keys, registry, store
from voicegate.policy.choices import DncKind, DncStorage
from voicegate.policy.models import (
    ConsentRecord,
    DncChange,
    DncEntry,
    DncList,
    PolicySettings,
    VerifiedCallerId,
)

logger = logging.getLogger(__name__)

FETCH = 200_000
ACCOUNT_CACHE_SIZE = 10_000
SAFE_HARBOUR_DAYS = 31  # FTC: use a version of the registry no older than 31 days
RETRY_SECONDS = 30  # a list file that could not be read is tried again this often


# --- Do-Not-Call -----------------------------------------------------------------


@dataclass
class DncListCopy:
    """One list in memory: sorted digits plus the single changes since loading."""

    list_id: int
    name: str
    generation: int
    numbers: array = field(default_factory=lambda: array("q"))
    overlay: dict[int, bool] = field(default_factory=dict)
    files: registry.VersionFiles | None = None  # file-backed lists
    storage: str = DncStorage.DATABASE
    kind: str = DncKind.INTERNAL
    calling_code: str = ""  # digits every number of the list's country starts with
    as_of: dt.date | None = None
    version: int | None = None
    problem: str = ""  # why the list's files cannot be read here ("" if they can)

    def contains(self, number: int) -> bool:
        """Whether `number` (E.164 digits) is on the list now."""
        present = self.overlay.get(number)
        if present is not None:
            return present
        if self.files is not None:
            return number in self.files
        numbers = self.numbers
        i = bisect.bisect_left(numbers, number)
        return i < len(numbers) and numbers[i] == number

    def covers(self, number: int) -> bool:
        """Whether `number` is in the list's country (every number if none)."""
        return not self.calling_code or str(number).startswith(self.calling_code)

    @property
    def nbytes(self) -> int:
        """Bytes this process holds for the list: the sorted array of a database
        list (mapped files are shared page cache, not counted here)."""
        return self.numbers.buffer_info()[1] * self.numbers.itemsize


def dnc_load_numbers(list_id: int) -> array:
    """All numbers of one list, sorted, read from the (list, number) index in pages.

    Keyset pages of 200,000 (`number > last ORDER BY number LIMIT …`) read 10
    million numbers from PostgreSQL in about 7 s, faster than a server-side cursor
    or COPY (which sends one message per row), and never hold more than one page.
    """
    numbers = array("q")
    table = DncEntry._meta.db_table
    sql = (
        f"SELECT number FROM {table} WHERE dnc_list_id = %s AND number > %s "
        f"ORDER BY number LIMIT {FETCH}"
    )
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [list_id, last])
            rows = cursor.fetchall()
            if not rows:
                return numbers
            numbers.extend([row[0] for row in rows])
            last = numbers[-1]


@dataclass
class DncIndex:
    """Every Do-Not-Call list of one organisation."""

    organisation_id: int
    lists: dict[int, DncListCopy] = field(default_factory=dict)
    last_change_id: int = 0

    def lists_with(self, number: int) -> list[DncListCopy]:
        """The lists that hold `number`."""
        return [copy for copy in self.lists.values() if copy.contains(number)]

    @property
    def has_problems(self) -> bool:
        """A list's files could not be read (they are tried again every 30 s)."""
        return any(copy.problem for copy in self.lists.values())

    def issues(self, number: int | None, today: dt.date) -> list[tuple[str, str]]:
        """("dnc_unavailable" | "dnc_stale", sentence) for each national or file
        list covering `number` that cannot be read here or is older than 31 days."""
        found = []
        for copy in sorted(self.lists.values(), key=lambda c: c.name):
            if number is not None and not copy.covers(number):
                continue
            if copy.problem:
                found.append(
                    (
                        "dnc_unavailable",
                        f"The Do-Not-Call list “{copy.name}” cannot be read on this "
                        f"server ({copy.problem}).",
                    )
                )
            elif copy.kind == DncKind.NATIONAL:
                if copy.as_of is None:
                    found.append(
                        (
                            "dnc_stale",
                            f"The national Do-Not-Call list “{copy.name}” has no "
                            "registry file with a date yet.",
                        )
                    )
                elif (today - copy.as_of).days > SAFE_HARBOUR_DAYS:
                    found.append(
                        (
                            "dnc_stale",
                            f"The national Do-Not-Call list “{copy.name}” is from "
                            f"{copy.as_of.isoformat()}, "
                            f"{(today - copy.as_of).days} days ago; the safe harbour "
                            f"needs one at most {SAFE_HARBOUR_DAYS} days old.",
                        )
                    )
        return found

    @property
    def size(self) -> int:
        """Numbers held in the sorted arrays."""
        return sum(len(copy.numbers) for copy in self.lists.values())

    @property
    def nbytes(self) -> int:
        """Bytes held by the sorted arrays."""
        return sum(copy.nbytes for copy in self.lists.values())

    def refresh(self) -> None:
        """Catch up with the database: new, renamed, deleted and re-imported lists,
        then the single-number changes since the last refresh."""
        meta = {
            row["id"]: row
            for row in DncList.objects.filter(
                organisation_id=self.organisation_id
            ).values(
                "id", "public_id", "name", "generation", "storage", "kind",
                "country", "as_of", "current_version__number",
                "current_version__base_file", "current_version__adds_file",
                "current_version__dels_file", "current_version__change_floor",
            )
        }  # fmt: skip
        # Read the change log before any list is reloaded: a change made while a
        # list loads is then replayed next time instead of being lost.
        changes = list(
            DncChange.objects.filter(
                organisation_id=self.organisation_id, id__gt=self.last_change_id
            )
            .order_by("id")
            .values_list("id", "dnc_list_id", "number", "present")
        )
        lists: dict[int, DncListCopy] = {}
        for row in meta.values():
            list_id, generation = row["id"], row["generation"]
            copy = self.lists.get(list_id)
            if copy is None or copy.generation != generation or copy.problem:
                if row["storage"] == DncStorage.FILE:
                    copy = _file_copy(dict(row))
                else:
                    copy = DncListCopy(
                        list_id, row["name"], generation, dnc_load_numbers(list_id)
                    )
            copy.name = row["name"]
            copy.kind = row["kind"]
            copy.as_of = row["as_of"]
            copy.calling_code = _calling_code(row["country"])
            lists[list_id] = copy
        touched: dict[int, set[int]] = {}
        for _, list_id, number, present in changes:
            if list_id not in lists:
                continue
            if lists[list_id].storage == DncStorage.FILE:
                lists[list_id].overlay[number] = bool(present)
            else:
                touched.setdefault(list_id, set()).add(number)
        for list_id, numbers in touched.items():
            listed = set(
                DncEntry.objects.filter(
                    dnc_list_id=list_id, number__in=numbers
                ).values_list("number", flat=True)
            )
            overlay = lists[list_id].overlay
            for number in numbers:
                overlay[number] = number in listed
        self.lists = lists
        if changes:
            self.last_change_id = changes[-1][0]


def _calling_code(country: str) -> str:
    if not country:
        return ""
    import phonenumbers

    return str(phonenumbers.country_code_for_region(country) or "")


def _file_copy(row: dict[str, Any]) -> DncListCopy:
    """A file-backed list: its current version mapped, plus the single changes made
    since that version's registry file (a small overlay)."""
    copy = DncListCopy(
        row["id"],
        row["name"],
        row["generation"],
        storage=DncStorage.FILE,
        version=row["current_version__number"],
    )
    base = row["current_version__base_file"]
    if base:
        try:
            copy.files = store.version_open(
                row["public_id"],
                base,
                row["current_version__adds_file"],
                row["current_version__dels_file"],
            )
        except registry.DncFileError as exc:
            logger.error(
                "DNC-UNAVAILABLE: list %s (%s) version %s cannot be mapped: %s",
                row["id"],
                row["name"],
                row["current_version__number"],
                exc,
            )
            copy.problem = "its file is missing or damaged"
    floor = row["current_version__change_floor"] or 0
    singles = DncChange.objects.filter(dnc_list_id=row["id"], id__gt=floor)
    for number, present in singles.order_by("id").values_list("number", "present"):
        copy.overlay[number] = bool(present)
    return copy


def dnc_index_build(organisation_id: int) -> DncIndex:
    """A fresh index of the organisation's lists."""
    start = (
        DncChange.objects.filter(organisation_id=organisation_id).aggregate(
            top=Max("id")
        )["top"]
        or 0
    )
    index = DncIndex(organisation_id=organisation_id, last_change_id=start)
    index.refresh()
    return index


# --- Small copies ------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsCopy:
    """The organisation's PolicySettings as plain values."""

    harassment_limit: int
    harassment_window_seconds: int
    blacklisted_do_not_contact: bool
    denial_threshold: int
    denial_window_seconds: int
    denial_signal_weight: int
    auto_restrict_voice: bool
    dnc_stale_mode: str = "warn"
    dnc_unavailable_mode: str = "refuse"


def settings_row(organisation_id: int) -> PolicySettings:
    """The settings row, or an unsaved one with the defaults (a read never writes;
    the first settings change saves it)."""
    row = PolicySettings.objects.filter(organisation_id=organisation_id).first()
    return row or PolicySettings(organisation_id=organisation_id)


def settings_load(organisation_id: int) -> SettingsCopy:
    """The settings as a frozen copy."""
    row = settings_row(organisation_id)
    return SettingsCopy(
        harassment_limit=row.harassment_limit,
        harassment_window_seconds=row.harassment_window_seconds,
        blacklisted_do_not_contact=row.blacklisted_do_not_contact,
        denial_threshold=row.denial_threshold,
        denial_window_seconds=row.denial_window_seconds,
        denial_signal_weight=row.denial_signal_weight,
        auto_restrict_voice=row.auto_restrict_voice,
        dnc_stale_mode=row.dnc_stale_mode,
        dnc_unavailable_mode=row.dnc_unavailable_mode,
    )


def caller_ids_load(organisation_id: int) -> dict[int | None, frozenset[str]]:
    """Verified caller IDs by account id (None: the organisation's own)."""
    found: dict[int | None, set[str]] = {}
    rows = VerifiedCallerId.objects.filter(organisation_id=organisation_id)
    for account_id, number in rows.values_list("account_id", "number"):
        found.setdefault(account_id, set()).add(number)
    return {key: frozenset(value) for key, value in found.items()}


ConsentGrant = tuple[int | None, float | None]  # (account id or None, expiry or None)


def consent_load(organisation_id: int) -> dict[str, tuple[ConsentGrant, ...]]:
    """Consent records by destination: who may call it, until when."""
    found: dict[str, list[ConsentGrant]] = {}
    rows = ConsentRecord.objects.filter(organisation_id=organisation_id)
    for number, account_id, expires_at in rows.values_list(
        "number", "account_id", "expires_at"
    ):
        expiry = expires_at.timestamp() if expires_at else None
        found.setdefault(number, []).append((account_id, expiry))
    return {key: tuple(value) for key, value in found.items()}


@dataclass(frozen=True)
class AccountCopy:
    """What the check needs to know about a customer account."""

    pk: int
    public_id: str
    name: str
    owned: frozenset[str]  # its status is the decision core's (trustconsole.policy)


# --- One organisation's state ------------------------------------------------------


@dataclass
class _Part:
    value: Any = None
    version: tuple[int, int] | None = None  # the decision state's stamp
    built_at: float = 0.0


class OrgState:
    """Every copy of one organisation, each with the version it was built at."""

    def __init__(self, organisation: Organisation) -> None:
        self.organisation_id = organisation.pk
        self.identity = str(organisation.public_id)
        self.lock = threading.RLock()
        self.dnc = _Part()
        self.caller_ids = _Part()
        self.consent = _Part()
        self.settings = _Part()
        self.accounts_version: tuple[tuple[int, int], ...] | None = None
        self.accounts: OrderedDict[str | None, AccountCopy | frozenset[str]] = (
            OrderedDict()
        )


_STATES: dict[int, OrgState] = {}
_STATES_LOCK = threading.Lock()


def state_for(organisation: Organisation) -> OrgState:
    """This process's state of an organisation (a new one if the id was reused)."""
    state = _STATES.get(organisation.pk)
    if state is None or state.identity != str(organisation.public_id):
        with _STATES_LOCK:
            state = _STATES.get(organisation.pk)
            if state is None or state.identity != str(organisation.public_id):
                state = OrgState(organisation)
                _STATES[organisation.pk] = state
    return state


def states_clear() -> None:
    """Drop every copy (tests, benchmarks)."""
    with _STATES_LOCK:
        _STATES.clear()


def _max_age() -> float:
    return float(getattr(settings, "POLICY_COPY_MAX_AGE", 300))


def _fresh(
    state: OrgState,
    part: _Part,
    version: tuple[int, int],
    build: Callable[[], Any],
    *,
    update: Callable[[Any], Any] | None = None,
    max_age: float | None = None,
) -> Any:
    """The part's value, rebuilt (or updated in place) when its version moved.

    While one thread rebuilds, others keep answering from the previous copy instead
    of queueing behind a rebuild of a big list.
    """
    now = time.monotonic()
    stale = part.version != version or (
        max_age is not None and now - part.built_at > max_age
    )
    if not stale:
        return part.value
    if part.value is not None and not state.lock.acquire(blocking=False):
        return part.value
    if part.value is None:
        state.lock.acquire()
    try:
        if (
            part.value is not None
            and part.version == version
            and (max_age is None or time.monotonic() - part.built_at <= max_age)
        ):
            return part.value
        if update is not None and part.value is not None:
            update(part.value)
        else:
            part.value = build()
        part.version = version
        part.built_at = now
        return part.value
    finally:
        state.lock.release()


@dataclass
class Snapshot:
    """What one check reads: fresh copies plus the counter read in the same trip."""

    state: OrgState
    settings: SettingsCopy
    dnc: DncIndex
    caller_ids: dict[int | None, frozenset[str]]
    consent: dict[str, tuple[ConsentGrant, ...]]
    policy_version: int  # the decision core's version, read in the same round trip
    core: core_state.OrgState  # the decision state, caught up to that version
    counters: dict[str, int]
    cache_ok: bool = True
    counted: str | None = None  # a counter already moved on in the same round trip


def snapshot(
    organisation: Organisation,
    *,
    counters: Iterable[str] = (),
    count: str | None = None,
) -> Snapshot:
    """Fresh copies of the organisation's data, after one cache round trip.

    `counters` are read along with the versions. `count` (Redis only) is also
    moved on by one in that same trip; its value before is in `counters`, and
    `counted` names it so that a refused call can take the count back.
    """
    org_id = organisation.pk
    state = state_for(organisation)
    policy_key = changes.version_key(org_id)
    counters = [c for c in counters if c != count]
    cache_ok = True
    counted = None
    name = "version:" + policy_key  # trustconsole.lib.versioned's key
    try:
        both = None
        if count is not None:
            window = (
                state.settings.value.harassment_window_seconds
                if state.settings.value is not None
                else 86400
            )
            both = keys.get_many_and_count([name, *counters], count, timeout=window)
        if both is None:
            found = keys.get_many([name, *counters, *([count] if count else [])])
            counts = {
                key: keys.counter_value(found.get(key))
                for key in [*counters, *([count] if count else [])]
            }
        else:
            found, before = both
            counts = {key: keys.counter_value(found.get(key)) for key in counters}
            if count is not None:
                counts[count] = before
            counted = count
        policy_version = keys.counter_value(found.get(name))
    except Exception:
        # The cache is down: the decision state reads the change log itself every
        # few seconds (degraded mode), and these copies follow it.
        logger.exception("policy check: cache unreachable, using in-memory copies")
        cache_ok = False
        policy_version = UNKNOWN
        counts = dict.fromkeys([*counters, *([count] if count else [])], 0)
    core = core_state.state_for(org_id, policy_version)
    max_age = _max_age()
    settings_copy = _fresh(
        state,
        state.settings,
        core.stamp(changes.POLICY_SETTINGS),
        lambda: settings_load(org_id),
        max_age=max_age,
    )
    dnc = _fresh(
        state,
        state.dnc,
        core.stamp(changes.DNC),
        lambda: dnc_index_build(org_id),
        update=lambda index: index.refresh(),
        max_age=(
            RETRY_SECONDS
            if state.dnc.value is not None and state.dnc.value.has_problems
            else None
        ),
    )
    caller_ids = _fresh(
        state,
        state.caller_ids,
        core.stamp(changes.CALLER_IDS),
        lambda: caller_ids_load(org_id),
        max_age=max_age,
    )
    consent = _fresh(
        state,
        state.consent,
        core.stamp(changes.CONSENT),
        lambda: consent_load(org_id),
        max_age=max_age,
    )
    accounts_version = (core.stamp(changes.OWNED_NUMBERS), core.stamp(changes.ACCOUNT))
    with state.lock:
        if state.accounts_version != accounts_version:
            state.accounts.clear()
            state.accounts_version = accounts_version
    return Snapshot(
        state=state,
        settings=settings_copy,
        dnc=dnc,
        caller_ids=caller_ids,
        consent=consent,
        policy_version=policy_version,
        core=core,
        counters=counts,
        cache_ok=cache_ok,
        counted=counted,
    )


def account_copy(
    snap: Snapshot, public_id: str, load: Callable[[], AccountCopy]
) -> AccountCopy:
    """A customer account from memory, loaded once per accounts version."""
    state = snap.state
    with state.lock:
        found = state.accounts.get(public_id)
        if isinstance(found, AccountCopy):
            state.accounts.move_to_end(public_id)
            return found
    copy = load()
    with state.lock:
        state.accounts[public_id] = copy
        while len(state.accounts) > ACCOUNT_CACHE_SIZE:
            state.accounts.popitem(last=False)
    return copy


def organisation_owned(snap: Snapshot, load: Callable[[], frozenset[str]]) -> frozenset:
    """The numbers the organisation itself owns (no account), from memory."""
    state = snap.state
    with state.lock:
        found = state.accounts.get(None)
        if isinstance(found, frozenset):
            return found
    numbers = load()
    with state.lock:
        state.accounts[None] = numbers
    return numbers


RISKY_KEY = "risk:high"  # beside the accounts (whose keys are UUIDs and None)


def organisation_risky(
    snap: Snapshot, load: Callable[[], dict[str, str]]
) -> dict[str, str]:
    """The organisation's high-spam-risk caller IDs → category, from memory.

    Kept with the account copies, so it is rebuilt when the enterprise numbers'
    version key moves (a number's risk changing writes an audit entry that moves it).
    """
    state = snap.state
    with state.lock:
        found = state.accounts.get(RISKY_KEY)
        if isinstance(found, dict):
            return found
    numbers = load()
    with state.lock:
        state.accounts[RISKY_KEY] = numbers  # type: ignore[assignment]
    return numbers
