"""Selectors: tenant isolation and the contracts the outbound call check relies on."""

from __future__ import annotations

import pytest
from django.http import Http404

from accounts.choices import AccountStatus
from accounts.selectors import (
    account_customer_status,
    account_get,
    account_list,
    account_owned_numbers,
    account_voice_allowed,
)
from tests.accounts.factories import (
    AccountFactory,
    AccountNumberFactory,
    RequestFactory,
    days_ago,
)


def test_account_get_is_404_across_organisations(org, other_org, actor_for) -> None:
    theirs = AccountFactory(organisation=other_org)
    with pytest.raises(Http404):
        account_get(actor=actor_for(org, "viewer"), public_id=theirs.public_id)
    with pytest.raises(Http404):
        account_get(actor=actor_for(org, "viewer"), public_id="not-a-uuid")
    assert account_get(actor=actor_for(other_org), public_id=theirs.public_id) == theirs


@pytest.mark.parametrize(
    ("status", "services", "allowed", "reason"),
    [
        ("active", [], True, ""),
        ("restricted", ["sms"], True, ""),
        ("restricted", ["voice"], False, "The account is restricted for voice."),
        ("on_hold", [], False, "The account is on hold (signup risk assessment)."),
        ("blocked", [], False, "The account is blocked."),
        ("closed", [], False, "The account is closed (permanently blocked)."),
    ],
)
def test_voice_is_allowed_only_when_nothing_stops_it(
    org, status, services, allowed, reason
) -> None:
    account = AccountFactory(
        organisation=org, status=status, restricted_services=services
    )
    assert account_voice_allowed(account=account) == (allowed, reason)


def test_owned_numbers_come_back_in_one_query(org, django_assert_num_queries) -> None:
    account = AccountFactory(organisation=org)
    AccountNumberFactory(account=account, e164="+442079460001")
    AccountNumberFactory(account=account, e164="+12025550123")
    AccountNumberFactory(account=AccountFactory(organisation=org), e164="+12025550199")
    with django_assert_num_queries(1):
        numbers = account_owned_numbers(account=account)
    assert numbers == {"+442079460001", "+12025550123"}


def test_the_list_filters_by_status_service_and_overdue(org, actor_for) -> None:
    actor = actor_for(org, "viewer")
    active = AccountFactory(organisation=org)
    sms = AccountFactory(
        organisation=org, status="restricted", restricted_services=["sms"]
    )
    late = RequestFactory(
        account__organisation=org,
        submitted=days_ago(12),
    )
    assert set(account_list(actor=actor, status="active")) == {active}
    assert set(account_list(actor=actor, service="sms")) == {sms, late.account}
    assert set(account_list(actor=actor, service="voice")) == {late.account}
    assert set(account_list(actor=actor, overdue=True)) == {late.account}


def test_the_customer_status_never_reveals_the_reason_or_signals(org) -> None:
    account = AccountFactory(
        organisation=org,
        status=AccountStatus.RESTRICTED,
        restricted_services=["sms", "voice"],
        status_reason="Automatic rule: Carrier complaints",
    )
    status = account_customer_status(account=account)
    assert status["alert"]["title"] == "Your account has restrictions"
    assert "SMS and Voice" in status["alert"]["message"]
    assert status["can_request_reassessment"] is True
    assert "Estimated spend per month".lower() in (
        status["how_to_request_reassessment"].lower()
    )
    assert "complaint" not in str(status).lower()
