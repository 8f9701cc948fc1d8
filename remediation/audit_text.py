"""Audit sentences and field labels of the remediation app."""

from __future__ import annotations

from remediation.choices import GateStatus, Provider, RemediationStatus, SpamRisk
from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)

register_target("remediation.enterprise", "enterprise")
register_target("remediation.remediationrequest", "remediation request")
register_actions(
    {
        "remediation.settings_update": "{actor} changed the remediation settings",
        "remediation.webhook_secret_rotate": "{actor} replaced the status webhook "
        "signing secret",
        "remediation.submit": "{actor} submitted {phone_numbers_submitted} number(s) "
        "for remediation ({target})",
        "remediation.status_change": "{target} moved from {before_status} to {status}",
        "remediation.cancel": "{actor} cancelled {target}",
        "enterprise.create": "{actor} registered the enterprise {target}",
        "enterprise.update": "{actor} updated the enterprise {target}",
        "enterprise.delete": "{actor} removed the enterprise {target}",
        "enterprise.numbers_add": "{actor} added {count} number(s) to {target}",
        "enterprise.number_update": "{actor} changed the number {number} of {target}",
        "enterprise.number_remove": "{actor} removed the number {before_number} "
        "from {target}",
    }
)
register_fields(
    target_type="remediation.remediationrequest",
    choices={"status": RemediationStatus},
    labels={
        "phone_numbers_count": "Numbers in the request",
        "phone_numbers_submitted": "Numbers submitted",
        "phone_numbers_ineligible": "Numbers ineligible",
        "tier1_completed_at": "Tier 1 completed",
        "tier2_completed_at": "Tier 2 completed",
        "upstream_id": "Provider request id",
    },
)
register_fields(
    target_type="remediation.enterprise",
    choices={
        "reputation_status": GateStatus,
        "loa_status": GateStatus,
        "spam_risk": SpamRisk,
    },
    labels={
        "upstream_enterprise_id": "Provider enterprise id",
        "reputation_status": "Reputation status",
        "loa_status": "LOA status",
        "terms_accepted_at": "Terms accepted",
        "terms_accepted_by": "Terms accepted by",
        "spam_risk": "Spam risk",
        "monitored": "Monitored",
    },
)
register_fields(
    target_type="remediation.remediationsettings",
    choices={"provider": Provider},
    labels={
        "provider": "Provider",
        "api_base": "API address",
        "cooldown_days": "Cool-down (days)",
        "webhook_secret": "Signing secret",
    },
)
