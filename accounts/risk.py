"""The signup risk rules: each returns explainable findings with a weight.

Weights follow the console's scale: Low +10, Medium +20, High +40, Extreme +70.
A rule looks only at what the customer gave at signup (and the payment flag), so the
explanation can always name exactly what raised the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from accounts.choices import SignalType
from trustconsole.policy.vocabulary import Weight

LOW, MEDIUM, HIGH, EXTREME = (int(w) for w in Weight)

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com",
        "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com",
        "gmx.com", "gmx.de", "mail.com", "yandex.ru", "yandex.com", "proton.me",
        "protonmail.com", "zoho.com", "qq.com", "163.com", "mail.ru",
    }
)  # fmt: skip
DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com",
        "temp-mail.org", "yopmail.com", "trashmail.com", "sharklasers.com",
        "getnada.com", "dispostable.com", "throwawaymail.com", "maildrop.cc",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SignupFinding:
    """One reason the signup looks risky: which rule, how much, in words."""

    signal_type: str
    weight: int
    note: str


def email_domain(email: str) -> str:
    """The lower-cased domain of an email address."""
    return email.rsplit("@", 1)[-1].strip().lower()


def website_domain(website: str) -> str:
    """The host of a website URL without a leading `www.`."""
    host = (urlsplit(website).hostname or "").lower()
    return host.removeprefix("www.")


def _same_site(email_host: str, web_host: str) -> bool:
    return (
        email_host == web_host
        or email_host.endswith("." + web_host)
        or web_host.endswith("." + email_host)
    )


def assess_signup(
    *,
    email: str,
    website: str,
    country: str,
    high_risk_countries: list[str],
    payment_flagged: bool,
) -> list[SignupFinding]:
    """Every rule that fires for a new signup, heaviest first."""
    findings: list[SignupFinding] = []
    domain = email_domain(email)
    if domain in DISPOSABLE_DOMAINS:
        findings.append(
            SignupFinding(
                SignalType.DISPOSABLE_EMAIL, HIGH, f"{domain} is a disposable domain."
            )
        )
    elif domain in FREE_MAIL_DOMAINS:
        findings.append(
            SignupFinding(
                SignalType.FREE_MAIL,
                MEDIUM,
                f"{domain} is a free-mail domain, used for a business signup.",
            )
        )
    web = website_domain(website) if website else ""
    if not web:
        findings.append(
            SignupFinding(SignalType.NO_WEBSITE, LOW, "No company website.")
        )
    elif domain not in FREE_MAIL_DOMAINS and not _same_site(domain, web):
        findings.append(
            SignupFinding(
                SignalType.WEBSITE_MISMATCH,
                MEDIUM,
                f"Website {web} does not match the email domain {domain}.",
            )
        )
    risky = {c.upper() for c in high_risk_countries}
    if country.upper() in risky:
        findings.append(
            SignupFinding(
                SignalType.HIGH_RISK_COUNTRY,
                HIGH,
                f"{country.upper()} is on the organisation's high-risk list.",
            )
        )
    if payment_flagged:
        findings.append(
            SignupFinding(
                SignalType.PAYMENT_FLAGGED,
                EXTREME,
                "The payment provider flagged the card used at signup.",
            )
        )
    return sorted(findings, key=lambda f: -f.weight)
