"""On-demand reports: the weekly chart of a scope (no telegram import)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.charts import weekly_chart_png
from bot.metrics import Period, rates_of
from bot.texts import Texts
from storage import GridInfo, Storage
from storage.metrics import MetricsRepository

CHART_WEEKS = 8
RATE_DAYS = 7


async def weekly_chart(
    storage: Storage,
    grids: Sequence[GridInfo] | None,
    *,
    name: str,
    texts: Texts,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[bytes, str]:
    """The last weeks' new vs resolved tickets and the three rates, as PNG and a caption.

    ``grids`` None means every grid. Rendering is CPU-bound and runs in a worker thread.
    """
    metrics = MetricsRepository(storage.db)
    ids = None if grids is None else [g.id for g in grids]
    local_midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    end = local_midnight.astimezone(now.tzinfo)
    series = await metrics.weekly_series(CHART_WEEKS, end, ids)
    rates = await rates_of(metrics, Period.last(RATE_DAYS, now), ids)
    title = texts("chart.title", name=name, weeks=CHART_WEEKS)
    png = await asyncio.to_thread(
        weekly_chart_png, series, rates, title=title, texts=texts, tz=tz, rate_days=RATE_DAYS
    )
    return png, texts("chart.caption", name=name, weeks=CHART_WEEKS)
