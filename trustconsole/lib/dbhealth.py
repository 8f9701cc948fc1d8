"""Django's connection health check, without its round trip when it cannot matter.

With `CONN_HEALTH_CHECKS` Django sends `SELECT 1` before the first query of every
request that reuses a connection: a round trip per request, for requests whose
own work is often one statement (a chat message, a call's rejection, an outbound
check's refusal, a reject command's outcome). The plain-WSGI paths and the reject
senders keep the check but first ask the connection without a round trip
(`RecentUse.settle`): it is idle (not in a transaction), it was used by the same
path less than `HEALTH_CHECK_IDLE_SECONDS` ago, and its socket has nothing to
read. A server that ended the session (a restart, `pg_terminate_backend`, an idle
timeout, a pooler closing it) has sent its farewell or closed the socket, which
makes it readable; then, or when the connection sat idle longer, or after an error
(Django's own `close_if_unusable_or_obsolete` tests it), `SELECT 1` is sent as
Django sends it and a dead connection is replaced before the request's statement.
What this cannot see is a peer that vanished within that second without a word
(no FIN, no RST): the statement then fails as it would had the connection died
just after Django's `SELECT 1`, and the next request tests the connection (its
error noted).
"""

from __future__ import annotations

import select
import time
import weakref
from typing import Any

from django.db import connections

# A connection used less than this long ago, idle and with a silent socket,
# skips the `SELECT 1` health check (see the module's docstring).
HEALTH_CHECK_IDLE_SECONDS = 1.0


class RecentUse:
    """When one path last finished with each database connection (the driver's
    connection object: a new one after a reconnect is unknown)."""

    def __init__(self) -> None:
        self._used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def noted(self) -> None:
        """The path is done with this thread's connections for now."""
        now = time.monotonic()
        for conn in connections.all(initialized_only=True):
            if conn.connection is not None and conn.vendor == "postgresql":
                self._used[conn.connection] = now

    def settle(self) -> None:
        """Mark the health check done for each of this thread's connections that
        is plainly alive without asking the server; the others keep theirs."""
        now = time.monotonic()
        # (django-stubs do not know the health-check attributes of Django 4.1+.)
        for conn in connections.all(initialized_only=True):
            raw = conn.connection
            if (
                raw is None
                or conn.vendor != "postgresql"
                or not conn.health_check_enabled  # type: ignore[attr-defined]
                or conn.health_check_done  # type: ignore[attr-defined]
            ):
                continue
            used = self._used.get(raw)
            if used is None or now - used > HEALTH_CHECK_IDLE_SECONDS:
                continue
            if _quiet(raw):
                conn.health_check_done = True  # type: ignore[attr-defined]


def _quiet(raw: Any) -> bool:
    """The psycopg connection is idle and the server has said nothing since its
    last answer (no byte, no end of stream waiting on the socket)."""
    from psycopg import pq

    try:
        if raw.closed or raw.broken:
            return False
        if raw.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        waiting = select.poll()  # no descriptor limit, unlike select.select
        waiting.register(raw.fileno(), select.POLLIN | select.POLLPRI)
        ready = waiting.poll(0)  # a hang-up or an error is reported too
    except (OSError, ValueError, AttributeError):
        return False
    return not ready
