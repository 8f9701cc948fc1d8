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


def _child(script: str):
    """Start `script` in a second process; yields ask(*words) → its JSON answer."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(DJANGO_SETTINGS_MODULE="trustconsole.settings"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"

    def ask(*words: object) -> dict:
        proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, "the second process ended without answering"
        return json.loads(line)

    yield ask
    proc.stdin.close()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def decider(transactional_db):
    yield from _child(DECIDER)


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


# A second process that runs the outbound check: "<organisation id> <from> <to>
# <account id>" per line.
CHECKER = """
import json, sys
import django
django.setup()
from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from voicegate.policy import services
print("ready", flush=True)
for line in sys.stdin:
    org_id, from_number, to_number, account = line.split()
    actor = Actor.system_for(Organisation.objects.get(pk=int(org_id)), "dialer")
    outcome = services.outbound_check(
        actor=actor, from_number=from_number, to_number=to_number, account=account
    )
    core = outcome.snapshot.core
    print(json.dumps({
        "codes": [f.code for f in outcome.findings],
        "rebuilds": core.rebuilds, "deltas": core.deltas,
    }), flush=True)
"""


@pytest.fixture
def checker(transactional_db):
    yield from _child(CHECKER)


@pytest.mark.django_db(transaction=True)
def test_the_outbound_checks_lists_follow_the_same_log_in_another_process(
    org, checker
) -> None:
    """Do-Not-Call numbers, account numbers and account holds made here reach the
    other process's outbound check through the one change log, as deltas."""
    from accounts.services import account_hold, account_numbers_add
    from tests.accounts.factories import AccountFactory
    from voicegate.policy import services

    actor = Actor.system_for(org, "support desk")
    account = AccountFactory(organisation=org)
    account_numbers_add(actor=actor, account=account, numbers=["+14155550100"])
    uid = str(account.public_id)
    first = checker(org.pk, "+14155550100", "+14155550199", uid)
    assert first["codes"] == []
    dnc = services.dnc_list_create(actor=actor, name="Own", kind="internal")
    services.dnc_number_add(actor=actor, dnc_list=dnc, number="+14155550199")
    listed = checker(org.pk, "+14155550100", "+14155550199", uid)
    assert listed["codes"] == ["dnc"]
    assert listed["rebuilds"] == first["rebuilds"]
    assert listed["deltas"] > first["deltas"]
    # A caller ID the account did not own, then owns.
    assert checker(org.pk, "+14155550101", "+14155550188", uid)["codes"] == [
        "caller_id_not_owned"
    ]
    account_numbers_add(actor=actor, account=account, numbers=["+14155550101"])
    assert checker(org.pk, "+14155550101", "+14155550188", uid)["codes"] == []
    account_hold(actor=actor, account=account, reason="chargebacks")
    held = checker(org.pk, "+14155550101", "+14155550188", uid)
    assert held["codes"] == ["account_restricted"]
    assert held["rebuilds"] == first["rebuilds"]
