"""Visitor services: upsert, scores and bands, signals, status actions, queue, IPs."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.visitors.factories import VisitorFactory
from trustconsole.core.models import AuditEntry
from visitors import services
from visitors.choices import (
    BLACKLISTED_SIGNAL,
    Band,
    IdentifierKind,
    ReviewStatus,
    SignalEnd,
    VisitorStatus,
    WeightLevel,
    band_for,
)
from visitors.models import IPBlock, ReviewItem, RiskSignal, VisitorIdentifier


def audit_actions(visitor) -> list[str]:
    return list(
        AuditEntry.objects.filter(target_id=str(visitor.public_id))
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


# --- Upsert and normalisation ---------------------------------------------------------


def test_it_creates_a_visitor_with_normalised_identifiers(operator) -> None:
    visitor = services.visitor_upsert(
        actor=operator,
        name="Dana Scully",
        emails=["  Dana.Scully@FBI.example "],
        phones=["(202) 555-0143"],
        ips=["::ffff:198.51.100.7"],
        widget_ids=["w-123"],
    )
    values = set(visitor.identifiers.values_list("kind", "value"))
    assert values == {
        ("email", "dana.scully@fbi.example"),
        ("phone", "+12025550143"),
        ("ip", "198.51.100.7"),
        ("widget", "w-123"),
    }
    assert visitor.upsert_created
    assert visitor.trust_score == 100 and visitor.band == Band.SAFE
    assert audit_actions(visitor) == ["visitor.create"]


def test_it_upserts_by_any_identifier_case_insensitively(operator) -> None:
    first = services.visitor_upsert(actor=operator, emails=["sam@example.com"])
    again = services.visitor_upsert(
        actor=operator, name="Sam", emails=["SAM@example.com"], phones=["+442079460958"]
    )
    assert again.pk == first.pk and not again.upsert_created
    assert again.name == "Sam"
    by_phone = services.visitor_upsert(actor=operator, phones=["+44 20 7946 0958"])
    assert by_phone.pk == first.pk
    assert VisitorIdentifier.objects.filter(visitor=first).count() == 2


def test_an_unparseable_phone_is_refused_naming_the_field_and_changing_nothing(
    operator,
) -> None:
    with pytest.raises(ValidationError) as exc:
        services.visitor_upsert(
            actor=operator, emails=["ok@example.com"], phones=["12ab"]
        )
    assert "phones" in exc.value.message_dict
    assert "'12ab'" in exc.value.message_dict["phones"][0]
    assert not VisitorIdentifier.objects.exists()


def test_bad_emails_and_ips_are_refused_with_their_fields(operator) -> None:
    with pytest.raises(ValidationError) as exc:
        services.visitor_upsert(actor=operator, emails=["nope"], ips=["300.1.1.1"])
    assert set(exc.value.message_dict) == {"emails", "ips"}


def test_identifiers_of_two_different_visitors_are_refused(operator) -> None:
    services.visitor_upsert(actor=operator, emails=["a@example.com"])
    services.visitor_upsert(actor=operator, phones=["+12025550143"])
    with pytest.raises(ValidationError) as exc:
        services.visitor_upsert(
            actor=operator, emails=["a@example.com"], phones=["+12025550143"]
        )
    assert "another visitor" in str(exc.value)


def test_one_identifier_value_may_exist_once_per_organisation(
    operator, outsider
) -> None:
    alpha = services.visitor_upsert(actor=operator, emails=["same@example.com"])
    beta = services.visitor_upsert(actor=outsider, emails=["same@example.com"])
    assert alpha.pk != beta.pk
    assert alpha.organisation_id != beta.organisation_id


def test_a_viewer_cannot_create_or_act(viewer, org) -> None:
    visitor = VisitorFactory(organisation=org)
    with pytest.raises(PermissionDenied):
        services.visitor_upsert(actor=viewer, emails=["x@example.com"])
    with pytest.raises(PermissionDenied):
        services.visitor_blacklist(actor=viewer, visitor=visitor, reason="no")
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE


# --- Scores, bands, signals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "danger"), (30, "danger"), (31, "caution"), (69, "caution"), (70, "safe")],
)
def test_bands_follow_the_documented_boundaries(score, band) -> None:
    assert band_for(score) == band


def test_signals_lower_the_score_and_it_never_goes_below_zero(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.LOW
    )
    assert (visitor.trust_score, visitor.band) == (90, Band.SAFE)
    services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.MEDIUM
    )
    assert (visitor.trust_score, visitor.band) == (70, Band.SAFE)
    services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="fraud_attempt",
        level=WeightLevel.HIGH,
    )
    assert (visitor.trust_score, visitor.band) == (30, Band.DANGER)
    services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="chargeback",
        level=WeightLevel.EXTREME,
    )
    visitor.refresh_from_db()
    assert visitor.trust_score == 0


def test_removing_a_signal_restores_the_score(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    signal = services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.HIGH
    )
    assert visitor.trust_score == 60
    services.risk_signal_remove(actor=operator, signal=signal, reason="mistake")
    visitor.refresh_from_db()
    signal.refresh_from_db()
    assert visitor.trust_score == 100
    assert signal.ended_reason == SignalEnd.REMOVED
    assert audit_actions(visitor)[-1] == "risk_signal.remove"


def test_an_admin_override_changes_the_weight_of_new_signals(org, actor_for) -> None:
    admin = actor_for(org)
    services.signal_weight_set(actor=admin, level=WeightLevel.MEDIUM, weight=25)
    visitor = VisitorFactory(organisation=org)
    signal = services.risk_signal_add(
        actor=admin, visitor=visitor, signal_type="spam", level=WeightLevel.MEDIUM
    )
    assert signal.weight == 25 and visitor.trust_score == 75
    assert AuditEntry.objects.filter(action="signal_weight.set").count() == 1


def test_an_operator_cannot_override_weights(operator) -> None:
    with pytest.raises(PermissionDenied):
        services.signal_weight_set(actor=operator, level="low", weight=5)


def test_unknown_levels_types_and_past_expiries_are_refused(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    with pytest.raises(ValidationError) as exc:
        services.risk_signal_add(
            actor=operator,
            visitor=visitor,
            signal_type="nonsense",
            level="huge",
            expires_at=timezone.now() - dt.timedelta(minutes=1),
        )
    assert set(exc.value.message_dict) == {"signal_type", "level", "expires_at"}
    assert not RiskSignal.objects.exists()


def test_expired_signals_stop_counting_and_the_beat_task_restores_the_score(
    operator, org
) -> None:
    """GIVEN a High signal that expires in an hour WHEN the expiry task runs after it
    THEN the signal is ended as expired and the score is back to 100, audited."""
    visitor = VisitorFactory(organisation=org)
    services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="spam",
        level=WeightLevel.HIGH,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert visitor.trust_score == 60
    assert services.risk_signals_expire_due() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        assert services.risk_signals_expire_due() == 1
        assert services.risk_signals_expire_due() == 0
    visitor.refresh_from_db()
    assert visitor.trust_score == 100 and visitor.band == Band.SAFE
    assert RiskSignal.objects.get().ended_reason == SignalEnd.EXPIRED
    assert audit_actions(visitor)[-1] == "risk_signal.expire"


# --- Automatic flagging ---------------------------------------------------------------


def test_falling_into_danger_flags_the_visitor_into_the_review_queue(
    operator, org
) -> None:
    visitor = VisitorFactory(organisation=org)
    services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.HIGH
    )
    assert visitor.status == VisitorStatus.NONE
    services.risk_signal_add(
        actor=operator,
        visitor=visitor,
        signal_type="fraud_attempt",
        level=WeightLevel.HIGH,
    )
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.FLAGGED
    item = ReviewItem.objects.get()
    assert item.visitor == visitor and item.is_open and item.score_at_flag == 20
    assert "visitor.flag" in audit_actions(visitor)


def test_a_whitelisted_visitor_is_never_auto_flagged(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_whitelist(actor=operator, visitor=visitor, reason="known VIP")
    for _ in range(3):
        services.risk_signal_add(
            actor=operator,
            visitor=visitor,
            signal_type="spam",
            level=WeightLevel.EXTREME,
        )
    visitor.refresh_from_db()
    assert visitor.trust_score == 0 and visitor.band == Band.DANGER
    assert visitor.status == VisitorStatus.WHITELISTED
    assert not ReviewItem.objects.exists()


def test_an_already_flagged_visitor_gets_no_second_item(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    for _ in range(3):
        services.risk_signal_add(
            actor=operator,
            visitor=visitor,
            signal_type="spam",
            level=WeightLevel.EXTREME,
        )
    assert ReviewItem.objects.count() == 1


# --- Blacklist, Whitelist, Clear status -----------------------------------------------


def test_blacklist_sets_the_status_and_an_extreme_signal_at_once(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="threats")
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.BLACKLISTED
    signal = RiskSignal.objects.get(visitor=visitor)
    assert signal.signal_type == BLACKLISTED_SIGNAL
    assert signal.type_label == "Blacklisted visitor"
    assert (signal.level, signal.weight) == (WeightLevel.EXTREME, 70)
    assert (visitor.trust_score, visitor.band) == (30, Band.DANGER)
    entry = AuditEntry.objects.get(action="visitor.blacklist")
    assert entry.reason == "threats"
    assert entry.before["status"] == "none"
    assert entry.after["status"] == "blacklisted"
    assert not ReviewItem.objects.exists()  # a decision, not something to review


def test_blacklisting_twice_adds_one_signal(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="one")
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="two")
    assert RiskSignal.objects.filter(visitor=visitor).count() == 1
    assert audit_actions(visitor).count("visitor.blacklist") == 1


def test_clear_status_removes_the_blacklist_signal(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="threats")
    services.visitor_clear_status(actor=operator, visitor=visitor, reason="appeal")
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.NONE
    assert visitor.trust_score == 100
    signal = RiskSignal.objects.get(visitor=visitor)
    assert signal.ended_reason == SignalEnd.CLEARED
    assert audit_actions(visitor)[-1] == "visitor.clear_status"


def test_the_blacklist_signal_cannot_be_removed_on_its_own(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="threats")
    with pytest.raises(ValidationError, match="Clear status"):
        services.risk_signal_remove(
            actor=operator, signal=RiskSignal.objects.get(), reason="mistake"
        )


def test_whitelist_lifts_a_blacklist(operator, org) -> None:
    visitor = VisitorFactory(organisation=org)
    services.visitor_blacklist(actor=operator, visitor=visitor, reason="threats")
    services.visitor_whitelist(actor=operator, visitor=visitor, reason="verified")
    visitor.refresh_from_db()
    assert visitor.status == VisitorStatus.WHITELISTED
    assert visitor.trust_score == 100


# --- Review queue ---------------------------------------------------------------------


def _flagged(operator, org):
    visitor = VisitorFactory(organisation=org)
    services.risk_signal_add(
        actor=operator, visitor=visitor, signal_type="spam", level=WeightLevel.EXTREME
    )
    return visitor, ReviewItem.objects.get(visitor=visitor)


def test_blacklist_from_the_queue_resolves_the_item(operator, org) -> None:
    visitor, item = _flagged(operator, org)
    item = services.review_item_act(
        actor=operator, item=item, action="blacklist", reason="spammer"
    )
    visitor.refresh_from_db()
    assert item.status == ReviewStatus.BLACKLISTED
    assert visitor.status == VisitorStatus.BLACKLISTED
    assert visitor.trust_score == 0


def test_dismiss_returns_the_visitor_to_no_status(operator, org) -> None:
    visitor, item = _flagged(operator, org)
    item = services.review_item_act(
        actor=operator, item=item, action="dismiss", reason="a joke"
    )
    visitor.refresh_from_db()
    assert item.status == ReviewStatus.DISMISSED
    assert visitor.status == VisitorStatus.NONE
    assert "review_item.dismiss" in audit_actions(visitor)
    with pytest.raises(ValidationError, match="already"):
        services.review_item_act(actor=operator, item=item, action="blacklist")


def test_bulk_actions_apply_to_every_open_item(operator, org) -> None:
    flagged = [_flagged(operator, org) for _ in range(3)]
    done = services.review_items_act_bulk(
        actor=operator,
        items=[item for _, item in flagged],
        action="whitelist",
        reason="known customers",
    )
    assert done == 3
    assert not ReviewItem.objects.filter(status=ReviewStatus.OPEN).exists()
    for visitor, _ in flagged:
        visitor.refresh_from_db()
        assert visitor.status == VisitorStatus.WHITELISTED


# --- IP blocks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        ("198.51.100.9/24", "198.51.100.0/24"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8:abcd::/48", "2001:db8:abcd::/48"),
    ],
)
def test_ip_blocks_store_canonical_networks(operator, raw, stored) -> None:
    block = services.ip_block_create(actor=operator, network=raw, reason="abuse")
    assert block.network == stored
    assert AuditEntry.objects.filter(action="ip_block.create").count() == 1


def test_bad_or_too_wide_networks_are_refused(operator) -> None:
    for raw in ("not-an-ip", "10.0.0.0/4", "::/0"):
        with pytest.raises(ValidationError) as exc:
            services.ip_block_create(actor=operator, network=raw, reason="x")
        assert "network" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ip_block_create(actor=operator, network="203.0.113.1", reason=" ")
    assert "reason" in exc.value.message_dict
    assert not IPBlock.objects.exists()


def test_expired_ip_blocks_stop_applying_and_are_cleaned_up(operator, org) -> None:
    from visitors.selectors import ip_block_match

    services.ip_block_create(
        actor=operator,
        network="198.51.100.0/24",
        reason="botnet",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    assert ip_block_match(organisation_id=org.pk, ip="198.51.100.77")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        assert ip_block_match(organisation_id=org.pk, ip="198.51.100.77") is None
        assert services.ip_blocks_expire_due() == 1
    assert not IPBlock.objects.exists()
    assert AuditEntry.objects.filter(action="ip_block.expire").count() == 1


def test_an_active_duplicate_block_is_refused(operator) -> None:
    services.ip_block_create(actor=operator, network="203.0.113.7", reason="a")
    with pytest.raises(ValidationError, match="already blocked"):
        services.ip_block_create(actor=operator, network="203.0.113.7/32", reason="b")


def test_removing_a_visitor_phone_is_audited(operator) -> None:
    visitor = services.visitor_upsert(actor=operator, phones=["+12025550143"])
    services.visitor_identifier_remove(
        actor=operator,
        visitor=visitor,
        kind=IdentifierKind.PHONE,
        value="+12025550143",
        reason="wrong number",
    )
    assert not visitor.identifiers.exists()
    assert audit_actions(visitor)[-1] == "visitor.identifier_remove"


# --- Merge ----------------------------------------------------------------------------


def test_merge_moves_everything_and_the_stricter_status_wins(
    operator, org, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a blacklisted visitor known by phone and a flagged one known by email
    WHEN the first is merged into the second THEN the survivor has both identifiers,
    every signal (one blacklist signal), is Blacklisted, and the phone map moved."""
    from tests.visitors.factories import ConversationFactory
    from visitors.selectors import phone_status_map

    caller = services.visitor_upsert(actor=operator, phones=["+12025550143"])
    services.visitor_blacklist(actor=operator, visitor=caller, reason="threats")
    services.blocked_attempt_record(visitor=caller, organisation_id=org.pk)
    chatter = services.visitor_upsert(
        actor=operator, name="Dana", emails=["dana@example.com"]
    )
    services.risk_signal_add(
        actor=operator, visitor=chatter, signal_type="spam", level=WeightLevel.EXTREME
    )
    ConversationFactory(visitor=caller, organisation=org)
    with django_capture_on_commit_callbacks(execute=True):
        merged = services.visitor_merge(
            actor=operator, target=chatter, source=caller, reason="same person"
        )
    assert not type(caller).objects.filter(pk=caller.pk).exists()
    assert set(merged.identifiers.values_list("value", flat=True)) == {
        "+12025550143",
        "dana@example.com",
    }
    assert merged.status == VisitorStatus.BLACKLISTED
    assert merged.trust_score == 0 and merged.blocked_attempts == 1
    assert merged.conversations.count() == 1
    active = [s for s in merged.signals.all() if s.is_active()]
    assert sorted(s.signal_type for s in active) == [BLACKLISTED_SIGNAL, "spam"]
    assert not ReviewItem.objects.filter(status=ReviewStatus.OPEN).exists()
    assert phone_status_map(organisation_id=org.pk) == {
        "+12025550143": ("blacklisted", merged.pk)
    }
    assert "visitor.merge" in audit_actions(merged)
    assert AuditEntry.objects.filter(
        action="visitor.merge_into", target_id=str(caller.public_id)
    ).exists()


def test_a_visitor_cannot_be_merged_into_itself_or_across_organisations(
    operator, outsider, org
) -> None:
    visitor = VisitorFactory(organisation=org)
    with pytest.raises(ValidationError):
        services.visitor_merge(actor=operator, target=visitor, source=visitor)
    theirs = services.visitor_upsert(actor=outsider, emails=["x@beta.example"])
    with pytest.raises(ValidationError):
        services.visitor_merge(actor=operator, target=visitor, source=theirs)
    assert type(theirs).objects.filter(pk=theirs.pk).exists()
