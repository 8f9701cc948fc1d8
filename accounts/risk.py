"""What the signup risk rules read: the domain lists and how a domain is taken.

The rules themselves are the organisation's signup rules of the default rule set
(`trustconsole.rules.defaults_accounts`): a disposable email domain (High), a
free-mail domain (Medium), no website (Low), a website that does not match the
email (Medium), a high-risk country (High), a flagged payment (Extreme). They read
the `account` facts built from these helpers (`accounts.selectors.account_rule_facts`).
Weights follow the console's one scale: Low +10, Medium +20, High +40, Extreme +70.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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


def email_domain(email: str) -> str:
    """The lower-cased domain of an email address."""
    return email.rsplit("@", 1)[-1].strip().lower()


def website_domain(website: str) -> str:
    """The host of a website URL without a leading `www.`."""
    host = (urlsplit(website).hostname or "").lower()
    return host.removeprefix("www.")


def same_site(email_host: str, web_host: str) -> bool:
    """Are the email and the website on one domain (or one a subdomain)?"""
    return (
        email_host == web_host
        or email_host.endswith("." + web_host)
        or web_host.endswith("." + email_host)
    )
