"""/export, /stats, /digest and /chart through the Bot API, and the Monday chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from openpyxl import load_workbook

from bot.export import LEDGER_COLUMNS
from bot.simulator.models import SimChat, SimUser
from tests.harness import Harness

JSON = dict[str, Any]
PNG = b"\x89PNG\r\n\x1a\n"


async def world(bot: Harness) -> tuple[SimChat, SimChat, SimChat, SimUser, SimUser, SimUser]:
    resident, officer, staff = (
        bot.sim.add_user("王阿姨"),
        bot.sim.add_user("刘网格员"),
        bot.sim.add_user("社区小赵"),
    )
    grid1 = await bot.grid("一网格", resident, grid="第一网格")
    grid2 = await bot.grid("二网格", resident, grid="第二网格")
    bot.sim.set_member(grid1, officer, "administrator")
    office = bot.group("督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    await bot.say(grid1, resident, "#报修 3号楼灯不亮 电话13812345678")
    await bot.say(grid2, resident, "#积水 5号楼门口积水")
    return grid1, grid2, office, resident, officer, staff


def document_bytes(bot: Harness, message: JSON) -> bytes:
    file_id = message["document"]["file_id"]
    return bot.sim.file_bytes(bot.sim.file_path(file_id))


async def test_export_in_a_grid_group_goes_to_private_chat(bot: Harness) -> None:
    grid1, _, _, _, officer, _ = await world(bot)
    private = bot.sim.private_chat(officer)
    await bot.say(private, officer, "/start")  # the officer has talked to the bot before
    request = await bot.say(grid1, officer, "/export")
    assert "私信" in bot.reply_text(grid1, request)
    assert not any("document" in m for m in bot.sim.bot_messages(grid1.id))
    sent = [m for m in bot.sim.bot_messages(private.id) if "document" in m]
    assert len(sent) == 1 and sent[0]["document"]["file_name"].endswith(".xlsx")
    sheet = load_workbook(BytesIO(document_bytes(bot, sent[0]))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(LEDGER_COLUMNS)
    assert len(rows) == 2 and rows[1][1] == "第一网格"  # only the officer's own grid
    assert "13812345678" in rows[1][4]  # the ledger is for officers: unmasked


async def test_export_in_the_supervisor_chat_covers_the_community(bot: Harness) -> None:
    _, _, office, _, _, staff = await world(bot)
    await bot.say(office, staff, "/export")
    sent = [m for m in bot.sim.bot_messages(office.id) if "document" in m]
    assert len(sent) == 1
    rows = list(
        load_workbook(BytesIO(document_bytes(bot, sent[0]))).active.iter_rows(values_only=True)
    )
    assert sorted(r[1] for r in rows[1:]) == ["第一网格", "第二网格"]


async def test_export_refused_for_residents_and_when_dm_impossible(bot: Harness) -> None:
    grid1, _, _, resident, officer, _ = await world(bot)
    refused = await bot.say(grid1, resident, "/export")
    assert "只有网格员" in bot.reply_text(grid1, refused)
    never_started = await bot.say(grid1, officer, "/export")
    assert "/start" in bot.reply_text(grid1, never_started)
    assert not any("document" in m for m in bot.sim.bot_messages(grid1.id))


async def test_export_by_an_anonymous_admin_explains_how_to_get_it(bot: Harness) -> None:
    grid1, *_ = await world(bot)
    asked = await bot.say(grid1, bot.admin, "/export", sender_chat=grid1)
    reply = bot.reply_text(grid1, asked)
    assert "匿名管理员" in reply and "私聊" in reply
    assert not any("document" in m for m in bot.sim.sent)


async def test_stats_shows_numerators_and_denominators(bot: Harness) -> None:
    grid1, _, office, _, officer, staff = await world(bot)
    await bot.say(grid1, officer, "/take 1")
    await bot.say(grid1, officer, "/done 1 换了灯泡")
    bot.clock.advance(timedelta(minutes=1))
    stats = await bot.say(grid1, officer, "/stats 7")
    text = bot.reply_text(grid1, stats)
    assert "（1/1）" in text and "响应" in text
    community = await bot.say(office, staff, "/stats")
    assert "第二网格" in bot.reply_text(office, community)
    usage = await bot.say(grid1, officer, "/stats 9999")
    assert "用法" in bot.reply_text(grid1, usage)


async def test_digest_on_demand(bot: Harness) -> None:
    grid1, _, office, _, officer, staff = await world(bot)
    digest = await bot.say(grid1, officer, "/digest")
    assert "日报" in bot.reply_text(grid1, digest)
    ranking = await bot.say(office, staff, "/digest")
    assert "排名" in bot.reply_text(office, ranking)


async def test_chart_on_demand_and_on_mondays(bot: Harness) -> None:
    grid1, _, office, _, officer, _ = await world(bot)
    await bot.say(grid1, officer, "/chart")
    photos = [m for m in bot.sim.bot_messages(grid1.id) if "photo" in m]
    assert len(photos) == 1
    biggest = photos[0]["photo"][-1]["file_id"]
    assert bot.sim.file_bytes(bot.sim.file_path(biggest)).startswith(PNG)
    # 2026-11-30 is a Monday: at DIGEST_TIME the supervisor chat gets digest and chart
    bot.clock.set(datetime(2026, 11, 30, 10, 1, tzinfo=UTC))  # 18:01 in Asia/Shanghai
    report = await bot.tick()
    assert report.digests >= 3
    charts = [m for m in bot.sim.bot_messages(office.id) if "photo" in m]
    assert len(charts) == 1 and "趋势" in charts[0].get("caption", "")
    assert (await bot.tick(timedelta(minutes=5))).digests == 0
