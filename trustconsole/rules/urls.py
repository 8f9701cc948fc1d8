"""Browser URLs of Settings → Rules."""

from __future__ import annotations

from django.urls import path

from trustconsole.rules import views

app_name = "rules"

urlpatterns = [
    path("settings/rules/", views.rule_list, name="rule_list"),
    path("settings/rules/new/", views.rule_new, name="rule_new"),
    path("settings/rules/facts/", views.facts_reference, name="facts"),
    path("settings/rules/check/", views.condition_check, name="check"),
    path("settings/rules/test/", views.rule_test, name="test"),
    path("settings/rules/<str:public_id>/", views.rule_detail, name="rule_detail"),
    path("settings/rules/<str:public_id>/mode/", views.rule_mode, name="rule_mode"),
    path(
        "settings/rules/<str:public_id>/backtest/",
        views.rule_backtest,
        name="rule_backtest",
    ),
    path(
        "settings/rules/backtests/<str:public_id>/",
        views.backtest_detail,
        name="backtest_detail",
    ),
]
