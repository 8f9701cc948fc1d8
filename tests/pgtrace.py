"""Round trips to PostgreSQL, read from libpq's own protocol trace.

Django's query capture sees only the statements it executes through a cursor;
BEGIN, COMMIT, savepoints and the connection health check's `SELECT 1` also
cost a round trip each. libpq writes every protocol message it sends and
receives to a trace file (`PQtrace`); every exchange the client waits for ends
with the server's ReadyForQuery, so counting those counts the round trips, and
the frontend's Query/Parse messages show what was sent.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

SENT = re.compile(r"^F\t\d+\t(?:Query|Parse)\t(.*)$")


@dataclass
class Trace:
    """What the block sent: round trips, and the SQL of each statement."""

    round_trips: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def round_trips() -> Iterator[Trace]:
    """Count the default connection's round trips inside the block (PostgreSQL
    only; the connection is opened first so that connecting is not counted)."""
    from psycopg import pq

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    found = Trace()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.txt"
        with path.open("w") as out:
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                yield found
            finally:
                pgconn.untrace()
        for line in path.read_text().splitlines():
            if line.startswith("B\t") and "\tReadyForQuery\t" in line:
                found.round_trips += 1
            sent = SENT.match(line)
            if sent:
                found.statements.append(sent[1])
