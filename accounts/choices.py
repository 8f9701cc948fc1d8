"""Choices of the accounts app (vocabulary of the Plivo and Telnyx seeds)."""

from __future__ import annotations

from django.db import models


class AccountStatus(models.TextChoices):
    """Where a customer account stands."""

    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    RESTRICTED = "restricted", "Restricted"
    BLOCKED = "blocked", "Blocked (case review)"
    CLOSED = "closed", "Closed (permanent block)"


class Service(models.TextChoices):
    """Services an account may be restricted from."""

    SMS = "sms", "SMS"
    VOICE = "voice", "Voice"
    NUMBERS = "numbers", "Numbers"
    SIP_TRUNKING = "sip_trunking", "SIP trunking"


ALL_SERVICES: tuple[str, ...] = tuple(Service.values)


class SignalType(models.TextChoices):
    """Why an account looks risky."""

    DISPOSABLE_EMAIL = "disposable_email", "Disposable email domain"
    FREE_MAIL = "free_mail", "Free-mail domain for a business"
    WEBSITE_MISMATCH = "website_mismatch", "Website domain does not match email"
    NO_WEBSITE = "no_website", "No company website"
    HIGH_RISK_COUNTRY = "high_risk_country", "High-risk country"
    PAYMENT_FLAGGED = "payment_flagged", "Payment flagged by the payment provider"
    CARRIER_COMPLAINTS = "carrier_complaints", "Carrier complaints"
    PHISHING_SPAM = "phishing_spam", "Phishing or spam"
    NUMBERS_WITHOUT_USAGE = (
        "numbers_without_usage",
        "Numbers without proportionate outbound usage",
    )
    VOLUME_SPIKE = "volume_spike", "Sudden volume spike"
    OUTBOUND_DENIALS = "outbound_denials", "Repeated outbound call denials"
    MANUAL = "manual", "Noted by support"


# The seed's zero-tolerance practices: a reassessment request is rejected at once.
ZERO_TOLERANCE_SIGNALS: frozenset[str] = frozenset(
    {
        SignalType.PAYMENT_FLAGGED,
        SignalType.CARRIER_COMPLAINTS,
        SignalType.PHISHING_SPAM,
        SignalType.NUMBERS_WITHOUT_USAGE,
    }
)


class SignalSource(models.TextChoices):
    """What raised a signal."""

    SIGNUP = "signup_assessment", "Signup risk assessment"
    CONTINUOUS_REVIEW = "continuous_review", "Continuous review"
    USAGE_FEED = "usage_feed", "Usage feed"
    SUPPORT = "support", "Support"
    OUTBOUND_CHECK = "outbound_check", "Outbound call policy check"


class RequestStatus(models.TextChoices):
    """Where a reassessment request stands."""

    PENDING = "pending", "Waiting for review"
    INFO_REQUESTED = "info_requested", "More information asked"
    LIFTED = "lifted", "Lifted"
    LIMITED = "limited", "Restrictions limited"
    KEPT = "kept", "Kept (rejected)"
    REJECTED_ZERO_TOLERANCE = "rejected_zero_tolerance", "Rejected (zero tolerance)"


OPEN_REQUEST_STATUSES: tuple[str, ...] = (
    RequestStatus.PENDING,
    RequestStatus.INFO_REQUESTED,
)


class Decision(models.TextChoices):
    """What support decides on a reassessment request."""

    LIFT = "lift", "Lift (account active)"
    LIMIT = "limit", "Limit (lift some restrictions)"
    KEEP = "keep", "Keep (reject)"
    ASK_INFO = "ask_info", "Ask for more information"


class EvidenceKind(models.TextChoices):
    """Evidence of a business's legitimacy, as the Plivo seed lists it."""

    CERTIFICATE_OF_INCORPORATION = (
        "certificate_of_incorporation",
        "Certificate of incorporation",
    )
    EIN = "ein", "Employer identification number (EIN)"
    BUSINESS_CARD = "business_card", "Business card"
    BBB_FCA_LISTING = "bbb_fca_listing", "BBB membership or FCA register listing"
    SCREENSHOT = "screenshot", "Screenshot of the application or platform"
    PRESS_MENTION = "press_mention", "Mention in the press"
    PROFILE_PAGE = "profile_page", "Profile page (Fiverr, Upwork, LinkedIn)"


class SlaState(models.TextChoices):
    """Where a request stands against the 5–7 business-day SLA."""

    ON_TIME = "on_time", "On time"
    WARN = "warn", "Due soon"
    OVERDUE = "overdue", "Overdue"
    PAUSED = "paused", "Paused (waiting for customer)"
    DONE = "done", "Decided"


class RefundStatus(models.TextChoices):
    """A refund request for unused funds and its outcome."""

    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"
    PAID = "paid", "Paid"


class EmailKind(models.TextChoices):
    """Why the customer was emailed."""

    HOLD = "hold", "Signup put on hold"
    RESTRICTED = "restricted", "Restrictions applied"
    RECEIVED = "received", "Reassessment request received"
    REJECTED = "rejected", "Reassessment request rejected"
    LIFTED = "lifted", "Restrictions lifted"
    LIMITED = "limited", "Restrictions limited"
    INFO_REQUESTED = "info_requested", "More information requested"
    BLOCKED = "blocked", "Account blocked"
    CLOSED = "closed", "Account permanently blocked"
    RESTORED = "restored", "Account restored after case review"
    PORT_AWAY = "port_away", "Port-away access granted"
    REFUND = "refund", "Refund outcome"
