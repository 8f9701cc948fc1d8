"""The embedded broker: kombu's file-system transport, made safe for many processes.

kombu's own file-system transport creates a message file under its final name and
then writes it, and rewrites exchange tables in place; a consumer polling at that
moment reads an empty or half-written file and the worker dies with a
JSONDecodeError. Here every file is written under a name no reader looks at and
renamed into place (a rename is atomic on one file system), a consumer claims a
message by renaming it (exactly one of several consumers wins), and exchange tables
are updated under a lock file. A file that still cannot be parsed is logged and
dropped instead of stopping the worker.

Used when `REDIS_URL` is unset: `trustconsole-fs://`, registered in
`trustconsole/celery.py`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

CLAIMED = ".claimed"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one."""
    temporary = path.with_name(f".{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_bytes(str_to_bytes(text))
        temporary.replace(path)  # atomic rename over the final name
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _entry(routing_key: str, pattern: str, queue: str) -> Any:
    return filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")


class Channel(filesystem.Channel):
    """Atomic writes, rename-to-claim reads, locked exchange-table updates."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Zero-padded so that name order is send order (readers sort names).
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomic(Path(self.data_folder_out) / name, dumps(payload))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add {name!r} to the queue") from exc

    def _get(self, queue: str) -> Any:  # type: ignore[override]
        wanted = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        claimed = folder / CLAIMED
        claimed.mkdir(exist_ok=True)
        for name in sorted(entry.name for entry in folder.iterdir()):
            if name.partition(".")[2] != wanted:
                continue
            mine = claimed / name
            try:
                (folder / name).rename(mine)
            except OSError:
                continue  # another consumer claimed it first
            try:
                payload = mine.read_bytes()
            finally:
                mine.unlink(missing_ok=True)
            try:
                return loads(bytes_to_str(payload))
            except ValueError:
                logger.error("broker: dropped unreadable message file %s", name)
        raise Empty

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        file = self._exchange_file(exchange)
        try:
            text = file.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot open {file}") from exc
        try:
            return [filesystem.exchange_queue_t(*q) for q in loads(text)]
        except (ValueError, TypeError):
            logger.error("broker: unreadable exchange table %s, starting empty", file)
            return []

    def _update_table(
        self,
        exchange: str,
        change: Callable[[list[filesystem.exchange_queue_t]], None],
    ) -> None:
        """Read, change and atomically rewrite one exchange table under its lock."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with file.with_name(file.name + ".lock").open("ab") as lock_file:
            filesystem.lock(lock_file, filesystem.LOCK_EX)
            try:
                queues = self.get_table(exchange)
                before = list(queues)
                change(queues)
                if queues != before or not file.exists():
                    write_atomic(file, dumps(queues))
            finally:
                filesystem.unlock(lock_file)

    def _queue_bind(
        self, exchange: str, routing_key: str, pattern: str, queue: str
    ) -> None:
        entry = _entry(routing_key, pattern, queue)

        def add(queues: list[filesystem.exchange_queue_t]) -> None:
            if entry not in queues:
                queues.insert(0, entry)

        self._update_table(exchange, add)

    def _delete(
        self,
        queue: str,
        exchange: str,
        routing_key: str,
        pattern: str,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        virtual.Channel._delete(
            self, queue, exchange, routing_key, pattern, *args, **kwargs
        )
        entry = _entry(routing_key, pattern, queue)

        def remove(queues: list[filesystem.exchange_queue_t]) -> None:
            if entry in queues:
                queues.remove(entry)

        self._update_table(exchange, remove)


class Transport(filesystem.Transport):
    """kombu's file-system transport with the channel above."""

    Channel = Channel
