"""Where "numbers owned by the caller" come from: a small registry of sources.

A source is `fn(*, organisation_id, account) -> set[str]` (E.164), with `account`
None when the organisation itself calls. A source registered with a `version_key`
(a `keys.Part` of kind `owned_numbers`) is kept in memory: every service that changes
its answer bumps that part (a delta in the decision core's change log), and the check
reads it again then. A source registered without one is asked on every check.

The accounts source is registered here. Other apps register theirs at import time,
e.g. the remediation app's enterprise numbers:

    owned_source_register(enterprise_numbers, name="enterprise",
                          version_key=enterprise_key)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trustconsole.policy import changes
from voicegate.policy.keys import Part, accounts_key

OwnedFn = Callable[..., set[str]]
VersionKey = Callable[[int], Part]


@dataclass(frozen=True)
class OwnedSource:
    """One registered source of owned numbers."""

    name: str
    fn: OwnedFn
    version_key: VersionKey | None


_SOURCES: dict[str, OwnedSource] = {}


def owned_source_register(
    fn: OwnedFn,
    *,
    name: str | None = None,
    version_key: VersionKey | None = None,
) -> OwnedFn:
    """Register (or replace, by name) a source of owned numbers; returns `fn`."""
    key = name or f"{fn.__module__}.{fn.__qualname__}"
    _SOURCES[key] = OwnedSource(name=key, fn=fn, version_key=version_key)
    return fn


def owned_source_unregister(name: str) -> None:
    """Forget a source (tests)."""
    _SOURCES.pop(name, None)


def owned_sources() -> list[OwnedSource]:
    """The registered sources, in registration order."""
    return list(_SOURCES.values())


def owned_numbers(
    *, organisation_id: int, account: Any, cached: bool | None = None
) -> set[str]:
    """The union of the sources' numbers (`cached`: only versioned sources if True,
    only unversioned ones if False, all if None)."""
    numbers: set[str] = set()
    for source in _SOURCES.values():
        if cached is not None and (source.version_key is not None) != cached:
            continue
        numbers |= set(source.fn(organisation_id=organisation_id, account=account))
    return numbers


def _account_numbers(*, organisation_id: int, account: Any) -> set[str]:
    """The customer account's own numbers (none when the organisation calls)."""
    if account is None:
        return set()
    from accounts.selectors import account_owned_numbers

    return account_owned_numbers(account=account)


owned_source_register(_account_numbers, name="accounts", version_key=accounts_key)


def enterprise_key(organisation_id: int) -> Part:
    """Enterprises' owned numbers (and their spam risk)."""
    return Part(changes.OWNED_NUMBERS, organisation_id)


def enterprise_numbers_changed(organisation_id: int) -> None:
    """The explicit step of every service that adds enterprise numbers or changes
    their spam risk in bulk (no model signal sees bulk writes): the check's copies
    of them are read again."""
    from voicegate.policy.keys import bump

    bump(enterprise_key(organisation_id))


def _enterprise_numbers(*, organisation_id: int, account: Any) -> set[str]:
    """Numbers the organisation's enterprises own (remediation): the organisation's
    own caller IDs, not a customer account's."""
    if account is not None:
        return set()
    from remediation.models import OwnedNumber

    return set(
        OwnedNumber.objects.filter(organisation_id=organisation_id).values_list(
            "e164", flat=True
        )
    )


owned_source_register(
    _enterprise_numbers, name="enterprise", version_key=enterprise_key
)


def high_risk_numbers(*, organisation_id: int) -> dict[str, str]:
    """Enterprise numbers whose spam risk is high → their spam category ('')."""
    from remediation.models import OwnedNumber

    return dict(
        OwnedNumber.objects.filter(
            organisation_id=organisation_id, spam_risk="high"
        ).values_list("e164", "spam_category")
    )
