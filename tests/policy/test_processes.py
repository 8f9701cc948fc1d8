"""Delta application across processes: a change made here is applied by a real
second process on its next decision, from the change log, without a rebuild; a
rebuild happens only when that process is too far behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, child_env
from trustconsole.core.actor import Actor
from visitors.services import visitor_blacklist, visitor_clear_status, visitor_upsert

# A second process that decides on request: "<organisation id> <caller>" per line.
DECIDER = """
import json, sys
import django
django.setup()
from django.conf import settings
from trustconsole.policy import decide, state
settings.POLICY_MAX_DELTAS = 3
print("ready", flush=True)
for line in sys.stdin:
    org_id, caller = line.split()
    org = state.current(int(org_id))
    verdict = decide.decide_call(org, caller)
    print(json.dumps({
        "allowed": verdict.allowed, "reason": verdict.reason,
        "rebuilds": org.rebuilds, "deltas": org.deltas, "position": org.position,
        "added_by": verdict.entry.added_by if verdict.entry else "",
    }), flush=True)
"""


@pytest.fixture
def decider(transactional_db):
    proc = subprocess.Popen(
        [sys.executable, "-c", DECIDER],
        cwd=ROOT,
        env=child_env(DJANGO_SETTINGS_MODULE="trustconsole.settings"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"

    def ask(org_id: int, caller: str) -> dict:
        proc.stdin.write(f"{org_id} {caller}\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    yield ask
    proc.stdin.close()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_change_here_is_applied_there_as_a_delta_and_a_gap_rebuilds(
    org, decider
) -> None:
    actor = Actor.system_for(org, "support desk")
    mallory = visitor_upsert(actor=actor, name="Mallory", phones=["+14155550123"])
    first = decider(org.pk, "+14155550123")
    assert (first["allowed"], first["reason"], first["rebuilds"]) == (
        True,
        "not_listed",
        1,
    )
    visitor_blacklist(actor=actor, visitor=mallory, reason="fraud")
    after = decider(org.pk, "+14155550123")
    assert (after["allowed"], after["reason"]) == (False, "blacklisted_visitor")
    assert after["added_by"] == actor.label
    assert after["rebuilds"] == 1 and after["deltas"] == first["deltas"] + 1
    visitor_clear_status(actor=actor, visitor=mallory, reason="")
    cleared = decider(org.pk, "+14155550123")
    assert cleared["allowed"] and cleared["rebuilds"] == 1
    # More changes than the other process applies as deltas (3 there): a rebuild.
    for n in range(5):
        other = visitor_upsert(actor=actor, phones=[f"+1415555020{n}"])
        visitor_blacklist(actor=actor, visitor=other, reason="spam wave")
    behind = decider(org.pk, "+14155550204")
    assert (behind["allowed"], behind["reason"]) == (False, "blacklisted_visitor")
    assert behind["rebuilds"] == 2
    assert behind["position"] > cleared["position"]
