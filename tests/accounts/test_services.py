"""Services of the accounts app: assessment, rules, reviews, blocks. All audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import services
from accounts.choices import (
    AccountStatus,
    EmailKind,
    RequestStatus,
    SignalSource,
    SignalType,
)
from accounts.models import AccountSignal, AccountUsageDay, Feedback
from accounts.selectors import account_settings_for
from accounts.services import EvidenceInput
from tests.accounts.factories import (
    AccountFactory,
    AccountNumberFactory,
    HeldAccountFactory,
    RequestFactory,
    pdf_upload,
    png_upload,
    request_data,
)
from trustconsole.core.models import AuditEntry


def audited(action: str, obj) -> AuditEntry:
    return AuditEntry.objects.get(action=action, target_id=str(obj.public_id))


@pytest.fixture
def support(org, actor_for):
    return actor_for(org, "support")


# --- Signup risk assessment ------------------------------------------------------


def test_it_holds_a_risky_signup_and_emails_the_customer(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a disposable email and an unrelated website WHEN the account signs up
    THEN it is on hold with explained signals, audited, and the customer is emailed
    how to ask for reassessment (without the internal signals)."""
    with django_capture_on_commit_callbacks(execute=True):
        account = services.account_create(
            actor=support,
            company_name="Quick Leads",
            email="boss@mailinator.com",
            website="https://quick-leads.example",
            country="gb",
        )
    assert account.status == AccountStatus.ON_HOLD
    assert account.restricted_services == ["numbers", "sip_trunking", "sms", "voice"]
    signals = {s.signal_type: s for s in account.signals.all()}
    assert set(signals) == {SignalType.DISPOSABLE_EMAIL, SignalType.WEBSITE_MISMATCH}
    assert signals[SignalType.DISPOSABLE_EMAIL].weight == 40
    assert "mailinator.com is a disposable domain" in signals["disposable_email"].note
    assert account.risk_score == 60
    held = audited("account.hold", account)
    assert held.after["status"] == "on_hold"
    assert "Signup risk score" in held.reason
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["boss@mailinator.com"]
    assert "on hold" in mail.subject
    assert "reassessment request" in mail.body
    assert "Estimated spend per month".lower() in mail.body.lower()
    assert "disposable" not in mail.body
    assert account.emails.get().sent_at is not None


def test_it_explains_each_rule_and_keeps_a_clean_signup_active(
    support, mailoutbox, org
) -> None:
    settings_row = account_settings_for(organisation=org)
    settings_row.high_risk_countries = ["NG"]
    settings_row.save()
    clean = services.account_create(
        actor=support,
        company_name="Acme",
        email="ops@acme.example",
        website="https://www.acme.example",
        country="GB",
    )
    assert clean.status == AccountStatus.ACTIVE
    assert clean.risk_score == 0
    assert not clean.signals.exists()
    risky = services.account_create(
        actor=support,
        company_name="Bulk",
        email="bulk@gmail.com",
        website="https://bulk.example",
        country="NG",
    )
    notes = {s.signal_type: (s.weight, s.note) for s in risky.signals.all()}
    assert notes == {
        "high_risk_country": (40, "NG is on the organisation's high-risk list."),
        "free_mail": (
            20,
            "gmail.com is a free-mail domain, used for a business signup.",
        ),
    }
    assert risky.status == AccountStatus.ON_HOLD


def test_a_flagged_payment_alone_puts_the_signup_on_hold(support) -> None:
    account = services.account_create(
        actor=support,
        company_name="Acme",
        email="ops@acme.example",
        website="https://acme.example",
        country="GB",
        payment_flagged=True,
    )
    assert account.status == AccountStatus.ON_HOLD
    assert account.signals.get().signal_type == SignalType.PAYMENT_FLAGGED


def test_it_refuses_bad_signup_fields_one_message_each(support) -> None:
    with pytest.raises(ValidationError) as exc:
        services.account_create(
            actor=support, company_name="", email="nope", country="XX", website="ftp:x"
        )
    assert set(exc.value.message_dict) == {
        "company_name",
        "email",
        "country",
        "website",
    }


def test_viewers_and_operators_cannot_act_on_accounts(org, actor_for) -> None:
    account = AccountFactory(organisation=org)
    for role in ("viewer", "operator"):
        with pytest.raises(PermissionDenied):
            services.account_restrict(
                actor=actor_for(org, role),
                account=account,
                services=["sms"],
                reason="x",
            )


# --- Signals and the restriction rule ----------------------------------------------


def test_repeated_outbound_denials_restrict_voice_by_rule(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """GIVEN an active account WHEN four Low outbound-denial signals arrive THEN
    the rule restricts voice (audited, customer emailed) on the fourth."""
    account = AccountFactory(organisation=support.organisation)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(4):
            services.account_signal_add(
                actor=support,
                account=account,
                signal_type=SignalType.OUTBOUND_DENIALS,
                weight=10,
                source=SignalSource.OUTBOUND_CHECK,
                note=f"denied call {n}",
            )
            if n < 3:
                assert account.status == AccountStatus.ACTIVE
    assert account.status == AccountStatus.RESTRICTED
    assert account.restricted_services == ["voice"]
    assert account.risk_score == 40
    entry = audited("account.restrict", account)
    assert "Repeated outbound call denials" in entry.reason
    assert AuditEntry.objects.filter(action="account.signal_add").count() == 4
    assert len(mailoutbox) == 1 and "Voice" in mailoutbox[0].body


def test_restricting_merges_services_and_needs_a_reason(support) -> None:
    account = AccountFactory(organisation=support.organisation)
    with pytest.raises(ValidationError) as exc:
        services.account_restrict(
            actor=support, account=account, services=["sms"], reason=" "
        )
    assert "reason" in exc.value.message_dict
    services.account_restrict(
        actor=support, account=account, services=["sms"], reason="spam reports"
    )
    services.account_restrict(
        actor=support,
        account=account,
        services=["voice"],
        reason="robocalls",
        notify_customer=False,
    )
    assert account.restricted_services == ["sms", "voice"]
    assert account.emails.count() == 1


# --- Continuous review ---------------------------------------------------------------


def test_review_restricts_numbers_bought_without_outbound_usage(org) -> None:
    account = AccountFactory(organisation=org)
    for n in range(10):
        AccountNumberFactory(account=account, e164=f"+4420794601{n:02d}")
    AccountUsageDay.objects.create(
        account=account, day=timezone.localdate(), outbound_calls=3
    )
    quiet = AccountFactory(organisation=org)
    restricted = services.account_review_run(organisation=org)
    account.refresh_from_db()
    assert restricted == [str(account.public_id)]
    assert account.restricted_services == ["numbers"]
    assert "10 numbers owned but only 3 outbound" in account.status_reason
    quiet.refresh_from_db()
    assert quiet.status == AccountStatus.ACTIVE
    entry = audited("account.restrict", account)
    assert entry.actor_label == "system: accounts continuous review"


def test_review_restricts_on_carrier_complaints_and_spikes(org) -> None:
    today = timezone.localdate()
    complained = AccountFactory(organisation=org)
    AccountUsageDay.objects.create(
        account=complained, day=today, outbound_sms=50, carrier_complaints=2
    )
    spiking = AccountFactory(organisation=org)
    for back in range(1, 8):
        AccountUsageDay.objects.create(
            account=spiking, day=today - dt.timedelta(days=back), outbound_calls=40
        )
    AccountUsageDay.objects.create(account=spiking, day=today, outbound_calls=900)
    steady = AccountFactory(organisation=org)
    for back in range(0, 8):
        AccountUsageDay.objects.create(
            account=steady, day=today - dt.timedelta(days=back), outbound_calls=400
        )
    services.account_review_run(organisation=org)
    for account in (complained, spiking, steady):
        account.refresh_from_db()
    assert complained.restricted_services == ["sms", "voice"]
    assert complained.signals.get().signal_type == SignalType.CARRIER_COMPLAINTS
    assert spiking.restricted_services == ["sms", "voice"]
    assert "900 outbound calls" in spiking.signals.get().note
    assert steady.status == AccountStatus.ACTIVE


def test_thresholds_are_per_organisation(org, other_org) -> None:
    row = account_settings_for(organisation=org)
    row.complaints_threshold = 5
    row.save()
    mine = AccountFactory(organisation=org)
    theirs = AccountFactory(organisation=other_org)
    for account in (mine, theirs):
        AccountUsageDay.objects.create(
            account=account, day=timezone.localdate(), carrier_complaints=2
        )
    services.account_review_run(organisation=org)
    services.account_review_run(organisation=other_org)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == AccountStatus.ACTIVE
    assert theirs.status == AccountStatus.RESTRICTED


def test_the_usage_feed_flags_a_payment_and_restricts_everything(support) -> None:
    account = AccountFactory(organisation=support.organisation)
    services.account_usage_record(
        actor=support,
        account=account,
        day=timezone.localdate(),
        outbound_calls=5,
        payment_flagged=True,
    )
    assert account.payment_flagged
    assert account.status == AccountStatus.RESTRICTED
    assert account.restricted_services == ["numbers", "sip_trunking", "sms", "voice"]
    services.account_usage_record(
        actor=support, account=account, day=timezone.localdate(), outbound_calls=7
    )
    assert AccountUsageDay.objects.get(account=account).outbound_calls == 7


def test_numbers_are_normalised_and_bad_ones_refused(support) -> None:
    account = AccountFactory(organisation=support.organisation)
    added = services.account_numbers_add(
        actor=support, account=account, numbers=["+44 20 7946 0000", "+12025550123"]
    )
    assert added == ["+12025550123", "+442079460000"]
    with pytest.raises(ValidationError) as exc:
        services.account_numbers_add(actor=support, account=account, numbers=["911"])
    assert "numbers.0" in exc.value.message_dict


def test_numbers_are_read_by_the_one_phone_normaliser(support, settings) -> None:
    """GIVEN numbers as support pastes them (national, SIP URI, with an extension)
    WHEN they are added to an account
    THEN they are read as the outbound check reads caller IDs: without `+` in
    PHONE_DEFAULT_REGION, a SIP URI by its user part, an extension refused by index."""
    settings.PHONE_DEFAULT_REGION = "US"
    account = AccountFactory(organisation=support.organisation)
    added = services.account_numbers_add(
        actor=support,
        account=account,
        numbers=["(202) 555-0123", "sip:+442079460000@pbx.example"],
    )
    assert added == ["+12025550123", "+442079460000"]
    with pytest.raises(ValidationError) as exc:
        services.account_numbers_add(
            actor=support,
            account=account,
            numbers=["+12025550124", "+1 202 555 0125 x7"],
        )
    assert exc.value.message_dict == {
        "numbers.1": [
            "'+1 202 555 0125 x7' has an extension; give the number without it."
        ]
    }
    assert sorted(account.numbers.values_list("e164", flat=True)) == added


# --- Reassessment requests -----------------------------------------------------------


def test_each_missing_or_malformed_field_gets_its_own_message(support) -> None:
    account = HeldAccountFactory(organisation=support.organisation)
    data = {
        "company_name": "",
        "company_website": "acme",
        "use_case": "",
        "services_wanted": ["sms", "fax"],
        "sample_message": "",
        "destination_countries": ["GB", "ZZ"],
        "estimated_units_per_month": "many",
        "estimated_spend_per_month": "-5",
    }
    with pytest.raises(ValidationError) as exc:
        services.reassessment_submit(actor=support, account=account, data=data)
    errors = exc.value.message_dict
    assert set(errors) == {
        "company_name",
        "company_website",
        "use_case",
        "services_wanted",
        "sample_message",
        "destination_countries",
        "estimated_units_per_month",
        "estimated_spend_per_month",
        "evidence",
    }
    assert errors["sample_message"] == [
        "A sample message is required when SMS is wanted."
    ]
    assert errors["destination_countries"] == ["Not ISO 3166 country codes: ZZ."]
    assert not account.requests.exists()


def test_a_sample_message_is_only_needed_for_sms(support) -> None:
    account = HeldAccountFactory(organisation=support.organisation)
    request = services.reassessment_submit(
        actor=support,
        account=account,
        data=request_data(services_wanted=["voice"], sample_message=""),
        evidence=[EvidenceInput(kind="profile_page", url="https://linkedin.com/x")],
    )
    assert request.status == RequestStatus.PENDING


def test_uploads_are_type_and_size_checked(support, settings) -> None:
    settings.ACCOUNTS_EVIDENCE_MAX_BYTES = 1024
    account = HeldAccountFactory(organisation=support.organisation)
    evidence = [
        EvidenceInput(kind="screenshot", file=SimpleUploadedFile("x.png", b"MZ\x90")),
        EvidenceInput(
            kind="certificate_of_incorporation",
            file=SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * 2000),
        ),
        EvidenceInput(
            kind="business_card", file=SimpleUploadedFile("c.pdf", b"\x89PNG\r\n\x1a\n")
        ),
        EvidenceInput(kind="selfie", url="https://example.com"),
    ]
    with pytest.raises(ValidationError) as exc:
        services.reassessment_submit(
            actor=support, account=account, data=request_data(), evidence=evidence
        )
    errors = exc.value.message_dict
    assert "x.png is not an accepted file" in errors["evidence.0.file"][0]
    assert "the limit is 1024 bytes" in errors["evidence.1.file"][0]
    assert "evidence.2.file" in errors  # PNG bytes under a .pdf name
    assert "evidence.3.kind" in errors
    assert not account.requests.exists()


def test_evidence_is_stored_outside_the_web_root_under_a_random_name(
    support, settings, _private_media
) -> None:
    account = HeldAccountFactory(organisation=support.organisation)
    request = services.reassessment_submit(
        actor=support,
        account=account,
        data=request_data(),
        evidence=[
            EvidenceInput(
                kind="certificate_of_incorporation", file=pdf_upload("../../etc/x.pdf")
            ),
            EvidenceInput(kind="business_card", file=png_upload()),
        ],
    )
    files = list(request.evidence.all())
    assert [e.content_type for e in files] == ["application/pdf", "image/png"]
    assert files[0].original_name == "x.pdf"
    path = files[0].file.path
    assert path.startswith(str(_private_media))
    assert not path.startswith(str(settings.STATIC_ROOT))
    assert "x.pdf" not in path
    with pytest.raises(ValueError):
        files[0].file.url  # noqa: B018


def test_zero_tolerance_causes_reject_a_request_at_once(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """GIVEN an account with carrier complaints WHEN it asks for reassessment THEN
    the request is rejected at once, recorded as zero tolerance, and the customer's
    email gives no reason."""
    account = HeldAccountFactory(organisation=support.organisation)
    AccountSignal.objects.create(
        organisation=account.organisation,
        account=account,
        signal_type=SignalType.CARRIER_COMPLAINTS,
        weight=70,
        source=SignalSource.CONTINUOUS_REVIEW,
    )
    with django_capture_on_commit_callbacks(execute=True):
        request = services.reassessment_submit(
            actor=support,
            account=account,
            data=request_data(),
            evidence=[
                EvidenceInput(kind="press_mention", url="https://news.example/a")
            ],
        )
    assert request.status == RequestStatus.REJECTED_ZERO_TOLERANCE
    entry = audited("reassessment.reject_zero_tolerance", request)
    assert entry.reason == "Zero-tolerance policy: Carrier complaints"
    assert request.internal_reason == entry.reason
    assert [m.subject for m in mailoutbox][-1].startswith("Your reassessment request")
    assert "complaint" not in mailoutbox[-1].body.lower()
    assert account.status == AccountStatus.ON_HOLD


def test_requests_are_refused_for_active_closed_or_already_open(support) -> None:
    org = support.organisation
    link = [EvidenceInput(kind="press_mention", url="https://news.example/a")]
    for account in (
        AccountFactory(organisation=org),
        AccountFactory(organisation=org, status=AccountStatus.CLOSED),
        RequestFactory(account__organisation=org).account,
    ):
        with pytest.raises(ValidationError) as exc:
            services.reassessment_submit(
                actor=support, account=account, data=request_data(), evidence=link
            )
        assert "account" in exc.value.message_dict


@time_machine.travel(dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC), tick=False)
def test_the_sla_counts_business_days_and_skips_weekends(support) -> None:
    """GIVEN a request submitted on Friday 6 March WHEN due dates are set THEN warn
    is Friday 13 and overdue Tuesday 17 (weekends skipped)."""
    account = HeldAccountFactory(organisation=support.organisation)
    request = services.reassessment_submit(
        actor=support,
        account=account,
        data=request_data(),
        evidence=[EvidenceInput(kind="press_mention", url="https://news.example/a")],
    )
    assert request.warn_on == dt.date(2026, 3, 13)
    assert request.due_on == dt.date(2026, 3, 17)
    assert request.sla_state(dt.date(2026, 3, 12)) == "on_time"
    assert request.sla_state(dt.date(2026, 3, 13)) == "warn"
    assert request.sla_state(dt.date(2026, 3, 16)) == "warn"
    assert request.sla_state(dt.date(2026, 3, 17)) == "overdue"


def test_asking_for_more_information_pauses_the_clock(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a request (Mon 2 Mar, due Wed 11) WHEN support asks for more info on
    Tue 3 and the customer answers on Tue 10 THEN the dates move by the 5 paused
    business days and the customer was emailed the question."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False):
        request = RequestFactory(account__organisation=support.organisation)
        assert request.due_on == dt.date(2026, 3, 11)
    with (
        time_machine.travel(dt.datetime(2026, 3, 3, 9, tzinfo=dt.UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.reassessment_decide(
            actor=support,
            request=request,
            decision="ask_info",
            message="Please send your certificate of incorporation.",
        )
    assert request.status == RequestStatus.INFO_REQUESTED
    assert request.sla_state(dt.date(2026, 3, 30)) == "paused"
    assert "certificate of incorporation" in mailoutbox[-1].body
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False):
        services.evidence_add(
            actor=support,
            request=request,
            item=EvidenceInput(kind="certificate_of_incorporation", file=pdf_upload()),
        )
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert (request.warn_on, request.due_on) == (
        dt.date(2026, 3, 16),
        dt.date(2026, 3, 18),
    )
    assert audited("reassessment.resume", request).after["due_on"] == "2026-03-18"


def test_lift_makes_the_account_active(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    request = RequestFactory(account__organisation=support.organisation)
    with django_capture_on_commit_callbacks(execute=True):
        services.reassessment_decide(
            actor=support, request=request, decision="lift", reason="Verified EIN"
        )
    account = request.account
    account.refresh_from_db()
    assert (account.status, account.restricted_services) == ("active", [])
    assert request.status == RequestStatus.LIFTED
    assert audited("account.lift", account).reason == "Verified EIN"
    assert audited("reassessment.decide", request).after["decision"] == "lift"
    assert mailoutbox[-1].subject.startswith("Restrictions lifted")


def test_limit_lifts_some_services_only(support) -> None:
    request = RequestFactory(account__organisation=support.organisation)
    with pytest.raises(ValidationError):
        services.reassessment_decide(
            actor=support, request=request, decision="limit", reason="x", services=[]
        )
    services.reassessment_decide(
        actor=support,
        request=request,
        decision="limit",
        reason="Voice use case is fine; SMS sample looks like phishing",
        services=["voice", "numbers"],
    )
    account = request.account
    account.refresh_from_db()
    assert account.status == AccountStatus.RESTRICTED
    assert account.restricted_services == ["sip_trunking", "sms"]
    assert request.services_lifted == ["numbers", "voice"]
    assert account.emails.get(kind=EmailKind.LIMITED)


def test_keep_needs_an_internal_reason_that_the_customer_never_sees(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    request = RequestFactory(account__organisation=support.organisation)
    with pytest.raises(ValidationError) as exc:
        services.reassessment_decide(actor=support, request=request, decision="keep")
    assert exc.value.message_dict == {
        "reason": ["Give the internal reason; it is audited."]
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.reassessment_decide(
            actor=support,
            request=request,
            decision="keep",
            reason="Website is a parked domain",
        )
    assert request.status == RequestStatus.KEPT
    assert (
        audited("reassessment.decide", request).reason == "Website is a parked domain"
    )
    assert "parked" not in mailoutbox[-1].body
    assert "We do not provide the reason" in mailoutbox[-1].body


def test_a_second_keep_makes_the_decision_final(support) -> None:
    """GIVEN a hold kept once WHEN a re-evaluation also keeps it THEN the decision is
    final and a third request is refused with a clear message."""
    first = RequestFactory(account__organisation=support.organisation)
    account = first.account
    services.reassessment_decide(
        actor=support, request=first, decision="keep", reason="a"
    )
    account.refresh_from_db()
    assert not account.decision_final
    second = services.reassessment_submit(
        actor=support,
        account=account,
        data=request_data(),
        evidence=[EvidenceInput(kind="press_mention", url="https://news.example/b")],
    )
    services.reassessment_decide(
        actor=support, request=second, decision="keep", reason="b"
    )
    account.refresh_from_db()
    assert account.decision_final
    assert audited("account.decision_final", account).after["kept_reviews"] == 2
    with pytest.raises(ValidationError) as exc:
        services.reassessment_submit(
            actor=support,
            account=account,
            data=request_data(),
            evidence=[
                EvidenceInput(kind="press_mention", url="https://news.example/c")
            ],
        )
    assert "decision is final" in exc.value.message_dict["account"][0]


# --- Blocks, port-away, refunds, feedback ------------------------------------------


def test_a_permanent_block_closes_open_requests_and_explains_feedback(
    support, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    request = RequestFactory(account__organisation=support.organisation)
    account = request.account
    with django_capture_on_commit_callbacks(execute=True):
        services.account_block(
            actor=support, account=account, reason="Scam calls", permanent=True
        )
    request.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    assert request.status == RequestStatus.KEPT
    assert (
        f"Feedback: {account.email} <ticket id> Blocked Account" in mailoutbox[-1].body
    )
    assert audited("account.close", account).reason == "Scam calls"


def test_port_away_is_only_for_closed_accounts_and_expires(support) -> None:
    account = AccountFactory(organisation=support.organisation)
    AccountNumberFactory(account=account, e164="+442079460001")
    later = timezone.now() + dt.timedelta(days=30)
    with pytest.raises(ValidationError):
        services.port_away_grant(
            actor=support, account=account, expires_at=later, reason="x"
        )
    services.account_block(
        actor=support, account=account, reason="fraud", permanent=True
    )
    grant = services.port_away_grant(
        actor=support, account=account, expires_at=later, reason="Customer asked"
    )
    assert grant.numbers == ["+442079460001"]
    assert grant.port_out_fee_waived
    assert audited("port_away.grant", grant).after["port_out_fee_waived"] is True
    assert services.port_away_expire_due() == 0
    assert grant.is_active()
    assert services.port_away_expire_due(now=later + dt.timedelta(seconds=1)) == 1
    grant.refresh_from_db()
    assert not grant.is_active()
    assert audited("port_away.expire", grant).actor_label == "system: port-away expiry"
    assert services.port_away_expire_due(now=later + dt.timedelta(days=1)) == 0


def test_a_refund_is_recorded_with_its_outcome(support) -> None:
    account = AccountFactory(
        organisation=support.organisation,
        status=AccountStatus.CLOSED,
        balance=Decimal("80.00"),
    )
    with pytest.raises(ValidationError) as exc:
        services.refund_request_create(
            actor=support, account=account, amount=Decimal("90")
        )
    assert "amount" in exc.value.message_dict
    refund = services.refund_request_create(
        actor=support, account=account, amount=Decimal("80.00"), reason="email"
    )
    services.refund_outcome_record(
        actor=support, refund=refund, status="approved", note="Finance approved"
    )
    services.refund_outcome_record(
        actor=support, refund=refund, status="paid", note="Wire sent"
    )
    account.refresh_from_db()
    assert account.balance == Decimal("0.00")
    assert [
        e.after["status"]
        for e in AuditEntry.objects.filter(action="refund.outcome").order_by("id")
    ] == ["approved", "paid"]


def test_feedback_is_stored_and_never_treated_as_an_appeal(support) -> None:
    account = AccountFactory(
        organisation=support.organisation,
        status=AccountStatus.BLOCKED,
        email="owner@blocked.example",
    )
    with pytest.raises(ValidationError) as exc:
        services.feedback_receive(
            actor=support, subject="Please unblock me", body="I appeal"
        )
    assert "subject" in exc.value.message_dict
    feedback = services.feedback_receive(
        actor=support,
        subject="Feedback: owner@blocked.example T-4821 Blocked Account",
        body="The review took too long.",
    )
    assert (feedback.account, feedback.ticket_id) == (account, "T-4821")
    account.refresh_from_db()
    assert account.status == AccountStatus.BLOCKED
    assert not account.requests.exists()
    assert Feedback.objects.count() == 1
    assert audited("feedback.receive", feedback)
