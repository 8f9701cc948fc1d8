"""Fixtures of the outbound policy tests: a fresh in-memory state per test, uploads
in a private directory, emails in memory, and a customer account with a number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Account, AccountNumber
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from voicegate.policy import memory, services

OWNED = "+14155550100"  # the account's own number
DEST = "+14155550199"  # a destination anyone may call
OTHER_DEST = "+12025550143"


@pytest.fixture(autouse=True)
def _policy_env(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.POLICY_DNC_IMPORT_DIR = tmp_path / "dnc-imports"
    settings.POLICY_DNC_FILE_DIR = tmp_path / "dnc-files"
    settings.POLICY_DNC_SOURCE_DIR = tmp_path / "dnc-sources"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    memory.states_clear()
    yield
    memory.states_clear()


@pytest.fixture
def op(org: Any) -> Actor:
    """An operator of Alpha, as the services receive it."""
    return Actor(organisation=org, role=Role.OPERATOR, system="test")


@pytest.fixture
def account(org: Any) -> Account:
    """An active customer account of Alpha owning OWNED."""
    row = AccountFactory(organisation=org, company_name="Dialer Ltd")
    AccountNumber.objects.create(organisation=org, account=row, e164=OWNED)
    return row


@pytest.fixture
def check(op: Actor) -> Any:
    """Run the check as the operator: check(from, to, account=None, region=None)."""

    def run(
        from_number: str, to_number: str, *, account: Any = None, region: Any = None
    ) -> dict:
        return services.outbound_check(
            actor=op,
            from_number=from_number,
            to_number=to_number,
            account=str(account.public_id) if account is not None else None,
            region=region,
        ).answer()

    return run


def codes(answer: dict) -> list[str]:
    """The violation codes of an answer, in order."""
    return [v["code"] for v in answer["violations"]]
