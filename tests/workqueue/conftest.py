"""Fixtures of the work-queue tests: flagged visitors waiting for review."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.conftest import _private_media  # noqa: F401 - evidence stays private
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from visitors import services as visitor_services
from visitors.choices import WeightLevel
from visitors.models import ReviewItem


def flagged_item(org: Any, name: str) -> ReviewItem:
    """A visitor flagged into the review queue; returns its open review item."""
    actor = Actor.system_for(org, "test")
    visitor = visitor_services.visitor_upsert(
        actor=actor, name=name, emails=[f"{name.lower()}@x.example"]
    )
    visitor_services.risk_signal_add(
        actor=actor, visitor=visitor, signal_type="spam", level=WeightLevel.EXTREME
    )
    return ReviewItem.objects.get(visitor=visitor, status="open")


def as_actor(user: Any, org: Any, role: str) -> Actor:
    """The Actor a signed-in member acts as."""
    return Actor(organisation=org, role=role, user=user)


@pytest.fixture
def oscar_actor(oscar: Any, org: Any) -> Actor:
    return as_actor(oscar, org, Role.OPERATOR)


@pytest.fixture
def alice_actor(alice: Any, org: Any) -> Actor:
    return as_actor(alice, org, Role.ADMIN)
