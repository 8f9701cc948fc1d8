"""Rules tests start with no compiled programs, strikes or counts in this process."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_engine(rules_engine_fresh: None) -> None:
    """Every rules test (see `rules_engine_fresh` in tests/conftest.py)."""
