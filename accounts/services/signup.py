"""Signing up a customer account, with its signup risk assessment."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.choices import SignalSource
from accounts.models import Account
from accounts.selectors import account_rule_facts, account_settings_for
from accounts.services.common import ACT, clean_country, clean_url
from accounts.services.signals import account_signal_add
from accounts.services.status import account_hold
from trustconsole.core.actor import Actor
from trustconsole.core.services import audited_save
from trustconsole.rules import hooks as rule_hooks
from trustconsole.rules.effects_accounts import account_signals_of
from trustconsole.rules.facts import RuleChannel

SIGNUP_RULE = "the signup risk assessment"


@transaction.atomic
def account_create(
    *,
    actor: Actor,
    company_name: str,
    email: str,
    country: str,
    website: str = "",
    balance: Decimal | str | int = 0,
    payment_flagged: bool = False,
) -> Account:
    """Sign up a customer account and run the signup risk assessment on it.

    The assessment is the organisation's signup rules (the default rule set's:
    disposable or free-mail email, no or a mismatched website, a high-risk
    country, a flagged payment): each live rule that matches adds its signal (its
    explanation); a score at or above the organisation's hold threshold puts the
    account on the hold list and emails the customer how to ask for reassessment.
    """
    actor.require(*ACT)
    errors: dict[str, str] = {}
    company_name = (company_name or "").strip()
    if not company_name:
        errors["company_name"] = "This field is required."
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    for field, check in (
        ("country", lambda: clean_country(country, "country")),
        ("website", lambda: clean_url(website, "website", required=False)),
    ):
        try:
            check()
        except ValidationError as exc:
            errors[field] = exc.message_dict[field][0]
    if errors:
        raise ValidationError(errors)
    account = Account(
        organisation=actor.organisation,
        company_name=company_name,
        email=email,
        website=(website or "").strip(),
        country=country.strip().upper(),
        balance=Decimal(str(balance)),
        payment_flagged=payment_flagged,
    )
    audited_save(
        account,
        actor=actor,
        action="account.create",
        snapshot=["company_name", "email", "website", "country", "status"],
    )
    # The organisation's signup rules (trustconsole.rules): the default rule set's
    # risk rules add their signals; then a score at the hold threshold holds the
    # account; then live rules may hold or restrict; shadow rules are only logged.
    config = account_settings_for(organisation=actor.organisation)
    outcome = rule_hooks.account_event(
        organisation_id=account.organisation_id,
        channel=RuleChannel.ACCOUNT_SIGNUP,
        facts=lambda: account_rule_facts(account=account, config=config),
    )
    findings = sorted(account_signals_of(outcome), key=lambda f: -f.weight)
    for finding in findings:
        account_signal_add(
            actor=actor,
            account=account,
            signal_type=finding.signal_type,
            weight=finding.weight,
            source=SignalSource.SIGNUP,
            note=finding.note,
            expires_at=finding.expires_at,
            apply_rules=False,
        )
    if account.risk_score >= config.hold_threshold:
        explanation = "; ".join(f"{f.note} (+{f.weight})" for f in findings)
        account_hold(
            actor=actor,
            account=account,
            reason=(
                f"Signup risk score {account.risk_score} ≥ {config.hold_threshold}: "
                f"{explanation}"
            ),
            decided_by=SIGNUP_RULE,
        )
    rule_hooks.account_effects(
        actor=Actor.system_for(actor.organisation, "signup rules"),
        account=account,
        outcome=outcome,
        why=f"signup of {account.company_name} ({account.email}).",
    )
    rule_hooks.account_matched(
        channel=RuleChannel.ACCOUNT_SIGNUP, account=account, outcome=outcome
    )
    return account
