"""Django admin for customer accounts (read-mostly; changes go through services)."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import Account, AccountSettings, ReassessmentRequest


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Customer accounts."""

    list_display = ("company_name", "email", "status", "organisation", "signup_at")
    list_filter = ("status", "organisation")
    search_fields = ("company_name", "email")
    readonly_fields = [f.name for f in Account._meta.fields]


@admin.register(ReassessmentRequest)
class ReassessmentRequestAdmin(admin.ModelAdmin):
    """Reassessment requests."""

    list_display = ("company_name", "status", "submitted_at", "due_on")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ReassessmentRequest._meta.fields]


admin.site.register(AccountSettings)
