"""The demo's closing table (Chinese columns line up, phone numbers are masked). The transcript
is checked where the demo is run as a command (tests/test_e2e.py, tests/test_cli.py)."""

from __future__ import annotations

import pytest

from bot.demo import display_width, pad, ticket_table
from tests.harness import Harness


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("", 0),
        ("abc", 3),
        ("报修", 4),
        ("3号楼 2单元", 11),
        ("＃积水", 6),
        ("é", 1),
        ("e\u0301", 1),
    ],
)
def test_display_width_counts_wide_characters_twice(text: str, cells: int) -> None:
    assert display_width(text) == cells


def test_pad_fills_to_cells_not_characters() -> None:
    assert pad("报修", 6) == "报修  " and pad("12", 4, right=True) == "  12"
    assert pad("待受理", 4) == "待受理"  # never cut


async def test_the_table_masks_phones_and_lines_up_chinese_columns(bot: Harness) -> None:
    resident = bot.sim.add_user("陈姐")
    chat = await bot.grid("宝东街坊二网格", resident)
    for text in (
        "#飞线充电 5号楼有人从窗户拉线充电，太危险了！我电话13812345678",
        "#报修 北瑞小区3号楼2单元501 水管漏水",
        "#噪音 楼上装修太吵了",
    ):
        await bot.say(chat, resident, text)
    header, *rows = await ticket_table(bot.storage)
    assert header.split() == ["编号", "类别", "状态", "附件", "位置", "内容"]
    assert len(rows) == 3
    assert "138****5678" in rows[0] and "13812345678" not in rows[0]
    assert rows[0].split()[1:3] == ["充电", "待受理"]
    # every column but the last starts at the same terminal cell on every line
    body_at = {
        display_width(line[: line.index(first)])
        for line, first in zip(
            (header, *rows), ("内容", "5号楼有人", "北瑞小区3号楼", "楼上装修"), strict=True
        )
    }
    assert len(body_at) == 1
    place_at = {
        display_width(line[: line.index(word)])
        for line, word in zip(
            (header, *rows), ("位置", "5号楼", "北瑞小区 3号楼", "-"), strict=True
        )
    }
    assert len(place_at) == 1
