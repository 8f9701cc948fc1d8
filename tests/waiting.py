"""Waiting on conditions, never on the clock: every wait names what it waits for.

`wait_until` polls a predicate (a database row, a log line, a port answering) and
fails the test with the thing it waited for. `page_ready` waits for a page's own
scripts: `static/js/console.js` sets `<html data-ready="1">` once every deferred
script of the page has run, so keyboard shortcuts and click handlers are attached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30,
    what: str,
    interval: float = 0.1,
) -> Any:
    """Poll until predicate() is truthy and return its value; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def page_ready(page: Any, url: str | None = None) -> Any:
    """Wait until the browser shows `url` (a glob, if given) with its scripts ready."""
    from playwright.sync_api import expect

    if url is not None:
        page.wait_for_url(url)
    expect(
        page.locator("html"),
        f"page {url or page.url} to run its scripts (html[data-ready])",
    ).to_have_attribute("data-ready", "1")
    return page
