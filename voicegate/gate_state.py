"""What one process of the call gate holds between calls, and its Redis client.

`voicegate.gate` (deciding) and `voicegate.calllog` (logging decisions) share it.
`reset` clears it in place, so a module holding `STATE` keeps seeing the live one.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from trustconsole.policy.state import OrgState

if TYPE_CHECKING:
    from voicegate.gate import ConnectionSnapshot

logger = logging.getLogger(__name__)


@dataclass
class ProcessState:
    """What one process of the call gate holds between calls."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: dict[str, ConnectionSnapshot] = field(default_factory=dict)
    connections_version: int | None = None
    connections_loaded: float = 0.0
    # organisation id -> (versions, snapshot, monotonic time it was loaded)
    orgs: dict[int, tuple[tuple[int], OrgState, float]] = field(default_factory=dict)
    redis: Any = None
    claim: Any = None
    # Redis is not tried again before this monotonic time (it just failed).
    redis_down_until: float = 0.0
    # The Redis data set this process last talked to (see calllog.spool_note).
    epoch: str | None = None
    # Decisions this process appended to the stream that may not be stored yet:
    # (stream id, record as JSON), oldest first.
    spool: collections.deque[tuple[tuple[int, int], str]] = field(
        default_factory=collections.deque
    )
    # Rows the database could not take yet: ("decision" | "outbox", fields).
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pending_retry_at: float = 0.0
    # Each thread's own Redis connection for the claim script (`script_run`).
    lines: threading.local = field(default_factory=threading.local)


STATE = ProcessState()


def reset() -> None:
    """Forget everything this process holds (tests; a cold start)."""
    fresh = ProcessState()
    for item in dataclasses.fields(ProcessState):
        setattr(STATE, item.name, getattr(fresh, item.name))


def redis_usable() -> bool:
    """Redis is configured and did not fail within the last retry interval."""
    return bool(settings.REDIS_URL) and time.monotonic() >= STATE.redis_down_until


def redis_failed(exc: BaseException) -> None:
    """Stop trying Redis for a moment; the database carries the gate meanwhile."""
    if time.monotonic() >= STATE.redis_down_until:
        logger.error(
            "voice gate: Redis unreachable (%s); deciding from the database", exc
        )
    STATE.redis_down_until = time.monotonic() + settings.VOICEGATE_REDIS_RETRY_SECONDS


def redis_client() -> Any:
    """This process's Redis client when REDIS_URL is set, else None."""
    if not settings.REDIS_URL:
        return None
    if STATE.redis is None:
        import redis

        STATE.redis = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1
        )
    return STATE.redis


def script_run(client: Any, script: Any, keys: list[Any], args: list[Any]) -> Any:
    """`script(keys=keys, args=args, client=client)`, on this thread's own
    connection to the same server.

    The claim is the one Redis round trip of every call. Through the client's
    pool, each command also takes a lock, polls the socket for stale data and
    goes through the retry and telemetry wrappers: about 50 µs of CPU, more than
    sending the command and reading its answer. This thread's connection is only
    ever used for a command and its answer, and is dropped on any error, so it
    cannot hold stale data. A script Redis forgot (a restart) or a broken
    connection goes through redis-py's ordinary call, which loads the script or
    retries as it always did; the script's own errors are raised as they come.
    """
    import redis

    line = STATE.lines
    connection = getattr(line, "connection", None)
    if connection is None or line.client is not client or line.pid != os.getpid():
        pool = client.connection_pool
        connection = pool.connection_class(**pool.connection_kwargs)
        line.connection, line.client, line.pid = connection, client, os.getpid()
    try:
        connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        return connection.read_response()
    except redis.exceptions.NoScriptError:
        pass  # the ordinary call loads it
    except redis.exceptions.ResponseError:
        raise
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        connection.disconnect()
    except BaseException:
        connection.disconnect()
        raise
    return script(keys=keys, args=args, client=client)
