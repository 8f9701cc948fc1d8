"""A real Chromium logs in and sees the dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.waiting import page_ready

pytestmark = pytest.mark.browser


def test_a_user_logs_in_and_sees_the_dashboard(login, alice) -> None:
    page = login(alice)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("organisation")).to_have_text("Alpha")
    page.get_by_role("link", name="Settings").click()
    page_ready(page, "**/settings/**")
    expect(
        page.get_by_role("cell", name="alice@alpha.test", exact=True)
    ).to_be_visible()


def test_a_wrong_password_is_refused(page, alice) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/"))
