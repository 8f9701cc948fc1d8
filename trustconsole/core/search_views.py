"""The global search page: a fragment for the Ctrl-K box, a page without JS."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from trustconsole.core.actor import ActorRequest
from trustconsole.core.search import MAX_LENGTH, search
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required


@member_required
def search_page(request: ActorRequest) -> HttpResponse:
    """GET /search/?q=…: grouped results (the box's fragment when htmx asks)."""
    q = request.GET.get("q", "")[:MAX_LENGTH]
    results = search(actor=request.actor, q=q)
    context = {"results": results, "q": results.q}
    if htmx_partial(request):
        return render(request, "core/partials/_search_results.html", context)
    return render(request, "core/search.html", context)
