"""Rules tests start with no compiled programs, strikes or counts in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_engine() -> Iterator[None]:
    from trustconsole.rules import engine

    engine.reset()
    yield
    engine.reset()
