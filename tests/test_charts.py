"""The weekly chart: a valid PNG whose Chinese really renders with the font the project ships.

filterwarnings=error is on for the whole suite, so any "Glyph … missing from font" warning while
drawing the chart fails these tests by itself. On top of that, the font file's cmap must hold
every character drawn, and the glyphs must really be drawn: each distinct character renders to a
distinct bitmap with ink, where a font without them (DejaVu Sans) draws one identical empty box
for all of them and warns.
"""

from __future__ import annotations

import asyncio
import sysconfig
import warnings
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import imread
from matplotlib.text import Text
from numpy.typing import NDArray
from PIL import Image

from bot.charts import (
    PNG_SIGNATURE,
    build_weekly_chart,
    cjk_font_path,
    weekly_chart_figure,
    weekly_chart_png,
)
from bot.metrics import Rate, Rates, WeekCounts
from bot.texts import Language, Texts, keys
from storage import Storage

TZ = ZoneInfo("Asia/Shanghai")
END = datetime(2026, 11, 25, 16, tzinfo=UTC)  # midnight of Nov 26 in Shanghai
TITLE = "通顺社区第一网格 · 近 8 周工单与三率"
SERIES = [WeekCounts(END - timedelta(weeks=8 - i), 10 + 3 * i, 8 + 2 * i) for i in range(8)]
RATES = Rates(Rate(12, 13), Rate(8, 10), Rate(0, 0))


def chart_strings(language: Language) -> list[str]:
    """Every string the chart can draw in ``language``, the rates' formats included."""
    texts = Texts(language)
    names = [
        k for k in keys() if k.startswith(("chart.", "stats.name.")) and k != "chart.caption"
    ]  # the caption is the message's text, not drawn
    rendered = [texts(k, name="网格", weeks=8, days=7) for k in names]
    rates = [Rate(12, 13).format(language), Rate(0, 0).format(language), "0%", "50%", "100%"]
    return [TITLE, *rendered, *rates, "11/19"]


def ink(image: NDArray[np.uint8]) -> int:
    """Pixels darker than the white background."""
    return int((image[..., :3].min(axis=-1) < 200).sum())


def render_text(text: str, font: FontProperties) -> NDArray[np.uint8]:
    figure = Figure(figsize=(6, 0.8), dpi=100)
    figure.text(0.02, 0.3, text, fontproperties=font)
    FigureCanvasAgg(figure)
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    with Image.open(buffer) as image:
        return np.asarray(image.convert("RGB"))


def test_the_font_is_a_file_of_our_dependencies_not_of_the_system() -> None:
    path = cjk_font_path()
    assert path.is_file() and path.suffix == ".otf"
    assert Path(sysconfig.get_paths()["purelib"]) in path.parents  # site-packages, not /usr/share
    assert "pylopdf_fonts_zh_cn" in path.parts


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_font_has_a_glyph_for_every_character_drawn(language: Language) -> None:
    with TTFont(cjk_font_path(), lazy=True) as font:
        cmap = font.getBestCmap()
    drawn = {ch for s in chart_strings(language) for ch in s if not ch.isspace()}
    assert drawn, "nothing to check"
    missing = sorted(ch for ch in drawn if ord(ch) not in cmap)
    assert missing == []


def test_chinese_renders_as_real_glyphs_where_dejavu_draws_boxes() -> None:
    cjk = FontProperties(fname=cjk_font_path(), size=20)
    dejavu = FontProperties(fname=font_manager.findfont("DejaVu Sans"), size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our font: not one glyph may be missing
        title_cjk = render_text(TITLE, cjk)
        singles_cjk = {ch: render_text(ch, cjk) for ch in "响应率解决满意办结"}
    with pytest.warns(UserWarning, match="missing from font"):
        title_dejavu = render_text(TITLE, dejavu)
    with pytest.warns(UserWarning, match="missing from font"):
        singles_dejavu = {ch: render_text(ch, dejavu) for ch in "响应率解决满意办结"}

    assert ink(title_cjk) > 500
    assert not np.array_equal(title_cjk, title_dejavu)
    # Real glyphs differ from one another; a missing glyph is the same box every time.
    assert all(ink(image) > 30 for image in singles_cjk.values())
    assert len({image.tobytes() for image in singles_cjk.values()}) == len(singles_cjk)
    assert len({image.tobytes() for image in singles_dejavu.values()}) == 1


@pytest.mark.parametrize("language", ["zh", "en"])
def test_weekly_chart_is_a_valid_png(language: Language) -> None:
    png = weekly_chart_png(SERIES, RATES, title=TITLE, texts=Texts(language), tz=TZ)
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(BytesIO(png)) as image:
        image.verify()
    with Image.open(BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (990, 528)  # 9 × 4.8 inches at 110 dpi
    pixels = imread(BytesIO(png))
    assert pixels.shape[:2] == (528, 990)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20  # not blank


def test_every_text_with_chinese_is_set_in_the_cjk_font() -> None:
    figure = weekly_chart_figure(SERIES, RATES, title=TITLE, texts=Texts("zh"), tz=TZ)
    texts = [t for t in figure.findobj(Text) if any(ord(ch) > 0x2000 for ch in t.get_text())]
    assert {t.get_text() for t in texts} >= {TITLE, "新增", "办结", "工单数", "响应率"}
    for text in texts:
        assert Path(str(text.get_fontproperties().get_file())) == cjk_font_path(), text


def test_empty_weeks_and_empty_rates_still_draw() -> None:
    png = weekly_chart_png([], Rates.empty(), title="无数据", texts=Texts("zh"), tz=TZ)
    assert png.startswith(PNG_SIGNATURE)
    zeros = [WeekCounts(END - timedelta(weeks=1), 0, 0)]
    assert weekly_chart_png(zeros, RATES, title="零", texts=Texts("en"), tz=TZ).startswith(
        PNG_SIGNATURE
    )


async def test_renders_in_worker_threads_at_once(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "x.db")
    try:
        now = END + timedelta(hours=10)
        pngs = await asyncio.gather(
            *(
                build_weekly_chart(
                    storage, None, name=f"网格{i}", texts=Texts("zh"), tz=TZ, now=now
                )
                for i in range(3)
            )
        )
    finally:
        await storage.close()
    assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
    assert len(set(pngs)) == 3  # three different titles
