"""The provider's JSON:API conventions: timestamps, pagination, filters, errors.

Shared by the console's /v2 API and the sandbox provider so both answer alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.http import JsonResponse
from django.utils.dateparse import parse_date, parse_datetime

from remediation.choices import RemediationStatus
from remediation.errors import BadRequest, Problem, problem

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 250


def format_timestamp(value: dt.datetime | None) -> str | None:
    """UTC with microseconds and a Z, as the seed shows: 2026-06-07T18:06:51.940749Z."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_response(
    status: int, problems: list[Problem], headers: Mapping[str, str] | None = None
) -> JsonResponse:
    """`{"errors": [...]}` with the given status."""
    response = JsonResponse({"errors": [p.as_json() for p in problems]}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@dataclass(frozen=True)
class PageRequest:
    """A validated `page[number]` / `page[size]` pair (size already capped)."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.number - 1) * self.size

    def meta(self, total: int) -> dict[str, int]:
        """The seed's `meta` block."""
        return {
            "page_number": self.number,
            "page_size": self.size,
            "total_results": total,
            "total_pages": math.ceil(total / self.size) if total else 0,
        }


MAX_PAGE_NUMBER = 10**9


def _positive_int(
    params: Mapping[str, str], name: str, default: int, maximum: int | None = None
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    text = raw.strip()
    try:
        if not text.isascii():  # int() would read other scripts' digits too
            raise ValueError(text)
        value = int(text)
    except ValueError:
        raise BadRequest(
            [
                problem(
                    400, f"{name} must be a whole number, not {raw!r}.", parameter=name
                )
            ]
        ) from None
    if value < 1:
        raise BadRequest(
            [problem(400, f"{name} must be 1 or more (got {value}).", parameter=name)]
        )
    if maximum is not None and value > maximum:
        raise BadRequest(
            [
                problem(
                    400,
                    f"{name} must be at most {maximum:,} (got {value:,}).",
                    parameter=name,
                )
            ]
        )
    return value


def parse_page(params: Mapping[str, str]) -> PageRequest:
    """JSON:API pagination: 1-based numbers; size defaults to 20, capped at 250."""
    number = _positive_int(params, "page[number]", 1, MAX_PAGE_NUMBER)
    size = min(_positive_int(params, "page[size]", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    return PageRequest(number=number, size=size)


def parse_timestamp(raw: str, name: str) -> dt.datetime:
    """An ISO 8601 timestamp (or date, meaning 00:00 UTC); naive values are UTC."""
    value = raw.strip()
    # An unencoded "+01:00" arrives as " 01:00" in a query string.
    candidates = [value, value.replace(" ", "+")]
    for candidate in candidates:
        try:
            parsed = parse_datetime(candidate)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=dt.UTC)
            try:
                # In UTC: databases refuse some offsets Python accepts (-18:09).
                return parsed.astimezone(dt.UTC)
            except OverflowError:
                break
        try:
            day = parse_date(candidate)
        except ValueError:
            day = None
        if day is not None:
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    raise BadRequest(
        [
            problem(
                400,
                f"{name} must be an ISO 8601 timestamp such as "
                f"2026-06-01T00:00:00Z, not {raw!r}.",
                parameter=name,
            )
        ]
    )


@dataclass(frozen=True)
class ListFilters:
    """The seed's list filters, validated."""

    status: str = ""
    created_gte: dt.datetime | None = None
    created_lte: dt.datetime | None = None


KNOWN_PARAMETERS = {
    "page[number]",
    "page[size]",
    "filter[status]",
    "filter[created_at][gte]",
    "filter[created_at][lte]",
}


def parse_filters(params: Mapping[str, str]) -> ListFilters:
    """`filter[status]`, `filter[created_at][gte]`, `filter[created_at][lte]`.

    An unknown `filter[...]` or `page[...]` parameter is refused rather than
    silently ignored, so a typo never returns an unfiltered list.
    """
    unknown = [
        name
        for name in params
        if name.startswith(("filter[", "page[")) and name not in KNOWN_PARAMETERS
    ]
    if unknown:
        raise BadRequest(
            [
                problem(400, f"Unknown query parameter {name}.", parameter=name)
                for name in sorted(unknown)
            ]
        )
    status = params.get("filter[status]", "").strip()
    if status and status not in RemediationStatus.values:
        allowed = ", ".join(RemediationStatus.values)
        raise BadRequest(
            [
                problem(
                    400,
                    f"filter[status] must be one of {allowed}, not {status!r}.",
                    parameter="filter[status]",
                )
            ]
        )
    gte = params.get("filter[created_at][gte]")
    lte = params.get("filter[created_at][lte]")
    return ListFilters(
        status=status,
        created_gte=parse_timestamp(gte, "filter[created_at][gte]") if gte else None,
        created_lte=parse_timestamp(lte, "filter[created_at][lte]") if lte else None,
    )
