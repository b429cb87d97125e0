"""End to end: the real `linlitong run` process polls the simulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import RatingPress, TicketPress, encode
from bot.launcher import RUN_SCRIPT, SCRIPT, start_bot
from bot.simulator import Simulator, start_server
from tests.e2e import Cast, Live, bind, grid_cast, reply_to, running

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(tmp_path: Path, database: Path | str) -> AsyncIterator[tuple[Live, Cast]]:
    sim = Simulator()
    cast = grid_cast(sim)
    settings = {"LOG_LEVEL": "DEBUG"}
    async with running(
        sim, tmp_path, database=database, admin=cast.admin, settings=settings
    ) as live:
        yield live, cast


async def test_receipts_from_the_real_process(world: tuple[Live, Cast]) -> None:
    (live, cast), chat = world, world[1].grid
    sim = live.sim
    assert "✅" in (await bind(sim, chat, cast.admin, "/bind 第一网格 通顺社区 交通街道"))["text"]

    forms = [
        "#报修 3号楼2单元楼道灯不亮",
        "#报修北瑞小区西巷路面破损，影响出行",
        "请处理＃积水 宝东6号街坊拐弯处",
        "【#隐患】7-6-1046 楼道堆满纸箱",
        "5号楼有人从窗户拉线充电 #飞线充电",
    ]
    latencies = []
    for number, text in enumerate(forms, start=1):
        started = time.perf_counter()
        message = sim.send_text(chat, cast.resident, text)
        receipt = await reply_to(sim, chat, message["message_id"])
        latencies.append(time.perf_counter() - started)
        assert f"工单 {number} 已登记" in receipt["text"]

    caption = "#积水 宝东6号街坊"
    album = sim.send_album(chat, cast.resident, count=3, caption=caption, caption_index=2)
    assert "附件：相册" in (await reply_to(sim, chat, album[2]["message_id"]))["text"]

    chatter = sim.send_text(chat, cast.resident, "今天天气真好")
    bare = sim.send_text(chat, cast.resident, "#报修")
    assert "什么问题、在哪里" in (await reply_to(sim, chat, bare["message_id"]))["text"]
    assert sim.replies_to(chat.id, chatter["message_id"]) == []  # handled before the bare tag

    print(
        f"\nreceipt latency over HTTP: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    assert sim.commands, "the command menu was not registered"


async def test_token_never_reaches_the_log(world: tuple[Live, Cast]) -> None:
    live, cast = world
    sim = live.sim
    message = sim.send_text(cast.grid, cast.admin, "/help")
    await reply_to(sim, cast.grid, message["message_id"])
    assert await live.bot.stop() == 0
    log = live.bot.log()
    assert "getUpdates" in log or "HTTP" in log or "LinliTong started" in log
    assert sim.token not in log
    assert sim.token.split(":")[1] not in log


async def test_demo_runs_offline_and_exits_0() -> None:
    process = await asyncio.create_subprocess_exec(
        SCRIPT,
        "demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    transcript = output.decode()
    assert process.returncode == 0, transcript
    assert "every report got its receipt" in transcript
    # five reports (chatter, a bare tag, an unbound group open none), and one person on the
    # 关爱走访 roster
    assert len(re.findall(r"工单 \d+ 已登记", transcript)) == 5, transcript
    assert transcript.count("已登记 关爱 1") == 1
    assert "还没有人接单" in transcript or "已超过响应时限" in transcript  # a reminder
    for shown in ("满意吗", "感谢您的评价", "日报", "各网格排名", "🔺 督办"):
        assert shown in transcript, shown
    assert "Tickets in the database (5)" in transcript
    assert "附件：相册" in transcript
    # the 议事 scene: rooms, the poll, a proxy; the day's clock reaches its deadline
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


async def test_a_ticket_through_every_status_in_the_real_process(
    tmp_path: Path, database: Path | str
) -> None:
    """Buttons and commands against the running process: new → accepted → resolved → (回访
    不满意) accepted → resolved → (满意) closed. (退回 and 重复 are walked in-process in
    tests/test_officer.py; here the group's 20-a-minute budget is the limit of one test.)"""
    sim = Simulator()
    cast = grid_cast(sim)
    grid, resident, officer = cast.grid, cast.resident, cast.officer
    settings = {"TICK_INTERVAL": "0.3s", "FOLLOWUP_DELAY": "1s", "QUIET_HOURS": "off"}
    async with running(
        sim, tmp_path, database=database, admin=cast.admin, settings=settings
    ) as live:
        await bind(sim, grid, cast.admin, "/bind 第一网格 通顺社区")
        report = sim.send_text(grid, resident, "#报修 3号楼楼道灯不亮")
        receipt = await reply_to(sim, grid, report["message_id"])

        def status_shown(needle: str) -> Any:
            return lambda: next(
                (
                    m
                    for m in sim.bot_messages(grid.id)
                    if m["message_id"] == receipt["message_id"] and needle in m.get("text", "")
                ),
                None,
            )

        sim.press_button(grid, receipt["message_id"], officer, encode(TicketPress("take", 1)))
        await sim.wait_for(status_shown("状态：处理中"), timeout=10)
        sim.press_button(grid, receipt["message_id"], officer, encode(TicketPress("done", 1)))
        await sim.wait_for(status_shown("状态：已办结"), timeout=10)

        def question(n: int) -> Any:
            return lambda: (
                [m for m in sim.bot_messages(grid.id) if "满意吗" in m.get("text", "")][n:] or None
            )

        first = (await sim.wait_for(question(0), timeout=15))[0]
        sim.press_button(grid, first["message_id"], resident, encode(RatingPress(1, "u")))
        await sim.wait_for(status_shown("状态：处理中"), timeout=10)
        sim.send_text(grid, officer, "/done 1 又换了一次")
        second = (await sim.wait_for(question(1), timeout=15))[0]
        sim.press_button(grid, second["message_id"], resident, encode(RatingPress(1, "s")))
        await sim.wait_for(status_shown("状态：已关闭"), timeout=10)
        assert await live.bot.stop() == 0


async def test_a_rejected_token_ends_the_process_with_a_clear_message(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    server = await start_server(sim)
    wrong = "999999:WRONG-TOKEN-nobody-issued-this-one"
    try:
        bot = await start_bot(
            base_url=server.base_url,
            token=wrong,
            database_path=database,
            cwd=tmp_path,
            log_path=tmp_path / "bot.log",
            extra_env={"LOG_LEVEL": "DEBUG"},
            command=RUN_SCRIPT,
        )
        try:
            returncode = await bot.wait(timeout=60)
        finally:
            await bot.stop()
    finally:
        await server.stop()
    text = bot.log()
    assert returncode == 1, text
    assert "拒绝了 BOT_TOKEN" in text and "@BotFather" in text  # LANGUAGE=zh by default
    assert wrong not in text and wrong.split(":")[1] not in text
