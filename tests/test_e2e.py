"""End to end: the real `linlitong run` process polls the simulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import Simulator, start_server
from bot.simulator.models import SimUser

pytestmark = pytest.mark.e2e
LINLITONG = str(Path(sys.executable).parent / "linlitong")


@dataclass
class Live:
    sim: Simulator
    admin: SimUser
    process: asyncio.subprocess.Process
    log: Path


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    sim = Simulator()
    admin = sim.add_user("张书记")
    log = tmp_path / "bot.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": sim.token,
        "DATABASE_PATH": str(tmp_path / "live.db"),
        "ADMIN_IDS": str(admin.id),
        "POLL_TIMEOUT": "1",
        "LOG_LEVEL": "DEBUG",
    }
    server = await start_server(sim)
    try:
        env["BOT_API_BASE_URL"] = server.base_url
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                LINLITONG, "run", cwd=tmp_path, env=env, stdout=sink, stderr=sink
            )
    except BaseException:
        await server.stop()
        raise
    try:
        await sim.wait_for(lambda: any(c.method == "getUpdates" for c in sim.calls), timeout=30)
        yield Live(sim, admin, process, log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()
        await server.stop()


async def reply_to(sim: Simulator, chat_id: int, message_id: int) -> dict[str, Any]:
    replies = await sim.wait_for(lambda: sim.replies_to(chat_id, message_id) or None, timeout=10)
    assert len(replies) == 1
    reply: dict[str, Any] = replies[0]
    return reply


async def test_receipts_from_the_real_process(live: Live) -> None:
    sim = live.sim
    resident = sim.add_user("王阿姨")
    chat = sim.add_group("北瑞小区一网格")
    sim.set_member(chat, live.admin, "creator")
    sim.set_member(chat, resident, "member")
    sim.add_bot(chat, by=live.admin, status="member")
    bind = sim.send_text(chat, live.admin, "/bind 第一网格 通顺社区 交通街道")
    assert "✅" in (await reply_to(sim, chat.id, bind["message_id"]))["text"]

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
        message = sim.send_text(chat, resident, text)
        receipt = await reply_to(sim, chat.id, message["message_id"])
        latencies.append(time.perf_counter() - started)
        assert f"工单 {number} 已登记" in receipt["text"]

    album = sim.send_album(chat, resident, count=3, caption="#积水 宝东6号街坊", caption_index=2)
    assert "附件：相册" in (await reply_to(sim, chat.id, album[2]["message_id"]))["text"]

    chatter = sim.send_text(chat, resident, "今天天气真好")
    bare = sim.send_text(chat, resident, "#报修")
    assert "什么问题、在哪里" in (await reply_to(sim, chat.id, bare["message_id"]))["text"]
    assert sim.replies_to(chat.id, chatter["message_id"]) == []  # handled before the bare tag

    print(
        f"\nreceipt latency over HTTP: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    assert sim.commands, "the command menu was not registered"


async def test_token_never_reaches_the_log(live: Live) -> None:
    sim = live.sim
    chat = sim.add_group("北瑞小区一网格")
    sim.set_member(chat, live.admin, "creator")
    sim.add_bot(chat, by=live.admin, status="member")
    message = sim.send_text(chat, live.admin, "/help")
    await reply_to(sim, chat.id, message["message_id"])
    live.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(live.process.wait(), timeout=20) == 0
    log = live.log.read_text("utf-8")
    assert "getUpdates" in log or "HTTP" in log or "LinliTong started" in log
    assert sim.token not in log
    assert sim.token.split(":")[1] not in log


async def test_demo_runs_offline_and_exits_0() -> None:
    process = await asyncio.create_subprocess_exec(
        LINLITONG,
        "demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    transcript = output.decode()
    assert process.returncode == 0, transcript
    assert "every report got its receipt" in transcript
    assert transcript.count("已登记") == 5  # five reports; chatter, a bare tag, an unbound group
    assert "还没有人接单" in transcript or "已超过响应时限" in transcript  # a reminder
    for shown in ("满意吗", "感谢您的评价", "日报", "各网格排名", "🔺 督办"):
        assert shown in transcript, shown
    assert "Tickets in the database (5)" in transcript
    assert "附件：相册" in transcript


async def test_a_ticket_through_every_status_in_the_real_process(tmp_path: Path) -> None:
    """Buttons and commands against the running process: new → accepted → resolved → (回访
    不满意) accepted → resolved → (满意) closed. (退回 and 重复 are walked in-process in
    tests/test_officer.py; here the group's 20-a-minute budget is the limit of one test.)"""
    sim = Simulator()
    admin, resident, officer = (
        sim.add_user("张书记"),
        sim.add_user("王阿姨"),
        sim.add_user("刘网格员"),
    )
    grid = sim.add_group("北瑞小区一网格")
    sim.set_member(grid, admin, "creator")
    sim.set_member(grid, resident, "member")
    sim.set_member(grid, officer, "administrator")
    sim.add_bot(grid, by=admin, status="member")
    server = await start_server(sim)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": sim.token,
        "BOT_API_BASE_URL": server.base_url,
        "DATABASE_PATH": str(tmp_path / "live.db"),
        "ADMIN_IDS": str(admin.id),
        "POLL_TIMEOUT": "1",
        "TICK_INTERVAL": "0.3s",
        "FOLLOWUP_DELAY": "1s",
        "QUIET_HOURS": "off",
    }
    process = await asyncio.create_subprocess_exec(LINLITONG, "run", cwd=tmp_path, env=env)
    try:
        await sim.wait_for(lambda: any(c.method == "getUpdates" for c in sim.calls), timeout=30)
        bind = sim.send_text(grid, admin, "/bind 第一网格 通顺社区")
        await reply_to(sim, grid.id, bind["message_id"])
        report = sim.send_text(grid, resident, "#报修 3号楼楼道灯不亮")
        receipt = await reply_to(sim, grid.id, report["message_id"])

        def status_shown(needle: str) -> Any:
            return lambda: next(
                (
                    m
                    for m in sim.bot_messages(grid.id)
                    if m["message_id"] == receipt["message_id"] and needle in m.get("text", "")
                ),
                None,
            )

        sim.press_button(grid, receipt["message_id"], officer, "tk:take:1")
        await sim.wait_for(status_shown("状态：处理中"), timeout=10)
        sim.press_button(grid, receipt["message_id"], officer, "tk:done:1")
        await sim.wait_for(status_shown("状态：已办结"), timeout=10)

        def question(n: int) -> Any:
            return lambda: (
                [m for m in sim.bot_messages(grid.id) if "满意吗" in m.get("text", "")][n:] or None
            )

        first = (await sim.wait_for(question(0), timeout=15))[0]
        sim.press_button(grid, first["message_id"], resident, "fb:1:u")
        await sim.wait_for(status_shown("状态：处理中"), timeout=10)
        sim.send_text(grid, officer, "/done 1 又换了一次")
        second = (await sim.wait_for(question(1), timeout=15))[0]
        sim.press_button(grid, second["message_id"], resident, "fb:1:s")
        await sim.wait_for(status_shown("状态：已关闭"), timeout=10)

    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=20)
        await server.stop()
    assert process.returncode == 0


async def test_a_rejected_token_ends_the_process_with_a_clear_message(tmp_path: Path) -> None:
    sim = Simulator()
    server = await start_server(sim)
    wrong = "999999:WRONG-TOKEN-nobody-issued-this-one"
    try:
        process = await asyncio.create_subprocess_exec(
            LINLITONG,
            "run",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "BOT_TOKEN": wrong,
                "BOT_API_BASE_URL": server.base_url,
                "DATABASE_PATH": str(tmp_path / "x.db"),
                "LOG_LEVEL": "DEBUG",
            },
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await server.stop()
    text = output.decode()
    assert process.returncode == 1, text
    assert "rejected BOT_TOKEN" in text
    assert wrong not in text and wrong.split(":")[1] not in text
