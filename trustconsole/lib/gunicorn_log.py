"""gunicorn's own log lines as JSON when `LOG_FORMAT=json`.

`trustconsole/gunicorn_conf.py` names `JsonLogger` as gunicorn's logger class.
Its error log (boot, worker start and exit) goes through the console's
`JsonFormatter`; each access log line is one JSON object with the keys of the
app's lines (`time`, `level`, `logger`, `message`, `request_id`, `organisation`,
`user`, read from the request's WSGI environ, where `RequestIdMiddleware` left
them) and the request's:

    {"time": "...", "level": "INFO", "logger": "gunicorn.access",
     "message": "GET /healthz 200", "request_id": "req-1", "method": "GET",
     "path": "/healthz", "query": "", "status": 200, "bytes": 15,
     "duration_ms": 3.1, "remote_addr": "127.0.0.1", "user_agent": "curl/8"}
"""

from __future__ import annotations

import traceback
from typing import Any

from gunicorn import glogging

from trustconsole.lib.logs import ACCESS_KEY, HEADER, JsonFormatter


class JsonLogger(glogging.Logger):
    """gunicorn's logger with JSON lines for its error and access logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> None:
        if not self.access_log_enabled:
            return
        try:
            fields = access_fields(resp, environ, request_time)
            message = f"{fields['method']} {fields['path']} {fields['status']}"
            self.access_log.info(message, extra={"fields": fields})
        except Exception:
            self.error(traceback.format_exc())


def _status(value: Any) -> int | str:
    code = str(value).split(None, 1)[0]
    return int(code) if code.isdigit() else code


def access_fields(
    resp: Any, environ: dict[str, Any], request_time: Any
) -> dict[str, Any]:
    """The fields of one access log line, the app's context keys first."""
    context = environ.get(ACCESS_KEY) or {}
    request_id = context.get("request_id") or next(
        (v for k, v in resp.headers if k.lower() == HEADER.lower()), ""
    )
    fields: dict[str, Any] = {
        "request_id": request_id,
        "organisation": context.get("organisation", ""),
        "user": context.get("user", ""),
    }
    fields = {k: v for k, v in fields.items() if v}  # as the app's lines
    fields.update(
        {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "status": _status(resp.status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
            "referer": environ.get("HTTP_REFERER", ""),
            "protocol": environ.get("SERVER_PROTOCOL", ""),
        }
    )
    return fields
