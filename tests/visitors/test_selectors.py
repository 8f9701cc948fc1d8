"""Visitor reads: the call gate's phone map and its version, search, isolation."""

from __future__ import annotations

import pytest
from django.http import Http404

from tests.visitors.factories import IdentifierFactory, VisitorFactory
from trustconsole.lib.versioned import version_get
from visitors import selectors, services
from visitors.choices import IdentifierKind, VisitorStatus


def test_the_phone_map_holds_blacklisted_and_whitelisted_phones_only(
    operator, org, outsider
) -> None:
    bad = services.visitor_upsert(actor=operator, phones=["+12025550101"])
    good = services.visitor_upsert(actor=operator, phones=["+12025550102"])
    services.visitor_upsert(actor=operator, phones=["+12025550103"])
    elsewhere = services.visitor_upsert(actor=outsider, phones=["+12025550104"])
    services.visitor_blacklist(actor=operator, visitor=bad, reason="abuse")
    services.visitor_whitelist(actor=operator, visitor=good, reason="vip")
    services.visitor_blacklist(actor=outsider, visitor=elsewhere, reason="abuse")
    assert selectors.phone_status_map(organisation_id=org.pk) == {
        "+12025550101": ("blacklisted", bad.pk),
        "+12025550102": ("whitelisted", good.pk),
    }


def test_the_phone_map_is_one_query(operator, org, django_assert_num_queries) -> None:
    for n in range(5):
        visitor = services.visitor_upsert(actor=operator, phones=[f"+1202555011{n}"])
        services.visitor_blacklist(actor=operator, visitor=visitor, reason="x")
    with django_assert_num_queries(1):
        assert len(selectors.phone_status_map(organisation_id=org.pk)) == 5


def test_every_change_to_a_listed_visitor_is_a_delta_and_moves_the_version(
    operator, org, django_capture_on_commit_callbacks
) -> None:
    """GIVEN a visitor with a phone (unlisted: nothing for the decision state) WHEN
    they are blacklisted, cleared, whitelisted, lose the phone and are deleted THEN
    each step appends a delta naming the visitor to the decision core's change log
    and moves the organisation's version once its transaction commits."""
    from trustconsole.policy.models import PolicyChange

    key = selectors.phone_map_version_key(org.pk)
    visitor = services.visitor_upsert(actor=operator, phones=["+12025550199"])
    steps = [
        lambda v: services.visitor_blacklist(actor=operator, visitor=v, reason="x"),
        lambda v: services.visitor_clear_status(actor=operator, visitor=v, reason=""),
        lambda v: services.visitor_whitelist(actor=operator, visitor=v, reason=""),
        lambda v: services.visitor_identifier_remove(
            actor=operator,
            visitor=v,
            kind=IdentifierKind.PHONE,
            value="+12025550199",
            reason="wrong number",
        ),
        lambda v: services.visitor_delete(
            actor=_admin(org), visitor=v, reason="gdpr request"
        ),
    ]
    deltas = PolicyChange.objects.filter(
        organisation_id=org.pk, kind="visitor", ref=str(visitor.pk)
    )
    for step in steps:
        count = deltas.count()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = step(visitor)
        assert deltas.count() > count
        before = version_get(key)
        for callback in callbacks:
            callback()
        assert version_get(key) > before
        visitor = result or visitor


def _admin(org):
    from trustconsole.core.actor import Actor

    return Actor.system_for(org, "test")


def test_visitor_by_phone_finds_the_record_in_its_organisation_only(
    operator, org, other_org
) -> None:
    visitor = services.visitor_upsert(actor=operator, phones=["+12025550143"])
    assert selectors.visitor_by_phone(organisation_id=org.pk, e164="+12025550143") == (
        visitor
    )
    assert (
        selectors.visitor_by_phone(organisation_id=other_org.pk, e164="+12025550143")
        is None
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dana", {"Dana Scully", "Fox Mulder"}),  # name prefix or email start
        ("Dana Sc", {"Dana Scully"}),
        ("DANA.SCULLY@fbi.example", {"Dana Scully"}),
        ("fox@", {"Fox Mulder"}),
        ("(202) 555-0143", {"Dana Scully"}),
        ("+1202555", {"Dana Scully"}),
        ("198.51.100.7", {"Fox Mulder"}),
        ("walter", set()),
    ],
)
def test_search_by_name_email_phone_or_ip(operator, query, expected) -> None:
    services.visitor_upsert(
        actor=operator,
        name="Dana Scully",
        emails=["dana.scully@fbi.example"],
        phones=["+12025550143"],
    )
    services.visitor_upsert(
        actor=operator,
        name="Fox Mulder",
        emails=["fox@fbi.example", "dana.fan@example.org"],
        ips=["198.51.100.7"],
    )
    found = selectors.visitor_list(actor=operator, q=query)
    assert {v.name for v in found} == expected


def test_filters_by_status_and_score_range_and_sorts(operator, org) -> None:
    low = VisitorFactory(organisation=org, name="Low", trust_score=10, band="danger")
    mid = VisitorFactory(organisation=org, name="Mid", trust_score=50, band="caution")
    VisitorFactory(organisation=org, name="High", trust_score=90)
    services.visitor_blacklist(actor=operator, visitor=low, reason="x")
    assert [
        v.name for v in selectors.visitor_list(actor=operator, status="blacklisted")
    ] == ["Low"]
    ranged = selectors.visitor_list(actor=operator, score_min=31, score_max=60)
    assert [v.pk for v in ranged] == [mid.pk]
    by_score = selectors.visitor_list(actor=operator, sort="score")
    assert [v.name for v in by_score] == ["Low", "Mid", "High"]
    assert low.status == VisitorStatus.BLACKLISTED


def test_another_organisations_visitor_is_a_404(operator, outsider) -> None:
    theirs = services.visitor_upsert(actor=outsider, emails=["x@beta.example"])
    with pytest.raises(Http404):
        selectors.visitor_get(actor=operator, public_id=theirs.public_id)
    assert not selectors.visitor_list(actor=operator).exists()
    IdentifierFactory(visitor=VisitorFactory(organisation=operator.organisation))
    assert selectors.visitor_list(actor=outsider).count() == 1
