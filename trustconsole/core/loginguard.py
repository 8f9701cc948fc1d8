"""Failed-login throttling per account and per client IP, with audited lockouts.

`LOGIN_FAILURES_PER_ACCOUNT` failed log-ins for one email within its window lock
that account for `LOGIN_LOCKOUT_SECONDS`; `LOGIN_FAILURES_PER_IP` failures from one
client IP (trusted proxies as the chat widget reads them) lock that IP. While
locked, the log-in form refuses even the right password with a message saying
until when. A lockout is written to the audit trail of every organisation the
account belongs to; an admin clears it in Settings → Members (audited) or with
`manage.py unlock_login`.

Counters and locks live in the shared cache (Redis when `REDIS_URL` is set), under
`RATELIMIT_KEY_PREFIX`, so every web process sees the same ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

ACCOUNT = "account"
IP = "ip"


@dataclass(frozen=True)
class Lockout:
    """A lock on an account or an IP, and when it ends."""

    kind: str
    subject: str
    until: dt.datetime
    failures: int = 0

    @property
    def minutes_left(self) -> int:
        """Whole minutes until the lock ends (at least 1)."""
        seconds = (self.until - timezone.now()).total_seconds()
        return max(1, int(seconds + 59) // 60)


def normalise_username(username: str) -> str:
    """Log-ins are by email: case and surrounding spaces do not matter."""
    return (username or "").strip().lower()


def _key(part: str, kind: str, subject: str) -> str:
    digest = hashlib.blake2b(subject.encode(), digest_size=12).hexdigest()
    return f"{settings.RATELIMIT_KEY_PREFIX}:login:{part}:{kind}:{digest}"


def _rate(kind: str) -> tuple[int, int]:
    if kind == ACCOUNT:
        return settings.LOGIN_FAILURES_PER_ACCOUNT
    return settings.LOGIN_FAILURES_PER_IP


def _lock_of(kind: str, subject: str, value: object) -> Lockout | None:
    if not isinstance(value, dict) or value.get("until", 0) <= time.time():
        return None
    until = dt.datetime.fromtimestamp(value["until"], tz=dt.UTC)
    return Lockout(kind, subject, until, int(value.get("failures", 0)))


def lockout_get(*, username: str = "", ip: str | None = None) -> Lockout | None:
    """The lock in force on this account or this IP (the account's first)."""
    wanted = []
    if normalise_username(username):
        wanted.append((ACCOUNT, normalise_username(username)))
    if ip:
        wanted.append((IP, ip))
    if not wanted:
        return None
    found = cache.get_many([_key("lock", kind, subject) for kind, subject in wanted])
    for kind, subject in wanted:
        lock = _lock_of(kind, subject, found.get(_key("lock", kind, subject)))
        if lock is not None:
            return lock
    return None


def lockouts_for(usernames: Iterable[str]) -> dict[str, Lockout]:
    """Account locks in force, by normalised username (one cache round trip)."""
    names = [normalise_username(u) for u in usernames]
    keys = {_key("lock", ACCOUNT, name): name for name in names}
    found = cache.get_many(list(keys))
    out = {}
    for key, value in found.items():
        lock = _lock_of(ACCOUNT, keys[key], value)
        if lock is not None:
            out[keys[key]] = lock
    return out


def _count(kind: str, subject: str) -> int:
    limit, window = _rate(kind)
    key = _key("failures", kind, subject)
    cache.add(key, 0, window)
    try:
        return int(cache.incr(key))
    except ValueError:  # the window ran out between add and incr
        cache.set(key, 1, window)
        return 1


def failure_record(*, username: str, ip: str | None) -> Lockout | None:
    """Count one failed log-in; the lockout it caused, if it reached a limit."""
    username = normalise_username(username)
    caused: Lockout | None = None
    for kind, subject in ((ACCOUNT, username), (IP, ip or "")):
        limit, window = _rate(kind)
        if not subject or limit <= 0:
            continue
        failures = _count(kind, subject)
        if failures < limit:
            continue
        until = time.time() + settings.LOGIN_LOCKOUT_SECONDS
        value = {"until": until, "failures": failures}
        cache.set(_key("lock", kind, subject), value, settings.LOGIN_LOCKOUT_SECONDS)
        cache.delete(_key("failures", kind, subject))
        lock = _lock_of(kind, subject, value)
        assert lock is not None
        _lockout_audit(lock, username=username, ip=ip, window=window)
        caused = caused or lock
    return caused


def success_record(*, username: str) -> None:
    """A successful log-in starts the account's failure count again."""
    cache.delete(_key("failures", ACCOUNT, normalise_username(username)))


def lockout_clear(*, kind: str, subject: str) -> Lockout | None:
    """Lift a lock and its failure count; the lock that was lifted, if any."""
    subject = normalise_username(subject) if kind == ACCOUNT else subject
    lock_key = _key("lock", kind, subject)
    lock = _lock_of(kind, subject, cache.get(lock_key))
    cache.delete_many([lock_key, _key("failures", kind, subject)])
    return lock


def _lockout_audit(
    lock: Lockout, *, username: str, ip: str | None, window: int
) -> None:
    """Say so in the log and in the audit trail of the account's organisations."""
    from trustconsole.core import services

    what = f"account {username}" if lock.kind == ACCOUNT else f"client IP {ip}"
    logger.warning(
        "log-in lockout: %s locked until %s after %s failed log-ins",
        what,
        lock.until.isoformat(),
        lock.failures,
    )
    services.login_lockout_audit(lock=lock, username=username, ip=ip, window=window)
