"""The default rule set's account rules: signup risk, the usage review's anomalies,
the restrictions by signal type and repeated outbound denials are rules each
organisation owns. Through the real entry points (`POST /api/v1/accounts`, the
usage review run, `POST /api/v1/voice/outbound-check`): each default does what
the code did before; an edited rule changes it; a shadow rule never acts but is in
the match log; a rule turned off does nothing."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import AccountStatus, SignalSource, SignalType
from accounts.models import Account, AccountNumber, AccountSettings, AccountUsageDay
from accounts.services import account_review_run, account_signal_add
from tests.accounts.factories import AccountFactory
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry, Organisation
from trustconsole.core.services import organisation_create
from trustconsole.rules import engine
from trustconsole.rules.defaults_accounts import ACCOUNT_KEYS
from trustconsole.rules.effects import describe, effect_clean
from trustconsole.rules.facts import channel_facts
from trustconsole.rules.language import check
from trustconsole.rules.models import Rule, RuleMatch
from trustconsole.rules.services import (
    rule_create,
    rule_delete,
    rule_set_mode,
    rule_update,
)
from voicegate.policy import services as policy_services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules_engine_fresh")]

OWNED = "+14155550100"
DEST = "+14155550199"
CHECK = "/api/v1/voice/outbound-check"


def _admin(org: Organisation) -> Actor:
    return Actor.system_for(org, "admin in a test")


def _default(org: Organisation, key: str) -> Rule:
    return Rule.objects.select_related("current_version").get(
        organisation=org, builtin=key
    )


def _matches(rule: Rule) -> list[RuleMatch]:
    engine.hits_flush()
    return list(RuleMatch.objects.filter(rule=rule))


@pytest.fixture
def support_api(org, api_client_for):
    return api_client_for(org, "support")


def _signup(api, email: str, website: str = "", **extra) -> Account:
    body = {
        "company_name": "Acme Dialling",
        "email": email,
        "website": website,
        "country": "GB",
        **extra,
    }
    response = api.post("/api/v1/accounts", body, format="json")
    assert response.status_code == 201, response.json()
    return Account.objects.get(public_id=response.json()["id"])


def _signals(account: Account) -> list[tuple[str, int, str]]:
    return sorted(
        (s.signal_type, s.weight, s.note) for s in account.signals.order_by("id")
    )


# --- The rule set ---------------------------------------------------------------------


def test_a_new_organisation_gets_the_account_rules_live_and_valid() -> None:
    org, _, _ = organisation_create(
        name="Gamma", admin_email="admin@gamma.example", admin_password="x" * 12
    )
    rules = {r.builtin: r for r in Rule.objects.filter(organisation=org)}
    assert set(ACCOUNT_KEYS) <= set(rules)
    for key in ACCOUNT_KEYS:
        rule = rules[key]
        version = rule.current_version
        assert rule.mode == "live", key
        assert version.created_by == "default rule set"
        # What an admin would save is accepted as it stands.
        check(version.condition, channel_facts(rule.channel).schema())
        assert effect_clean(rule.channel, version.effect) == version.effect, key
    assert rules["signup_disposable_email"].channel == "account_signup"
    assert rules["review_carrier_complaints"].channel == "account_review"
    assert rules["restrict_carrier_complaints"].current_version.condition == (
        'signal.type == "carrier_complaints" && signal.type_total >= 40'
    )
    assert rules["denials_repeated"].channel == "outbound_denial"
    entry = AuditEntry.objects.filter(action="rule.defaults_add").latest("id")
    assert "Signup risk: disposable email" in entry.after["rules"]
    assert "Restriction: Carrier complaints" in entry.after["rules"]


def test_the_migration_adds_the_account_rules_to_an_existing_organisation(
    org,
) -> None:
    Rule.objects.filter(organisation=org, builtin__in=ACCOUNT_KEYS).delete()
    chat = Rule.objects.filter(organisation=org).count()
    migration = importlib.import_module(
        "trustconsole.rules.migrations.0005_account_default_rules"
    )
    migration.forwards(django_apps, None)
    assert set(
        Rule.objects.filter(organisation=org, builtin__in=ACCOUNT_KEYS).values_list(
            "builtin", flat=True
        )
    ) == set(ACCOUNT_KEYS)
    assert Rule.objects.filter(organisation=org).count() == chat + len(ACCOUNT_KEYS)
    migration.forwards(django_apps, None)  # once only
    assert Rule.objects.filter(organisation=org).count() == chat + len(ACCOUNT_KEYS)


# --- The account_signal effect --------------------------------------------------------


def test_a_bad_account_signal_effect_is_refused_naming_each_part(org) -> None:
    with pytest.raises(ValidationError) as caught:
        rule_create(
            actor=_admin(org),
            name="Bad",
            channel="account_signup",
            condition="true",
            effect={
                "account_signal": {
                    "type": "nonsense",
                    "level": "huge",
                    "note": "{account.shoe_size} is odd",
                }
            },
        )
    errors = caught.value.message_dict
    assert (
        "Unknown account signal type 'nonsense'"
        in errors["effect.account_signal.type"][0]
    )
    assert (
        "Choose a level: low, medium, high, extreme"
        in errors["effect.account_signal.level"][0]
    )
    assert "account.shoe_size" in errors["effect.account_signal.note"][0]


def test_an_account_signal_does_not_apply_to_chat_or_to_signals_themselves(
    org,
) -> None:
    effect = {"account_signal": {"type": "manual", "level": "low"}}
    for channel in ("chat_message", "account_signal"):
        with pytest.raises(ValidationError) as caught:
            effect_clean(channel, effect)
        assert "does not apply" in caught.value.message_dict["effect.account_signal"][0]


def test_the_effect_reads_as_words() -> None:
    words = describe(
        {
            "account_signal": {"type": "disposable_email", "level": "high"},
            "account": {"action": "hold"},
        }
    )
    assert words == (
        "add a High account risk signal (Disposable email domain), hold the account"
    )


def test_the_api_refuses_a_bad_level_with_the_field(org, api_client_for) -> None:
    api = api_client_for(org, "admin")
    response = api.post(
        "/api/v1/rules/",
        {
            "name": "Loud",
            "channel": "account_review",
            "condition": "review.outbound > 10",
            "effect": {"account_signal": {"type": "volume_spike", "level": "x"}},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = [e.get("field") for e in response.json()["errors"]]
    assert "effect.account_signal.level" in fields


# --- Signup risk ----------------------------------------------------------------------


def test_signup_risk_gives_todays_signals_and_hold(org, support_api) -> None:
    AccountSettings.objects.create(organisation=org, high_risk_countries=["GB"])
    account = _signup(support_api, "boss@mailinator.com", payment_flagged=True)
    assert _signals(account) == sorted(
        [
            ("payment_flagged", 70, "The payment provider flagged the card used "
             "at signup."),
            ("disposable_email", 40, "mailinator.com is a disposable domain."),
            ("high_risk_country", 40, "GB is on the organisation's high-risk list."),
            ("no_website", 10, "No company website."),
        ]
    )  # fmt: skip
    assert {s.source for s in account.signals.all()} == {SignalSource.SIGNUP}
    assert account.risk_score == 160
    assert account.status == AccountStatus.ON_HOLD
    assert account.status_reason == (
        "Signup risk score 160 ≥ 50: The payment provider flagged the card used at "
        "signup. (+70); mailinator.com is a disposable domain. (+40); GB is on the "
        "organisation's high-risk list. (+40); No company website. (+10)"
    )
    assert account.status_by == "the signup risk assessment"


def test_free_mail_and_a_mismatched_website(org, support_api) -> None:
    free = _signup(support_api, "boss@gmail.com", website="https://acme.example")
    assert _signals(free) == [
        (
            "free_mail",
            20,
            "gmail.com is a free-mail domain, used for a business signup.",
        )
    ]
    assert free.status == AccountStatus.ACTIVE
    other = _signup(
        support_api, "boss@acme.example", website="https://www.other.example"
    )
    assert _signals(other) == [
        (
            "website_mismatch",
            20,
            "Website other.example does not match the email domain acme.example.",
        )
    ]
    same = _signup(
        support_api, "boss@mail.acme.example", website="https://acme.example"
    )
    assert _signals(same) == []


def test_an_edited_signup_rule_changes_the_signal(org, support_api) -> None:
    rule = _default(org, "signup_no_website")
    rule_update(
        actor=_admin(org),
        rule=rule,
        condition='account.website_domain == "" && account.country == "GB"',
        effect={
            "account_signal": {
                "type": "no_website",
                "level": "high",
                "note": "{account.country} signup without a website.",
            }
        },
    )
    account = _signup(support_api, "boss@acme.example")
    assert _signals(account) == [("no_website", 40, "GB signup without a website.")]
    response = support_api.post(
        "/api/v1/accounts",
        {"company_name": "Beta", "email": "a@beta.example", "country": "FR"},
        format="json",
    )
    assert not Account.objects.get(public_id=response.json()["id"]).signals.exists()


def test_a_shadow_signup_rule_never_acts_but_is_logged(org, support_api) -> None:
    rule = _default(org, "signup_disposable_email")
    rule_set_mode(actor=_admin(org), rule=rule, mode="shadow")
    account = _signup(support_api, "boss@mailinator.com", website="https://x.example")
    assert "disposable_email" not in [s[0] for s in _signals(account)]
    [match] = _matches(rule)
    assert (match.mode, match.account_id, match.acted) == ("shadow", account.pk, False)
    assert match.real == "untouched"


def test_a_signup_rule_turned_off_or_deleted_does_nothing(org, support_api) -> None:
    rule_set_mode(
        actor=_admin(org), rule=_default(org, "signup_no_website"), mode="off"
    )
    rule_delete(actor=_admin(org), rule=_default(org, "signup_free_mail"))
    account = _signup(support_api, "boss@gmail.com")
    assert _signals(account) == []
    assert not RuleMatch.objects.filter(account=account).exists()


# --- Usage review ---------------------------------------------------------------------


def _numbers(account: Account, n: int) -> None:
    for i in range(n):
        AccountNumber.objects.create(
            organisation=account.organisation,
            account=account,
            e164=f"+4420794601{i:02d}",
        )


def test_the_review_adds_todays_anomaly_signals_and_restrictions(org) -> None:
    quiet = AccountFactory(organisation=org, company_name="Quiet")
    _numbers(quiet, 10)
    loud = AccountFactory(organisation=org, company_name="Loud")
    today = timezone.localdate()
    for n in range(1, 6):
        AccountUsageDay.objects.create(
            account=loud, day=today - dt_days(n), outbound_calls=5, outbound_sms=5
        )
    AccountUsageDay.objects.create(
        account=loud, day=today, outbound_calls=10, outbound_sms=900,
        carrier_complaints=2,
    )  # fmt: skip
    restricted = account_review_run(organisation=org)
    assert sorted(restricted) == sorted([str(quiet.public_id), str(loud.public_id)])
    assert _signals(quiet) == [
        (
            "numbers_without_usage",
            40,
            "10 numbers owned but only 0 outbound calls/SMS in 7 days.",
        )
    ]
    assert _signals(loud) == sorted(
        [
            ("carrier_complaints", 70, "2 carrier complaint(s) in 7 days."),
            (
                "volume_spike",
                20,
                f"900 outbound SMS on {today} against a daily average of 2.",
            ),
        ]
    )
    quiet.refresh_from_db()
    loud.refresh_from_db()
    assert quiet.restricted_services == ["numbers"]
    assert quiet.status_by == "the rule Restriction: Numbers without proportionate " \
        "outbound usage (version 1)"  # fmt: skip
    assert sorted(loud.restricted_services) == ["sms", "voice"]


def dt_days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_the_review_settings_still_tune_the_rules(org) -> None:
    AccountSettings.objects.create(organisation=org, complaints_threshold=3)
    account = AccountFactory(organisation=org)
    AccountUsageDay.objects.create(
        account=account,
        day=timezone.localdate(),
        outbound_calls=5,
        carrier_complaints=2,
    )
    assert account_review_run(organisation=org) == []
    assert _signals(account) == []


def test_a_shadow_restriction_adds_the_signal_but_restricts_nothing(org) -> None:
    rule = _default(org, "restrict_numbers_without_usage")
    rule_set_mode(actor=_admin(org), rule=rule, mode="shadow")
    account = AccountFactory(organisation=org)
    _numbers(account, 12)
    assert account_review_run(organisation=org) == []
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert [s[0] for s in _signals(account)] == ["numbers_without_usage"]
    [match] = _matches(rule)
    assert (match.mode, match.channel, match.real) == (
        "shadow",
        "account_signal",
        "untouched",
    )


def test_an_edited_review_rule_and_a_review_rule_turned_off(org) -> None:
    rule_update(
        actor=_admin(org),
        rule=_default(org, "review_numbers_without_usage"),
        condition="account.numbers_owned >= 3 && review.outbound < 100",
    )
    rule_set_mode(
        actor=_admin(org), rule=_default(org, "review_carrier_complaints"), mode="off"
    )
    account = AccountFactory(organisation=org)
    _numbers(account, 3)
    AccountUsageDay.objects.create(
        account=account,
        day=timezone.localdate(),
        outbound_calls=50,
        carrier_complaints=9,
    )
    account_review_run(organisation=org)
    assert _signals(account) == [
        ("numbers_without_usage", 40, "3 numbers owned but only 50 outbound calls/SMS "
         "in 7 days.")
    ]  # fmt: skip


def test_a_support_signal_restricts_through_its_rule_and_an_edited_threshold(
    org,
) -> None:
    support = Actor.system_for(org, "support desk")
    account = AccountFactory(organisation=org)
    rule_update(
        actor=_admin(org),
        rule=_default(org, "restrict_phishing_spam"),
        condition='signal.type == "phishing_spam" && signal.type_total >= 80',
    )
    for n in (1, 2):
        account_signal_add(
            actor=support,
            account=account,
            signal_type=SignalType.PHISHING_SPAM,
            weight=40,
            source=SignalSource.SUPPORT,
            note=f"spam report {n}",
        )
        account.refresh_from_db()
        expected = AccountStatus.RESTRICTED if n == 2 else AccountStatus.ACTIVE
        assert account.status == expected
    assert "Phishing or spam signals add up to 80. spam report 2" in (
        account.status_reason
    )
    entry = AuditEntry.objects.get(action="account.restrict")
    assert entry.actor_label == "system: support desk"


# --- Repeated outbound denials --------------------------------------------------------


@pytest.fixture
def dialer(org) -> Account:
    account = AccountFactory(organisation=org, company_name="Dialer Ltd")
    AccountNumber.objects.create(organisation=org, account=account, e164=OWNED)
    return account


@pytest.fixture
def operator_api(org, api_client_for):
    return api_client_for(org, "operator")


def _spoof(api, account: Account) -> None:
    response = api.post(
        CHECK,
        {"from": "+14155550177", "to": DEST, "account": str(account.public_id)},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["allowed"] is False


@pytest.fixture
def _memory_fresh():
    from voicegate.policy import memory

    memory.states_clear()
    yield
    memory.states_clear()


@pytest.mark.usefixtures("_memory_fresh")
def test_repeated_denials_add_the_low_signal_and_four_restrict_voice(
    org, dialer, operator_api, django_capture_on_commit_callbacks
) -> None:
    policy_services.policy_settings_update(actor=_admin(org), denial_threshold=2)
    for n in range(1, 9):
        with django_capture_on_commit_callbacks(execute=True):
            _spoof(operator_api, dialer)
        dialer.refresh_from_db()
        assert dialer.signals.count() == n // 2, n
    signal = dialer.signals.first()
    assert (signal.signal_type, signal.weight, signal.source) == (
        "outbound_denials",
        10,
        "outbound_check",
    )
    assert signal.note == (
        "2 outbound calls refused within hour (caller_id_not_owned)."
    )
    assert dialer.status == AccountStatus.RESTRICTED
    assert dialer.restricted_services == ["voice"]
    assert dialer.status_by == (
        "the rule Restriction: Repeated outbound call denials (version 1)"
    )
    assert [m.to for m in mail.outbox] == [[dialer.email]]


@pytest.mark.usefixtures("_memory_fresh")
def test_an_edited_denials_rule_changes_the_level_and_the_count(
    org, dialer, operator_api
) -> None:
    rule_update(
        actor=_admin(org),
        rule=_default(org, "denials_repeated"),
        condition="denials.count >= 3",
        effect={"account_signal": {"type": "outbound_denials", "level": "extreme"}},
    )
    for _ in range(3):
        _spoof(operator_api, dialer)
    [signal] = dialer.signals.all()
    assert signal.weight == 70
    assert signal.note == (
        "Rule Repeated outbound denials (version 2): denials.count = 3."
    )
    dialer.refresh_from_db()
    assert dialer.status == AccountStatus.RESTRICTED  # 70 ≥ 40: voice


@pytest.mark.usefixtures("_memory_fresh")
def test_a_shadow_denials_rule_adds_nothing_but_is_logged(
    org, dialer, operator_api
) -> None:
    rule = _default(org, "denials_repeated")
    rule_set_mode(actor=_admin(org), rule=rule, mode="shadow")
    policy_services.policy_settings_update(actor=_admin(org), denial_threshold=1)
    _spoof(operator_api, dialer)
    _spoof(operator_api, dialer)
    assert not dialer.signals.exists()
    matches = _matches(rule)
    assert [m.channel for m in matches] == ["outbound_denial", "outbound_denial"]
    assert {m.mode for m in matches} == {"shadow"}


@pytest.mark.usefixtures("_memory_fresh")
def test_a_live_outbound_rule_adds_an_account_signal_to_an_allowed_call(
    org, dialer, operator_api
) -> None:
    rule_create(
        actor=_admin(org),
        name="Night owls",
        channel="outbound_check",
        condition='destination.country == "US"',
        effect={
            "account_signal": {
                "type": "manual",
                "level": "low",
                "note": "Called {destination.e164} from {caller_id.e164}.",
            }
        },
        mode="live",
    )
    response = operator_api.post(
        CHECK,
        {"from": OWNED, "to": DEST, "account": str(dialer.public_id)},
        format="json",
    )
    assert response.json()["allowed"] is True
    [signal] = dialer.signals.all()
    assert (signal.weight, signal.note) == (10, f"Called {DEST} from {OWNED}.")
