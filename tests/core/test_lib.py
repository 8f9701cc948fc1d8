"""Shared helpers of trustconsole.lib."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from trustconsole.lib.versioned import version_bump, version_get


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.delete_many(["version:test-a", "version:test-b"])


def test_versions_start_at_zero_and_move_on_every_bump() -> None:
    assert version_get("test-a") == 0
    assert version_bump("test-a") == 1
    assert version_bump("test-a") == 2
    assert version_get("test-a") == 2
    assert version_get("test-b") == 0
