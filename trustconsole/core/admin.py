"""Django admin for the core models; audit entries are read-only there."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from trustconsole.core.models import ApiToken, AuditEntry, Membership, Organisation


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Organisations."""

    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Memberships."""

    list_display = ("user", "organisation", "role")
    list_filter = ("role", "organisation")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """API tokens: the hash is never shown."""

    list_display = (
        "name",
        "prefix",
        "organisation",
        "role",
        "last_used_at",
        "revoked_at",
    )
    exclude = ("token_hash",)
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created in Settings, where the value is shown once


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit trail: view only."""

    list_display = (
        "created_at",
        "organisation",
        "actor_label",
        "action",
        "target_label",
    )
    list_filter = ("action",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
