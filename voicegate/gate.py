"""The call gate's hot path: decide in memory, log once, act.

The per-process state holds what a decision needs: the voice connections by webhook
token, and per organisation the phone → (status, visitor) map of blacklisted and
whitelisted visitors, the block list and the gate settings. Each piece was built at a
version of a counter in the shared cache (`trustconsole.lib.versioned`); one
`get_many` per call reads the current versions and any piece that moved is rebuilt, so
a blacklist made in any process applies to the very next call without a database
round trip per call.

If the database or the cache cannot be reached, the connection's fail mode decides:
open (let the call through) by default, or closed (reject). Either is logged at
CRITICAL and counted.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import IntegrityError, transaction

from trustconsole.lib.phones import (
    PhoneNumberError,
    phone_is_anonymous,
    phone_normalise,
)
from trustconsole.lib.versioned import version_bump
from visitors.choices import VisitorStatus
from visitors.selectors import phone_map_version_key, phone_status_map
from voicegate.choices import CallerPolicy, Decision, FailMode, Reason
from voicegate.models import BlockedNumber, CallDecision, VoiceConnection, VoiceSettings

logger = logging.getLogger(__name__)

CONNECTIONS_VERSION_KEY = "voice:connections"
_VERSION_PREFIX = "version:"


def org_version_key(organisation_id: int) -> str:
    """Version of an organisation's block list and gate settings."""
    return f"voice:org:{organisation_id}"


def connections_changed() -> None:
    """Tell every process that a connection was added, changed or removed."""
    transaction.on_commit(lambda: version_bump(CONNECTIONS_VERSION_KEY))


def org_rules_changed(organisation_id: int) -> None:
    """Tell every process that a block list or the gate settings changed."""
    transaction.on_commit(lambda: version_bump(org_version_key(organisation_id)))


@dataclass(frozen=True)
class ConnectionSnapshot:
    """What the hot path needs of a VoiceConnection."""

    id: int
    public_id: str
    organisation_id: int
    provider: str
    secret: str
    api_key: str
    downstream_url: str
    fail_mode: str
    is_active: bool


@dataclass(frozen=True)
class OrgSnapshot:
    """What a decision needs of one organisation."""

    phones: dict[str, tuple[str, int]]
    blocked: frozenset[str]
    anonymous_policy: str = CallerPolicy.ALLOW
    unparseable_policy: str = CallerPolicy.ALLOW
    repeated_call_threshold: int = 5
    repeated_call_window_seconds: int = 600


@dataclass(frozen=True)
class Verdict:
    """One decision."""

    decision: str
    reason: str
    caller_e164: str = ""
    visitor_id: int | None = None

    @property
    def rejected(self) -> bool:
        return self.decision == Decision.REJECT


class GateUnavailable(Exception):
    """The database or the cache could not be consulted."""


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: dict[str, ConnectionSnapshot] = field(default_factory=dict)
    connections_version: int | None = None
    orgs: dict[int, tuple[tuple[int, int], OrgSnapshot]] = field(default_factory=dict)
    failures: int = 0


_state = _State()


def reset() -> None:
    """Forget every snapshot (tests; a process that wants a cold start)."""
    global _state
    _state = _State()


def failure_count() -> int:
    """Decisions this process had to take in a fail mode."""
    return _state.failures


def _versions(keys: list[str]) -> list[int]:
    found = cache.get_many([_VERSION_PREFIX + k for k in keys])
    return [int(found.get(_VERSION_PREFIX + k) or 0) for k in keys]


def _load_connections() -> dict[str, ConnectionSnapshot]:
    rows = VoiceConnection.objects.values_list(
        "webhook_token",
        "id",
        "public_id",
        "organisation_id",
        "provider",
        "secret",
        "api_key",
        "downstream_url",
        "fail_mode",
        "is_active",
    )
    return {
        token: ConnectionSnapshot(cid, str(pid), org, prov, sec, key, down, fail, act)
        for token, cid, pid, org, prov, sec, key, down, fail, act in rows
    }


def _load_org(organisation_id: int) -> OrgSnapshot:
    settings_row = VoiceSettings.objects.filter(organisation_id=organisation_id).first()
    blocked = frozenset(
        BlockedNumber.objects.filter(organisation_id=organisation_id).values_list(
            "number", flat=True
        )
    )
    phones = phone_status_map(organisation_id=organisation_id)
    if settings_row is None:
        return OrgSnapshot(phones=phones, blocked=blocked)
    return OrgSnapshot(
        phones=phones,
        blocked=blocked,
        anonymous_policy=settings_row.anonymous_policy,
        unparseable_policy=settings_row.unparseable_policy,
        repeated_call_threshold=settings_row.repeated_call_threshold,
        repeated_call_window_seconds=settings_row.repeated_call_window_seconds,
    )


def connection_cached(token: str) -> ConnectionSnapshot | None:
    """The connection as this process last saw it (used when state is unreachable)."""
    return _state.connections.get(token)


def snapshot_for_token(
    token: str,
) -> tuple[ConnectionSnapshot | None, OrgSnapshot | None]:
    """The connection for a webhook token and its organisation's snapshot.

    One cache round trip when nothing changed. Raises GateUnavailable when the cache
    or the database fails.
    """
    state = _state
    try:
        known = state.connections.get(token)
        keys = [CONNECTIONS_VERSION_KEY]
        if known is not None:
            keys += [
                phone_map_version_key(known.organisation_id),
                org_version_key(known.organisation_id),
            ]
        versions = _versions(keys)
        # An unknown token does not reload anything unless a connection changed, so
        # random tokens cannot turn into database queries.
        if state.connections_version != versions[0]:
            with state.lock:
                state.connections = _load_connections()
                state.connections_version = versions[0]
            connection = state.connections.get(token)
            if connection is None:
                return None, None
            if known is None or known.organisation_id != connection.organisation_id:
                versions = [
                    versions[0],
                    *_versions(
                        [
                            phone_map_version_key(connection.organisation_id),
                            org_version_key(connection.organisation_id),
                        ]
                    ),
                ]
        else:
            connection = known
        if connection is None:
            return None, None
        org = _org_snapshot(connection.organisation_id, (versions[1], versions[2]))
    except GateUnavailable:
        raise
    except Exception as exc:  # the database or cache is down: the fail mode decides
        raise GateUnavailable(str(exc)) from exc
    return connection, org


def org_snapshot(organisation_id: int) -> OrgSnapshot:
    """An organisation's snapshot, current as of one version read (decision API)."""
    try:
        versions = _versions(
            [phone_map_version_key(organisation_id), org_version_key(organisation_id)]
        )
        return _org_snapshot(organisation_id, (versions[0], versions[1]))
    except Exception as exc:
        raise GateUnavailable(str(exc)) from exc


def _org_snapshot(organisation_id: int, versions: tuple[int, int]) -> OrgSnapshot:
    cached = _state.orgs.get(organisation_id)
    if cached is not None and cached[0] == versions:
        return cached[1]
    snapshot = _load_org(organisation_id)
    with _state.lock:
        _state.orgs[organisation_id] = (versions, snapshot)
    return snapshot


@functools.lru_cache(maxsize=65536)
def _normalised(raw: str) -> str | None:
    try:
        return phone_normalise(raw)
    except PhoneNumberError:
        return None


def decide(org: OrgSnapshot, caller: str) -> Verdict:
    """Allow or reject one caller; pure and in memory."""
    if phone_is_anonymous(caller):
        if org.anonymous_policy == CallerPolicy.REJECT:
            return Verdict(Decision.REJECT, Reason.ANONYMOUS)
        return Verdict(Decision.ALLOW, Reason.ANONYMOUS)
    e164 = _normalised(caller)
    if e164 is None:
        if org.unparseable_policy == CallerPolicy.REJECT:
            return Verdict(Decision.REJECT, Reason.UNPARSEABLE)
        return Verdict(Decision.ALLOW, Reason.UNPARSEABLE)
    entry = org.phones.get(e164)
    if entry is not None:
        status, visitor_id = entry
        if status == VisitorStatus.WHITELISTED:
            return Verdict(Decision.ALLOW, Reason.WHITELISTED, e164, visitor_id)
        if status == VisitorStatus.BLACKLISTED:
            return Verdict(
                Decision.REJECT, Reason.BLACKLISTED_VISITOR, e164, visitor_id
            )
    if e164 in org.blocked:
        return Verdict(
            Decision.REJECT, Reason.BLOCK_LIST, e164, entry[1] if entry else None
        )
    return Verdict(Decision.ALLOW, Reason.NOT_LISTED, e164, entry[1] if entry else None)


def fail_verdict(fail_mode: str, error: str) -> Verdict:
    """The verdict when the gate cannot consult its state; logged loudly."""
    _state.failures += 1
    if fail_mode == FailMode.CLOSED:
        logger.critical("voice gate FAIL-CLOSED (call rejected): %s", error)
        return Verdict(Decision.REJECT, Reason.FAIL_CLOSED)
    logger.critical("voice gate FAIL-OPEN (call let through): %s", error)
    return Verdict(Decision.ALLOW, Reason.FAIL_OPEN)


@dataclass(frozen=True)
class CallFacts:
    """Who called whom, as one provider's webhook said it."""

    organisation_id: int
    connection_id: int | None
    provider: str
    event_id: str
    call_id: str
    caller: str
    callee: str


def decision_log(
    facts: CallFacts, verdict: Verdict, *, latency_us: int, command_status: str = ""
) -> CallDecision | None:
    """Store the decision; None when this event was already decided (a redelivery).

    A failure to write is logged and swallowed: the caller still gets an answer.
    """
    try:
        with transaction.atomic():
            return CallDecision.objects.create(
                organisation_id=facts.organisation_id,
                connection_id=facts.connection_id,
                provider=facts.provider,
                event_id=facts.event_id[:200],
                call_id=facts.call_id[:200],
                caller=facts.caller[:200],
                caller_e164=verdict.caller_e164,
                callee=facts.callee[:200],
                decision=verdict.decision,
                reason=verdict.reason,
                visitor_id=verdict.visitor_id,
                latency_us=min(latency_us, 2**31 - 1),
                command_status=command_status,
            )
    except IntegrityError:
        return None
    except Exception:
        logger.critical("voice gate could not log a decision", exc_info=True)
        return CallDecision(  # unsaved: the caller still acts on the verdict
            organisation_id=facts.organisation_id,
            decision=verdict.decision,
            reason=verdict.reason,
        )


def decision_previous(facts: CallFacts) -> CallDecision | None:
    """The decision already stored for this provider event, if any."""
    if not facts.event_id:
        return None
    return CallDecision.objects.filter(
        organisation_id=facts.organisation_id,
        provider=facts.provider,
        event_id=facts.event_id[:200],
    ).first()


def repeated_call_count(
    org: OrgSnapshot, organisation_id: int, verdict: Verdict
) -> int | None:
    """Count this call against its number's window; the new count, or None.

    Only callers with a valid number that are not whitelisted are counted.
    """
    if not verdict.caller_e164 or verdict.reason == Reason.WHITELISTED:
        return None
    key = f"voice:calls:{organisation_id}:{verdict.caller_e164}"
    try:
        if cache.add(key, 1, timeout=org.repeated_call_window_seconds):
            return 1
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=org.repeated_call_window_seconds)
        return 1
    except Exception:
        logger.warning("repeated-call counter unavailable", exc_info=True)
        return None


def repeated_call_note(
    org: OrgSnapshot, organisation_id: int, verdict: Verdict
) -> None:
    """Count the call; when its number goes over the threshold, queue the signal."""
    count = repeated_call_count(org, organisation_id, verdict)
    if count is None or count != org.repeated_call_threshold + 1:
        return
    from voicegate import tasks

    tasks.repeated_caller.delay(
        organisation_id, verdict.caller_e164, count, org.repeated_call_window_seconds
    )


def now_us() -> int:
    """A monotonic clock in microseconds for latency measurements."""
    return time.perf_counter_ns() // 1000
