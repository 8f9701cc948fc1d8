"""API tokens are verified from a per-process cache; a revocation reaches every
process within a second (a real second process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ROOT, child_env
from tests.waiting import wait_until
from trustconsole.core.actor import Actor
from trustconsole.core.api.auth import CHECK_SECONDS, token_authenticate, token_cache
from trustconsole.core.services import token_create, token_revoke

CHILD = """
import json, sys, time
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from trustconsole.core.api.auth import token_authenticate
print("ready", flush=True)
for line in sys.stdin:
    with CaptureQueriesContext(connection) as queries:
        valid = token_authenticate(line.strip()) is not None
    print(json.dumps({"valid": valid, "queries": len(queries)}), flush=True)
"""


@pytest.fixture
def admin(transactional_db):
    from trustconsole.core.models import Organisation

    org = Organisation.objects.create(name="Alpha", slug="alpha")
    return Actor(organisation=org, role="admin", system="test")


def test_a_cached_token_costs_no_query_and_a_revocation_here_applies_at_once(
    admin,
) -> None:
    token_cache.clear()
    token, raw = token_create(actor=admin, name="dialer", role="operator")
    assert token_authenticate(raw).pk == token.pk
    with CaptureQueriesContext(connection) as queries:
        assert token_authenticate(raw).pk == token.pk
    assert len(queries) == 0
    assert token_authenticate(raw + "x") is None  # a wrong secret is never cached
    token_revoke(actor=admin, token=token)
    assert token_authenticate(raw) is None


def test_a_revocation_reaches_another_process_within_a_second(admin) -> None:
    token, raw = token_create(actor=admin, name="dialer", role="operator")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"

        def ask() -> dict:
            child.stdin.write(raw + "\n")
            child.stdin.flush()
            return json.loads(child.stdout.readline())

        assert ask() == {"valid": True, "queries": 1}
        assert ask()["queries"] == 0  # from the child's cache
        token_revoke(actor=admin, token=token)
        revoked = time.monotonic()
        wait_until(
            lambda: not ask()["valid"],
            timeout=CHECK_SECONDS + 1.0,
            what="the child to refuse the revoked token",
            interval=0.05,
        )
        assert time.monotonic() - revoked <= CHECK_SECONDS + 1.0
    finally:
        child.stdin.close()
        child.wait(timeout=20)
