"""Root URLs: pages, the REST API with its schema, health."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from remediation.reputation_hooks import reputation_webhook
from trustconsole.core.forms import AdminLoginForm
from trustconsole.core.metrics import metrics_view
from trustconsole.core.views import LoginView, healthz

# The admin's log-in is throttled like the console's.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    # Call webhooks first: every provider request resolves in one step.
    path("voice/hooks/", include("voicegate.hook_urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path(
        "login/",
        LoginView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file (no inline script).
        SpectacularSwaggerSplitView.as_view(url_name="api_schema"),
        name="api_docs",
    ),
    path("api/v1/", include("trustconsole.core.api.urls")),
    path("api/v1/", include("visitors.api.urls")),
    path("api/v1/", include("voicegate.api.urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("remediation.api.urls")),
    path("api/v1/", include("trustconsole.csvio.api_urls")),
    path("api/v1/", include("trustconsole.workqueue.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("api/v1/", include("trustconsole.rules.api")),
    # The provider-compatible remediation API and the built-in sandbox provider.
    path("v2/", include("remediation.api.v2_urls")),
    path("sandbox/telnyx/", include("remediation.sandbox_urls")),
    # The provider's Number Reputation webhooks, one address per organisation.
    path(
        "hooks/reputation/<str:organisation_id>/",
        reputation_webhook,
        name="reputation_webhook",
    ),
    path("", include("trustconsole.csvio.urls")),
    path("", include("trustconsole.workqueue.urls")),
    path("", include("visitors.urls")),
    path("", include("voicegate.urls")),
    path("", include("accounts.urls")),
    path("", include("remediation.urls")),
    path("", include("notifications.urls")),
    path("", include("trustconsole.rules.urls")),
    path("", include("trustconsole.core.urls")),
]
