"""Browser views of the accounts app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trustconsole.lib.views import member_required


@member_required
def index(request: HttpRequest) -> HttpResponse:
    """Accounts."""
    context = {"title": "Accounts", "empty": "No customer accounts yet."}
    return render(request, "core/empty_section.html", context)
