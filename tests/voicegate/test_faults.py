"""The gate keeps every promise while Redis (and the Telnyx API) go away.

A real stack on loopback: gunicorn (2 workers), a Celery worker and beat, on this
test's database and a `redis-server` of the test's own, which is killed and started
again empty; stand-ins for the Telnyx API and the downstream app.
"""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from bench.faults import (
    Driver,
    Signer,
    Stack,
    Tally,
    make_event,
    run_scenario,
    settle,
)
from bench.loopback import RedisServer, StandIn
from tests.conftest import child_env, wait_for
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_upsert
from voicegate import services
from voicegate.models import CallDecision, OutboxItem
from voicegate.telnyx import command_id_for

BLOCKED = [f"+1202555{i:04d}" for i in range(10)]


@pytest.fixture
def fault_stack(transactional_db, org, tmp_path, loopback_targets):
    """Redis, the two stand-ins, gunicorn, a worker and beat; all stopped after."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    redis = RedisServer(tmp_path / "redis")
    telnyx, downstream = StandIn(), StandIn()
    redis.start()
    telnyx.start()
    downstream.start()
    env = child_env(
        REDIS_URL=redis.url,
        TRUSTCONSOLE_DATA_DIR=str(tmp_path),
        VOICEGATE_TELNYX_API_BASE=telnyx.url + "/v2",
        VOICEGATE_TELNYX_TIMEOUT="1.0",
        LOG_LEVEL="WARNING",
    )
    stack = Stack(env, tmp_path)
    try:
        stack.start()
        yield stack, redis, telnyx, downstream
    finally:
        stack.stop()
        redis.kill()
        telnyx.stop()
        downstream.stop()


@pytest.mark.worker
def test_a_redis_crash_with_the_telnyx_api_unreachable_loses_nothing(
    org, fault_stack
) -> None:
    """GIVEN a gate under steady load with blacklisted callers and a downstream app
    WHEN Redis is killed, the Telnyx API is unreachable and gunicorn starts a new
    worker (nothing cached) during the outage, then Redis comes back empty
    THEN every answer was a 2xx, every answered event is in the call log exactly
    once, every blocked event's reject reached Telnyx exactly once (redeliveries
    included), and every forward reached the downstream app exactly once."""
    stack, redis, telnyx, downstream = fault_stack
    signer = Signer()
    actor = Actor.system_for(org, "test")
    connection = services.connection_create(
        actor=actor,
        name="Telnyx line",
        provider="telnyx_call_control",
        secret=signer.public_b64,
        api_key="KEY_test",
        downstream_url=downstream.url + "/voice-app",
    )
    for number in BLOCKED:
        visitor = visitor_upsert(actor=actor, phones=[number])
        visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    url = f"{stack.url}/voice/hooks/{connection.webhook_token}/"
    tally = Tally()
    driver = Driver(url, signer, BLOCKED, tally, threads=3)

    # A blocked call answered, then its redelivery answered "duplicate", before
    # the outage: after Redis has forgotten everything it must stay a duplicate.
    early = make_event("blocked", BLOCKED[0])
    with httpx.Client(timeout=10) as client:
        driver.post(client, early)
        first = tally.answers[early.event_id]
        assert first == {"decision": "reject", "reason": "blacklisted_visitor"}
        again = client.post(url, content=early.body, headers=signer.headers(early.body))
        assert again.json() == {"status": "duplicate"}

    def logged() -> list[str]:
        return list(
            CallDecision.objects.filter(connection=connection).values_list(
                "event_id", flat=True
            )
        )

    outcome = run_scenario(
        "redis_down",
        stack=stack,
        redis=redis,
        proxy=None,
        telnyx=telnyx,
        downstream=downstream,
        driver=driver,
        logged=logged,
        before=3,
        outage=4,
        after=4,
    )

    with httpx.Client(timeout=10) as client:
        late = client.post(url, content=early.body, headers=signer.headers(early.body))
    assert late.status_code == 200
    assert late.json() == {"status": "duplicate"}
    outcome = settle(tally, telnyx, downstream, logged)

    assert outcome.requests > 50
    assert outcome.non_2xx == 0, outcome.errors
    assert outcome.answered == outcome.logged == outcome.logged_rows
    assert outcome.rejects_answered > 0
    assert outcome.rejects_sent == outcome.rejects_answered
    assert outcome.rejects_sent_twice == 0
    assert outcome.forwards_due > 0
    assert outcome.forwards_delivered == outcome.forwards_due
    assert outcome.forwards_twice == 0
    sent = [json.loads(body)["command_id"] for body in telnyx.bodies()]
    assert sent.count(command_id_for(early.event_id)) == 1
    # The outage was real: some decisions were written straight to the database
    # and some commands and forwards waited in the outbox.
    retried = OutboxItem.objects.filter(connection=connection, attempts__gt=2)
    assert retried.filter(kind="reject").exists()
    wait_for(
        lambda: (
            not OutboxItem.objects.filter(
                connection=connection, delivered_at__isnull=True
            ).exists()
        ),
        what="every outbox item to be delivered",
    )
