"""The demo: its 议事 scene (played by the real process, closed by the day's clock), and its
closing table (Chinese columns line up, phone numbers are masked). The rest of the transcript
is checked where the demo is run as a command (tests/test_e2e.py, tests/test_cli.py)."""

from __future__ import annotations

import pytest

from bot.demo import display_width, pad, play, ticket_table
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


@pytest.mark.e2e
async def test_the_demo_plays_a_household_vote_closed_by_its_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await play() == 0
    transcript = capsys.readouterr().out
    scene, day = transcript.split("— 邻里通 restarts;")
    scene = scene.split("— 议事:")[1]
    # two residents tie their rooms in the group, the officer adds a household without Telegram
    assert scene.count("✅ 已登记") == 2, scene
    for line in (
        "王阿姨: /room 3-2-501",
        "李大爷: /room 3-2-502",
        "新添加 1 户",
        "议事 1 已发起：3号楼2单元凉房改造",
        "3 户",
        "📊 3号楼2单元凉房改造（同意 / 不同意 / 弃权）",
        "王阿姨 taps 同意",
        "李大爷 taps 不同意",
        "the poll shows 同意 1 · 不同意 1 · 弃权 0",
        "✅ 已为 3-2-503 代录“同意”",
    ):
        assert line in scene, line
    assert "议事 1 结果" not in scene  # the deadline (3 h) passes in the day, not by hand
    # the day's clock reaches the deadline: the poll stopped, the result posted once,
    # per household (the proxy's included), with no names
    assert day.count("议事 1 结果") == 1
    result = day.split("议事 1 结果", 1)[1].split("\n[", 1)[0]
    for line in (
        "· 同意：2 户",
        "· 不同意：1 户",
        "· 弃权：0 户",
        "参与 3 户 / 应参与 3 户",
        "其中 1 户由网格员代为登记",
        "✅ 通过",
        "the poll above is closed",
    ):
        assert line in result, result
    for name in ("王阿姨", "李大爷", "刘网格员"):
        assert name not in result
    # the vote opened no ticket: the day's five reports are still the table's five
    assert "Tickets in the database (5):" in day
    assert "the 议事 vote ran" in day
