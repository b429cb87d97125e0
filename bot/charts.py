"""The weekly chart PNG: tickets opened vs resolved per week, and the three rates.

Chinese must render on a machine without any Chinese system font, so the font comes with the
project's own dependencies: Noto Sans SC (SIL OFL 1.1) from the ``pylopdf-fonts-zh-cn`` package,
loaded by FILE PATH (``FontProperties(fname=...)``) and handed to every text that may hold
Chinese. Nothing looks a font up by family name, so a missing or different system font can
never turn the title into empty boxes.

Only matplotlib's object API is used (``Figure`` + ``FigureCanvasAgg``): no pyplot, no rcParams
changes, no global state, so renders in several threads at once are safe. Rendering is CPU-bound
(a few hundred milliseconds): async callers run it in a worker thread::

    png = await asyncio.to_thread(weekly_chart_png, series, rates, title=..., texts=..., tz=...)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pylopdf_fonts_zh_cn
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from bot.digest import local_day
from bot.metrics import MetricsRepository, Period, Rate, Rates, WeekCounts, rates_of
from bot.texts import Texts
from storage import Storage

logger = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NEW_COLOUR = "#e67e22"
RESOLVED_COLOUR = "#27ae60"
RATE_COLOUR = "#2f6fb0"
CHART_WEEKS = 8  # weeks on the weekly chart
EMPTY_COLOUR = "#b0b0b0"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Noto Sans SC as installed with the ``pylopdf-fonts-zh-cn`` dependency."""
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():
        raise FileNotFoundError(f"the CJK font is missing: {path} (reinstall pylopdf-fonts-zh-cn)")
    return path


def cjk_font(size: float) -> FontProperties:
    """The CJK font at ``size`` points, by file path (never by family name)."""
    return FontProperties(fname=cjk_font_path(), size=size)


def weekly_chart_png(
    series: Sequence[WeekCounts],
    rates: Rates,
    *,
    title: str,
    texts: Texts,
    tz: ZoneInfo,
    rate_days: int = 7,
) -> bytes:
    """The chart as PNG bytes. CPU-bound: call through ``asyncio.to_thread``."""
    figure = weekly_chart_figure(
        series, rates, title=title, texts=texts, tz=tz, rate_days=rate_days
    )
    buffer = BytesIO()
    FigureCanvasAgg(figure)  # attaches itself as figure.canvas: Agg, whatever pyplot's backend
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def weekly_chart_figure(
    series: Sequence[WeekCounts],
    rates: Rates,
    *,
    title: str,
    texts: Texts,
    tz: ZoneInfo,
    rate_days: int = 7,
) -> Figure:
    """The chart as a matplotlib Figure (not attached to pyplot; garbage-collected normally).

    Left, two thirds: new and resolved tickets per week as grouped bars, week starts in local
    time below. Right: the three rates as bars of 0–100 %, each labelled with its numerator and
    denominator (``—（0/0）`` for none).
    """
    figure = Figure(figsize=(9, 4.8), dpi=110, layout="constrained")
    grid = figure.add_gridspec(1, 3)
    _weeks_panel(figure.add_subplot(grid[0, :2]), series, texts, tz)
    _rates_panel(figure.add_subplot(grid[0, 2]), rates, texts, rate_days)
    figure.suptitle(title, fontproperties=cjk_font(14))
    return figure


def _weeks_panel(axes: Axes, series: Sequence[WeekCounts], texts: Texts, tz: ZoneInfo) -> None:
    positions = list(range(len(series)))
    width = 0.4
    axes.bar(
        [p - width / 2 for p in positions],
        [w.new for w in series],
        width,
        label=texts("chart.new"),
        color=NEW_COLOUR,
    )
    axes.bar(
        [p + width / 2 for p in positions],
        [w.resolved for w in series],
        width,
        label=texts("chart.resolved"),
        color=RESOLVED_COLOUR,
    )
    labels = [_week_label(w, tz) for w in series]
    axes.set_xticks(positions, labels, fontproperties=cjk_font(8))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(texts("chart.week"), fontproperties=cjk_font(10))
    axes.set_ylabel(texts("chart.count"), fontproperties=cjk_font(10))
    axes.legend(prop=cjk_font(9), loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def _week_label(week: WeekCounts, tz: ZoneInfo) -> str:
    local = week.start.astimezone(tz)
    return f"{local.month}/{local.day}"


def _rates_panel(axes: Axes, rates: Rates, texts: Texts, rate_days: int) -> None:
    kinds: list[tuple[str, Rate]] = [
        ("satisfaction", rates.satisfaction),
        ("resolution", rates.resolution),
        ("response", rates.response),
    ]  # bottom to top, so 响应率 reads first
    positions = list(range(len(kinds)))
    values = [(rate.value or 0.0) * 100 for _, rate in kinds]
    colours = [EMPTY_COLOUR if rate.value is None else RATE_COLOUR for _, rate in kinds]
    axes.barh(positions, values, color=colours, height=0.55)
    axes.set_yticks(
        positions, [texts(f"stats.name.{kind}") for kind, _ in kinds], fontproperties=cjk_font(9)
    )
    for position, (_, rate) in zip(positions, kinds, strict=True):
        axes.text(
            2,
            position + 0.38,
            rate.format(texts.language),
            va="bottom",
            fontproperties=cjk_font(8.5),
        )
    axes.set_xlim(0, 100)
    axes.set_ylim(-0.5, len(kinds) - 0.05)
    axes.set_xticks([0, 50, 100], ["0%", "50%", "100%"], fontproperties=cjk_font(8))
    axes.set_title(texts("chart.rates", days=rate_days), fontproperties=cjk_font(10))
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)


async def build_weekly_chart(
    storage: Storage,
    grid_ids: Collection[int] | None,
    *,
    name: str,
    texts: Texts,
    tz: ZoneInfo,
    now: datetime,
    weeks: int = 8,
    rate_days: int = 7,
) -> bytes:
    """Gather (two statements) and render, in a worker thread, the chart of ``grid_ids``
    (``None``: every grid) for the ``weeks`` local weeks that end with today."""
    metrics = MetricsRepository(storage.db)
    _, _, tomorrow = local_day(now, tz)
    series = await metrics.weekly_series(weeks, tomorrow, grid_ids)
    rates = await rates_of(metrics, Period.last(rate_days, now), grid_ids)
    title = texts("chart.title", name=name, weeks=weeks)
    return await asyncio.to_thread(
        weekly_chart_png, series, rates, title=title, texts=texts, tz=tz, rate_days=rate_days
    )
