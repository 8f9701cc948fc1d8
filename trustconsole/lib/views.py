"""Helpers shared by the browser views of every app."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http.response import HttpResponseBase

from trustconsole.core.actor import ActorRequest

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def member_required(view: View) -> View:
    """Logged in and a member of an organisation (`request.actor` is set)."""

    @login_required
    @wraps(view)
    def wrapper(request: ActorRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.actor is None:
            raise PermissionDenied("Your login is not a member of any organisation.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def paginate(
    request: ActorRequest, queryset: QuerySet[Any], *, per_page: int = 50
) -> Page[Any]:
    """The requested page of a list (bad page numbers give the nearest page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
