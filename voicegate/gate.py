"""The call gate's hot path: decide in memory, log once, act.

The per-process state holds what a decision needs: the voice connections by webhook
token, and per organisation the decision core's state (`trustconsole.policy`: listed
visitors' identities, the block list, the gate settings). Each was caught up at a
version of a counter in the shared cache (`trustconsole.lib.versioned`); the round
trip that logs a call also checks the versions, and a state whose version moved
applies the changes logged since (deltas, not a rebuild), so a blacklist made in any
process applies to the very next call without a database round trip per call.

When Redis cannot be reached the gate reads its state from the database instead
(reloaded at most every VOICEGATE_DEGRADED_RELOAD_SECONDS) and logs each decision
straight into CallDecision, whose unique constraint then also catches redeliveries.
Only when neither the cache nor the database can be read does the connection's fail
mode decide: open (let the call through) by default, or closed (reject). Either is
logged at CRITICAL with FAIL-OPEN / FAIL-CLOSED and counted (`failure_count()` per
process; the CallDecision rows with reason fail_open / fail_closed persist it).

What a process holds between calls is in `gate_state`; writing the call log (the
Redis stream, rows kept while the database is down, the flush into CallDecision) is
in `calllog`, whose public functions are importable from here too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.db import transaction
from django.utils import timezone

from trustconsole.lib.versioned import PREFIX as VERSION_PREFIX
from trustconsole.lib.versioned import version_bump
from trustconsole.policy import changes
from trustconsole.policy import decide as core
from trustconsole.policy import state as core_state
from trustconsole.policy.state import Entry, OrgState, VoiceRules
from trustconsole.policy.vocabulary import Channel
from trustconsole.rules import hooks as rule_hooks
from voicegate import gate_state
from voicegate.calllog import (
    EPOCH_KEY,
    STREAM_KEY,
    decision_insert,
    pending_add,
    spool_note,
)
from voicegate.calllog import STREAM_GROUP as STREAM_GROUP
from voicegate.calllog import decisions_flush as decisions_flush
from voicegate.calllog import (
    decisions_flush_quietly as decisions_flush_quietly,
)
from voicegate.calllog import log_later as log_later
from voicegate.calllog import pending_flush as pending_flush
from voicegate.calllog import row_fields as row_fields
from voicegate.choices import CallerPolicy, CommandStatus, Decision, FailMode, Reason
from voicegate.gate_state import (
    STATE,
    redis_client,
    redis_failed,
    redis_usable,
    script_run,
)
from voicegate.models import VoiceConnection

logger = logging.getLogger(__name__)

CONNECTIONS_VERSION_KEY = "voice:connections"
# The version of state read from the database while Redis was unreachable: it
# matches no version Redis holds, so the first check after recovery reloads it.
UNKNOWN = core_state.UNKNOWN


def org_version_key(organisation_id: int) -> str:
    """Version of an organisation's decision state (the decision core's one key)."""
    return changes.version_key(organisation_id)


def connections_changed() -> None:
    """Tell every process that a connection was added, changed or removed."""
    transaction.on_commit(lambda: version_bump(CONNECTIONS_VERSION_KEY))


def org_rules_changed(organisation_id: int, kind: str, ref: object = "") -> None:
    """Tell every process that the block list or the gate settings changed."""
    changes.policy_changed(organisation_id, kind, ref)


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


def OrgSnapshot(  # noqa: N802 - builds the state a decision reads (tests, bench)
    *,
    phones: dict[str, tuple[str, int]],
    blocked: frozenset[str] | set[str],
    anonymous_policy: str = CallerPolicy.ALLOW,
    unparseable_policy: str = CallerPolicy.ALLOW,
    repeated_call_threshold: int = 5,
    repeated_call_window_seconds: int = 600,
) -> OrgState:
    """A decision core state holding only these phones, numbers and settings."""
    state = OrgState(0, caught_up_at=time.monotonic())
    for number, (status, visitor_id) in phones.items():
        entry = Entry("visitor", str(visitor_id), visitor_id, status)
        known = state.visitors.get(visitor_id, (entry, ()))[1]
        state.visitors[visitor_id] = (entry, (*known, ("phone", number)))
        state.idents["phone"][number] = visitor_id
    state.blocked = {n: Entry("blocked_number", n, label=n) for n in blocked}
    state.voice = VoiceRules(
        anonymous_policy,
        unparseable_policy,
        repeated_call_threshold,
        repeated_call_window_seconds,
    )
    return state


@dataclass(frozen=True)
class Verdict:
    """One decision, and the decision core's verdict it came from."""

    decision: str
    reason: str
    caller_e164: str = ""
    visitor_id: int | None = None
    core: core.Verdict | None = None
    # The inbound-call rules' outcome, counted once the event proves new.
    rules: Any = field(default=None, compare=False, repr=False)

    @property
    def rejected(self) -> bool:
        return self.decision == Decision.REJECT

    def explanation(self) -> dict[str, Any]:
        """What decided (logged with the call, returned by the decision API)."""
        return self.core.explanation() if self.core is not None else {}


class GateUnavailable(Exception):
    """The database or the cache could not be consulted."""


# Survives reset(): the number of fail-mode decisions of this process.
_failures = 0


def reset() -> None:
    """Forget every snapshot (tests; a process that wants a cold start)."""
    gate_state.reset()
    core_state.reset()


def failure_count() -> int:
    """Decisions this process had to take in a fail mode (FAIL-OPEN/FAIL-CLOSED)."""
    return _failures


class CacheUnavailable(Exception):
    """The shared cache (Redis) holding the versions could not be read."""


def _versions(keys: list[str]) -> list[int]:
    """Current versions of `keys`: one MGET with Redis, else the shared cache."""
    client = redis_client()
    if client is not None:
        if not redis_usable():
            raise CacheUnavailable("Redis failed a moment ago")
        try:
            values = client.mget([cache.make_key(VERSION_PREFIX + k) for k in keys])
        except Exception as exc:
            redis_failed(exc)
            raise CacheUnavailable(str(exc)) from exc
        return [int(v or 0) for v in values]
    try:
        found = cache.get_many([VERSION_PREFIX + k for k in keys])
    except Exception as exc:
        raise CacheUnavailable(str(exc)) from exc
    return [int(found.get(VERSION_PREFIX + k) or 0) for k in keys]


def _versions_or_unknown(keys: list[str]) -> list[int]:
    """The versions, or UNKNOWN for each when the cache cannot be read."""
    try:
        return _versions(keys)
    except CacheUnavailable:
        return [UNKNOWN] * len(keys)


def _trusted(versions: tuple[int, ...], loaded: float) -> bool:
    """May the hot path use state built at `versions` without any I/O?

    While Redis is known to be down nothing can say the state is current, so it is
    re-read from the database every VOICEGATE_DEGRADED_RELOAD_SECONDS.
    """
    if UNKNOWN in versions or (settings.REDIS_URL and not redis_usable()):
        return time.monotonic() - loaded < settings.VOICEGATE_DEGRADED_RELOAD_SECONDS
    return True


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


def connection_cached(token: str) -> ConnectionSnapshot | None:
    """The connection as this process last saw it (used when state is unreachable)."""
    return STATE.connections.get(token)


@dataclass(frozen=True)
class Context:
    """What one decision is made with, and the versions it was current at."""

    organisation_id: int
    keys: tuple[str, ...]
    versions: tuple[int, ...]
    org: OrgState | None  # None: state unreachable, the fail mode decides
    fail_mode: str = FailMode.OPEN
    error: str = ""


def _org_keys(organisation_id: int) -> tuple[str]:
    return (org_version_key(organisation_id),)


def context_for_token(
    token: str, *, fresh: bool = False
) -> tuple[ConnectionSnapshot | None, Context | None]:
    """The connection of a webhook token and the context to decide its calls.

    Without `fresh`, what this process already holds is returned without any I/O;
    whether it is still current is checked in the same round trip that logs the
    call (`decide_and_claim`). When Redis cannot be read, the connections and the
    organisation's state come from the database (versions UNKNOWN). Raises
    GateUnavailable when the database fails too while loading.
    """
    state = STATE
    known = state.connections.get(token)
    if not fresh and known is not None and state.connections_version is not None:
        cached = state.orgs.get(known.organisation_id)
        if cached is not None and _trusted(cached[0], cached[2]):
            return known, Context(
                known.organisation_id,
                (CONNECTIONS_VERSION_KEY, *_org_keys(known.organisation_id)),
                (state.connections_version, *cached[0]),
                cached[1],
                known.fail_mode,
            )
    try:
        keys = [CONNECTIONS_VERSION_KEY]
        if known is not None:
            keys += _org_keys(known.organisation_id)
        versions = _versions_or_unknown(keys)
        # An unknown token reloads nothing unless a connection changed, so random
        # tokens cannot turn into database queries (without Redis: at most one
        # reload per VOICEGATE_DEGRADED_RELOAD_SECONDS).
        if state.connections_version != versions[0] or not _trusted(
            (versions[0],), state.connections_loaded
        ):
            with state.lock:
                state.connections = _load_connections()
                state.connections_version = versions[0]
                state.connections_loaded = time.monotonic()
        connection = state.connections.get(token)
        if connection is None:
            return None, None
        if known is None or known.organisation_id != connection.organisation_id:
            versions = [
                versions[0],
                *_versions_or_unknown(list(_org_keys(connection.organisation_id))),
            ]
        org = _org_snapshot(connection.organisation_id, (versions[1],))
    except Exception as exc:  # the database is down too: the fail mode decides
        raise GateUnavailable(str(exc)) from exc
    return connection, Context(
        connection.organisation_id,
        (CONNECTIONS_VERSION_KEY, *_org_keys(connection.organisation_id)),
        tuple(versions),
        org,
        connection.fail_mode,
    )


def context_for_org(
    organisation_id: int, *, fresh: bool = False, fail_mode: str = FailMode.OPEN
) -> Context:
    """The context to decide a call of an organisation (decision API)."""
    keys = _org_keys(organisation_id)
    cached = STATE.orgs.get(organisation_id)
    if not fresh and cached is not None and _trusted(cached[0], cached[2]):
        return Context(organisation_id, keys, cached[0], cached[1], fail_mode)
    try:
        versions = tuple(_versions_or_unknown(list(keys)))
        org = _org_snapshot(organisation_id, (versions[0],))
    except Exception as exc:
        return Context(organisation_id, keys, (), None, fail_mode, str(exc))
    return Context(organisation_id, keys, versions, org, fail_mode)


def _org_snapshot(organisation_id: int, versions: tuple[int]) -> OrgState:
    """The decision core's state, caught up with `versions` (deltas, not a rebuild).

    While Redis is known to be down the versions cannot be trusted: the change log
    is read again every VOICEGATE_DEGRADED_RELOAD_SECONDS.
    """
    cached = STATE.orgs.get(organisation_id)
    if cached is not None and cached[0] == versions and _trusted(versions, cached[2]):
        return cached[1]
    version = versions[0]
    if settings.REDIS_URL and not redis_usable():
        version = UNKNOWN
    org = core_state.state_for(organisation_id, version)
    with STATE.lock:
        STATE.orgs[organisation_id] = (versions, org, org.caught_up_at)
    return org


# The caller-ID normaliser's cache lives in the decision core.
_normalised = core.caller_normalised


def decide(org: OrgState, caller: str) -> Verdict:
    """Allow or reject one caller; pure and in memory (the decision core)."""
    found = core.decide_call(org, caller)
    return Verdict(
        Decision.ALLOW if found.allowed else Decision.REJECT,
        found.reason,
        found.e164,
        found.visitor_id,
        found,
    )


def fail_verdict(fail_mode: str, error: str) -> Verdict:
    """The verdict when the gate cannot consult its state; logged loudly."""
    global _failures
    _failures += 1
    closed = fail_mode == FailMode.CLOSED
    found = core.fail_verdict(Channel.INBOUND_CALL, closed=closed, error=error)
    if closed:
        logger.critical("voice gate FAIL-CLOSED (call rejected): %s", error)
        return Verdict(Decision.REJECT, Reason.FAIL_CLOSED, core=found)
    logger.critical("voice gate FAIL-OPEN (call let through): %s", error)
    return Verdict(Decision.ALLOW, Reason.FAIL_OPEN, core=found)


SEEN_TTL_SECONDS = 24 * 3600

# KEYS: the n version keys, then the seen key, the counter key, the stream, the epoch.
# ARGV: n, the n expected versions, seen?, seen TTL, window (0: no count), record.
# Returns {-2, current versions...} when a version moved (decide again), {-1} for a
# redelivered event, {count} when nothing was logged, else
# {count, epoch, entry id, id of the oldest entry in the stream}.
# A missing version (lost in a restart) is started at the current time in ms, a
# value no process holds, so every process rebuilds what it built before the loss.
_CLAIM_SCRIPT = """
local n = tonumber(ARGV[1])
if n > 0 then
  local current = redis.call('MGET', unpack(KEYS, 1, n))
  local moved = false
  for i = 1, n do
    local value = current[i]
    if not value then
      local t = redis.call('TIME')
      redis.call('SET', KEYS[i],
        t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)), 'NX')
      value = redis.call('GET', KEYS[i])
    end
    current[i] = value
    if value ~= ARGV[i + 1] then moved = true end
  end
  if moved then
    table.insert(current, 1, -2)
    return current
  end
end
local seen, counter, stream = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3]
if ARGV[n + 2] == '1' then
  if not redis.call('SET', seen, '1', 'NX', 'EX', ARGV[n + 3]) then return {-1} end
end
local count = 0
if ARGV[n + 4] ~= '0' then
  count = redis.call('INCR', counter)
  if count == 1 then redis.call('EXPIRE', counter, ARGV[n + 4]) end
end
if ARGV[n + 5] == '' then return {count} end
local id = redis.call('XADD', stream, '*', 'd', ARGV[n + 5])
local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1][1]
local epoch = redis.call('GET', KEYS[n + 4])
if not epoch then
  local t = redis.call('TIME')
  epoch = t[1] .. '.' .. t[2]
  redis.call('SET', KEYS[n + 4], epoch)
end
return {count, epoch, id, oldest}
"""


def _claim_script(client: Any) -> Any:
    """The claim script registered on this process's client (no round trip)."""
    if STATE.claim is None:
        STATE.claim = client.register_script(_CLAIM_SCRIPT)
    return STATE.claim


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
    # STIR/SHAKEN as the provider passed it (facts for rules; never skips one).
    attestation: str = ""
    verstat: str = ""
    stir_validated: bool = False


def call_record(
    facts: CallFacts,
    verdict: Verdict,
    *,
    latency_us: int,
    command_status: str = "",
    command_detail: str = "",
) -> dict[str, Any]:
    """The decision as a CallDecision row's fields."""
    return {
        "organisation_id": facts.organisation_id,
        "connection_id": facts.connection_id,
        "provider": facts.provider,
        "event_id": facts.event_id[:200],
        "call_id": facts.call_id[:200],
        "caller": facts.caller[:200],
        "caller_e164": verdict.caller_e164,
        "callee": facts.callee[:200],
        "decision": verdict.decision,
        "reason": verdict.reason,
        "visitor_id": verdict.visitor_id,
        "latency_us": max(0, min(latency_us, 2**31 - 1)),
        "command_status": command_status,
        "command_detail": command_detail[:500],
        "explanation": verdict.explanation(),
        "created_at": timezone.now().isoformat(),
    }


def _counter_key(organisation_id: int, verdict: Verdict) -> str | None:
    # Callers without a valid number, and whitelisted visitors, are not counted.
    if not verdict.caller_e164 or verdict.reason == Reason.WHITELISTED:
        return None
    return f"voice:calls:{organisation_id}:{verdict.caller_e164}"


class _Stale(Exception):
    """A version moved since the context was built: decide again."""


def _claim(
    ctx: Context,
    facts: CallFacts,
    verdict: Verdict,
    record: dict[str, Any],
    *,
    log: bool,
) -> int | None:
    """One round trip: still current? new event? count, log. None for a redelivery.

    `log=False`: the caller writes the row itself, as its claim on the event
    (rejections, see `outbox.reject_open`).
    """
    counter = _counter_key(facts.organisation_id, verdict) if ctx.org else None
    window = ctx.org.voice.repeated_call_window_seconds if ctx.org and counter else 0
    checked = len(ctx.keys) if ctx.org is not None else 0
    client = redis_client()
    if client is not None:
        if redis_usable():
            payload = json.dumps(record) if log else ""
            seen = (
                f"voice:seen:{facts.organisation_id}:{facts.provider}:{facts.event_id}"
            )
            # The backend once: each use of the `cache` proxy looks it up again
            # (~4 µs, six keys a call).
            make_key = caches[DEFAULT_CACHE_ALIAS].make_key
            try:
                result = script_run(
                    client,
                    _claim_script(client),
                    [
                        *(make_key(VERSION_PREFIX + k) for k in ctx.keys[:checked]),
                        make_key(seen),
                        make_key(counter or "voice:calls:none"),
                        make_key(STREAM_KEY),
                        make_key(EPOCH_KEY),
                    ],
                    [
                        checked,
                        *(str(v) for v in ctx.versions[:checked]),
                        "1" if facts.event_id else "0",
                        SEEN_TTL_SECONDS,
                        window,
                        payload,
                    ],
                )
            except Exception as exc:
                redis_failed(exc)
            else:
                if int(result[0]) == -2:
                    raise _Stale
                if int(result[0]) == -1:
                    return None
                if len(result) > 1:
                    spool_note(result[1], result[2], result[3], payload)
                return int(result[0])
        # Redis is unreachable: the database takes the log and catches redeliveries.
    elif checked:
        try:
            current = tuple(_versions(list(ctx.keys)))
        except CacheUnavailable:
            current = tuple(ctx.versions)
        if current != tuple(ctx.versions):
            raise _Stale
    if log and not decision_insert(record):
        return None
    if counter and client is None:
        try:
            return _count_in_cache(counter, window)
        except Exception:  # the file cache failed: no repeated-call count
            return 0
    return 0


@dataclass(frozen=True)
class Claimed:
    """A decision that was made on current state and claimed for this event."""

    verdict: Verdict
    count: int | None  # None: the event was seen before (do not act again)
    record: dict[str, Any]
    org: OrgState | None = field(default=None, compare=False, repr=False)

    @property
    def duplicate(self) -> bool:
        return self.count is None


def decide_and_claim(
    ctx: Context,
    facts: CallFacts,
    *,
    started_us: int,
    refresh: Callable[[], Context | None],
    defer_reject_log: bool = False,
) -> Claimed:
    """Decide, then in one round trip check the state was current and log the call.

    If a version moved (a blacklist a moment ago in another process), the context
    is refreshed and the call decided again, so a change applies to the very next
    call. `defer_reject_log`: a rejection is not logged here; the caller logs it as
    its claim on the event (`outbox.reject_open`). State that cannot be reached is
    logged loudly and the call treated as new.
    """
    for _attempt in range(3):
        if ctx.org is None:
            verdict = fail_verdict(ctx.fail_mode, ctx.error)
        else:
            verdict = decide(ctx.org, facts.caller)
            verdict = rule_hooks.inbound_call(ctx.org, facts, verdict)  # rules as data
        record = call_record(
            facts,
            verdict,
            latency_us=now_us() - started_us,
            command_status=CommandStatus.PENDING if verdict.rejected else "",
        )
        log = not (defer_reject_log and verdict.rejected)
        try:
            count = _claim(ctx, facts, verdict, record, log=log)
        except _Stale:
            try:
                fresh = refresh()
            except GateUnavailable as exc:  # the fail mode decides
                fresh = dataclasses.replace(ctx, org=None, error=str(exc))
            if fresh is None:
                raise LookupError("the connection is gone") from None
            ctx = fresh
            continue
        except Exception:
            logger.critical("voice gate could not log a decision", exc_info=True)
            if log:
                pending_add("decision", record)
            count = 0
        if count is not None:  # a new event (not a redelivery): the rules count it
            rule_hooks.inbound_call_counted(verdict)
        return Claimed(verdict, count, record, ctx.org)
    logger.warning("voice gate state kept moving; answering with the last decision")
    return Claimed(verdict, 0, record, ctx.org)


def _count_in_cache(key: str, window: int) -> int:
    try:
        if cache.add(key, 1, timeout=window):
            return 1
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


def call_count_rules(facts: CallFacts, claimed: Claimed) -> None:
    """A new call was logged and counted: the rules that read its count
    (`caller.calls_recent`, the default rule "Repeated calls") run on it, after
    the answer's own work (a reject command, a forward)."""
    if claimed.org is None or claimed.count is None:
        return
    try:
        rule_hooks.inbound_call_count(
            claimed.org, facts, claimed.verdict, claimed.count
        )
    except Exception:  # a rule's effect is never worth a failed answer
        logger.exception("the rules reading the call count could not run")


def now_us() -> int:
    """A monotonic clock in microseconds for latency measurements."""
    return time.perf_counter_ns() // 1000
