"""The profile's trust score over time is the score the stored signals made."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from visitors import services
from visitors.choices import WeightLevel
from visitors.models import RiskSignal, Visitor
from visitors.score_history import trust_score_history


def test_the_history_follows_the_signals_added_removed_and_expired(org, bob) -> None:
    """GIVEN a visitor created 10 days ago with a Medium signal 8 days ago, a High
    one 5 days ago that was removed 2 days ago, and a Low one that expired a day ago
    WHEN the history is built THEN it steps exactly at those moments."""
    actor = Actor.system_for(org, "test")
    now = timezone.now().replace(microsecond=0)
    ago = lambda days: now - dt.timedelta(days=days)  # noqa: E731
    visitor = services.visitor_upsert(actor=actor, name="Dana", emails=["d@x.example"])
    Visitor.objects.filter(pk=visitor.pk).update(created_at=ago(10))
    visitor.refresh_from_db()
    for level, made, ended, expires in (
        (WeightLevel.MEDIUM, 8, None, None),
        (WeightLevel.HIGH, 5, 2, None),
        (WeightLevel.LOW, 4, None, 1),
    ):
        signal = services.risk_signal_add(
            actor=actor, visitor=visitor, signal_type="spam", level=level
        )
        RiskSignal.objects.filter(pk=signal.pk).update(
            created_at=ago(made),
            ended_at=ago(ended) if ended else None,
            expires_at=ago(expires) if expires else None,
        )
    weights = dict(
        RiskSignal.objects.filter(visitor=visitor).values_list("level", "weight")
    )
    medium, high, low = (weights[k] for k in ("medium", "high", "low"))
    points = trust_score_history(visitor=visitor, now=now)
    assert points == [
        (ago(10), 100),
        (ago(8), 100 - medium),
        (ago(5), max(0, 100 - medium - high)),
        (ago(4), max(0, 100 - medium - high - low)),
        (ago(2), 100 - medium - low),
        (ago(1), 100 - medium),
        (now, 100 - medium),
    ]
    client = Client()
    assert client.login(username=bob.username, password=PASSWORD)
    html = client.get(f"/security/visitors/{visitor.public_id}/").content.decode()
    assert 'data-testid="score-chart"' in html
    stamp = timezone.localtime(ago(5)).strftime("%Y-%m-%d %H:%M")
    assert f"<title>{stamp}: {max(0, 100 - medium - high)}</title>" in html
    assert html.count('data-testid="score-point"') == 6
