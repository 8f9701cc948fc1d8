"""CSV export of a Do-Not-Call list, streamed (the browser and the API share it)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from voicegate.policy import selectors
from voicegate.policy.models import DncList


def _blocks(dnc_list: DncList, size: int = 5_000) -> Iterator[str]:
    yield "number\n"
    block: list[str] = []
    for number in selectors.dnc_entry_stream(dnc_list=dnc_list):
        block.append(number)
        if len(block) >= size:
            yield "\n".join(block) + "\n"
            block = []
    if block:
        yield "\n".join(block) + "\n"


def csv_lines(dnc_list: DncList) -> StreamingHttpResponse:
    """A streamed `text/csv` download of every number on the list (E.164)."""
    name = f"dnc-{slugify(dnc_list.name) or 'list'}-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(_blocks(dnc_list), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
