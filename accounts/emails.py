"""What the customer is told. Never the internal reason, never the signals."""

from __future__ import annotations

from django.conf import settings

from accounts.choices import Service

REQUEST_STEPS = (
    "To ask for a reassessment, contact our support team (or use the reassessment "
    "form in your portal) with these mandatory details: company name, company "
    "website, use case (e.g. OTP, order tracking), the services you want (SMS, voice, "
    "numbers, SIP trunking), a sample message if you want SMS, the countries you "
    "intend to send traffic to, estimated units per month and estimated spend per "
    "month.\n\nTo improve your chances, attach evidence of your business: certificate "
    "of incorporation, employer identification number (EIN), business card, Better "
    "Business Bureau membership or FCA register listing, a screenshot of your "
    "application or platform, mentions in the press or, for individuals, a profile "
    "page (Fiverr, Upwork, LinkedIn).\n\nWe aim to answer within 5-7 business days."
)


def services_text(services: list[str]) -> str:
    """Human names of services, e.g. "SMS and Voice"."""
    names = [Service(s).label for s in services]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _sign(org_name: str) -> str:
    return f"\n\n— {org_name} support"


def hold(*, org_name: str, company: str) -> tuple[str, str]:
    """Signup placed on the hold list."""
    subject = f"Your {org_name} account signup is on hold"
    body = (
        f"Hello {company},\n\nWe perform a risk assessment on every new signup to "
        "comply with telecommunication laws and carrier policies worldwide. Our "
        "assessment of your signup indicated a high risk, so it has been placed on "
        "our hold list and we are unable to provide service to you at this time.\n\n"
        "If you think this was done in error, you can raise a reassessment request. "
        "We may not be able to accommodate all requests.\n\n" + REQUEST_STEPS
    )
    return subject, body + _sign(org_name)


def restricted(*, org_name: str, company: str, services: list[str]) -> tuple[str, str]:
    """Restrictions applied after signup (continuous review or support)."""
    subject = f"Restrictions applied to your {org_name} account"
    body = (
        f"Hello {company},\n\nOur systems continuously review every account. We have "
        f"restricted the following services on your account: {services_text(services)}."
        "\n\nIf you think this was done in error, you can raise a reassessment "
        "request.\n\n" + REQUEST_STEPS
    )
    return subject, body + _sign(org_name)


def received(*, org_name: str, company: str) -> tuple[str, str]:
    """Reassessment request received."""
    subject = f"We received your reassessment request ({org_name})"
    body = (
        f"Hello {company},\n\nThank you. Our accounts team will review your request "
        "and aims to give you an update within 5-7 business days."
    )
    return subject, body + _sign(org_name)


def rejected(*, org_name: str, company: str, final: bool) -> tuple[str, str]:
    """A rejection: deliberately without a reason."""
    subject = f"Your reassessment request was not approved ({org_name})"
    body = (
        f"Hello {company},\n\nAfter review, we are unable to change the restrictions "
        "on your account. We do not provide the reason for a rejection."
    )
    if final:
        body += (
            "\n\nYour account has now been reviewed again and the decision will not "
            "change; further reassessment requests will not be accepted."
        )
    return subject, body + _sign(org_name)


def lifted(*, org_name: str, company: str) -> tuple[str, str]:
    """Everything lifted."""
    subject = f"Restrictions lifted on your {org_name} account"
    body = (
        f"Hello {company},\n\nGood news: after review, all restrictions on your "
        "account have been lifted."
    )
    return subject, body + _sign(org_name)


def limited(
    *, org_name: str, company: str, lifted_services: list[str], remaining: list[str]
) -> tuple[str, str]:
    """Some restrictions lifted."""
    subject = f"Restrictions limited on your {org_name} account"
    body = (
        f"Hello {company},\n\nAfter review, we lifted the restrictions on "
        f"{services_text(lifted_services)}. These services remain restricted: "
        f"{services_text(remaining)}."
    )
    return subject, body + _sign(org_name)


def info_requested(*, org_name: str, company: str, message: str) -> tuple[str, str]:
    """Support needs more information; the review waits for the answer."""
    subject = f"More information needed for your reassessment request ({org_name})"
    body = (
        f"Hello {company},\n\nTo continue reviewing your request we need more "
        f"information:\n\n{message}\n\nPlease reply with the details or evidence. "
        "The review continues as soon as we receive them."
    )
    return subject, body + _sign(org_name)


def blocked(*, org_name: str, company: str) -> tuple[str, str]:
    """Temporary block under case review."""
    subject = f"Your {org_name} account has been blocked"
    body = (
        f"Hello {company},\n\nOur anti-fraud and anti-spam systems have blocked your "
        "account. We cannot disclose specific details, as that would compromise the "
        "effectiveness of our security measures.\n\nIf you believe you have been "
        "blocked in error, contact our support team and we will manually review your "
        "case. If the offending traffic or behaviour can be identified and fixed, "
        "your account may be restored."
    )
    return subject, body + _sign(org_name)


def restored(*, org_name: str, company: str) -> tuple[str, str]:
    """The case review lifted a temporary block."""
    subject = f"Your {org_name} account has been restored"
    body = (
        f"Hello {company},\n\nWe have reviewed your case and lifted the block on "
        "your account: every service is available again. Please keep following our "
        "terms and best practices; complaints from end users about unsolicited "
        "messages, scam attempts or excessive calls may lead to a permanent block."
    )
    return subject, body + _sign(org_name)


def closed(*, org_name: str, company: str, feedback_subject: str) -> tuple[str, str]:
    """Permanent block: porting away, refunds, feedback (not an appeal)."""
    subject = f"Your {org_name} account has been permanently blocked"
    body = (
        f"Hello {company},\n\nWe have decided to permanently block your account. We "
        "may grant temporary access to port your phone numbers away; the port-out "
        "fee is waived for blocked accounts. If you have unused funds you may "
        "request a refund.\n\nIf you have feedback on the block review process, "
        f'send it with the subject line "{feedback_subject}". This is not a channel '
        "to appeal your account status and you may not receive a response."
    )
    return subject, body + _sign(org_name)


def port_away(
    *, org_name: str, company: str, numbers: list[str], expires: str
) -> tuple[str, str]:
    """Temporary access to port numbers away, fee waived."""
    subject = f"Port-away access for your {org_name} numbers"
    listed = "\n".join(f"  {n}" for n in numbers) or "  (none)"
    body = (
        f"Hello {company},\n\nYou may port these numbers away until {expires} "
        f"(UTC):\n{listed}\n\nThe port-out fee is waived."
    )
    return subject, body + _sign(org_name)


def refund(
    *, org_name: str, company: str, amount: str, outcome: str
) -> tuple[str, str]:
    """The outcome of a refund request."""
    subject = f"Your refund request ({org_name})"
    body = f"Hello {company},\n\nYour refund request of {amount} is now: {outcome}."
    return subject, body + _sign(org_name)


def from_address() -> str:
    """Sender of customer emails."""
    return settings.DEFAULT_FROM_EMAIL
