"""URLs of the built-in sandbox provider, mounted at /sandbox/telnyx/."""

from __future__ import annotations

from django.urls import path, re_path

from remediation import sandbox

app_name = "remediation_sandbox"

BASE = "v2/enterprises/<str:enterprise_id>/reputation/remediation"

urlpatterns = [
    path(BASE, sandbox.remediation_collection, name="collection"),
    path(f"{BASE}/<str:remediation_id>", sandbox.remediation_item, name="item"),
    path(
        f"{BASE}/<str:remediation_id>/actions/cancel",
        sandbox.remediation_cancel,
        name="cancel",
    ),
    path("control/faults", sandbox.faults, name="faults"),
    re_path(r"^(?P<rest>.*)$", sandbox.not_found, name="not_found"),
]
