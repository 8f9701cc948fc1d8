"""Log lines that say which request or task they belong to.

`RequestIdMiddleware` gives every request an id: the caller's `X-Request-ID` when
it is a sane token (1 to 128 letters, digits, `.`, `_`, `-`, `:`), otherwise a new
one; the response echoes it in `X-Request-ID`. `ContextFilter` puts on every log
record the request id, the organisation and user of the request's actor (once the
session or API token named them) and, inside a Celery task, the task's id and name.
With `LOG_FORMAT=json`, `JsonFormatter` writes each record as one JSON object:

    {"time": "...", "level": "INFO", "logger": "...", "message": "...",
     "request_id": "...", "organisation": "alpha", "user": "a@x.test",
     "task_id": "...", "task": "..."}

(keys without a value are left out; an exception adds "exc_info"). gunicorn's
access log lines have the same keys plus the request's method, path, status, …
(`trustconsole.lib.gunicorn_log`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# The WSGI environ key that carries a request's log context to the access log.
ACCESS_KEY = "trustconsole.log"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# The request being answered (paths without Django's request: an object with the
# `actor` attribute the log lines read).
_request: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tc_request", default=None
)
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "tc_request_id", default=""
)
_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "tc_task", default=None
)


def request_id_for(given: str | None) -> str:
    """The caller's id if it is acceptable, otherwise a new one."""
    if given and _VALID.match(given):
        return given
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request being answered ("" outside a request)."""
    return _request_id.get()


class RequestIdMiddleware:
    """Name each request (`request.request_id`) and echo the id in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Kept until the response is finished (`_forget`): Django logs 4xx/5xx
        # answers after the middleware chain has returned.
        _request.set(request)
        _request_id.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        # For the server's access log line (trustconsole.lib.gunicorn_log): the
        # WSGI environ is the server's own dict, so it sees who the request was.
        organisation, user = _who(request)
        request.META[ACCESS_KEY] = {
            "request_id": request_id,
            "organisation": organisation,
            "user": user,
        }
        return response


def _forget(**_: object) -> None:
    _request.set(None)
    _request_id.set("")


def request_bound(request_id: str, request: Any = None) -> None:
    """Lines logged from now on name this request (paths without the middleware);
    with `request`, also the organisation and user of its `actor` once it has one."""
    _request.set(request)
    _request_id.set(request_id)


def access_entry(request_id: str, request: Any = None) -> dict[str, str]:
    """What the access log line says of a request (the middleware's entry)."""
    organisation, user = _who(request)
    return {"request_id": request_id, "organisation": organisation, "user": user}


def request_forgotten() -> None:
    """The request is answered: lines logged from now on name none."""
    _forget()


request_finished.connect(_forget, dispatch_uid="trustconsole-logs-forget")


def task_started(task_id: str, name: str) -> None:
    """Celery's task_prerun: lines logged from now on name the task."""
    _task.set((task_id or "", name or ""))


def task_ended() -> None:
    """Celery's task_postrun."""
    _task.set(None)


def _who(request: Any) -> tuple[str, str]:
    actor = getattr(request, "actor", None) if request is not None else None
    if actor is None:
        return "", ""
    organisation = getattr(actor.organisation, "slug", "") or ""
    user = getattr(actor.user, "email", "") if actor.user is not None else ""
    token = getattr(actor, "token", None)
    if not user and token is not None:
        user = f"token {token.prefix}"
    return organisation, user


class ContextFilter(logging.Filter):
    """Adds request_id, organisation, user, task_id and task to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        organisation, user = _who(request)
        task = _task.get()
        record.request_id = _request_id.get()
        record.organisation = organisation
        record.user = user
        record.task_id = task[0] if task else ""
        record.task = task[1] if task else ""
        return True


_CONTEXT = ("request_id", "organisation", "user", "task_id", "task")


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT:
            value = getattr(record, key, "")
            if value:
                line[key] = value
        # Further fields of one kind of line (the access log's method, status…).
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)
