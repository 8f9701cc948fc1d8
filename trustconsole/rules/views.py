"""Settings → Rules: the list, the edit form with inline checking, the facts
reference and the "test with this event" box. Admins edit; others read."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from trustconsole.core.actor import ActorRequest
from trustconsole.lib.htmx import htmx_partial
from trustconsole.lib.views import member_required
from trustconsole.rules import backtest as backtests
from trustconsole.rules import facts, selectors, services
from trustconsole.rules.effects import describe
from trustconsole.rules.forms import EventTestForm, RuleForm, initial_for
from trustconsole.rules.language import ConditionError, check
from trustconsole.rules.models import Rule, RuleMode, history_kept
from trustconsole.rules.testing import event_test


def _form_errors(form: RuleForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        name = field.split(".")[0]
        target = field if field in form.fields else None
        if name == "effect":
            target = None
        form.add_error(target, errors)


@member_required
def rule_list(request: ActorRequest) -> HttpResponse:
    """Every rule with its mode, order, hits (24 h / 7 d) and last change."""
    rules = list(selectors.rule_list(actor=request.actor))
    hits = selectors.rule_hit_counts(rules=rules)
    rows = [
        {
            "rule": r,
            "hits": hits[r.pk],
            "effect": describe(r.current_version.effect if r.current_version else {}),
        }
        for r in rules
    ]
    return render(
        request,
        "rules/list.html",
        {
            "rows": rows,
            "can_admin": request.actor.can(),
            "channels": facts.RuleChannel.choices,
        },
    )


@member_required
def rule_new(request: ActorRequest) -> HttpResponse:
    """A new rule (admins)."""
    actor = request.actor
    if not actor.can():
        raise PermissionDenied("Only admins write rules.")
    channel = request.GET.get("channel", facts.RuleChannel.INBOUND_CALL)
    form = RuleForm(request.POST or None, initial={"channel": channel})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                rule = services.rule_create(
                    actor=actor,
                    name=data["name"],
                    description=data["description"],
                    channel=data["channel"],
                    condition=data["condition"],
                    effect=form.effect(),
                    mode=data["mode"],
                    order=data["order"],
                    reason=data["reason"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(
                    request, f"Rule {rule.name} saved ({rule.get_mode_display()})."
                )
                return redirect("rules:rule_detail", rule.public_id)
        status = 400
    selected = form["channel"].value() or channel
    return render(
        request,
        "rules/edit.html",
        _context(request, form, None, selected),
        status=status,
    )


def _context(
    request: ActorRequest, form: RuleForm, rule: Rule | None, channel: str
) -> dict[str, Any]:
    entry = (
        facts.REGISTRY.get(channel) or facts.REGISTRY[facts.RuleChannel.INBOUND_CALL]
    )
    reference = [c for c in facts.reference() if c["channel"] == entry.channel]
    example = json.dumps(entry.example(), indent=2)
    return {
        "form": form,
        "rule": rule,
        "can_admin": request.actor.can(),
        "reference": reference,
        "test_form": EventTestForm(initial={"event": example}),
        "channel": entry.channel,
        "modes": RuleMode.choices,
        "versions": list(selectors.rule_versions(rule=rule)[:20]) if rule else [],
        "backtests": list(rule.backtests.all()[:5]) if rule else [],
        "matches": selectors.rule_matches(rule=rule) if rule else None,
        "can_backtest": request.actor.can("operator")
        and entry.channel in backtests.SUPPORTED,
        "history_kept": history_kept(entry.channel),
        "max_window_days": backtests.MAX_WINDOW_DAYS,
    }


@member_required
def rule_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """One rule: its form (admins save a new version), versions, mode, test box."""
    actor = request.actor
    rule = selectors.rule_get(actor=actor, public_id=public_id)
    can_admin = actor.can()
    form = RuleForm(
        request.POST if request.method == "POST" and can_admin else None,
        initial=initial_for(rule),
        fixed_channel=True,
    )
    status = 200
    if request.method == "POST":
        if not can_admin:
            raise PermissionDenied("Only admins change rules.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.rule_update(
                    actor=actor,
                    rule=rule,
                    name=data["name"],
                    description=data["description"],
                    condition=data["condition"],
                    effect=form.effect(),
                    order=data["order"],
                    reason=data["reason"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, f"Rule {rule.name} saved.")
                return redirect("rules:rule_detail", rule.public_id)
        status = 400
    return render(
        request,
        "rules/edit.html",
        _context(request, form, rule, rule.channel),
        status=status,
    )


@member_required
@require_POST
def rule_mode(request: ActorRequest, public_id: str) -> HttpResponse:
    """Live, shadow or off (admins)."""
    rule = selectors.rule_get(actor=request.actor, public_id=public_id)
    try:
        rule = services.rule_set_mode(
            actor=request.actor,
            rule=rule,
            mode=request.POST.get("mode", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Rule {rule.name} is now {rule.get_mode_display()}.")
    return redirect("rules:rule_detail", rule.public_id)


@member_required
@require_POST
def condition_check(request: ActorRequest) -> HttpResponse:
    """Inline validation of the condition being typed (an htmx fragment)."""
    channel = request.POST.get("channel", "")
    entry = facts.REGISTRY.get(channel)
    error: dict[str, Any] | None = None
    source = request.POST.get("condition", "")
    if entry is None:
        error = {"line": 1, "column": 1, "reason": "Choose what the rule listens to."}
    else:
        try:
            check(source, entry.schema())
        except ConditionError as exc:
            error = exc.as_dict()
    line = ""
    if error is not None:
        lines = source.splitlines() or [""]
        line = lines[min(error["line"], len(lines)) - 1]
    return render(
        request,
        "rules/partials/_check.html",
        {
            "error": error,
            "line": line,
            "pad": " " * max(0, (error or {}).get("column", 1) - 1),
        },
    )


@member_required
@require_POST
def rule_test(request: ActorRequest) -> HttpResponse:
    """Run a draft condition (or the channel's rules) on a pasted event."""
    form = EventTestForm(request.POST)
    channel = request.POST.get("channel", "")
    condition = request.POST.get("condition") or None
    result = None
    status = 200
    if form.is_valid() and channel in facts.REGISTRY:
        try:
            result = event_test(
                actor=request.actor,
                channel=channel,
                event=form.cleaned_data["event"],
                condition=condition,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error("event" if field.startswith("event") else None, errors)
            status = 400
    else:
        status = 400
    return render(
        request,
        "rules/partials/_test_result.html",
        {
            "result": result,
            "test_form": form,
            "facts_json": json.dumps(result["facts"], indent=2) if result else "",
        },
        status=status,
    )


@member_required
def facts_reference(request: ActorRequest) -> HttpResponse:
    """What each channel's conditions can read, generated from the registry."""
    return render(request, "rules/facts.html", {"reference": facts.reference()})


@member_required
@require_POST
def rule_backtest(request: ActorRequest, public_id: str) -> HttpResponse:
    """Backtest the condition in the form over the last N days (operators)."""
    import datetime as dt

    from django.utils import timezone

    rule = selectors.rule_get(actor=request.actor, public_id=public_id)
    condition = request.POST.get("condition") or (
        rule.current_version.condition if rule.current_version else ""
    )
    try:
        days = int(request.POST.get("days", "7"))
    except ValueError:
        days = 0
    end = timezone.now()
    try:
        if not 1 <= days <= backtests.MAX_WINDOW_DAYS:
            raise ValidationError(
                {"days": f"Choose 1 to {backtests.MAX_WINDOW_DAYS} days."}
            )
        found = backtests.backtest_start(
            actor=request.actor,
            channel=rule.channel,
            condition=condition,
            start=end - dt.timedelta(days=days),
            end=end,
            rule=rule,
        )
    except ValidationError as exc:
        if htmx_partial(request):  # htmx swaps 2xx answers only
            return render(
                request, "rules/partials/_backtest_error.html", {"errors": exc.messages}
            )
        messages.error(request, " ".join(exc.messages))
        return redirect("rules:rule_detail", rule.public_id)
    if htmx_partial(request):
        return render(request, "rules/partials/_backtest.html", {"bt": found})
    messages.success(request, "Backtest queued; its progress shows below.")
    return redirect("rules:rule_detail", rule.public_id)


@member_required
def backtest_detail(request: ActorRequest, public_id: str) -> HttpResponse:
    """One backtest's progress and result (the fragment the page polls)."""
    found = selectors.backtest_get(actor=request.actor, public_id=public_id)
    return render(request, "rules/partials/_backtest.html", {"bt": found})
