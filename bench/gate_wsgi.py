"""WSGI entry points of the call-gate benchmark, timed from request arrival.

`application` is the console (bench settings); `raw` is the raw-WSGI limit: read
the body, check the Telnyx Ed25519 signature with PyNaCl (as
voicegate/signatures.py does), parse the JSON, look the caller up in a Python set,
answer — no Django. Both are wrapped in `timed`: the time from the worker handing
the parsed request to the app until the response has been written (the iterable
closed) is appended to BENCH_TIMING_DIR/<pid>.txt in µs, so the latency reported
includes the Redis round trip, any provider command and the response.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import time
from pathlib import Path
from typing import Any

_DIR = os.environ.get("BENCH_TIMING_DIR")
_COUNT_QUERIES = os.environ.get("BENCH_COUNT_QUERIES") == "1"
_samples: list[int] = []
_queries: list[int] = []


def _flush() -> None:
    if _DIR and _samples:
        with (Path(_DIR) / f"{os.getpid()}.txt").open("a") as out:
            out.write("".join(f"{us}\n" for us in _samples))
        _samples.clear()
    if _DIR and _queries:
        with (Path(_DIR) / f"{os.getpid()}.queries").open("a") as out:
            out.write("".join(f"{n}\n" for n in _queries))
        _queries.clear()


atexit.register(_flush)


class _Closing:
    """The response iterable; records the time when the server closes it."""

    def __init__(self, body: Any, started: float) -> None:
        self.body, self.started = body, started

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            _samples.append(int((time.perf_counter() - self.started) * 1e6))
            if len(_samples) >= 500:
                _flush()


def timed(app):
    """`app`, timed from arrival to the end of its response."""

    def wrapper(environ, start_response):
        started = time.perf_counter()
        if environ.get("HTTP_X_BENCH_PHASE") == "warm":
            return app(environ, start_response)  # the warm-up: not timed
        if _COUNT_QUERIES:
            return _Closing(_counted(app, environ, start_response), started)
        return _Closing(app(environ, start_response), started)

    return wrapper


def _counted(app, environ, start_response):
    """The app's response, counting the SQL statements it sent (BEGIN, COMMIT and
    savepoints are not statements of the work and are left out)."""
    from django.db import connection

    sent = [0]

    def count(execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = app(environ, start_response)
    _queries.append(sent[0])
    return response


def _raw_app():
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    key = VerifyKey(base64.b64decode(os.environ["BENCH_TELNYX_PUBLIC_KEY"]))
    blocked_file = os.environ.get("BENCH_BARE_BLOCKED_FILE")
    blocked = frozenset(Path(blocked_file).read_text().split() if blocked_file else ())

    def answer(start_response, status: str, body: dict) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            return answer(start_response, "200 OK", {"status": "ok"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        stamp = environ.get("HTTP_TELNYX_TIMESTAMP", "")
        try:
            if abs(time.time() - int(stamp)) > 300:
                return answer(start_response, "403 Forbidden", {"detail": "stale"})
            signature = base64.b64decode(environ["HTTP_TELNYX_SIGNATURE_ED25519"])
            key.verify(stamp.encode() + b"|" + body, signature)
        except (KeyError, ValueError, BadSignatureError):
            return answer(start_response, "403 Forbidden", {"detail": "signature"})
        caller = json.loads(body)["data"]["payload"]["from"]
        decision = "reject" if caller in blocked else "allow"
        return answer(start_response, "200 OK", {"decision": decision})

    return app


if os.environ.get("BENCH_RAW_WSGI") == "1":
    application = timed(_raw_app())
else:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.gate_settings")
    from trustconsole.wsgi import application as _console

    application = timed(_console)
