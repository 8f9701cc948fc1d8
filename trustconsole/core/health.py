"""Reachability checks used by /healthz."""

from __future__ import annotations

import logging

from trustconsole.celery import app

logger = logging.getLogger(__name__)


def broker_status(timeout: float = 2.0) -> str:
    """ "ok" when the Celery broker accepts a connection, else a short error."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            conn.default_channel  # noqa: B018 - opening a channel proves the broker answers
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        logger.warning("broker unreachable: %s", exc)
        return f"error: {exc.__class__.__name__}"
    return "ok"
