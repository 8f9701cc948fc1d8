"""A number's spam risk over time as inline SVG, drawn on the server.

No script and no network: the page carries the picture itself. Risk is a step
line over four levels (no data, low, medium, high); each observation is a point
with a tooltip, and remediations are marked as vertical lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LEVELS = {None: 0, "low": 1, "medium": 2, "high": 3}
LABELS = ("no data", "low", "medium", "high")
COLOURS = ("#8a8f98", "#2e7d32", "#c77700", "#c62828")
WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 12, 30


def risk_chart_svg(
    points: Sequence[tuple[dt.datetime, str | None]],
    *,
    marks: Sequence[tuple[dt.datetime, str]] = (),
    now: dt.datetime | None = None,
    title: str = "Spam risk over time",
) -> SafeString:
    """An SVG step chart of (when, spam_risk) observations, with labelled marks."""
    now = now or dt.datetime.now(dt.UTC)
    label = escape(title)
    if not points:
        return mark_safe(  # noqa: S308 - built from escaped text only
            f'<svg class="risk-chart" role="img" aria-label="{label}: no observations'
            f' yet" viewBox="0 0 {WIDTH} 40" width="100%"><text x="8" y="24">'
            "No observations yet.</text></svg>"
        )
    start = min([points[0][0], *(m[0] for m in marks)])
    end = max([now, points[-1][0], *(m[0] for m in marks)])
    span = max((end - start).total_seconds(), 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(when: dt.datetime) -> float:
        return LEFT + plot_w * (when - start).total_seconds() / span

    def y(risk: str | None) -> float:
        return TOP + plot_h * (1 - LEVELS.get(risk, 0) / 3)

    parts = [
        f'<svg class="risk-chart" role="img" aria-label="{label}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
    ]
    for level, name in enumerate(LABELS):
        gy = TOP + plot_h * (1 - level / 3)
        parts.append(
            f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{COLOURS[level]}">{name}</text>'
        )
    path = []
    for index, (when, risk) in enumerate(points):
        px, py = x(when), y(risk)
        if index == 0:
            path.append(f"M{px:.1f},{py:.1f}")
        else:
            path.append(f"H{px:.1f}V{py:.1f}")
    path.append(f"H{x(end):.1f}")
    parts.append(
        f'<path d="{" ".join(path)}" fill="none" stroke="#1f4e8c" stroke-width="2"/>'
    )
    for when, text in marks:
        mx = x(when)
        parts.append(
            f'<line x1="{mx:.1f}" y1="{TOP}" x2="{mx:.1f}" y2="{HEIGHT - BOTTOM}" '
            'stroke="#6a1b9a" stroke-dasharray="4 3" stroke-width="1">'
            f"<title>{escape(text)} {when:%Y-%m-%d %H:%M}</title></line>"
        )
    for when, risk in points:
        level = LEVELS.get(risk, 0)
        parts.append(
            f'<circle cx="{x(when):.1f}" cy="{y(risk):.1f}" r="4" '
            f'fill="{COLOURS[level]}" data-risk="{escape(risk or "none")}">'
            f"<title>{when:%Y-%m-%d %H:%M} UTC: {LABELS[level]}</title></circle>"
        )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11" fill="#555">'
        f"{start:%Y-%m-%d %H:%M}</text>"
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" font-size="11" fill="#555" '
        f'text-anchor="end">{end:%Y-%m-%d %H:%M} UTC</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text part is escaped
