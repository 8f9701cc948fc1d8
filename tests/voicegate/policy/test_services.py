"""List and record services: audit, the in-memory copies following every change,
and repeated denials turning into a risk signal and a voice restriction."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.choices import AccountStatus, SignalSource, SignalType
from accounts.models import CustomerEmail
from tests.accounts.factories import status_saved
from tests.voicegate.policy.conftest import DEST, OTHER_DEST, OWNED, codes
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from voicegate.policy import memory, services
from voicegate.policy.models import DncChange, DncEntry, DncList, OutboundDenial


def _admin(org):
    return Actor.system_for(org, "test")


def test_list_changes_are_audited(op) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own list", country="gb")
    assert dnc_list.country == "GB"
    assert services.dnc_number_add(actor=op, dnc_list=dnc_list, number="020 7946 0123")
    services.dnc_number_remove(
        actor=op, dnc_list=dnc_list, number="+442079460123", reason="no longer asked"
    )
    for remove in (services.dnc_list_empty, services.dnc_list_delete):
        with pytest.raises(ValidationError) as exc:
            remove(actor=op, dnc_list=dnc_list, reason="  ")
        assert "reason" in exc.value.message_dict
    services.dnc_list_empty(actor=op, dnc_list=dnc_list, reason="refresh")
    services.dnc_list_delete(actor=op, dnc_list=dnc_list, reason="obsolete")
    actions = list(
        AuditEntry.objects.filter(target_type="voicegate.dnclist")
        .order_by("id")
        .values_list("action", "after", "before")
    )
    assert [a[0] for a in actions] == [
        "policy.dnc_list_create",
        "policy.dnc_number_add",
        "policy.dnc_number_remove",
        "policy.dnc_list_empty",
        "policy.dnc_list_delete",
    ]
    assert actions[1][1] == {"number": "+442079460123"}
    assert actions[2][2] == {"number": "+442079460123"}


def test_bad_list_input_changes_nothing(op) -> None:
    services.dnc_list_create(actor=op, name="Own list")
    with pytest.raises(ValidationError) as exc:
        services.dnc_list_create(actor=op, name="Own list")
    assert "name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.dnc_list_create(actor=op, name="X", country="ZZ")
    assert "country" in exc.value.message_dict
    dnc_list = DncList.objects.get()
    with pytest.raises(ValidationError) as exc:
        services.dnc_number_add(actor=op, dnc_list=dnc_list, number="not a number")
    assert "number" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.dnc_number_remove(actor=op, dnc_list=dnc_list, number=DEST, reason="x")
    assert "not on the list" in exc.value.message_dict["number"][0]
    assert DncList.objects.count() == 1
    assert not DncEntry.objects.exists()


def test_a_viewer_cannot_change_lists_or_records(org) -> None:
    viewer = Actor(organisation=org, role="viewer", system="test")
    with pytest.raises(PermissionDenied):
        services.dnc_list_create(actor=viewer, name="Nope")
    with pytest.raises(PermissionDenied):
        services.caller_id_verify(actor=viewer, number=DEST, method="call")
    with pytest.raises(PermissionDenied):
        services.consent_record(actor=viewer, number=DEST, evidence="x")


def test_only_admins_change_the_settings(op, org) -> None:
    with pytest.raises(PermissionDenied):
        services.policy_settings_update(actor=op, harassment_limit=9)
    row = services.policy_settings_update(actor=_admin(org), harassment_limit=9)
    assert row.harassment_limit == 9
    entry = AuditEntry.objects.get(action="policy.settings_update")
    assert entry.before["harassment_limit"] == 3
    assert entry.after["harassment_limit"] == 9
    with pytest.raises(ValidationError) as exc:
        services.policy_settings_update(actor=_admin(org), harassment_window_seconds=5)
    assert "harassment_window_seconds" in exc.value.message_dict


def test_single_changes_are_replayed_without_reloading_the_list(
    check, op, account
) -> None:
    """GIVEN a list in memory WHEN numbers are added and removed one at a time THEN
    the check follows each change from the change log, keeping the loaded array."""
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    DncEntry.objects.bulk_create(
        DncEntry(dnc_list=dnc_list, number=14155550000 + i) for i in range(50)
    )
    # Already there (bulk-loaded): nothing changes, nothing is logged.
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number="+14155550001")
    assert codes(check(OWNED, "+14155550007", account=account)) == ["dnc"]
    index = memory.state_for(op.organisation).dnc.value
    loaded = index.lists[dnc_list.pk].numbers
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    services.dnc_number_remove(
        actor=op, dnc_list=dnc_list, number="+14155550007", reason="opted in"
    )
    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    assert check(OWNED, "+14155550007", account=account)["allowed"] is True
    assert memory.state_for(op.organisation).dnc.value.lists[dnc_list.pk].numbers is (
        loaded
    )
    assert DncChange.objects.count() == 2


def test_a_deleted_list_stops_applying(check, op, account) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    services.dnc_list_delete(actor=op, dnc_list=dnc_list, reason="retired")
    assert check(OWNED, DEST, account=account)["allowed"] is True


def test_an_emptied_list_is_read_again(check, op, account) -> None:
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    assert codes(check(OWNED, DEST, account=account)) == ["dnc"]
    services.dnc_list_empty(actor=op, dnc_list=dnc_list, reason="new file")
    assert check(OWNED, DEST, account=account)["allowed"] is True
    assert DncList.objects.get().entry_count == 0


def test_a_number_on_two_lists_stays_refused_when_one_drops_it(
    check, op, account
) -> None:
    national = services.dnc_list_create(actor=op, name="National", kind="national")
    own = services.dnc_list_create(actor=op, name="Own")
    for dnc_list in (national, own):
        services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    answer = check(OWNED, DEST, account=account)
    assert "“National”, “Own”" in answer["violations"][0]["detail"]
    services.dnc_number_remove(actor=op, dnc_list=own, number=DEST, reason="x")
    answer = check(OWNED, DEST, account=account)
    assert codes(answer) == ["dnc"]
    assert "“Own”" not in answer["violations"][0]["detail"]


def test_caller_ids_keep_who_verified_them_and_when(op, account) -> None:
    row = services.caller_id_verify(
        actor=op, number="(415) 555-0177", account=account, method="call", note="IVR"
    )
    assert row.number == "+14155550177"
    assert row.verified_by == "system: test"
    assert row.verified_at is not None
    with pytest.raises(ValidationError):
        services.caller_id_verify(
            actor=op, number="+14155550177", account=account, method="call"
        )
    with pytest.raises(ValidationError) as exc:
        services.caller_id_verify(actor=op, number="+14155550177", method="telepathy")
    assert "method" in exc.value.message_dict
    services.caller_id_remove(actor=op, caller_id=row, reason="number ported")
    assert list(
        AuditEntry.objects.filter(target_type="voicegate.verifiedcallerid")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["policy.caller_id_verify", "policy.caller_id_remove"]


def test_a_withdrawn_caller_id_is_spoofing_again(check, op, account) -> None:
    row = services.caller_id_verify(
        actor=op, number="+14155550177", account=account, method="call"
    )
    assert check("+14155550177", DEST, account=account)["allowed"] is True
    services.caller_id_remove(actor=op, caller_id=row, reason="number ported")
    assert codes(check("+14155550177", DEST, account=account)) == [
        "caller_id_not_owned"
    ]


def test_consent_needs_evidence_and_a_sensible_expiry(op) -> None:
    with pytest.raises(ValidationError) as exc:
        services.consent_record(actor=op, number=DEST, evidence=" ")
    assert "evidence" in exc.value.message_dict
    from django.utils import timezone

    with pytest.raises(ValidationError) as exc:
        services.consent_record(
            actor=op, number=DEST, evidence="form", expires_at=timezone.now()
        )
    assert "expires_at" in exc.value.message_dict


def test_records_of_another_organisations_account_are_refused(op, other_org) -> None:
    from django.http import Http404

    from tests.accounts.factories import AccountFactory

    outsider = AccountFactory(organisation=other_org)
    with pytest.raises(Http404):
        services.caller_id_verify(
            actor=op, number=DEST, account=str(outsider.public_id), method="call"
        )
    with pytest.raises(Http404):
        services.consent_record(actor=op, number=DEST, account=outsider, evidence="x")


# --- Repeated denials ------------------------------------------------------------


def test_repeated_denials_restrict_voice_and_email_the_customer(
    check, org, account, django_capture_on_commit_callbacks
) -> None:
    """GIVEN 2 denials add a High (+40) signal and auto-restriction is on WHEN the
    account keeps spoofing THEN an OUTBOUND_DENIALS signal is added through the
    accounts services, its rule restricts voice, the customer is emailed, and the
    next check is refused as account_restricted."""
    services.policy_settings_update(
        actor=_admin(org), denial_threshold=2, denial_signal_weight=40
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert codes(check("+14155550177", DEST, account=account)) == [
            "caller_id_not_owned"
        ]
        assert not account.signals.exists()
        check("+14155550177", DEST, account=account)
    signal = account.signals.get()
    assert signal.signal_type == SignalType.OUTBOUND_DENIALS
    assert signal.source == SignalSource.OUTBOUND_CHECK
    assert signal.weight == 40
    assert "2 outbound calls refused" in signal.note
    assert "caller_id_not_owned" in signal.note
    account.refresh_from_db()
    assert account.status == AccountStatus.RESTRICTED
    assert account.restricted_services == ["voice"]
    email = CustomerEmail.objects.get(account=account)
    assert email.sent_at is not None
    assert [m.to for m in mail.outbox] == [[account.email]]
    assert "voice" in mail.outbox[0].body.lower()
    assert codes(check(OWNED, OTHER_DEST, account=account)) == ["account_restricted"]


def test_a_refusal_below_the_threshold_only_writes_its_denial(
    check, org, account, settings, django_assert_num_queries
) -> None:
    """GIVEN the default refused-call rules, a threshold of 3 and a process that
    has refused a call already (its state and rules loaded)
    WHEN it refuses a second spoofed call
    THEN its one query is the denial row's INSERT (no account row, no earlier
    denials read), and the row is there with its codes."""
    from trustconsole.rules import engine

    settings.RULES_HITS_FLUSH_SECONDS = 3600
    services.policy_settings_update(actor=_admin(org), denial_threshold=3)
    check("+14155550177", DEST, account=account)
    engine.hits_flush()  # and its counts written: none due during the check
    with django_assert_num_queries(1) as captured:
        assert codes(check("+14155550177", DEST, account=account)) == [
            "caller_id_not_owned"
        ]
    assert captured.captured_queries[0]["sql"].startswith(
        'INSERT INTO "voicegate_outbounddenial"'
    )
    denial = OutboundDenial.objects.order_by("-id").first()
    assert denial is not None and OutboundDenial.objects.count() == 2
    assert (denial.codes, denial.account_id) == ("caller_id_not_owned", account.pk)
    assert not account.signals.exists()


def test_the_denials_signal_names_the_codes_of_the_refusals_counted(
    check, org, account
) -> None:
    """GIVEN a threshold of 3
    WHEN one call is spoofed and two go to an emergency number
    THEN the signal's note names both codes, once each."""
    services.policy_settings_update(actor=_admin(org), denial_threshold=3)
    check("+14155550177", DEST, account=account)
    check(OWNED, "911", account=account, region="US")
    assert not account.signals.exists()
    check(OWNED, "911", account=account, region="US")
    note = account.signals.get().note
    assert "3 outbound calls refused" in note
    assert "(caller_id_not_owned, emergency_number)" in note


def test_low_weight_signals_add_up_through_the_accounts_rule(
    check, org, account
) -> None:
    """GIVEN Low (+10) signals every 2 denials WHEN 8 denials happen THEN four
    signals (40) restrict voice — the accounts rule decides, not this app."""
    services.policy_settings_update(actor=_admin(org), denial_threshold=2)
    for n in range(1, 9):
        check("+14155550177", DEST, account=account)
        account.refresh_from_db()
        expected = AccountStatus.RESTRICTED if n == 8 else AccountStatus.ACTIVE
        assert account.status == expected, n
    assert account.signals.count() == 4


def test_without_auto_restriction_only_the_signal_is_added(check, org, account) -> None:
    services.policy_settings_update(
        actor=_admin(org),
        denial_threshold=1,
        denial_signal_weight=70,
        auto_restrict_voice=False,
    )
    check("+14155550177", DEST, account=account)
    account.refresh_from_db()
    assert account.signals.count() == 1
    assert account.risk_score == 70
    assert account.status == AccountStatus.ACTIVE


def test_denials_of_an_already_restricted_account_add_no_signal(
    check, org, account
) -> None:
    services.policy_settings_update(actor=_admin(org), denial_threshold=1)
    account.status = AccountStatus.BLOCKED
    status_saved(account)
    for _ in range(3):
        assert codes(check(OWNED, DEST, account=account)) == ["account_restricted"]
    assert not account.signals.exists()


def test_denials_without_an_account_add_no_signal(check, org) -> None:
    services.policy_settings_update(actor=_admin(org), denial_threshold=1)
    assert codes(check("+14155550177", DEST)) == ["caller_id_not_owned"]
    from accounts.models import AccountSignal

    assert not AccountSignal.objects.exists()
