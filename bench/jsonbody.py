"""Benchmark: what the bounded JSON reader costs over plain `json.loads`.

    python bench/jsonbody.py [--runs 7]

Bodies: a Telnyx `call.initiated` event (the call gate's hot path), a 2,000-number
remediation submission and a visitor upsert. Each is read with `json.loads` (the
baseline: no size or depth limit) and with `trustconsole.lib.jsonbody.parse`, in the
same run; the best of several timed rounds is printed in microseconds per body.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import timeit
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustconsole.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from trustconsole.lib import jsonbody  # noqa: E402

EVENT = {
    "data": {
        "record_type": "event",
        "event_type": "call.initiated",
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-23T10:00:00.000000Z",
        "payload": {
            "call_control_id": "v3:" + uuid.uuid4().hex,
            "connection_id": "7267000000000000",
            "direction": "incoming",
            "from": "+14155550123",
            "state": "parked",
            "to": "+14155550100",
        },
    },
    "meta": {"attempt": 1, "delivered_to": "https://console.example.com"},
}
BODIES = {
    "telnyx event": EVENT,
    "remediation, 2,000 numbers": {
        "phone_numbers": [f"+1202{5550000 + i:07d}" for i in range(2000)],
        "call_purpose": "Appointment reminders",
    },
    "visitor upsert": {"name": "Dana", "emails": ["dana@example.com"], "ips": ["::1"]},
}


def best(fn: object, raw: bytes, number: int, runs: int) -> float:
    timer = timeit.Timer(lambda: fn(raw))  # type: ignore[operator]
    return min(timer.repeat(repeat=runs, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'body':<28} {'bytes':>8} {'json.loads µs':>14} {'jsonbody µs':>12}")
    for name, value in BODIES.items():
        raw = json.dumps(value).encode()
        number = max(20, 200_000 // len(raw))
        base = best(json.loads, raw, number, args.runs)
        ours = best(jsonbody.parse, raw, number, args.runs)
        print(f"{name:<28} {len(raw):>8} {base:>14.1f} {ours:>12.1f}")


if __name__ == "__main__":
    main()
