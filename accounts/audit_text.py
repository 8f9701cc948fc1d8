"""Audit sentences and field labels of the accounts app."""

from __future__ import annotations

from accounts.choices import (
    AccountStatus,
    Decision,
    EvidenceKind,
    RefundStatus,
    RequestStatus,
    Service,
    SignalSource,
    SignalType,
)
from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)

register_target("accounts.account", "customer account")
register_target("accounts.reassessmentrequest", "reassessment request")
register_target("accounts.portawaygrant", "port-away grant")
register_target("accounts.refundrequest", "refund request")
register_target("accounts.feedback", "feedback")
register_actions(
    {
        "account.create": "{actor} registered the customer account {target}",
        "account.signal_add": "{actor} noted a risk on {target}: {signal_type}",
        "account.signal_expire": "{actor} noted that the risk signal {signal_type} "
        "on the customer account {target} expired",
        "account.usage_record": "{actor} recorded a day of usage for {target}",
        "account.numbers_add": "{actor} added numbers to {target}",
        "account.numbers_remove": "{actor} removed numbers from {target}",
        "account.hold": "{actor} put {target} on hold",
        "account.restrict": "{actor} restricted {target}",
        "account.block": "{actor} blocked {target} for case review",
        "account.close": "{actor} permanently blocked {target}",
        "account.lift": "{actor} lifted the restrictions of {target}",
        "account.limit": "{actor} lifted some restrictions of {target}",
        "account.restore": "{actor} restored {target} after case review",
        "account.decision_final": "{actor} made the hold on {target} final",
        "account.balance_refund": "{actor} refunded from the balance of {target}",
        "account_settings.update": "{actor} changed the account review thresholds",
        "reassessment.submit": "{actor} submitted {target}",
        "reassessment.evidence_add": "{actor} added evidence to {target}",
        "reassessment.resume": "{actor} resumed the review of {target}",
        "reassessment.ask_info": "{actor} asked for more information on {target}",
        "reassessment.decide": "{actor} decided {target}: {decision}",
        "reassessment.reject_zero_tolerance": "{actor} rejected {target} at once "
        "(zero tolerance)",
        "port_away.grant": "{actor} granted {target} with the port-out fee waived",
        "port_away.expire": "{actor} ended {target}: the grant expired",
        "refund.request": "{actor} recorded a request for a refund of {amount} "
        "({target})",
        "refund.outcome": "{actor} marked the {target} as {status}",
        "feedback.receive": "{actor} recorded feedback {target} (not an appeal)",
    }
)
register_fields(
    target_type="accounts.account",
    choices={
        "status": AccountStatus,
        "restricted_services": Service,
        "signal_type": SignalType,
        "source": SignalSource,
    },
    labels={
        "restricted_services": "Restricted services",
        "status_reason": "Reason given",
        "status_by": "Decided by",
        "risk_score": "Risk score",
        "signal_type": "Risk",
        "weight": "Weight",
        "source": "Raised by",
        "company_name": "Company",
        "website": "Website",
        "country": "Country",
        "added": "Numbers added",
        "removed": "Numbers removed",
        "decision_final": "Decision final",
        "kept_reviews": "Reviews that kept the hold",
        "balance": "Balance",
        "day": "Day",
        "payment_flagged": "Payment flagged",
        "expires_at": "Expires",
    },
)
register_fields(
    target_type="accounts.reassessmentrequest",
    choices={
        "status": RequestStatus,
        "decision": Decision,
        "services_wanted": Service,
        "services_lifted": Service,
        "kind": EvidenceKind,
    },
    labels={
        "services_wanted": "Services wanted",
        "services_lifted": "Services lifted",
        "decision": "Decision",
        "evidence": "Evidence items",
        "due_on": "Due",
        "warn_on": "Due soon from",
        "message": "Message to the customer",
        "kind": "Evidence",
    },
)
register_fields(
    target_type="accounts.refundrequest",
    choices={"status": RefundStatus},
    labels={"amount": "Amount"},
)
register_fields(
    target_type="accounts.portawaygrant",
    labels={"port_out_fee_waived": "Port-out fee waived", "expired_at": "Ended"},
)
register_fields(target_type="accounts.feedback", labels={"ticket_id": "Ticket"})
