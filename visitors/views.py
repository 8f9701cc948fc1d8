"""Browser views of the visitors app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trustconsole.lib.views import member_required


@member_required
def visitor_list(request: HttpRequest) -> HttpResponse:
    """Security → Visitors."""
    context = {"title": "Security → Visitors", "empty": "No visitors yet."}
    return render(request, "core/empty_section.html", context)


@member_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Review queue."""
    context = {"title": "Review queue", "empty": "The review queue is empty."}
    return render(request, "core/empty_section.html", context)


@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Inbox."""
    context = {"title": "Inbox", "empty": "No conversations yet."}
    return render(request, "core/empty_section.html", context)
