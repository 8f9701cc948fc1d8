"""What the check's in-process copies are kept by, and the cache counters.

Every write that changes what the check reads takes one explicit step,
`bump(part)`: it appends a delta of the part's kind to the decision core's change
log (`trustconsole.policy.changes`), so one version key per organisation and one
log keep every copy of every channel current. The check's copies remember the
decision state's stamp of their kind (`trustconsole.policy.state.OrgState.stamp`)
and are read again when it moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from trustconsole.lib import sharedcache
from trustconsole.policy import changes


@dataclass(frozen=True, slots=True)
class Part:
    """One kind of data the check copies, of one organisation."""

    kind: str  # a `changes` kind
    organisation_id: int


def dnc_key(organisation_id: int) -> Part:
    """Do-Not-Call lists, their entries and single-number changes."""
    return Part(changes.DNC, organisation_id)


def caller_ids_key(organisation_id: int) -> Part:
    """Verified caller IDs."""
    return Part(changes.CALLER_IDS, organisation_id)


def consent_key(organisation_id: int) -> Part:
    """Consent records."""
    return Part(changes.CONSENT, organisation_id)


def settings_key(organisation_id: int) -> Part:
    """The organisation's PolicySettings."""
    return Part(changes.POLICY_SETTINGS, organisation_id)


def accounts_key(organisation_id: int) -> Part:
    """Customer accounts' names and owned numbers (their status is the core's)."""
    return Part(changes.OWNED_NUMBERS, organisation_id)


def bump(part: Part) -> None:
    """The check's copies of `part` are read again in every process, once the
    current transaction commits (at once in the writing process)."""
    changes.policy_changed(part.organisation_id, part.kind)


def harassment_key(org_uid: str, caller: str, destination: str) -> str:
    """Allowed calls from one caller (account or organisation) to one destination."""
    return f"policy:calls:{org_uid}:{caller}:{destination}"


def denials_key(org_uid: str, account_uid: str) -> str:
    """Recent denials of one account, towards the risk-signal threshold."""
    return f"policy:denials:{org_uid}:{account_uid}"


# `cache.get_many` in one MGET, through the process's own client.
get_many = sharedcache.get_many


# Read the keys and count the call in one script: one request and one reply,
# where a MULTI/EXEC pipeline sends five commands and parses five replies.
# KEYS: the keys to read, then the counter; ARGV[1]: the counter's timeout.
_READ_AND_COUNT = """
local n = #KEYS
redis.call('SET', KEYS[n], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[n])
local values = {}
if n > 1 then values = redis.call('MGET', unpack(KEYS, 1, n - 1)) end
values[n] = count
return values
"""
_scripts: dict[int, Any] = {}


def get_many_and_count(
    keys: list[str], counter: str, *, timeout: int
) -> tuple[dict[str, object], int] | None:
    """On Redis: read `keys` and add one to `counter` in a single round trip.

    Returns the values and the counter *before* this call (a refused call takes
    its count back with `counter_decr`). None on other backends: read and count
    separately there.
    """
    client = _redis_client()
    if client is None:
        return None
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_READ_AND_COUNT)
    names = [cache.make_and_validate_key(key) for key in keys]
    names.append(cache.make_and_validate_key(counter))
    *values, count = script(keys=names, args=[timeout])
    loads = _loads()
    found = {
        key: loads(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }
    return found, int(count) - 1


def counter_decr(key: str) -> None:
    """Take back one count of a call that was refused after all (Redis only)."""
    client = _redis_client()
    if client is not None:
        client.decr(cache.make_and_validate_key(key))


def counter_incr(key: str, *, timeout: int) -> int:
    """Add one to a counter that expires `timeout` seconds after its first use.

    With Redis this is one atomic round trip (SET NX EX + INCR in a transaction);
    other cache backends get the portable add-then-incr.
    """
    client = _redis_client()
    if client is not None:
        name = cache.make_and_validate_key(key)
        pipe = client.pipeline()
        pipe.set(name, 0, ex=timeout, nx=True)
        pipe.incr(name)
        return int(pipe.execute()[1])
    # Other backends' incr() would reset the expiry to the default timeout: keep
    # the window's end next to the count instead (not atomic; development only).
    now = time.time()
    current = cache.get(key)
    count, until = (current if isinstance(current, list) else [0, now + timeout])[:2]
    if until <= now:
        count, until = 0, now + timeout
    cache.set(key, [int(count) + 1, until], timeout=max(1, int(until - now) + 1))
    return int(count) + 1


# Count a refusal and keep its codes in one script: the count as `counter_incr`
# keeps it, the codes of the refusals counted as a set that ends with the count.
# KEYS: the count, its codes; ARGV[1]: the window's seconds, then the codes.
_DENIAL_COUNTED = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
if #ARGV > 1 then redis.call('SADD', KEYS[2], unpack(ARGV, 2)) end
local left = redis.call('PTTL', KEYS[1])
if left > 0 then redis.call('PEXPIRE', KEYS[2], left) end
return {count, redis.call('SMEMBERS', KEYS[2])}
"""


def denial_counted(
    key: str, codes: list[str], *, timeout: int
) -> tuple[int, list[str]]:
    """Count one refusal of an account in the denial window (`timeout` seconds
    from its first refusal) and keep its codes: (refusals counted, this one
    included; the distinct codes of those refusals, sorted). One round trip on
    Redis; no query (the refused-call rules read both on every refusal)."""
    client = _redis_client()
    if client is not None:
        script = _scripts.get(-id(client))
        if script is None:
            script = _scripts[-id(client)] = client.register_script(_DENIAL_COUNTED)
        names = [cache.make_and_validate_key(k) for k in (key, key + ":codes")]
        count, found = script(keys=names, args=[timeout, *codes])
        return int(count), sorted(
            c.decode() if isinstance(c, bytes) else c for c in found
        )
    # Other backends: the count, the window's end and the codes in one value
    # (not atomic; development only), as `counter_incr` keeps its counts.
    now = time.time()
    current = cache.get(key)
    count, until, seen = 0, now + timeout, set(codes)
    if isinstance(current, list) and len(current) == 3 and current[1] > now:
        count, until = int(current[0]), float(current[1])
        seen.update(str(code) for code in current[2])
    kept = sorted(seen)
    cache.set(key, [count + 1, until, kept], timeout=max(1, int(until - now) + 1))
    return count + 1, kept


def denials_reset(key: str) -> None:
    """Start an account's refusal count (and its codes) again from zero."""
    cache.delete_many([key, key + ":codes"])


def counter_value(raw: object) -> int:
    """A counter's value as read with `cache.get`/`get_many` (any backend)."""
    if isinstance(raw, list):
        count, until = raw[:2]
        return int(count) if until > time.time() else 0
    return int(raw) if isinstance(raw, int | str | float) else 0


def counter_reset(key: str) -> None:
    """Start a counter again from zero."""
    cache.delete(key)


_redis_client = sharedcache.redis_client
_loads = sharedcache.loads
