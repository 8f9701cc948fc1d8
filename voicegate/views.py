"""Browser views of the voicegate app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trustconsole.lib.views import member_required


@member_required
def index(request: HttpRequest) -> HttpResponse:
    """Voice."""
    context = {"title": "Voice", "empty": "No voice connections yet."}
    return render(request, "core/empty_section.html", context)
