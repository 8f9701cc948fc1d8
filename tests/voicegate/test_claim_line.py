"""The claim (versions, dedup, count, log in one script) goes over each thread's
own Redis connection: a Redis that forgot the script, a connection the server
dropped and a Host check kept per host give the answers and side effects of the
ordinary path, through the real entry point (the WSGI router)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.voicegate.conftest import BLACKLISTED_CALLER, call_initiated, hook_path
from tests.voicegate.test_hotpath import _call as wsgi_call
from tests.voicegate.test_outage import own_redis  # noqa: F401 - a fixture
from voicegate import gate
from voicegate.gate_state import STATE
from voicegate.models import CallDecision

pytestmark = pytest.mark.django_db

CALLER = "+12025550142"


def _post(router: Any, hook: Any, signer: Any, event: dict[str, Any]) -> Any:
    body = json.dumps(event).encode()
    status, _, content = wsgi_call(
        router, "POST", hook_path(hook), body, **signer.headers(body)
    )
    return status, json.loads(content)


@pytest.fixture
def redis_client(request: pytest.FixtureRequest) -> Any:
    """The gate's Redis: REDIS_URL's, or without one (the SQLite pass) a
    redis-server of this test's own."""
    client = gate.redis_client()
    if client is None:
        request.getfixturevalue("own_redis")
        client = gate.redis_client()
    assert client is not None
    return client


def test_a_redis_that_does_not_know_the_script_still_logs_each_call_once(
    router, hook, telnyx_signer, telnyx_api, redis_client
) -> None:
    """GIVEN a gate whose claim script Redis does not know (a restart, another
    server) WHEN a call comes, then its redelivery THEN the call is answered and
    logged once, and the redelivery is a duplicate: the ordinary call loaded
    the script."""
    first = call_initiated(CALLER)
    assert _post(router, hook, telnyx_signer, first) == (
        200,
        {"decision": "allow", "reason": "not_listed"},
    )
    STATE.claim.sha = "0" * 40  # a script this server never saw
    event = call_initiated(BLACKLISTED_CALLER)
    assert _post(router, hook, telnyx_signer, event)[1]["decision"] == "reject"
    assert _post(router, hook, telnyx_signer, event) == (200, {"status": "duplicate"})
    assert STATE.claim.sha != "0" * 40
    gate.decisions_flush()
    assert len(telnyx_api.requests) == 1  # one reject command, not two
    assert CallDecision.objects.filter(event_id=event["data"]["id"]).count() == 1


def test_a_claim_connection_the_server_dropped_is_replaced(
    router, hook, telnyx_signer, telnyx_api, redis_client
) -> None:
    """GIVEN the thread's claim connection killed by Redis (CLIENT KILL) WHEN the
    next calls come THEN each is answered and counted as before: the repeated
    caller's count goes on from where it was."""
    client = redis_client
    for _ in range(2):
        _post(router, hook, telnyx_signer, call_initiated(CALLER))
    line = STATE.lines.connection
    line.send_command("CLIENT", "ID")
    client.client_kill_filter(_id=line.read_response())
    for _ in range(2):
        status, answer = _post(router, hook, telnyx_signer, call_initiated(CALLER))
        assert (status, answer["decision"]) == (200, "allow")
    counter = f"voice:calls:{hook.organisation_id}:{CALLER}"
    assert int(client.get(cache.make_key(counter))) == 4
    gate.decisions_flush()
    assert CallDecision.objects.filter(caller=CALLER).count() == 4


def test_the_host_check_follows_allowed_hosts_when_they_change(
    router, hook, telnyx_signer, telnyx_api
) -> None:
    """GIVEN a host answered once (its check is kept) WHEN ALLOWED_HOSTS no longer
    holds it THEN its next webhook is refused by Django's host check (400), and
    allowed again once it is back."""
    event = call_initiated(CALLER)
    assert _post(router, hook, telnyx_signer, event)[0] == 200
    with override_settings(ALLOWED_HOSTS=["console.example.com"]):
        body = json.dumps(call_initiated(CALLER)).encode()
        status, _, _ = wsgi_call(
            router, "POST", hook_path(hook), body, **telnyx_signer.headers(body)
        )
        assert status == 400
    assert _post(router, hook, telnyx_signer, call_initiated(CALLER))[0] == 200
