"""The outbound call policy check itself: every violation, never only the first.

`check_evaluate` reads only the in-memory snapshot (see memory.py); it does not write.
The service `outbound_check` (services/outbound.py) wraps it: it counts allowed calls
for the harassment limit and logs denials.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

from trustconsole.core.actor import Actor
from trustconsole.lib.phones import (
    PhoneNumberError,
    phone_is_anonymous,
    phone_is_emergency,
    phone_normalise,
    phone_region,
)
from trustconsole.policy import decide as core
from trustconsole.policy import state as core_state
from trustconsole.policy.vocabulary import Channel, Step
from trustconsole.rules import engine
from trustconsole.rules import hooks as rule_hooks
from voicegate.policy import keys, memory, owned
from voicegate.policy.choices import PolicyWarning, Violation


@dataclass(frozen=True)
class Finding:
    """One violation: its code, a sentence for people, and what decided it."""

    code: str
    detail: str
    verdict: core.Verdict | None = None

    def explanation(self) -> dict:
        """The decision core's explanation of this violation."""
        verdict = self.verdict or core.rule_verdict(
            Channel.OUTBOUND_CALL,
            self.code,
            Step.DNC if self.code == Violation.DNC else Step.OUTBOUND_RULE,
            self.detail,
        )
        return verdict.explanation()

    def as_dict(self) -> dict:
        """The shape of the API answer."""
        return {
            "code": self.code,
            "detail": self.detail,
            "explanation": self.explanation(),
        }


@dataclass(frozen=True)
class CheckWarning:
    """Something the caller should know that does not refuse the call."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The shape of the API answer."""
        return {"code": self.code, "message": self.message}


@dataclass
class CheckRequest:
    """A proposed call after validation: raw and normalised numbers."""

    from_raw: str
    to_raw: str
    from_e164: str
    to_e164: str | None  # None for emergency short numbers (not E.164 at all)
    region: str
    emergency: bool
    account_id: str | None


@dataclass
class CheckOutcome:
    """What the check found, plus what the service needs to record it."""

    request: CheckRequest
    findings: list[Finding] = field(default_factory=list)
    warnings: list[CheckWarning] = field(default_factory=list)
    account: memory.AccountCopy | None = None
    snapshot: memory.Snapshot | None = None
    caller_key: str = ""
    verdict: core.Verdict | None = None  # the identity steps' verdict
    rules: engine.Outcome | None = None  # the outbound-check rules, when any ran
    # The facts the rules were given (the check log keeps them for backtests).
    rule_facts: dict | None = None
    whitelisted: bool = False  # a whitelisted destination: the rules did not run

    @property
    def allowed(self) -> bool:
        """No violation at all."""
        return not self.findings

    def answer(self) -> dict:
        """The API answer: allowed, every violation, and warnings (never denials)."""
        violations = [f.as_dict() for f in self.findings]
        if violations:  # the first in precedence order decides
            explanation = min(
                (v["explanation"] for v in violations),
                key=lambda e: e["step_number"] or 99,
            )
        else:
            explanation = self.verdict.explanation() if self.verdict else None
        shadow = tuple(r.ref() for r in self.rules.shadow) if self.rules else ()
        if shadow and not violations and self.verdict is not None:
            explanation = dataclasses.replace(
                self.verdict, shadow_rules=shadow
            ).explanation()
        elif shadow and explanation is not None and not explanation["shadow_rules"]:
            words = ", ".join(f"{r['name']} (version {r['version']})" for r in shadow)
            explanation = {
                **explanation,
                "shadow_rules": list(shadow),
                "sentence": explanation["sentence"]
                + f" Shadow rules that matched (not acting): {words}.",
            }
        return {
            "allowed": self.allowed,
            "violations": violations,
            "warnings": [w.as_dict() for w in self.warnings],
            "explanation": explanation,
        }


def _region(value: str | None, field_name: str = "region") -> str | None:
    if not value:
        return None
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field_name: f"{value!r} is not a known ISO country."})
    return region


def check_request_parse(
    *,
    from_number: str,
    to_number: str,
    account_id: str | None = None,
    region: str | None = None,
) -> CheckRequest:
    """Validate and normalise a proposed call (ValidationError names the field).

    Numbers without `+` are read in `region`, else in the country of the caller ID,
    else in PHONE_DEFAULT_REGION. The destination is tested for emergency numbers
    as dialled, before normalising (`911` stops looking like one as `+1911`).
    """
    given_region = _region(region)
    from_raw = (from_number or "").strip()
    to_raw = (to_number or "").strip()
    if phone_is_anonymous(from_raw):
        raise ValidationError(
            {"from": "A caller ID is required: a withheld number cannot be checked."}
        )
    try:
        from_e164 = phone_normalise(from_raw, region=given_region)
    except PhoneNumberError as exc:
        raise ValidationError({"from": f"{from_raw!r} {exc.reason}."}) from None
    to_region = (
        given_region or phone_region(from_e164) or settings.PHONE_DEFAULT_REGION or "US"
    )
    emergency = bool(to_raw) and phone_is_emergency(to_raw, region=to_region)
    to_e164 = None
    if not emergency:
        try:
            to_e164 = phone_normalise(to_raw, region=to_region)
        except PhoneNumberError as exc:
            raise ValidationError({"to": f"{to_raw!r} {exc.reason}."}) from None
    return CheckRequest(
        from_raw=from_raw,
        to_raw=to_raw,
        from_e164=from_e164,
        to_e164=to_e164,
        region=to_region,
        emergency=emergency,
        account_id=(str(account_id).strip() or None) if account_id else None,
    )


def _account_load(actor: Actor, public_id: str) -> memory.AccountCopy:
    from accounts.selectors import account_get

    account = account_get(actor=actor, public_id=public_id)  # 404 outside the org
    numbers = owned.owned_numbers(
        organisation_id=actor.organisation.pk, account=account, cached=True
    )
    return memory.AccountCopy(
        pk=account.pk,
        public_id=str(account.public_id),
        name=account.company_name,
        owned=frozenset(numbers),
    )


def window_text(seconds: int) -> str:
    """A window as words: "day", "2 hours", "10 minutes"."""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def check_evaluate(*, actor: Actor, request: CheckRequest) -> CheckOutcome:
    """Every violation of a proposed call, read from this process's copies."""
    organisation = actor.organisation
    org_uid = str(organisation.public_id)
    account_uid = _normalise_uid(request.account_id) if request.account_id else None
    caller_key = f"account:{account_uid}" if account_uid else "org"
    counter = (
        keys.harassment_key(org_uid, caller_key, request.to_e164)
        if request.to_e164
        else None
    )
    snap = memory.snapshot(organisation, count=counter)
    outcome = CheckOutcome(request=request, snapshot=snap, caller_key=caller_key)
    account = None
    if account_uid:
        try:
            account = memory.account_copy(
                snap, account_uid, lambda: _account_load(actor, account_uid)
            )
        except Exception:  # no such account here (404): this call never counted
            if snap.counted:
                keys.counter_decr(snap.counted)
            raise
        outcome.account = account
    findings = outcome.findings
    to = request.to_e164

    # dnc: on any list of the organisation, unless the destination consented.
    if to is not None:
        lists = snap.dnc.lists_with(int(to[1:]))
        if lists and not _consented(snap, to, account):
            names = ", ".join(sorted(f"“{copy.name}”" for copy in lists))
            findings.append(
                Finding(Violation.DNC, f"{to} is on the Do-Not-Call list {names}.")
            )

    # dnc_unavailable / dnc_stale: a list that cannot be read here, or a national
    # list older than the safe harbour allows: refused or warned per the settings.
    for code, text in snap.dnc.issues(int(to[1:]) if to else None, _today()):
        mode = (
            snap.settings.dnc_unavailable_mode
            if code == Violation.DNC_UNAVAILABLE
            else snap.settings.dnc_stale_mode
        )
        if mode == "refuse":
            findings.append(Finding(code, text))
        else:
            outcome.warnings.append(CheckWarning(code, text))

    # caller_id_not_owned: owned by the account / enterprise, or verified.
    allowed_ids = _caller_ids(snap, actor, account)
    if request.from_e164 not in allowed_ids:
        whose = f"the account {account.name}" if account else "the organisation"
        findings.append(
            Finding(
                Violation.CALLER_ID_NOT_OWNED,
                f"{request.from_e164} is neither owned by {whose} nor a verified "
                "caller ID.",
            )
        )

    # A warning, not a denial: the caller ID is an enterprise number with a high
    # spam risk, so a dialer may pick another one (memory copy, no query).
    risky = memory.organisation_risky(
        snap, lambda: owned.high_risk_numbers(organisation_id=organisation.pk)
    )
    if request.from_e164 in risky:
        category = risky[request.from_e164]
        outcome.warnings.append(
            CheckWarning(
                PolicyWarning.CALLER_ID_HIGH_SPAM_RISK,
                f"{request.from_e164} has a high spam risk"
                + (f" ({category})" if category else "")
                + ": carriers may block or label its calls; consider another "
                "caller ID.",
            )
        )

    if request.emergency:
        findings.append(
            Finding(
                Violation.EMERGENCY_NUMBER,
                f"{request.to_raw} is an emergency number in {request.region}; "
                "emergency calls are not carried on this service.",
            )
        )

    # account_restricted, blacklisted_destination, blocked_destination: the
    # decision core's identity steps, from its in-memory state (one precedence).
    state = snap.core
    ids = core.Identities(
        phones=(to,) if to is not None else (),
        account=account.public_id if account is not None else None,
        service="voice",
    )
    outcome.verdict = core.decide(state, Channel.OUTBOUND_CALL, ids)
    for verdict in core.evaluate(state, Channel.OUTBOUND_CALL, ids):
        findings.append(Finding(verdict.reason, _sentence(verdict, to), verdict))

    # The organisation's outbound-check rules (trustconsole.rules): a live rule
    # refuses with its own violation code or holds/restricts the account; shadow
    # rules are only listed. A whitelisted destination is never refused by a rule.
    # The harassment limit is one of them (the default rule "Harassment limit"),
    # reading the calls already made from the counter this check's round trip read.
    given = outcome.rule_facts = {
        "account": _account_event(state, account),
        "caller_id": {
            "number": request.from_raw,
            "e164": request.from_e164,
            "owned": request.from_e164 in allowed_ids,
        },
        "destination": {
            "number": request.to_raw,
            "e164": to or "",
            "status": _visitor_status(state, to),
            "account_key": caller_key,
            "calls_made": snap.counters.get(counter, 0) if counter else 0,
        },
        "policy": {
            "harassment_limit": snap.settings.harassment_limit,
            "harassment_window_seconds": snap.settings.harassment_window_seconds,
        },
    }
    outcome.whitelisted = outcome.verdict.step == Step.WHITELIST
    outcome.rules = rule_hooks.outbound_check(
        state=state,
        account=given["account"],
        account_facts=(
            (lambda: _account_rule_facts(actor, account)) if account else None
        ),
        caller_id=given["caller_id"],
        destination=given["destination"],
        policy=given["policy"],
        skip=outcome.whitelisted,
    )
    if outcome.rules is not None:
        shadow = tuple(r.ref() for r in outcome.rules.shadow)
        for rule in outcome.rules.live:
            finding = _rule_finding(rule, shadow, account, outcome.rules.facts, snap)
            if finding is not None:
                findings.append(finding)
    return outcome


def _account_event(
    state: core_state.OrgState, account: memory.AccountCopy | None
) -> dict:
    if account is None:
        return {}
    entry = core_state.account_entry(state, account.public_id)
    return {
        "id": account.public_id,
        "status": entry.status if entry is not None else "",
        "numbers_owned": len(account.owned),
    }


def _account_rule_facts(actor: Actor, account: memory.AccountCopy) -> dict:
    from accounts.models import Account
    from accounts.selectors import account_rule_facts

    row = Account.objects.get(pk=account.pk, organisation=actor.organisation)
    return account_rule_facts(account=row)


def _visitor_status(state: core_state.OrgState, e164: str | None) -> str:
    """The status of the visitor with this number ("" when none is listed)."""
    if not e164:
        return ""
    visitor_id = state.idents.get("phone", {}).get(e164)
    found = state.visitors.get(visitor_id) if visitor_id else None
    return found[0].status if found else ""


def _rule_finding(
    rule: engine.CompiledRule,
    shadow: tuple[dict, ...],
    account: memory.AccountCopy | None,
    facts: dict,
    snap: memory.Snapshot,
) -> Finding | None:
    """What a matching live rule refuses: its own code, or (holding the account,
    or restricting its voice) `account_restricted`."""
    effect = rule.effect
    label = f"“{rule.name}” (version {rule.version})"
    refuse = effect.get("refuse")
    held = effect.get("account") if account is not None else None
    if refuse and "destination.calls_made" in rule.fields:
        code, detail = refuse["code"], _calls_made(rule, account, facts, snap)
    elif refuse:
        code, detail = refuse["code"], f"Refused by the rule {label}."
    elif (
        held
        and account is not None
        and (held["action"] == "hold" or "voice" in held.get("services", ()))
    ):
        what = "holds" if held["action"] == "hold" else "restricts voice calls of"
        code = Violation.ACCOUNT_RESTRICTED
        detail = f"The rule {label} {what} the account {account.name}."
    else:
        return None
    verdict = dataclasses.replace(
        core.rule_verdict(Channel.OUTBOUND_CALL, code, Step.OUTBOUND_RULE, detail),
        rule=rule.ref(),
        shadow_rules=shadow,
    )
    return Finding(code, detail, verdict)


def _calls_made(
    rule: engine.CompiledRule,
    account: memory.AccountCopy | None,
    facts: dict,
    snap: memory.Snapshot,
) -> str:
    """A refusal by a rule counting the calls already made (the harassment limit):
    how many, in which window, and the limit when the rule reads the setting."""
    destination = facts.get("destination", {})
    who = "this account" if account else "the organisation"
    window = window_text(snap.settings.harassment_window_seconds)
    said = (
        f"the limit is {snap.settings.harassment_limit}"
        if "policy.harassment_limit" in rule.fields
        else "too many"
    )
    return (
        f"{destination.get('calls_made', 0)} calls from {who} to "
        f"{destination.get('e164', '')} in the last {window}; {said} "
        f"(rule “{rule.name}”, version {rule.version})."
    )


def _sentence(verdict: core.Verdict, to: str | None) -> str:
    if verdict.reason == Violation.ACCOUNT_RESTRICTED:
        return verdict.detail
    if verdict.reason == Violation.BLACKLISTED_DESTINATION:
        return f"{to} belongs to a blacklisted visitor who is not to be contacted."
    return f"{to} is on the organisation's voice block list."


def _today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


def _normalise_uid(value: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def _consented(
    snap: memory.Snapshot, number: str, account: memory.AccountCopy | None
) -> bool:
    now = time.time()
    for account_pk, expires in snap.consent.get(number, ()):
        if expires is not None and expires <= now:
            continue
        if account_pk is None or (account is not None and account_pk == account.pk):
            return True
    return False


def _caller_ids(
    snap: memory.Snapshot, actor: Actor, account: memory.AccountCopy | None
) -> frozenset[str] | set[str]:
    """Numbers the caller may present: owned plus verified."""
    org_id = actor.organisation.pk
    if account is None:
        owned_numbers = memory.organisation_owned(
            snap,
            lambda: frozenset(
                owned.owned_numbers(organisation_id=org_id, account=None, cached=True)
            ),
        )
        verified = snap.caller_ids.get(None, frozenset())
        uncached_account = None
    else:
        owned_numbers = account.owned
        verified = snap.caller_ids.get(account.pk, frozenset())
        uncached_account = account
    numbers = owned_numbers | verified
    if any(source.version_key is None for source in owned.owned_sources()):
        # Sources that cannot tell when they change are asked every time.
        extra_account = None
        if uncached_account is not None:
            from accounts.models import Account

            extra_account = Account.objects.get(pk=uncached_account.pk)
        numbers = numbers | owned.owned_numbers(
            organisation_id=org_id, account=extra_account, cached=False
        )
    return numbers
