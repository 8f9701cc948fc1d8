"""The embedded broker under concurrent producers and consumers, as in `make run`.

kombu's own file-system transport lets a consumer read a message file, or an
exchange table, that another process is still writing (JSONDecodeError, and the
worker dies). These tests run many writers and readers at once against one folder:
every message arrives exactly once, every binding survives, nothing raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from trustconsole.lib.broker import Transport

# Large enough that writing one message takes a while, so readers overlap writers.
PAYLOAD = "x" * 200_000


@pytest.fixture
def connect(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A new kombu connection on one shared broker folder (one per thread)."""
    opened: list[Connection] = []
    options = {
        "data_folder_in": str(tmp_path / "broker"),
        "data_folder_out": str(tmp_path / "broker"),
        "control_folder": str(tmp_path / "control"),
    }
    (tmp_path / "broker").mkdir()

    def make() -> Any:
        # The scheme the settings use without REDIS_URL.
        conn = Connection("trustconsole-fs://", transport_options=options)
        assert isinstance(conn.transport, Transport)
        opened.append(conn)
        return conn.default_channel

    yield make
    for conn in opened:
        conn.release()


def run_threads(*targets: Callable[[], None]) -> None:
    """Run each target in its own thread; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guard(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a broker thread hung"
    if errors:
        raise errors[0]


def test_every_message_arrives_once_while_readers_poll_during_writes(connect) -> None:
    """GIVEN 3 producers writing 200 kB messages and 3 consumers polling the same
    folder WHEN 300 messages are sent THEN each is received exactly once, whole."""
    per_producer, producers = 100, 3
    received: list[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def produce(n: int) -> Callable[[], None]:
        def run() -> None:
            channel = connect()
            for i in range(per_producer):
                channel._put("q", {"id": f"{n}-{i}", "body": PAYLOAD})

        return run

    def consume() -> None:
        channel = connect()
        while True:
            # Read before the look: an Empty from a look that began before the
            # last send may have missed it; only one begun after all sends ends.
            finished = done.is_set()
            try:
                message = channel._get("q")
            except Empty:
                if finished:
                    return
                continue
            assert message["body"] == PAYLOAD
            with lock:
                received.append(message["id"])

    def finish_producers() -> None:
        run_threads(*(produce(n) for n in range(producers)))
        done.set()

    run_threads(finish_producers, consume, consume, consume)
    assert sorted(received) == sorted(
        f"{n}-{i}" for n in range(producers) for i in range(per_producer)
    )


def test_exchange_bindings_made_at_once_all_survive_and_stay_readable(
    connect,
) -> None:
    """GIVEN 4 processes' channels binding queues to one fanout exchange while
    others read its table WHEN 200 bindings are made THEN no read fails and the
    table ends with every binding (none lost to a concurrent rewrite)."""
    stop = threading.Event()

    def bind(n: int) -> Callable[[], None]:
        def run() -> None:
            channel = connect()
            for i in range(50):
                channel._queue_bind("broadcast", "", "", f"q-{n}-{i}")

        return run

    def read() -> None:
        channel = connect()
        while not stop.is_set():
            channel.get_table("broadcast")

    def binders() -> None:
        run_threads(*(bind(n) for n in range(4)))
        stop.set()

    run_threads(binders, read, read)
    queues = {entry.queue for entry in connect().get_table("broadcast")}
    assert queues == {f"q-{n}-{i}" for n in range(4) for i in range(50)}


def test_a_corrupt_message_file_is_dropped_not_fatal(connect, tmp_path) -> None:
    """GIVEN a message file that is not JSON (say, cut short by a power loss) WHEN
    the worker polls THEN it is skipped and the next message is delivered."""
    channel = connect()
    (tmp_path / "broker" / "000000000000001_bad.q.msg").write_text('{"id": ')
    channel._put("q", {"id": "good"})
    assert channel._get("q") == {"id": "good"}
    with pytest.raises(Empty):
        channel._get("q")
