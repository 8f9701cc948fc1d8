"""What one chat widget message costs the shared cache: with Redis as deployed,
the decision core's version and the default "Message velocity" rule's window
count are one round trip (one pipeline), and the velocity rule still fires."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.loopback import RedisServer
from trustconsole.lib import sharedcache
from trustconsole.policy import state as core_state
from trustconsole.rules.models import Rule
from visitors.models import Event


@pytest.fixture
def own_redis(tmp_path: Path, settings: Any) -> Iterator[redis.Redis]:
    """The default cache on a redis-server of this test's own."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    sharedcache._CLIENTS.clear()
    core_state.reset()
    try:
        yield redis.Redis.from_url(server.url)
    finally:
        sharedcache._CLIENTS.clear()
        core_state.reset()
        server.kill()


def _calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: after[name] - before.get(name, 0)
        for name in after
        if after[name] != before.get(name, 0) and name not in ("info",)
    }


def test_a_message_reads_the_version_and_its_velocity_in_one_pipeline(
    own_redis: redis.Redis, send: Any, org: Any
) -> None:
    """GIVEN the default rule set on Redis WHEN a known visitor writes THEN the
    message costs one MGET (the version and the window's buckets together) and
    no separate GET of the version; one message more than the velocity rule's
    threshold within the window still records a message velocity event."""
    rule = Rule.objects.get(organisation=org, builtin="message_velocity")
    condition = rule.current_version.condition
    assert condition.startswith("visitor.messages_recent > "), condition
    threshold = int(condition.rsplit(" ", 1)[1])
    assert threshold >= 3
    send("one")
    send("two")
    before = _calls(own_redis)
    assert send("three").status_code == 202
    spent = _delta(before, _calls(own_redis))
    assert spent.get("mget") == 1, spent
    assert "get" not in spent, spent  # the version came with the count
    for n in range(4, threshold + 1):
        send(f"message {n}")
    assert not Event.objects.filter(kind="message_velocity").exists()
    send("one too many")
    velocity = list(Event.objects.filter(kind="message_velocity"))
    assert len(velocity) == 1, [e.note for e in Event.objects.all()]
