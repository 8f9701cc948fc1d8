"""Fixtures of the visitors tests."""

from __future__ import annotations

from typing import Any

import pytest

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role


@pytest.fixture
def operator(org: Any, actor_for: Any) -> Actor:
    """An operator of Alpha, as services receive it."""
    return actor_for(org, Role.OPERATOR)


@pytest.fixture
def viewer(org: Any, actor_for: Any) -> Actor:
    """A viewer of Alpha."""
    return actor_for(org, Role.VIEWER)


@pytest.fixture
def outsider(other_org: Any, actor_for: Any) -> Actor:
    """An admin of Beta."""
    return actor_for(other_org, Role.ADMIN)


@pytest.fixture
def widget(org: Any) -> Any:
    """Alpha's chat widget."""
    from tests.visitors.factories import WidgetFactory

    return WidgetFactory(organisation=org, name="Main website")


@pytest.fixture
def send(widget: Any) -> Any:
    """send(body, ip=…, headers=…, **fields): one POST /widget/v1/messages as the
    widget sends it (visitor "w-1" unless `visitor_id` is given)."""
    from rest_framework.test import APIClient

    client = APIClient()

    def post(body: str = "Hello", ip: str = "192.0.2.10", headers=None, **fields):
        payload = {"visitor_id": "w-1", "body": body, **fields}
        return client.post(
            "/widget/v1/messages",
            payload,
            format="json",
            REMOTE_ADDR=ip,
            headers={"X-Widget-Key": widget.key, **(headers or {})},
        )

    return post
