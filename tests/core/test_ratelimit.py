"""Fixed-window rate limits: exact at small limits, never over at large ones, shared
through Redis, and open (never an error) when Redis is gone."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import STRICT, wait_for
from trustconsole.lib import ratelimit
from trustconsole.lib.ratelimit import Rate

NOW = 1_800_000_000.0  # the start of a 60 s window


def test_it_allows_the_limit_then_refuses_until_the_window_ends() -> None:
    rate = Rate(limit=3, window=60)
    verdicts = [ratelimit.hit("t", "alice", rate, now=NOW + 10) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert verdicts[3].retry_after == 50 and verdicts[3].scope == "t"
    assert ratelimit.hit("t", "bob", rate, now=NOW + 10).allowed  # per identity
    assert ratelimit.hit("u", "alice", rate, now=NOW + 10).allowed  # per scope
    assert ratelimit.hit("t", "alice", rate, now=NOW + 60).allowed  # next window


def test_a_zero_limit_is_off() -> None:
    rate = Rate(limit=0, window=60)
    assert all(ratelimit.hit("t", "x", rate, now=NOW).allowed for _ in range(100))


def test_large_limits_are_leased_but_never_exceeded() -> None:
    """GIVEN a limit of 1,000 per window (leases of 5) WHEN 1,500 requests come,
    with this process forgetting its leases now and then (as a restarted process
    would) THEN no more than 1,000 are allowed, and nearly all of them are."""
    rate = Rate(limit=1000, window=60)
    assert rate.lease == 5
    allowed = 0
    for i in range(1500):
        if i % 97 == 0:
            ratelimit.forget()
        allowed += ratelimit.hit("big", "token", rate, now=NOW).allowed
    assert 950 <= allowed <= 1000


def test_one_call_checks_every_counter_and_reports_the_longest_wait() -> None:
    short, long = Rate(limit=1, window=10), Rate(limit=1, window=60)
    checks = [("a", "k", short), ("b", "ip", long)]
    assert ratelimit.check(checks, now=NOW).allowed
    refused = ratelimit.check(checks, now=NOW + 1)
    assert not refused.allowed
    assert (refused.retry_after, refused.scope) == (59, "b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server of this test's own on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        if STRICT:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_for(up, timeout=10, what="redis-server to start")
    yield f"redis://127.0.0.1:{port}/0", proc
    proc.kill()
    proc.wait(timeout=10)


def test_on_redis_every_process_shares_the_counters(settings, own_redis) -> None:
    """GIVEN REDIS_URL WHEN two processes (simulated by forgetting the client)
    count against one limit THEN they share it, and the keys expire."""
    url, _ = own_redis
    settings.REDIS_URL = url
    rate = Rate(limit=4, window=30)
    first = [ratelimit.hit("w", "k", rate, now=NOW).allowed for _ in range(2)]
    ratelimit.forget()
    second = [ratelimit.hit("w", "k", rate, now=NOW).allowed for _ in range(3)]
    assert first + second == [True, True, True, True, False]
    import redis

    client = redis.Redis.from_url(url)
    (key,) = client.keys(f"{settings.RATELIMIT_KEY_PREFIX}:w:*")
    assert int(client.get(key)) == 5
    assert 0 < client.ttl(key) <= 31


def test_when_redis_is_gone_requests_go_on_and_it_is_logged_once(
    settings, own_redis, caplog
) -> None:
    """GIVEN the limiter's Redis is killed WHEN requests keep coming THEN every
    one is allowed (a rate limit never takes a public endpoint down), with one
    warning; once Redis is back and the back-off passed, limits apply again."""
    url, proc = own_redis
    settings.REDIS_URL = url
    rate = Rate(limit=1, window=60)
    assert ratelimit.hit("w", "k", rate).allowed
    assert not ratelimit.hit("w", "k", rate).allowed
    proc.kill()
    proc.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="trustconsole.lib.ratelimit"):
        assert all(ratelimit.hit("w", "k", rate).allowed for _ in range(20))
    warnings = [r for r in caplog.records if "rate limits unavailable" in r.message]
    assert len(warnings) == 1
    # The back-off ends; Redis still down: allowed again, without an exception.
    ratelimit._down_until = time.monotonic() - 1
    assert ratelimit.hit("w", "k", rate).allowed
