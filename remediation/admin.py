"""Django admin for remediation: read-mostly views for operators of the console."""

from __future__ import annotations

from django.contrib import admin

from remediation.models import (
    Enterprise,
    OwnedNumber,
    RemediationRequest,
    WebhookDelivery,
)


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    """Enterprises and their gates."""

    list_display = ("name", "organisation", "reputation_status", "loa_status")
    list_filter = ("reputation_status", "loa_status")
    search_fields = ("name",)


@admin.register(OwnedNumber)
class OwnedNumberAdmin(admin.ModelAdmin):
    """Owned numbers."""

    list_display = ("e164", "enterprise", "spam_risk", "monitored")
    list_filter = ("spam_risk",)
    search_fields = ("e164",)


@admin.register(RemediationRequest)
class RemediationRequestAdmin(admin.ModelAdmin):
    """Remediation requests (changed only through the console)."""

    list_display = ("public_id", "enterprise", "status", "phone_numbers_count")
    list_filter = ("status",)
    readonly_fields = [f.name for f in RemediationRequest._meta.fields]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Status webhooks."""

    list_display = ("public_id", "request", "status_to", "status", "attempts")
    list_filter = ("status",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
