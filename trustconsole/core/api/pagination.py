"""Page-number pagination shared by the console's own list endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


def _whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise exceptions.ValidationError(
            {name: f"Give a whole number from {minimum:,} to {maximum:,}."}
        )
    return int(raw)


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M` (default 50, at most 500), with count and links.

    A page or page size that is not a whole number in range is a 400 naming the
    parameter (never silently replaced by the default); a page past the end is 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    max_page = 10**9

    def get_page_size(self, request: Request) -> int:
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        return _whole_number(
            request, self.page_size_query_param, minimum=1, maximum=self.max_page_size
        )

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        if self.page_query_param not in request.query_params:
            return 1
        return _whole_number(
            request, self.page_query_param, minimum=1, maximum=self.max_page
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter["schema"]
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
            else:
                schema["maximum"] = self.max_page
        return parameters
