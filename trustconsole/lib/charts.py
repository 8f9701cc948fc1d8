"""Charts drawn on the server as inline SVG: no script, no download, no build step.

Two shapes cover the dashboard: bars per day (stacked series) and labelled
horizontal bars; detail pages add a step line over shaded bands (a score over
time). Every bar and dot carries a <title> with its exact number, and every chart
states its numbers in text too, so a screenshot or a screen reader reads them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    """One stacked series of a per-day chart."""

    name: str
    colour: str
    values: Sequence[int]


@dataclass(frozen=True)
class Bar:
    """One labelled horizontal bar."""

    label: str
    value: int
    colour: str
    href: str = ""


def _n(value: float) -> str:
    """A coordinate with one decimal (format_html escapes its arguments to text)."""
    return f"{value:.1f}"


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def per_day_bars(
    *, days: Sequence[str], series: Sequence[Series], title: str
) -> SafeString:
    """Stacked bars, one per day, with a y-axis top label and dated x-axis ticks."""
    width, height = 640, 220
    left, right, top, bottom = 36, 8, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top_value = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.72, 1)
    parts: list[str] = [
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#dde1e7"/>'
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6573">{}'
            "</text>"
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#9aa3ae"/>'
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6573">0'
            "</text>",
            left,
            top,
            width - right,
            top,
            left - 4,
            top + 4,
            top_value,
            left,
            top + plot_h,
            width - right,
            top + plot_h,
            left - 4,
            top + plot_h + 4,
        )
    ]
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = top + plot_h
        tip = ", ".join(f"{s.values[i]} {s.name.lower()}" for s in series)
        for s in series:
            h = plot_h * s.values[i] / top_value
            if h <= 0:
                continue
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}"><title>{}: {}</title></rect>',
                    _n(x),
                    _n(y),
                    _n(bar_w),
                    _n(h),
                    s.colour,
                    day,
                    tip,
                )
            )
        last = len(days) - 1
        if i == last or (i % 7 == 0 and last - i >= 4):
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="11" '
                    'fill="#5b6573">{}</text>',
                    _n(x + bar_w / 2),
                    top + plot_h + 16,
                    day[5:],
                )
            )
    legend_x = left
    for s in series:
        total = sum(s.values)
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
                '<text x="{}" y="{}" font-size="12" fill="#1d2430">{}: {}</text>',
                legend_x,
                height - 12,
                s.colour,
                legend_x + 14,
                height - 3,
                s.name,
                total,
            )
        )
        legend_x += 24 + 8 * (len(s.name) + len(str(total)) + 2)
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}">{}</svg>',
        width,
        height,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - every part is format_html output
    )


def horizontal_bars(*, bars: Sequence[Bar], title: str) -> SafeString:
    """One labelled bar per item with its number at the end; bars may link."""
    row_h, label_w, width = 26, 270, 640
    height = row_h * max(len(bars), 1) + 4
    top_value = max((b.value for b in bars), default=0) or 1
    plot_w = width - label_w - 60
    rows = []
    for i, bar in enumerate(bars):
        y = 2 + i * row_h
        w = plot_w * bar.value / top_value
        body = format_html(
            '<text x="{}" y="{}" text-anchor="end" font-size="13" fill="#1d2430">{}'
            "</text>"
            '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}">'
            "<title>{}: {}</title></rect>"
            '<text x="{}" y="{}" font-size="13" font-weight="600" '
            'fill="#1d2430">{}</text>',
            label_w - 8,
            y + 17,
            bar.label,
            label_w,
            y + 4,
            _n(max(w, 1 if bar.value else 0)),
            row_h - 8,
            bar.colour,
            bar.label,
            bar.value,
            _n(label_w + w + 6),
            y + 17,
            bar.value,
        )
        rows.append(
            format_html('<a href="{}">{}</a>', bar.href, body) if bar.href else body
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}">{}</svg>',
        width,
        height,
        title,
        format_html_join("", "{}", ((r,) for r in rows)),
    )


@dataclass(frozen=True)
class Band:
    """A shaded horizontal range of a line chart (e.g. the danger band 0–30)."""

    low: int
    high: int
    colour: str
    label: str


def step_line(
    *,
    points: Sequence[tuple[dt.datetime, int]],
    title: str,
    y_max: int = 100,
    bands: Sequence[Band] = (),
) -> SafeString:
    """A value over time as a step line over shaded bands; every change is a dot
    whose <title> states the moment and the value."""
    width, height = 640, 200
    left, right, top, bottom = 36, 12, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    if not points:
        return format_html(
            '<svg class="chart" viewBox="0 0 {} 40" width="100%" role="img" '
            'aria-label="{}: no data"><text x="8" y="24">No data yet.</text></svg>',
            width,
            title,
        )
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)

    def x(when: dt.datetime) -> float:
        return left + plot_w * (when - start).total_seconds() / span

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" opacity="0.12">'
            "<title>{}</title></rect>"
            '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6573">{}'
            "</text>",
            left,
            _n(y(band.high)),
            plot_w,
            _n(y(band.low) - y(band.high)),
            band.colour,
            band.label,
            left - 4,
            _n(y(band.high) + 4),
            band.high,
        )
        for band in bands
    ]
    path = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    path += [f"H{x(when):.1f}V{y(value):.1f}" for when, value in points[1:]]
    parts.append(
        format_html(
            '<path d="{}" fill="none" stroke="#2451b7" stroke-width="2"/>',
            " ".join(path),
        )
    )
    for when, value in points[:-1] if len(points) > 1 else points:
        parts.append(
            format_html(
                '<circle cx="{}" cy="{}" r="3.5" fill="#2451b7">'
                "<title>{}: {}</title></circle>",
                _n(x(when)),
                _n(y(value)),
                timezone.localtime(when).strftime("%Y-%m-%d %H:%M"),
                value,
            )
        )
    for when, anchor in ((start, "start"), (end, "end")):
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="{}" font-size="11" fill="#5b6573">'
                "{}</text>",
                _n(x(when)),
                height - 8,
                anchor,
                timezone.localtime(when).strftime("%Y-%m-%d"),
            )
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}">{}</svg>',
        width,
        height,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - every part is format_html output
    )
