"""The outbound check over HTTP, a scenario of bench/voicegate.py.

A dialer's account owns one number and calls from it; an operator API token asks
`POST /api/v1/voice/outbound-check` for each call, to the same mix of destinations
as the call gate's callers (2 % blacklisted visitors, refused and logged; 68 % known
visitors; 30 % numbers nobody has seen). The harassment limit and the denial
threshold are set out of reach, so that the account stays free to call.
"""

from __future__ import annotations

import json
from pathlib import Path

OWNED = "+14155550100"
_ACCOUNT: dict[str, str] = {}


def seed_dialer(org_id: int) -> str:
    """The dialer's account and number, and an operator token (its raw value)."""
    from accounts.models import Account, AccountNumber
    from trustconsole.core.actor import Actor
    from trustconsole.core.models import Organisation
    from trustconsole.core.services import token_create
    from voicegate.policy import services

    org = Organisation.objects.get(pk=org_id)
    actor = Actor.system_for(org, "bench")
    account = Account.objects.create(
        organisation=org,
        company_name="Dialer",
        email="ops@dialer.example",
        country="US",
    )
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    # Out of reach: repeated destinations are not harassment here, and the
    # refusals of blacklisted destinations never restrict the dialer's account.
    services.policy_settings_update(
        actor=actor, harassment_limit=10**9, denial_threshold=10**9
    )
    _ACCOUNT["id"] = str(account.public_id)
    _, raw = token_create(actor=actor, name="bench dialer", role="operator")
    return raw


def write_checks(path: Path, destinations: list[str]) -> None:
    """One outbound-check body per destination, one JSON document per line."""
    with path.open("w") as out:
        for to in destinations:
            body = {"from": OWNED, "to": to, "account": _ACCOUNT["id"]}
            out.write(json.dumps(body, separators=(",", ":")) + "\n")
