"""The rule edit form: condition, effect as fields, mode and order; the test box."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from trustconsole.policy.vocabulary import DEFAULT_WEIGHTS
from trustconsole.rules.effects import RULE_SIGNAL, SERVICES, _signal_types
from trustconsole.rules.effects_accounts import account_signal_types
from trustconsole.rules.facts import RuleChannel
from trustconsole.rules.models import RuleMode

LEVELS = [("", "No signal")] + [(k, k.title()) for k in DEFAULT_WEIGHTS]


class RuleForm(forms.Form):
    """A rule as an admin edits it; `effect()` builds the effect object."""

    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    channel = forms.ChoiceField(choices=RuleChannel.choices, label="Listens to")
    condition = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "class": "code"}
        ),
        strip=False,
        help_text='CEL, e.g. caller.country == "NG" && caller.calls_10m > 5. '
        "See the facts reference below.",
    )
    signal_level = forms.ChoiceField(
        choices=LEVELS, required=False, label="Risk signal"
    )
    signal_type = forms.ChoiceField(choices=(), required=False, label="Signal type")
    signal_expires_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=8760,
        label="Signal expires after (hours)",
    )
    flag = forms.BooleanField(required=False, label="Flag for review")
    block = forms.BooleanField(required=False, label="Block the chat message")
    reject = forms.BooleanField(required=False, label="Reject the call")
    refuse_code = forms.CharField(
        required=False, max_length=40, label="Refuse the outbound call with code"
    )
    account_action = forms.ChoiceField(
        choices=(("", "Leave the account"), ("hold", "Hold"), ("restrict", "Restrict")),
        required=False,
        label="Account",
    )
    account_services = forms.MultipleChoiceField(
        choices=[(s, s) for s in SERVICES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Services to restrict",
    )
    account_signal_level = forms.ChoiceField(
        choices=[("", "No account signal")]
        + [(k, k.title()) for k in DEFAULT_WEIGHTS]
        + [("denials.signal_level", "The Voice → Policy level (refused calls)")],
        required=False,
        label="Account risk signal",
    )
    account_signal_type = forms.ChoiceField(
        choices=(), required=False, label="Account signal type"
    )
    account_signal_note = forms.CharField(
        required=False,
        max_length=500,
        label="Account signal note",
        help_text="Words; facts in braces are filled in, e.g. "
        "{account.email_domain} is a disposable domain. Left empty: the rule's "
        "name and the facts it read.",
    )
    account_signal_expires_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=8760,
        label="Account signal expires after (hours)",
        help_text="Left empty: it counts until support removes it.",
    )
    mode = forms.ChoiceField(choices=RuleMode.choices, initial=RuleMode.SHADOW)
    order = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        initial=100,
        help_text="Lower runs first, among the rules of the same channel (each "
        "channel's rules are a list of their own).",
    )
    reason = forms.CharField(required=False, max_length=500, label="Why (audit trail)")

    def __init__(self, *args: Any, fixed_channel: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = sorted(_signal_types().items(), key=lambda kv: kv[0] != RULE_SIGNAL)
        signal_type = self.fields["signal_type"]
        assert isinstance(signal_type, forms.ChoiceField)
        signal_type.choices = types
        account_type = self.fields["account_signal_type"]
        assert isinstance(account_type, forms.ChoiceField)
        account_type.choices = account_signal_types()
        if fixed_channel:
            self.fields["channel"].disabled = True
            self.fields["mode"].disabled = True

    def effect(self) -> dict[str, Any]:
        """The effect object from the effect fields."""
        data = self.cleaned_data
        out: dict[str, Any] = {}
        if data.get("signal_level"):
            out["signal"] = {
                "type": data.get("signal_type") or RULE_SIGNAL,
                "level": data["signal_level"],
            }
            if data.get("signal_expires_hours"):
                out["signal"]["expires_hours"] = data["signal_expires_hours"]
        for flag in ("flag", "block", "reject"):
            if data.get(flag):
                out[flag] = True
        if data.get("refuse_code"):
            out["refuse"] = {"code": data["refuse_code"]}
        if data.get("account_signal_level"):
            out["account_signal"] = {
                "type": data.get("account_signal_type") or "",
                "level": data["account_signal_level"],
            }
            if data.get("account_signal_note"):
                out["account_signal"]["note"] = data["account_signal_note"]
            if data.get("account_signal_expires_hours"):
                hours = data["account_signal_expires_hours"]
                out["account_signal"]["expires_hours"] = hours
        if data.get("account_action"):
            out["account"] = {
                "action": data["account_action"],
                "services": list(data.get("account_services") or []),
            }
        return out


def initial_for(rule: Any) -> dict[str, Any]:
    """The form's initial values from a rule and its current version."""
    version = rule.current_version
    effect = version.effect if version else {}
    signal = effect.get("signal") or {}
    account = effect.get("account") or {}
    account_signal = effect.get("account_signal") or {}
    return {
        "name": rule.name,
        "description": rule.description,
        "channel": rule.channel,
        "condition": version.condition if version else "",
        "signal_level": signal.get("level", ""),
        "signal_type": signal.get("type", RULE_SIGNAL),
        "signal_expires_hours": signal.get("expires_hours"),
        "flag": bool(effect.get("flag")),
        "block": bool(effect.get("block")),
        "reject": bool(effect.get("reject")),
        "refuse_code": (effect.get("refuse") or {}).get("code", ""),
        "account_action": account.get("action", ""),
        "account_services": account.get("services", []),
        "account_signal_level": account_signal.get("level", ""),
        "account_signal_type": account_signal.get("type", ""),
        "account_signal_note": account_signal.get("note", ""),
        "account_signal_expires_hours": account_signal.get("expires_hours"),
        "mode": rule.mode,
        "order": rule.order,
    }


class EventTestForm(forms.Form):
    """A pasted event (JSON, by fact group)."""

    event = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 8, "spellcheck": "false", "class": "code"}
        ),
        label="Event (JSON)",
    )

    def clean_event(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["event"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object of fact groups.")
        return value
