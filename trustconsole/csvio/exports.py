"""CSV exports, streamed: visitors, the voice block list and IP blocks, each with
the filters of its list page. The columns are the import's, so an export can be
edited and imported again (read-only columns such as the score are ignored)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from trustconsole.core.actor import Actor
from trustconsole.csvio.kinds import KINDS, LIST_SEPARATOR

CHUNK = 1000


class _Line:
    """A file-like object whose `write` hands back the line (csv.writer needs one)."""

    def write(self, value: str) -> str:
        return value


# A cell a spreadsheet would run as a formula (visitor names and widget ids come
# from strangers): written with a leading apostrophe, which imports strip again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: str) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    return "'" + value if value.startswith(FORMULA_START) else value


def unsafe(value: str) -> str:
    """The text `safe` wrote."""
    return (
        value[1:] if value[:1] == "'" and value[1:].startswith(FORMULA_START) else value
    )


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def _stream(header: Iterable[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(list(header))
    block: list[str] = []
    for row in rows:
        block.append(writer.writerow(row))
        if len(block) >= 200:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def _visitor_rows(visitors: QuerySet[Any]) -> Iterator[list[Any]]:
    from visitors.choices import IdentifierKind
    from visitors.models import RiskSignal, active_signals_q

    order = {
        IdentifierKind.EMAIL: 0,
        IdentifierKind.PHONE: 1,
        IdentifierKind.IP: 2,
        IdentifierKind.WIDGET: 3,
    }
    qs = visitors.prefetch_related(
        "identifiers",
        Prefetch(
            "signals",
            queryset=RiskSignal.objects.filter(active_signals_q()).order_by(
                "created_at"
            ),
            to_attr="active_signals",
        ),
    )
    for visitor in qs.iterator(chunk_size=CHUNK):
        ids: list[list[str]] = [[], [], [], []]
        for identifier in sorted(visitor.identifiers.all(), key=lambda i: i.value):
            ids[order[identifier.kind]].append(identifier.value)
        emails, phones, ips, widget_ids = (LIST_SEPARATOR.join(v) for v in ids)
        yield [
            safe(visitor.name),
            safe(emails),
            phones,  # E.164: starts with + and is only digits
            ips,
            safe(widget_ids),
            visitor.status,
            safe(visitor.status_reason),
            LIST_SEPARATOR.join(
                f"{s.signal_type}:{s.level}" for s in visitor.active_signals
            ),
            str(visitor.public_id),
            visitor.trust_score,
            visitor.band,
            _iso(visitor.last_seen_at),
        ]


def _number_rows(numbers: QuerySet[Any]) -> Iterator[list[Any]]:
    for row in numbers.iterator(chunk_size=CHUNK):
        yield [row.number, safe(row.reason), safe(row.added_by), _iso(row.created_at)]


def _ip_rows(blocks: QuerySet[Any]) -> Iterator[list[Any]]:
    for block in blocks.iterator(chunk_size=CHUNK):
        yield [
            block.display,
            safe(block.reason),
            _iso(block.expires_at),
            safe(block.created_by),
            _iso(block.created_at),
        ]


ROWS = {"visitors": _visitor_rows, "block_list": _number_rows, "ip_blocks": _ip_rows}
FILE_NAMES = {
    "visitors": "visitors",
    "block_list": "voice-block-list",
    "ip_blocks": "ip-blocks",
}


def filtered(*, actor: Actor, kind: str, params: Mapping[str, Any]) -> QuerySet[Any]:
    """The list page's rows under its filters (`params` as the page reads them),
    or a ValidationError naming each bad filter."""
    if kind == "visitors":
        from visitors.forms import VisitorFilterForm
        from visitors.selectors import visitor_list

        form = VisitorFilterForm(params)
        if not form.is_valid():
            raise ValidationError(
                {
                    name: " ".join(map(str, errors))
                    for name, errors in form.errors.items()
                }
            )
        return visitor_list(actor=actor, **form.filters())
    if kind == "block_list":
        from voicegate.selectors import blocked_number_list

        return blocked_number_list(actor=actor, search=str(params.get("q") or "")[:40])
    from visitors.selectors import ip_block_list

    expired = str(params.get("expired") or "").lower() in ("1", "true")
    return ip_block_list(actor=actor, include_expired=expired)


def csv_response(kind: str, queryset: QuerySet[Any]) -> StreamingHttpResponse:
    """A streamed `text/csv` download of `queryset` in the kind's columns."""
    spec = KINDS[kind]
    response = StreamingHttpResponse(
        _stream(spec.all_columns, ROWS[kind](queryset)),
        content_type="text/csv; charset=utf-8",
    )
    name = f"{FILE_NAMES[kind]}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
