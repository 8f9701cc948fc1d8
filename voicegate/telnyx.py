"""The one Telnyx Call Control command the gate sends: reject before answer."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

# Stable namespace so a retried webhook derives the same command_id.
_COMMAND_NAMESPACE = uuid.UUID("6f1d3c2e-8a51-4c0e-9a55-1f0c0b7a9d11")

# Telnyx error code for "Call has already ended".
CALL_ENDED_CODE = "90018"


def command_id_for(event_id: str) -> str:
    """The reject command's id, derived from the webhook event id."""
    return str(uuid.uuid5(_COMMAND_NAMESPACE, f"reject:{event_id}"))


@dataclass(frozen=True)
class CommandResult:
    """What came of one reject: `status` is sent, already_ended or failed."""

    status: str
    detail: str
    retryable: bool = False
    tries: int = 1


def _already_ended(response: httpx.Response) -> bool:
    if response.status_code != 422:
        return False
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return False
    return any(str(e.get("code")) == CALL_ENDED_CODE for e in errors)


def reject_call(
    *,
    api_key: str,
    call_control_id: str,
    event_id: str,
    attempts: int = 3,
    client: httpx.Client | None = None,
) -> CommandResult:
    """POST /v2/calls/{id}/actions/reject with cause USER_BUSY.

    Short timeouts; 5xx and timeouts are retried at once with the same command_id
    (Telnyx ignores a repeated command_id); 422 "call already ended" counts as done.
    """
    base = settings.VOICEGATE_TELNYX_API_BASE.rstrip("/")
    url = f"{base}/calls/{quote(call_control_id, safe='')}/actions/reject"
    body = {"cause": "USER_BUSY", "command_id": command_id_for(event_id)}
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    timeout = httpx.Timeout(settings.VOICEGATE_TELNYX_TIMEOUT, connect=1.0)
    http = client or _client()
    detail = ""
    for attempt in range(1, attempts + 1):
        try:
            response = http.post(url, json=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            detail = f"timed out (attempt {attempt})"
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__} (attempt {attempt})"
        else:
            if response.is_success:
                return CommandResult(
                    "sent", f"HTTP {response.status_code}", tries=attempt
                )
            if _already_ended(response):
                return CommandResult(
                    "already_ended", "call had already ended", tries=attempt
                )
            if response.status_code < 500 and response.status_code != 429:
                return CommandResult(
                    "failed",
                    f"HTTP {response.status_code}: {response.text[:300]}",
                    tries=attempt,
                )
            detail = f"HTTP {response.status_code} (attempt {attempt})"
        logger.warning("reject of %s: %s", call_control_id, detail)
        if attempt < attempts:
            time.sleep(min(0.05 * attempt, 0.2))
    return CommandResult("failed", detail, retryable=True, tries=attempts)


_clients: dict[int, httpx.Client] = {}


def _client() -> httpx.Client:
    """One pooled client per process: no TLS context or connection setup per call."""
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()  # a forked child must not share its parent's connections
        _clients[pid] = httpx.Client(
            timeout=httpx.Timeout(settings.VOICEGATE_TELNYX_TIMEOUT, connect=1.0)
        )
    return _clients[pid]
