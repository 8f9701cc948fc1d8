"""The embedded broker: kombu's filesystem transport with atomic message files.

kombu writes a message by opening `<name>.msg` and then writing into it, so a
worker that lists the folder in between moves away an empty file, fails to parse
it and stops ("Unrecoverable error: JSONDecodeError"). Here a message is written
under a name no reader picks up and renamed into place when complete; a rename is
atomic within one folder.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

SCHEME = "atomicfs"


class Channel(filesystem.Channel):
    """Writes each message completely before it becomes visible."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = Path(self.data_folder_out) / name
        partial = Path(self.data_folder_out) / f".{name}.part"
        try:
            partial.write_bytes(dumps(payload).encode())
            partial.replace(final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    """`atomicfs://`: kombu's `filesystem://` with the atomic channel."""

    Channel = Channel


# Imported by trustconsole.celery, so every process knows the scheme.
TRANSPORT_ALIASES.setdefault(SCHEME, "trustconsole.lib.broker:Transport")
