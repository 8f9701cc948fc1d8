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
