"""The dashboard: its numbers (page and `/api/v1/dashboard/`), scoped and linked."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.dashboard_seed import assert_matches, seed_dashboard
from trustconsole.core.choices import Role
from trustconsole.lib.charts import (
    Bar,
    Series,
    _nice_max,
    horizontal_bars,
    per_day_bars,
)


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.SUPPORT, Role.VIEWER])
def test_every_role_reads_the_numbers_the_seeded_rows_imply(
    org, api_client_for, role
) -> None:
    expected = seed_dashboard(org)
    response = api_client_for(org, role).get("/api/v1/dashboard/")
    assert response.status_code == 200
    assert_matches(response.json(), expected)


def test_another_organisation_sees_none_of_it(org, other_org, api_client_for) -> None:
    seed_dashboard(org)
    data = api_client_for(other_org, Role.VIEWER).get("/api/v1/dashboard/").json()
    assert data["organisation"] == "Beta"
    assert not any(d["allowed"] or d["rejected"] for d in data["calls"]["days"])
    assert data["review_queue"] == {
        "link": "/review/",
        "open": 0,
        "oldest_at": None,
        "oldest_age_seconds": None,
    }
    assert set(data["trust_bands"]["counts"].values()) == {0}
    assert set(data["accounts"]["by_status"].values()) == {0}
    assert set(data["remediation_outcomes"]["counts"].values()) == {0}
    assert set(data["outbound_refused"]["counts"].values()) == {0}


def test_it_needs_a_login(db) -> None:
    assert Client().get("/api/v1/dashboard/").status_code in (401, 403)


def test_it_is_in_the_openapi_schema(alice) -> None:
    schema = logged_in(alice).get("/api/schema/?format=json").json()
    get = schema["paths"]["/api/v1/dashboard/"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    props = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"calls", "chat_blocked", "review_queue", "trust_bands", "accounts"} <= set(
        props
    )


def test_the_page_draws_each_chart_and_links_to_the_list_behind_it(
    org, bob, django_assert_max_num_queries
) -> None:
    seed_dashboard(org)
    client = logged_in(bob)
    with django_assert_max_num_queries(30):
        html = client.get("/").content.decode()
    assert html.count('<svg class="chart"') == 6
    # Exact numbers in the bars' titles and the legends.
    assert "Rejected: 6" in html and "Allowed: 6" in html
    assert "<title>Danger: 2</title>" in html
    assert "<title>Destination on a Do-Not-Call list: 2</title>" in html
    assert "<title>Blocked (case review): 1</title>" in html
    assert "<title>Not flagged: 1</title>" in html
    # Links to the filtered lists.
    assert 'href="/security/visitors/?band=danger"' in html
    assert 'href="/accounts/?status=on_hold"' in html
    assert 'href="/accounts/?overdue=on"' in html
    assert 'href="/voice/policy/denials/?code=dnc"' in html
    assert "/voice/calls/?date_from=" in html


def test_the_filtered_lists_behind_the_charts_accept_the_links(org, bob) -> None:
    """Each link a chart makes opens its list filtered as promised."""
    expected = seed_dashboard(org)
    client = logged_in(bob)
    bands = client.get("/security/visitors/?band=danger").content.decode()
    assert bands.count('data-testid="visitor-row"') == 2
    accounts = client.get("/accounts/?overdue=on").content.decode()
    assert expected["overdue_account"] in accounts
    assert expected["active_account"] not in accounts


def test_nice_axis_maximum() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 10, 11, 45, 501)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        50,
        1000,
    ]


def test_charts_escape_labels_and_show_exact_values() -> None:
    svg = horizontal_bars(
        bars=[Bar("<script>", 3, "#000", "/x?a=1&b=2")], title="T & U"
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'href="/x?a=1&amp;b=2"' in svg
    assert 'aria-label="T &amp; U"' in svg
    bars = per_day_bars(
        days=["2026-11-30", "2026-12-01"],
        series=[Series("Rejected", "#f00", [1, 0]), Series("Allowed", "#0f0", [2, 5])],
        title="Calls",
    )
    assert "<title>2026-11-30: 1 rejected, 2 allowed</title>" in bars
    assert "Allowed: 7" in bars
