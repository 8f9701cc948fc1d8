"""The check: each violation alone and together, consent, emergency numbers,
invalid input, and an allowed check that touches no database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from accounts.choices import AccountStatus
from tests.accounts.factories import AccountFactory, status_saved
from tests.voicegate.policy.conftest import DEST, OTHER_DEST, OWNED, codes
from voicegate.policy import services
from voicegate.policy.choices import VerificationMethod
from voicegate.policy.models import OutboundDenial


@pytest.fixture
def dnc(op):
    dnc_list = services.dnc_list_create(
        actor=op, name="US National DNC", kind="national"
    )
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    return dnc_list


def test_it_allows_a_clean_call_from_an_owned_number(check, account) -> None:
    answer = check(OWNED, DEST, account=account)
    explanation = answer.pop("explanation")
    assert answer == {"allowed": True, "violations": [], "warnings": []}
    assert (explanation["decision"], explanation["step"]) == ("allow", "default")
    assert not OutboundDenial.objects.exists()


def test_it_refuses_a_destination_on_a_dnc_list(check, account, dnc) -> None:
    answer = check(OWNED, DEST, account=account)
    assert answer["allowed"] is False
    assert codes(answer) == ["dnc"]
    assert "US National DNC" in answer["violations"][0]["detail"]


def test_it_reads_national_destinations_in_the_caller_ids_country(
    check, account, dnc
) -> None:
    """GIVEN +14155550199 on the DNC list WHEN the destination is dialled
    nationally (415-555-0199) from a US caller ID THEN it is the same number."""
    assert codes(check(OWNED, "(415) 555-0199", account=account)) == ["dnc"]


def test_consent_overrides_dnc(check, op, account, dnc) -> None:
    services.consent_record(actor=op, number=DEST, evidence="Web form 2026-01-04")
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_consent_to_one_account_does_not_cover_another(check, op, org, dnc) -> None:
    """GIVEN consent given to account A only WHEN account B calls THEN DNC applies."""
    a = AccountFactory(organisation=org)
    b = AccountFactory(organisation=org)
    for acc, number in ((a, "+14155550101"), (b, "+14155550102")):
        services.caller_id_verify(
            actor=op, number=number, account=acc, method=VerificationMethod.CALL
        )
    services.consent_record(actor=op, number=DEST, account=a, evidence="Signed form")
    assert check("+14155550101", DEST, account=a)["allowed"] is True
    assert codes(check("+14155550102", DEST, account=b)) == ["dnc"]


def test_expired_consent_no_longer_overrides_dnc(check, op, account, dnc) -> None:
    given = timezone.now() - dt.timedelta(days=30)
    services.consent_record(
        actor=op,
        number=DEST,
        evidence="Old opt-in",
        given_at=given,
        expires_at=given + dt.timedelta(days=1),
    )
    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]


def test_it_refuses_a_caller_id_the_account_does_not_own(check, account) -> None:
    answer = check("+14155550177", DEST, account=account)
    assert codes(answer) == ["caller_id_not_owned"]
    assert "+14155550177" in answer["violations"][0]["detail"]


def test_a_verified_caller_id_is_accepted(check, op, account) -> None:
    services.caller_id_verify(
        actor=op, number="+14155550177", account=account, method="sms"
    )
    assert check("+14155550177", DEST, account=account)["allowed"] is True


def test_another_accounts_number_is_spoofing(check, org, account) -> None:
    other = AccountFactory(organisation=org)
    services.caller_id_verify(
        actor=services_actor(org), number="+14155550155", account=other, method="sms"
    )
    assert codes(check("+14155550155", DEST, account=account)) == [
        "caller_id_not_owned"
    ]


def services_actor(org):
    from trustconsole.core.actor import Actor

    return Actor.system_for(org, "test")


def test_the_organisation_calls_with_its_own_verified_ids(check, op) -> None:
    """GIVEN no account WHEN the organisation calls THEN only its own verified
    caller IDs (and registered owned sources) are accepted."""
    assert codes(check("+14155550123", DEST)) == ["caller_id_not_owned"]
    services.caller_id_verify(actor=op, number="+14155550123", method="document")
    assert check("+14155550123", DEST)["allowed"] is True


def test_registered_owned_sources_count_as_owned(check, org) -> None:
    from voicegate.policy import owned

    def enterprise(*, organisation_id, account):
        return {"+14155550188"} if organisation_id == org.pk else set()

    owned.owned_source_register(
        enterprise, name="test-enterprise", version_key=lambda o: f"test-ent:{o}"
    )
    try:
        assert check("+14155550188", DEST)["allowed"] is True
    finally:
        owned.owned_source_unregister("test-enterprise")


@pytest.mark.parametrize(
    ("caller", "dialled"),
    [
        ("+12025550123", "911"),  # US
        ("+12025550123", "112"),  # US also answers 112
        ("+442079460123", "999"),  # GB
        ("+442079460123", "112"),  # GB
        ("+61291234567", "000"),  # AU
        ("+4930123456", "110"),  # DE police
        ("+4930123456", "112"),  # DE
        ("+33123456789", "17"),  # FR police
        ("+12025550123", "9-1-1"),  # formatting is allowed
    ],
)
def test_it_refuses_emergency_numbers_of_the_callers_country(
    check, op, caller, dialled
) -> None:
    services.caller_id_verify(actor=op, number=caller, method="document")
    answer = check(caller, dialled)
    assert codes(answer) == ["emergency_number"]
    assert dialled in answer["violations"][0]["detail"]


def test_an_explicit_region_decides_which_short_numbers_are_emergencies(
    check, op
) -> None:
    """GIVEN a US caller ID WHEN 999 is dialled with region GB THEN it is an
    emergency number; without the region it is not a number at all (400)."""
    services.caller_id_verify(actor=op, number="+12025550123", method="document")
    assert codes(check("+12025550123", "999", region="GB")) == ["emergency_number"]
    with pytest.raises(ValidationError) as exc:
        check("+12025550123", "999")
    assert "to" in exc.value.message_dict


def test_it_refuses_every_call_of_a_restricted_account(check, account) -> None:
    account.status = AccountStatus.RESTRICTED
    account.restricted_services = ["voice"]
    status_saved(account)
    answer = check(OWNED, DEST, account=account)
    assert codes(answer) == ["account_restricted"]
    assert "restricted for voice" in answer["violations"][0]["detail"]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (AccountStatus.ON_HOLD, "on hold"),
        (AccountStatus.BLOCKED, "blocked"),
        (AccountStatus.CLOSED, "closed"),
    ],
)
def test_held_blocked_and_closed_accounts_are_refused(
    check, account, status, reason
) -> None:
    account.status = status
    account.restricted_services = ["numbers", "sip_trunking", "sms", "voice"]
    status_saved(account)
    answer = check(OWNED, DEST, account=account)
    assert codes(answer) == ["account_restricted"]
    assert reason in answer["violations"][0]["detail"]


def test_an_account_restricted_for_sms_only_may_still_call(check, account) -> None:
    account.status = AccountStatus.RESTRICTED
    account.restricted_services = ["sms"]
    status_saved(account)
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_a_restriction_made_after_a_check_applies_to_the_next(check, account) -> None:
    """GIVEN the account was checked (and kept in memory) WHEN support restricts its
    voice service THEN the next check sees the restriction."""
    from accounts.services import account_restrict

    assert check(OWNED, DEST, account=account)["allowed"] is True
    account_restrict(
        actor=services_actor(account.organisation),
        account=account,
        services=["voice"],
        reason="Carrier complaint",
    )
    assert codes(check(OWNED, OTHER_DEST, account=account)) == ["account_restricted"]


def test_numbers_added_to_an_account_after_a_check_count_as_owned(
    check, account
) -> None:
    from accounts.services import account_numbers_add

    assert codes(check("+14155550166", DEST, account=account)) == [
        "caller_id_not_owned"
    ]
    account_numbers_add(
        actor=services_actor(account.organisation),
        account=account,
        numbers=["+14155550166"],
    )
    assert check("+14155550166", DEST, account=account)["allowed"] is True


def test_it_refuses_more_calls_than_the_harassment_limit(check, op, account) -> None:
    """GIVEN a limit of 2 calls a day WHEN the account calls one destination three
    times THEN the third is refused; another destination is still allowed."""
    services.policy_settings_update(
        actor=services_actor(op.organisation), harassment_limit=2
    )
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert check(OWNED, DEST, account=account)["allowed"] is True
    answer = check(OWNED, DEST, account=account)
    assert codes(answer) == ["harassment"]
    assert "2 calls from this account" in answer["violations"][0]["detail"]
    assert "the limit is 2" in answer["violations"][0]["detail"]
    assert check(OWNED, OTHER_DEST, account=account)["allowed"] is True


def test_refused_checks_do_not_count_towards_harassment(
    check, op, account, dnc
) -> None:
    services.policy_settings_update(
        actor=services_actor(op.organisation), harassment_limit=1
    )
    for _ in range(3):
        assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    services.dnc_number_remove(
        actor=op, dnc_list=dnc, number=DEST, reason="consented"
    )  # now it may be called once
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert codes(check(OWNED, DEST, account=account)) == ["harassment"]


def test_the_harassment_window_is_per_caller(check, op, org, account) -> None:
    services.policy_settings_update(actor=services_actor(org), harassment_limit=1)
    other = AccountFactory(organisation=org)
    services.caller_id_verify(
        actor=op, number="+14155550111", account=other, method="call"
    )
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert check("+14155550111", DEST, account=other)["allowed"] is True


def test_every_violation_is_listed_at_once(check, op, account, dnc) -> None:
    """GIVEN a restricted account, a spoofed caller ID and a DNC destination that
    was already called up to the limit THEN all violations are listed, in order."""
    services.policy_settings_update(
        actor=services_actor(op.organisation), harassment_limit=1
    )
    services.consent_record(
        actor=op, number=DEST, account=account, evidence="temporary"
    )
    assert check(OWNED, DEST, account=account)["allowed"] is True
    services.consent_remove(
        actor=op, consent=account.consent_records.get(), reason="withdrawn"
    )
    account.status = AccountStatus.BLOCKED
    status_saved(account)
    answer = check("+14155550177", DEST, account=account)
    assert answer["allowed"] is False
    assert codes(answer) == [
        "dnc",
        "caller_id_not_owned",
        "account_restricted",
        "harassment",
    ]
    denial = OutboundDenial.objects.get()
    assert denial.codes == "dnc,caller_id_not_owned,account_restricted,harassment"
    assert denial.violations == answer["violations"]
    assert denial.account == account


def test_an_emergency_call_lists_the_other_violations_too(check, account) -> None:
    account.status = AccountStatus.ON_HOLD
    status_saved(account)
    answer = check("+14155550177", "911", account=account)
    assert codes(answer) == [
        "caller_id_not_owned",
        "emergency_number",
        "account_restricted",
    ]
    assert OutboundDenial.objects.get().to_number == "911"


@pytest.mark.parametrize(
    ("field", "from_number", "to_number", "reason"),
    [
        ("from", "anonymous", DEST, "caller ID is required"),
        ("from", "12", DEST, "not a valid phone number"),
        ("from", "+1 555 123 4567", DEST, "not a valid phone number"),
        ("from", "sip:alice@example.com", DEST, "not a phone number"),
        ("to", OWNED, "+1911", "not a valid phone number"),
        ("to", OWNED, "", "is empty"),
        ("to", OWNED, "+44 20 7946 0123 ext. 5", "extension"),
        ("to", OWNED, "banana", "not a phone number"),
    ],
)
def test_invalid_numbers_name_the_field_and_reason(
    check, account, field, from_number, to_number, reason
) -> None:
    with pytest.raises(ValidationError) as exc:
        check(from_number, to_number, account=account)
    assert list(exc.value.message_dict) == [field]
    assert reason in exc.value.message_dict[field][0]
    assert not OutboundDenial.objects.exists()


def test_an_unknown_region_is_refused(check, account) -> None:
    with pytest.raises(ValidationError) as exc:
        check(OWNED, DEST, account=account, region="XX")
    assert "region" in exc.value.message_dict


def test_another_organisations_account_is_not_found(check, other_org, account) -> None:
    outsider = AccountFactory(organisation=other_org)
    with pytest.raises(Http404):
        check(OWNED, DEST, account=outsider)


def test_another_organisations_lists_and_records_do_not_apply(
    check, other_org, account
) -> None:
    """GIVEN Beta has DNC, consent and a verified ID for the numbers WHEN Alpha's
    account calls THEN only Alpha's data counts."""
    beta = services_actor(other_org)
    beta_list = services.dnc_list_create(actor=beta, name="Beta DNC")
    services.dnc_number_add(actor=beta, dnc_list=beta_list, number=DEST)
    services.caller_id_verify(actor=beta, number="+14155550177", method="call")
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert codes(check("+14155550177", OTHER_DEST, account=account)) == [
        "caller_id_not_owned"
    ]


def test_a_viewer_cannot_run_the_check(org, account) -> None:
    from django.core.exceptions import PermissionDenied

    from trustconsole.core.actor import Actor

    viewer = Actor(organisation=org, role="viewer", system="test")
    with pytest.raises(PermissionDenied):
        services.outbound_check(actor=viewer, from_number=OWNED, to_number=DEST)


def test_an_allowed_check_touches_no_database(
    check, op, account, dnc, django_assert_num_queries
) -> None:
    """GIVEN the organisation's copies are in memory WHEN a call is checked THEN the
    check reads only the cache: no database query at all."""
    services.consent_record(actor=op, number=OTHER_DEST, evidence="opt-in")
    services.caller_id_verify(
        actor=op, number="+14155550177", account=account, method="sms"
    )
    check(OWNED, OTHER_DEST, account=account)  # warms the copies
    with django_assert_num_queries(0):
        assert check("+14155550177", "+14155550142", account=account)["allowed"]
        assert check(OWNED, "+12025550188", account=account)["allowed"]


def _visitor(org, phone, *, blacklist: bool):
    from visitors.services import visitor_blacklist, visitor_upsert, visitor_whitelist

    actor = services_actor(org)
    visitor = visitor_upsert(actor=actor, name="Caller", phones=[phone])
    act = visitor_blacklist if blacklist else visitor_whitelist
    return act(actor=actor, visitor=visitor, reason="test")


def test_it_refuses_calling_a_blacklisted_visitor(check, org, account) -> None:
    _visitor(org, "(415) 555-0199", blacklist=True)
    answer = check(OWNED, DEST, account=account)
    assert codes(answer) == ["blacklisted_destination"]
    assert DEST in answer["violations"][0]["detail"]


def test_whitelisted_visitors_may_be_called(check, org, account) -> None:
    _visitor(org, DEST, blacklist=False)
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_blacklisted_visitors_may_be_called_when_the_setting_is_off(
    check, org, account
) -> None:
    _visitor(org, DEST, blacklist=True)
    services.policy_settings_update(
        actor=services_actor(org), blacklisted_do_not_contact=False
    )
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_a_visitor_blacklisted_after_a_check_is_refused_next_time(
    check, org, account, django_capture_on_commit_callbacks
) -> None:
    """GIVEN the visitors' phone map is in memory WHEN a visitor is blacklisted
    (the visitors app bumps its version after commit) THEN the next check sees it."""
    assert check(OWNED, DEST, account=account)["allowed"] is True
    with django_capture_on_commit_callbacks(execute=True):
        _visitor(org, DEST, blacklist=True)
    assert codes(check(OWNED, DEST, account=account)) == ["blacklisted_destination"]


def test_another_organisations_blacklist_does_not_apply(
    check, other_org, account
) -> None:
    _visitor(other_org, DEST, blacklist=True)
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_a_long_harassment_window_outlives_the_caches_default_timeout(
    check, op, account
) -> None:
    """GIVEN a limit of 2 calls a day WHEN the third call comes 10 minutes after
    the second (longer than the cache's default 5-minute timeout) THEN it is still
    refused: the counter keeps the window's own expiry."""
    import time_machine

    services.policy_settings_update(
        actor=services_actor(op.organisation), harassment_limit=2
    )
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert check(OWNED, DEST, account=account)["allowed"] is True
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        assert codes(check(OWNED, DEST, account=account)) == ["harassment"]


def test_an_unreachable_cache_falls_back_to_the_copies_in_memory(
    check, op, account, dnc, settings, caplog
) -> None:
    """GIVEN the organisation's copies are in memory WHEN the cache (Redis) cannot
    be reached THEN checks still answer from those copies and the outage is logged."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"retry": Retry(NoBackoff(), 0)},
        }
    }
    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    assert check(OWNED, OTHER_DEST, account=account)["allowed"] is True
    assert "cache unreachable" in caplog.text


def test_the_organisation_calls_from_its_enterprises_numbers(check, org) -> None:
    from remediation import services as remediation_services
    from remediation.models import OwnedNumber

    admin = services_actor(org)
    enterprise = remediation_services.enterprise_create(actor=admin, name="Acme Inc")
    assert codes(check("+14155550166", DEST)) == ["caller_id_not_owned"]
    remediation_services.numbers_add(
        actor=admin, enterprise=enterprise, phone_numbers=["+14155550166"]
    )
    assert check("+14155550166", DEST)["allowed"] is True
    remediation_services.number_remove(
        actor=admin,
        number=OwnedNumber.objects.get(e164="+14155550166"),
        reason="Ported away",
    )
    assert codes(check("+14155550166", DEST)) == ["caller_id_not_owned"]


def test_a_high_risk_enterprise_caller_id_warns_but_allows(
    check, org, django_assert_num_queries
) -> None:
    """GIVEN an enterprise number that a refresh found high risk WHEN the
    organisation checks a call from it THEN the call is allowed with a
    caller_id_high_spam_risk warning; the warm check runs no query; once the
    risk falls the warning is gone."""
    from django.utils import timezone

    from remediation import monitoring
    from remediation import services as remediation_services
    from remediation.models import OwnedNumber

    admin = services_actor(org)
    enterprise = remediation_services.enterprise_create(actor=admin, name="Acme Inc")
    remediation_services.numbers_add(
        actor=admin, enterprise=enterprise, phone_numbers=["+14155550166"]
    )
    answer = check("+14155550166", DEST)
    assert answer["allowed"] is True and answer["warnings"] == []

    def observe(risk: str) -> None:
        monitoring.apply_numbers(
            enterprise=enterprise,
            items=[
                {
                    "phone_number": "+14155550166",
                    "reputation_data": {"spam_risk": risk, "spam_category": "robocall"},
                }
            ],
            source="scheduled",
            now=timezone.now(),
        )

    observe("high")
    answer = check("+14155550166", DEST)
    assert answer["allowed"] is True and answer["violations"] == []
    assert [w["code"] for w in answer["warnings"]] == ["caller_id_high_spam_risk"]
    assert "(robocall)" in answer["warnings"][0]["message"]
    with django_assert_num_queries(0):
        assert check("+14155550166", OTHER_DEST)["warnings"]
    observe("low")
    assert OwnedNumber.objects.get(e164="+14155550166").spam_risk == "low"
    assert check("+14155550166", DEST)["warnings"] == []
