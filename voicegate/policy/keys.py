"""Version keys of the check's in-process copies and the cache counters.

Every write that changes what the check reads bumps one of these version counters
(`trustconsole.lib.versioned`), now and again after commit: the immediate bump lets
the writing process (and tests, which never commit) see the change at once; the
after-commit bump makes sure no other process keeps a copy built from a state that
was not yet committed.
"""

from __future__ import annotations

import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.db import transaction

from trustconsole.lib import versioned


def dnc_key(organisation_id: int) -> str:
    """Do-Not-Call lists, their entries and single-number changes."""
    return f"policy:dnc:{organisation_id}"


def caller_ids_key(organisation_id: int) -> str:
    """Verified caller IDs."""
    return f"policy:caller-ids:{organisation_id}"


def consent_key(organisation_id: int) -> str:
    """Consent records."""
    return f"policy:consent:{organisation_id}"


def settings_key(organisation_id: int) -> str:
    """The organisation's PolicySettings."""
    return f"policy:settings:{organisation_id}"


def accounts_key(organisation_id: int) -> str:
    """Customer accounts' status and owned numbers (bumped by signal receivers)."""
    return f"policy:accounts:{organisation_id}"


def harassment_key(org_uid: str, caller: str, destination: str) -> str:
    """Allowed calls from one caller (account or organisation) to one destination."""
    return f"policy:calls:{org_uid}:{caller}:{destination}"


def denials_key(org_uid: str, account_uid: str) -> str:
    """Recent denials of one account, towards the risk-signal threshold."""
    return f"policy:denials:{org_uid}:{account_uid}"


def bump(key: str) -> None:
    """Bump `key` now and once more after the current transaction commits."""
    versioned.version_bump(key)
    transaction.on_commit(lambda: versioned.version_bump(key))


def versioned_name(key: str) -> str:
    """The cache key under which `trustconsole.lib.versioned` keeps `key`."""
    return versioned.cache_name(key)


def versions_get(keys: list[str]) -> dict[str, int]:
    """Current versions of several keys in one cache round trip."""
    full = {versioned_name(key): key for key in keys}
    found = get_many(list(full))
    return {key: int(found.get(name) or 0) for name, key in full.items()}


def get_many(keys: list[str]) -> dict[str, object]:
    """`cache.get_many`, in one MGET on Redis through a client kept per process
    (Django builds a new redis client object, ~0.3 ms, on every call)."""
    client = _redis_client()
    if client is None:
        return cache.get_many(keys)
    names = [cache.make_and_validate_key(key) for key in keys]
    loads = cache._cache._serializer.loads
    return {
        key: loads(value)
        for key, value in zip(keys, client.mget(names), strict=True)
        if value is not None
    }


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
    names = [cache.make_and_validate_key(key) for key in keys]
    name = cache.make_and_validate_key(counter)
    pipe = client.pipeline()
    pipe.mget(names)
    pipe.set(name, 0, ex=timeout, nx=True)
    pipe.incr(name)
    values, _, count = pipe.execute()
    loads = cache._cache._serializer.loads
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
    cache.set(key, [count + 1, until], timeout=max(1, int(until - now) + 1))
    return count + 1


def counter_value(raw: object) -> int:
    """A counter's value as read with `cache.get`/`get_many` (any backend)."""
    if isinstance(raw, list):
        count, until = raw[:2]
        return int(count) if until > time.time() else 0
    return int(raw or 0)


def counter_reset(key: str) -> None:
    """Start a counter again from zero."""
    cache.delete(key)


_CLIENTS: dict[tuple[str, ...], object] = {}


def _redis_client() -> object | None:
    """One redis client per process and server (thread-safe: redis-py clients share
    a connection pool, which also notices a fork); None for other backends."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if "redis" not in type(backend).__module__:
        return None
    servers = tuple(backend._servers)
    found = _CLIENTS.get(servers)
    if found is None:
        found = _CLIENTS[servers] = backend._cache.get_client(write=True)
    return found
