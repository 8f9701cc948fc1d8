"""Hot-path access to the shared cache without Django's per-call client.

Django's Redis cache builds a new redis client object on every call (~0.3 ms of
Python here, most of a cache read). The hot paths (the decision core's version
read, the outbound check's counters, sliding-window counts) use one client per
process and server instead, with Django's own key names and serializer, so what
they write `cache.get` reads back and the other way round. With any other cache
backend (the file cache of the embedded defaults) they fall back on `cache`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis

_CLIENTS: dict[tuple[str, ...], Redis] = {}


def redis_client() -> Redis | None:
    """One redis client per process and server (thread-safe: redis-py clients share
    a connection pool, which also notices a fork); None for other backends."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    servers = tuple(cast(list[str], backend._servers))  # type: ignore[attr-defined]
    found = _CLIENTS.get(servers)
    if found is None:
        found = _CLIENTS[servers] = backend._cache.get_client(write=True)
    return found


def loads() -> Callable[[bytes | str], object]:
    """How Django's Redis cache reads back what it stored (its serializer)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    assert isinstance(backend, RedisCache)
    serializer: Any = backend._cache._serializer  # type: ignore[attr-defined]
    read: Callable[[bytes | str], object] = serializer.loads
    return read


def name(key: str) -> str:
    """The key as Django's cache stores it (prefix and version)."""
    return names([key])[0]


def names(keys: list[str]) -> list[str]:
    """The keys as Django's cache stores them. Not validated: Django's check is
    a warning for memcached-incompatible keys, ~15 µs a key in Python, and these
    keys are the product's own (short, printable)."""
    make = caches[DEFAULT_CACHE_ALIAS].make_key
    return [make(key) for key in keys]


def get(key: str) -> Any:
    """`cache.get(key)` in one GET."""
    client = redis_client()
    if client is None:
        return cache.get(key)
    value = client.get(name(key))
    return None if value is None else loads()(cast(bytes, value))


def get_many(keys: list[str]) -> dict[str, Any]:
    """`cache.get_many(keys)` in one MGET."""
    client = redis_client()
    if client is None:
        return cache.get_many(keys)
    read = loads()
    return {
        key: read(value)
        for key, value in zip(keys, client.mget(names(keys)), strict=True)
        if value is not None
    }


def hit_and_read(counter: str, keys: list[str], *, timeout: int) -> dict[str, Any]:
    """Add one to `counter` (created with `timeout` on first use) and read `keys`
    (which may include it), in one round trip on Redis."""
    client = redis_client()
    if client is None:
        if not cache.add(counter, 1, timeout=timeout):
            try:
                cache.incr(counter)
            except ValueError:  # expired between add and incr
                cache.add(counter, 1, timeout=timeout)
        return cache.get_many(keys)
    stored = name(counter)
    pipe = client.pipeline(transaction=False)
    pipe.set(stored, 0, ex=timeout, nx=True)
    pipe.incr(stored)
    pipe.mget(names(keys))
    values = pipe.execute()[2]
    read = loads()
    return {
        key: read(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }
