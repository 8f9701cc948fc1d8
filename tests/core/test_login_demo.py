"""The login page names the demo logins only when the demo data is loaded."""

from __future__ import annotations

from django.test import Client

from trustconsole.core.services import organisation_create


def test_no_demo_hint_without_the_demo(db, alice) -> None:
    html = Client().get("/login/").content.decode()
    assert "Log in to trustconsole" in html
    assert "demo" not in html.lower()


def test_the_demo_logins_are_named_once_the_demo_is_seeded(db) -> None:
    organisation_create(name="Demo", admin_email="admin@demo.test")
    html = Client().get("/login/").content.decode()
    assert 'data-testid="demo-logins"' in html
    assert "<strong>admin@demo.test</strong>" in html
    assert "<code>trustconsole-demo</code>" in html
    for email in ("operator@demo.test", "support@demo.test", "viewer@demo.test"):
        assert email in html
