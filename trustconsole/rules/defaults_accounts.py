"""The default rule set's customer-account rules (see `defaults` for the chat side).

- **Signup risk** (account signup), one rule per finding, each adding its account
  signal: a disposable email domain (High), a free-mail domain for a business
  (Medium), no website (Low), a website that does not match the email domain
  (Medium), a country on the organisation's high-risk list (High), a payment the
  provider flagged (Extreme). The domain lists are the product's
  (`accounts.risk`); the hold threshold stays an account setting.
- **Usage review** (account usage review): numbers without proportionate
  outbound usage (High), carrier complaints (Extreme), a volume spike of calls or
  of SMS (Medium). They compare the review's numbers with the organisation's
  review settings, read as `review` facts, so Accounts → Settings still tunes them.
- **Restrictions** (account risk signal added), one rule per signal type of the
  restriction table (`RESTRICTIONS`, formerly `RESTRICTION_RULES` in code): once
  the weights of the type add up to its threshold, restrict its services.
- **Repeated outbound denials** (outbound call refused): at the Voice → Policy
  denial threshold within its window, an "outbound denials" signal at the
  policy's level (Low, +10, unless set); four of them restrict voice.
"""

from __future__ import annotations

from typing import Any

from accounts.choices import SignalType
from trustconsole.rules.rewrite import cel_string

# One default rule: the fields of `trustconsole.rules.defaults.Default` (that
# module builds them; this one must not import it).
Default = dict[str, Any]


def _signal(kind: str, level: str, note: str) -> dict[str, Any]:
    return {"account_signal": {"type": kind, "level": level, "note": note}}


def _signup(  # noqa: PLR0913
    key: str, name: str, order: int, condition: str, signal: dict[str, Any], why: str
) -> Default:
    return dict(
        key=f"signup_{key}",
        name=f"Signup risk: {name}",
        channel="account_signup",
        description=(
            f"{why} It adds its account signal at signup; a signup whose signals "
            "reach the hold threshold (Accounts → Settings) is put on hold."
        ),
        order=order,
        condition=lambda: condition,
        effect=lambda: signal,
    )


SIGNUP = (
    _signup(
        "payment_flagged",
        "payment flagged",
        10,
        "account.payment_flagged",
        _signal(
            "payment_flagged",
            "extreme",
            "The payment provider flagged the card used at signup.",
        ),
        "The payment provider flagged the card used at signup (Extreme).",
    ),
    _signup(
        "disposable_email",
        "disposable email",
        20,
        "account.email_disposable",
        _signal(
            "disposable_email", "high", "{account.email_domain} is a disposable domain."
        ),
        "The email is on a disposable-address domain (High).",
    ),
    _signup(
        "high_risk_country",
        "high-risk country",
        30,
        "account.country_high_risk",
        _signal(
            "high_risk_country",
            "high",
            "{account.country} is on the organisation's high-risk list.",
        ),
        "The country is on the organisation's high-risk list (High).",
    ),
    _signup(
        "free_mail",
        "free-mail domain",
        40,
        "account.email_free_mail",
        _signal(
            "free_mail",
            "medium",
            "{account.email_domain} is a free-mail domain, used for a business signup.",
        ),
        "A business signs up with a free-mail address (Medium).",
    ),
    _signup(
        "website_mismatch",
        "website mismatch",
        50,
        'account.website_domain != "" && !account.email_free_mail && '
        "!account.website_matches_email",
        _signal(
            "website_mismatch",
            "medium",
            "Website {account.website_domain} does not match the email domain "
            "{account.email_domain}.",
        ),
        "The website is not on the email's domain (Medium; not asked of a "
        "free-mail address).",
    ),
    _signup(
        "no_website",
        "no website",
        60,
        'account.website_domain == ""',
        _signal("no_website", "low", "No company website."),
        "The signup gave no company website (Low).",
    ),
)


def _review(key: str, name: str, order: int, condition: str, signal: dict[str, Any],
            why: str) -> Default:  # fmt: skip
    return dict(
        key=f"review_{key}",
        name=f"Usage review: {name}",
        channel="account_review",
        description=(
            f"{why} The continuous review adds the signal (not again while the "
            "account has one of its type from the review window); the signal's "
            "restriction rule may restrict the account. The thresholds are the "
            "review settings (Accounts → Settings)."
        ),
        order=order,
        condition=lambda: condition,
        effect=lambda: signal,
    )


def _spike(kind: str, label: str, order: int) -> Default:
    return _review(
        f"volume_spike_{kind}",
        f"{label} volume spike",
        order,
        f"review.history_days >= 3 && review.{kind}_latest >= "
        f"review.spike_min_volume && review.{kind}_ratio >= review.spike_factor",
        _signal(
            "volume_spike",
            "medium",
            f"{{review.{kind}_latest}} outbound {label} on {{review.latest_day}} "
            f"against a daily average of {{review.{kind}_average}}.",
        ),
        f"The latest day's outbound {label} reach the spike's least volume and "
        "the spike factor times the account's own daily average, with at least "
        "three days of history (Medium).",
    )


REVIEW = (
    _review(
        "numbers_without_usage",
        "numbers without usage",
        10,
        "account.numbers_owned >= review.numbers_min_for_usage_check && "
        "review.outbound < account.numbers_owned * review.min_outbound_per_number",
        _signal(
            "numbers_without_usage",
            "high",
            "{account.numbers_owned} numbers owned but only {review.outbound} "
            "outbound calls/SMS in {review.window_days} days.",
        ),
        "Many numbers owned without proportionate outbound calls and SMS (High).",
    ),
    _review(
        "carrier_complaints",
        "carrier complaints",
        20,
        "review.complaints >= review.complaints_threshold",
        _signal(
            "carrier_complaints",
            "extreme",
            "{review.complaints} carrier complaint(s) in {review.window_days} days.",
        ),
        "Carrier complaints in the review window (Extreme).",
    ),
    _spike("calls", "calls", 30),
    _spike("sms", "SMS", 40),
)


# Signal type → (the weight its signals must add up to, the services restricted).
ALL = ["sms", "voice", "numbers", "sip_trunking"]
RESTRICTIONS: dict[str, tuple[int, list[str]]] = {
    SignalType.CARRIER_COMPLAINTS: (40, ["sms", "voice"]),
    SignalType.NUMBERS_WITHOUT_USAGE: (40, ["numbers"]),
    SignalType.VOLUME_SPIKE: (20, ["sms", "voice"]),
    SignalType.PAYMENT_FLAGGED: (70, ALL),
    SignalType.PHISHING_SPAM: (40, ALL),
    SignalType.OUTBOUND_DENIALS: (40, ["voice"]),
}


def _restriction(kind: str, order: int) -> Default:
    min_weight, services = RESTRICTIONS[kind]
    label = SignalType(kind).label
    return dict(
        key=f"restrict_{kind}",
        name=f"Restriction: {label}",
        channel="account_signal",
        description=(
            f"Once the account's {label.lower()} signals add up to {min_weight}, "
            f"restrict {', '.join(services)} (the customer is emailed)."
        ),
        order=order,
        condition=lambda: (
            f"signal.type == {cel_string(kind)} && signal.type_total >= {min_weight}"
        ),
        effect=lambda: {
            "account": {
                "action": "restrict",
                "services": list(services),
                "email_customer": True,
            }
        },
    )


DENIALS = (
    dict(
        key="denials_repeated",
        name="Repeated outbound denials",
        channel="outbound_denial",
        description=(
            "When an account's refused outbound checks reach the denial threshold "
            "within the denial window (Voice → Policy), add an outbound denials "
            "signal at the policy's level; the count then starts again. A "
            "restricted account's refusals are not counted."
        ),
        order=10,
        condition=lambda: "denials.count >= denials.threshold",
        effect=lambda: _signal(
            "outbound_denials",
            "denials.signal_level",
            "{denials.count} outbound calls refused within {denials.window} "
            "({denials.codes}).",
        ),
    ),
)

ACCOUNT_DEFAULTS: tuple[Default, ...] = (
    *SIGNUP,
    *REVIEW,
    *(_restriction(kind, 10 * (n + 1)) for n, kind in enumerate(RESTRICTIONS)),
    *DENIALS,
)
ACCOUNT_KEYS = tuple(d["key"] for d in ACCOUNT_DEFAULTS)
