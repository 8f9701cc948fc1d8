"""Page-number pagination shared by the console's own list endpoints."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M` (default 50, at most 500), with count and links."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
