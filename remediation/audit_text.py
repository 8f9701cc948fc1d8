"""Audit sentences and field labels of the remediation app."""

from __future__ import annotations

from remediation.choices import (
    CheckFrequency,
    GateStatus,
    Provider,
    RemediationStatus,
    SpamRisk,
)
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

# Number reputation monitoring.
register_target("remediation.remediationsettings", "remediation settings")
register_actions(
    {
        "reputation.enable": "{actor} enabled number reputation monitoring for "
        "{target}",
        "reputation.frequency_update": "{actor} changed how often the numbers of "
        "{target} are checked",
        "reputation.disable": "{actor} disabled number reputation monitoring for "
        "{target}; {numbers_deregistered} number(s) are no longer monitored",
        "reputation.status_change": "The provider reported new monitoring gates for "
        "{target}",
        "reputation.numbers_register": "{actor} registered {count} number(s) of "
        "{target} for monitoring",
        "reputation.number_deregister": "{actor} stopped monitoring a number of "
        "{target}",
        "reputation.numbers_unlisted": "The provider no longer monitors some numbers "
        "of {target}",
        "reputation.risk_change": "The spam risk of numbers of {target} changed",
        "reputation.refresh_request": "{actor} asked for a billable refresh of "
        "numbers of {target}",
        "reputation.refresh_done": "A billable refresh of numbers of {target} finished",
        "reputation.refresh_failed": "The provider refused a refresh of numbers of "
        "{target}",
        "reputation.number_flagged": "The provider flagged a number of {target}",
        "reputation.number_removed": "The provider stopped monitoring a number of "
        "{target}",
        "reputation.verification_status": "The external verification of a number of "
        "{target} changed",
        "reputation.settings_update": "{actor} changed the number reputation "
        "monitoring settings",
        "remediation.follow_up_scheduled": "{target} completed: its monitored "
        "numbers will be refreshed to see whether their risk fell",
        "remediation.follow_up_done": "The follow-up refresh after {target} finished",
    }
)
register_fields(
    target_type="remediation.enterprise",
    choices={"check_frequency": CheckFrequency, "spam_risk": SpamRisk},
    labels={
        "check_frequency": "Check frequency",
        "loa_document_id": "LOA document id",
        "monitoring": "Monitoring",
        "numbers_deregistered": "Numbers no longer monitored",
        "count": "Numbers",
        "numbers": "Numbers",
        "number": "Number",
        "successful": "Numbers refreshed",
        "verification_status": "External verification",
        "reason": "Reason",
    },
)
register_fields(
    target_type="remediation.remediationrequest",
    labels={"numbers": "Monitored numbers", "at": "Refreshed at"},
)
register_fields(
    target_type="remediation.remediationsettings",
    labels={
        "review_flagged": "Review newly flagged numbers",
        "telnyx_public_key": "Webhook public key",
        "time_zone": "Time zone",
    },
)
