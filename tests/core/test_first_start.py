"""The first start never dies: the embedded stack, started again and again.

On a fresh clone `make run` used to lose its worker within seconds to a half-written
broker file, and take web and beat down with it. Here the console is started 20
times on the embedded broker, each time on an empty data directory (as after a
fresh clone), with beat ticking every second.
"""

from __future__ import annotations

import pytest

from tests.core.test_runconsole import CONSOLE, Console, ticks_run
from tests.waiting import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow, CONSOLE]

STARTS = 20
# Lines that mean a child crashed or was restarted.
CRASH_SIGNS = ("stopped (exit", "starting again", "Unrecoverable error", "Traceback")


def finish(console: Console, n: int) -> None:
    """Wait for a console sent Ctrl-C; fail if it or any child crashed."""
    status = console.stop()
    log = console.log()
    crashes = [line for line in log.splitlines() if any(s in line for s in CRASH_SIGNS)]
    assert not crashes, f"start {n} crashed ({console.log_path}):\n" + "\n".join(
        crashes
    )
    assert status == 0, f"start {n} exited {status}:\n{log[-3000:]}"


def test_the_embedded_stack_survives_twenty_fresh_starts(
    transactional_db, tmp_path
) -> None:
    """GIVEN no REDIS_URL and a 1 s beat tick WHEN the console starts 20 times on
    fresh data dirs THEN each answers /healthz, its worker runs beat's ticks, no
    child dies or is restarted, and Ctrl-C stops it with status 0."""
    shutting_down: list[tuple[int, Console]] = []
    for n in range(STARTS):
        console = Console(
            tmp_path / f"start-{n:02d}", REDIS_URL="", REMEDIATION_TICK_SECONDS="1"
        )
        try:
            console.wait_up()
            wait_until(
                lambda console=console: ticks_run(console.log()) >= 2,
                timeout=60,
                what=f"start {n}: the worker to run two of beat's ticks",
            )
        finally:
            console.interrupt()
            shutting_down.append((n, console))
        # A worker's warm shutdown takes seconds: let it overlap the next start.
        while len(shutting_down) > 1:
            n_done, done = shutting_down.pop(0)
            finish(done, n_done)
    for n, console in shutting_down:
        finish(console, n)
