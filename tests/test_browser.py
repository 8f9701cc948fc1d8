"""A real Chromium logs in and sees the dashboard."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_a_user_logs_in_and_sees_the_dashboard(login, alice) -> None:
    page = login(alice)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.get_by_test_id("organisation").inner_text() == "Alpha"
    page.get_by_role("link", name="Settings").click()
    assert page.get_by_role("cell", name="alice@alpha.test", exact=True).is_visible()


def test_a_wrong_password_is_refused(page, alice) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
    assert "/login/" in page.url
