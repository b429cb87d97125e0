"""The overview's trend chart as SVG markup drawn on the server (no script, no style attribute).

Per week: tickets opened and resolved as two bars, and the week's 解决率 (resolution rate) as a
line on its own 0–100 % axis; a week whose rate has an empty denominator has no point (the line
breaks there rather than drawing a percentage of nothing). Colours and sizes are presentation
attributes, which the page's CSP (``style-src 'self'``) allows where it forbids ``style=``.

It is read by screen readers through ``role="img"``, its ``<title>`` and a ``<desc>`` that
says the figures in words; each bar and point carries its own ``<title>`` (a tooltip without
script). Every text, attribute value included, is escaped here: the result is inserted into the
page as markup.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.metrics import Rate
from bot.texts import Texts
from bot.web.format import fraction, number, percent

logger = logging.getLogger(__name__)

_Scale = Callable[[float], float]  # a value's y

NEW_COLOUR = "#e67e22"
RESOLVED_COLOUR = "#27ae60"
RATE_COLOUR = "#1d5fa8"
AXIS_COLOUR = "#7b8794"
GRID_COLOUR = "#dde3ea"
TEXT_COLOUR = "#1f2933"

# A phone shows the whole chart at half its size, a wall screen at twice: the words are large.
WIDTH = 640
HEIGHT = 340
LEFT = 60  # room for the count axis
RIGHT = 56  # room for the rate axis
TOP = 52  # room for the legend
BOTTOM = 40  # room for the week labels


@dataclass(frozen=True)
class ChartWeek:
    """One week of the chart: its start (aware), opened, resolved, and its resolution rate."""

    start: datetime
    new: int
    resolved: int
    resolution: Rate


def nice_ceiling(value: int) -> int:
    """The count axis' top: 1, 2 or 5 × a power of ten, at least ``value`` and at least 4."""
    if value <= 4:
        return 4
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _text(value: object) -> str:
    return escape(str(value), quote=False)


def _week_label(week: ChartWeek, tz: ZoneInfo) -> str:
    local = week.start.astimezone(tz)
    return f"{local.month}/{local.day}"


def trend_chart(
    weeks: Sequence[ChartWeek],
    *,
    title: str,
    texts: Texts,
    tz: ZoneInfo,
    id_prefix: str = "trend",
) -> Markup:
    """The chart of ``weeks`` (oldest first) as one ``<svg>`` element."""
    top = nice_ceiling(max([0, *(w.new for w in weeks), *(w.resolved for w in weeks)]))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(weeks))
    bar = slot * 0.32
    base_y = TOP + plot_h

    def y_count(value: float) -> float:
        return base_y - plot_h * value / top

    def y_share(share: float) -> float:
        return base_y - plot_h * share

    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{_attr(title_id)} {_attr(desc_id)}"'
        f' font-size="15" fill="{TEXT_COLOUR}">',
        f'<title id="{_attr(title_id)}">{_text(title)}</title>',
        f'<desc id="{_attr(desc_id)}">{_text(_description(weeks, texts, tz))}</desc>',
    ]
    parts += _axes(top, plot_w, base_y, y_count, y_share, texts)
    for index, week in enumerate(weeks):
        x = LEFT + slot * index + slot / 2
        label = _week_label(week, tz)
        parts += [
            _bar(x - bar, bar, y_count(week.new), base_y, NEW_COLOUR,
                 texts("web_page.chart_bar_new", week=label, count=number(week.new))),
            _bar(x, bar, y_count(week.resolved), base_y, RESOLVED_COLOUR,
                 texts("web_page.chart_bar_resolved", week=label, count=number(week.resolved))),
            f'<text x="{x:.1f}" y="{base_y + 22:.1f}" text-anchor="middle"'
            f' font-size="13">{_text(label)}</text>',
        ]  # fmt: skip
    parts += _rate_line(weeks, slot, y_share, texts, tz)
    parts += _legend(texts)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _axes(
    top: int, plot_w: float, base_y: float, y_count: _Scale, y_share: _Scale, texts: Texts
) -> list[str]:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = y_count(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w:.1f}" y2="{y:.1f}"'
            f' stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        shown = number(int(value)) if value == int(value) else f"{value:,.1f}"
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_text(shown)}</text>'
        )
    for share in (0.0, 0.5, 1.0):
        y = y_share(share)
        parts.append(
            f'<text x="{LEFT + plot_w + 6:.1f}" y="{y + 4:.1f}" fill="{RATE_COLOUR}">'
            f"{_text(percent(share).replace('.0%', '%'))}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{base_y:.1f}" x2="{LEFT + plot_w:.1f}" y2="{base_y:.1f}"'
        f' stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="{LEFT - 6}" y="{TOP - 14}" text-anchor="end" fill="{AXIS_COLOUR}">'
        f"{_text(texts('web_page.chart_axis_count'))}</text>"
    )
    parts.append(
        f'<text x="{LEFT + plot_w + 6:.1f}" y="{TOP - 14}" fill="{RATE_COLOUR}">'
        f"{_text(texts('web_page.chart_axis_rate'))}</text>"
    )
    return parts


def _bar(x: float, width: float, y: float, base_y: float, colour: str, tip: str) -> str:
    height = max(0.0, base_y - y)
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}"'
        f' fill="{colour}"><title>{_text(tip)}</title></rect>'
    )


def _rate_line(
    weeks: Sequence[ChartWeek], slot: float, y_share: _Scale, texts: Texts, tz: ZoneInfo
) -> list[str]:
    """The resolution rate: polylines through the weeks that have one, a dot on each."""
    runs: list[list[tuple[float, float]]] = [[]]
    dots = []
    for index, week in enumerate(weeks):
        share = week.resolution.value
        if share is None:
            if runs[-1]:
                runs.append([])
            continue
        x = LEFT + slot * index + slot / 2
        y = y_share(share)
        runs[-1].append((x, y))
        tip = texts(
            "web_page.chart_point",
            week=_week_label(week, tz),
            rate=percent(share),
            fraction=fraction(week.resolution),
        )
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{RATE_COLOUR}">'
            f"<title>{_text(tip)}</title></circle>"
        )
    lines = [
        '<polyline fill="none" stroke="{c}" stroke-width="2" points="{p}"/>'.format(
            c=RATE_COLOUR, p=" ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        )
        for run in runs
        if len(run) > 1
    ]
    return lines + dots


def _legend(texts: Texts) -> list[str]:
    items = (
        (NEW_COLOUR, texts("web_page.chart_new"), "rect"),
        (RESOLVED_COLOUR, texts("web_page.chart_resolved"), "rect"),
        (RATE_COLOUR, texts("web_page.chart_rate"), "line"),
    )
    parts = []
    x = LEFT
    for colour, label, shape in items:
        if shape == "rect":
            parts.append(f'<rect x="{x}" y="8" width="14" height="14" fill="{colour}"/>')
        else:
            parts.append(
                f'<line x1="{x}" y1="15" x2="{x + 14}" y2="15" stroke="{colour}" stroke-width="3"/>'
            )
        parts.append(f'<text x="{x + 19}" y="20">{_text(label)}</text>')
        x += 32 + 15 * len(label)
    return parts


def _description(weeks: Sequence[ChartWeek], texts: Texts, tz: ZoneInfo) -> str:
    """The figures in words, for whoever cannot see the drawing."""
    if not weeks:
        return texts("web_page.chart_empty")
    lines = [
        texts(
            "web_page.chart_week",
            week=_week_label(week, tz),
            new=number(week.new),
            resolved=number(week.resolved),
            rate=percent(week.resolution.value),
            fraction=fraction(week.resolution),
        )
        for week in weeks
    ]
    return texts("text.list_separator").join(lines)
