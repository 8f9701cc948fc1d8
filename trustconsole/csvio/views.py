"""Browser views: import a CSV (dry run first), watch its progress, export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.csvio import exports, selectors, services
from trustconsole.csvio.forms import ImportForm
from trustconsole.csvio.kinds import KINDS
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required

ERRORS_SHOWN = 500


def _kind(kind: str) -> Any:
    if kind not in KINDS:
        raise Http404("No such import.")
    return KINDS[kind]


def _add_errors(form: ImportForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@member_required
def import_form(request: ActorRequest, kind: str) -> HttpResponse:
    """Upload a CSV of visitors, block-list numbers or IP blocks (operators)."""
    spec = _kind(kind)
    request.actor.require(*services.IMPORT_ROLES)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_start(
                actor=request.actor,
                kind=kind,
                upload=upload,
                file_name=upload.name,
                dry_run=form.cleaned_data["dry_run"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect("csvio:import_detail", public_id=job.public_id)
    context = {
        "form": form,
        "spec": spec,
        "imports": selectors.import_list(actor=request.actor, kind=kind)[:10],
        "max_bytes": settings.CSV_IMPORT_MAX_BYTES,
        "dry_run_ttl_hours": settings.CSV_DRY_RUN_TTL_HOURS,
    }
    return render(
        request, "csvio/import_form.html", context, status=400 if form.errors else 200
    )


def _detail_context(request: ActorRequest, job: Any) -> dict[str, Any]:
    return {
        "job": job,
        "spec": KINDS[job.kind],
        "errors_shown": job.errors[:ERRORS_SHOWN],
        "errors_more": max(0, len(job.errors) - ERRORS_SHOWN),
        "can_import": request.actor.can(*services.IMPORT_ROLES),
    }


@member_required
def import_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """An import's progress and outcome; htmx polls the fragment while it runs."""
    job = selectors.import_get(actor=request.actor, public_id=public_id)
    context = _detail_context(request, job)
    if htmx_partial(request):
        return render(request, "csvio/partials/_progress.html", context)
    return render(request, "csvio/import_detail.html", context)


@member_required
@require_POST
def import_apply(request: ActorRequest, public_id: str) -> HttpResponse:
    """Import the file of a finished dry run for real (operators)."""
    job = selectors.import_get(actor=request.actor, public_id=public_id)
    try:
        real = services.import_apply(actor=request.actor, job=job)
    except ValidationError as exc:
        context = {
            **_detail_context(request, job),
            "apply_error": " ".join(exc.messages),
        }
        return render(request, "csvio/import_detail.html", context, status=400)
    return redirect("csvio:import_detail", public_id=real.public_id)


class _Line:
    def write(self, value: str) -> str:
        return value


@member_required
def import_errors(request: ActorRequest, public_id: str) -> StreamingHttpResponse:
    """Every problem of an import as CSV: line, column, reason."""
    job = selectors.import_get(actor=request.actor, public_id=public_id)
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield writer.writerow(["line", "column", "reason"])
        for e in job.errors:
            yield writer.writerow([e["line"], e["field"], e["reason"]])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="errors-{job.public_id}.csv"'
    )
    return response


@member_required
def export(request: ActorRequest, kind: str) -> HttpResponseBase:
    """Download a list as CSV, with the filters of its page (any member who can
    see the list)."""
    spec = _kind(kind)
    try:
        queryset = exports.filtered(actor=request.actor, kind=kind, params=request.GET)
    except ValidationError as exc:
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        back = reverse(spec.list_url)
        return HttpResponse(
            f"The filters are not valid, nothing was exported: {text}. Back: {back}",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    return exports.csv_response(kind, queryset)
