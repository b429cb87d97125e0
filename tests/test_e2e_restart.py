"""SIGKILL with reminders, escalations, follow-ups and outbox rows pending; restart; each once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import Simulator, start_server
from bot.simulator.models import FaultPlan, SimChat

pytestmark = pytest.mark.e2e
LINLITONG = str(Path(sys.executable).parent / "linlitong")

# Deadlines in seconds so that the real clock plays the day (durations accept s/m/h/d).
CATEGORIES = """
[categories.repair]
tag = "报修"
response = "3s"
resolution = "6s"
"""


async def start(tmp_path: Path, base_url: str, admin_id: int, token: str) -> Any:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_TOKEN": token,
        "BOT_API_BASE_URL": base_url,
        "DATABASE_PATH": str(tmp_path / "live.db"),
        "ADMIN_IDS": str(admin_id),
        "POLL_TIMEOUT": "1",
        "TICK_INTERVAL": "1s",
        "REMINDER_LEAD": "1s",
        "FOLLOWUP_DELAY": "2s",
        "QUIET_HOURS": "off",
        "DIGEST_TIME": "23:59",
        "CATEGORIES_FILE": str(tmp_path / "categories.toml"),
        "LOG_LEVEL": "INFO",
    }
    log = (tmp_path / "bot.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            LINLITONG, "run", cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    finally:
        log.close()


def replied(sim: Simulator, chat: SimChat, message_id: int) -> Callable[[], list[Any]]:
    return lambda: sim.replies_to(chat.id, message_id)


def count(sim: Simulator, chat: SimChat, needle: str) -> int:
    return sum(1 for m in sim.bot_messages(chat.id) if needle in m.get("text", ""))


async def test_kill_9_and_restart_delivers_everything_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "categories.toml").write_text(CATEGORIES, encoding="utf-8")
    sim = Simulator()
    admin, resident = sim.add_user("张书记"), sim.add_user("王阿姨")
    officer = sim.add_user("刘网格员")
    grid = sim.add_group("北瑞小区一网格")
    office = sim.add_group("通顺社区督办群")
    for chat in (grid, office):
        sim.set_member(chat, admin, "creator")
        sim.add_bot(chat, by=admin, status="member")
    sim.set_member(grid, resident, "member")
    sim.set_member(grid, officer, "administrator")
    server = await start_server(sim)
    process = await start(tmp_path, server.base_url, admin.id, sim.token)
    try:
        await sim.wait_for(lambda: any(c.method == "getUpdates" for c in sim.calls), timeout=30)
        for chat, text in ((grid, "/bind 第一网格 通顺社区"), (office, "/supervise 通顺社区")):
            sent = sim.send_text(chat, admin, text)
            await sim.wait_for(replied(sim, chat, sent["message_id"]), 15)
        done = sim.send_text(grid, resident, "#报修 5号楼水管漏水")
        await sim.wait_for(lambda: sim.replies_to(grid.id, done["message_id"]), 15)
        sim.send_text(grid, officer, "/done 1 换了新水管")
        await sim.wait_for(lambda: count(sim, grid, "已办结：换了新水管") == 1, 15)

        # Telegram starts failing every send: receipts, reminders, escalations and the 回访
        # pile up in the outbox while the tick keeps queuing them.
        sim.faults = FaultPlan(error_5xx=1.0)
        reports = [sim.send_text(grid, resident, f"#报修 {n}号楼楼道灯不亮") for n in (1, 2, 3)]
        await asyncio.sleep(8)  # real seconds: response (3s) and resolution (6s) deadlines pass
        process.send_signal(signal.SIGKILL)
        await process.wait()

        sim.faults = FaultPlan()
        process = await start(tmp_path, server.base_url, admin.id, sim.token)
        await sim.wait_for(
            lambda: all(
                any("已登记" in r.get("text", "") for r in sim.replies_to(grid.id, m["message_id"]))
                for m in reports
            ),
            timeout=60,
        )
        await sim.wait_for(lambda: count(sim, office, "🔺 督办") >= 3, timeout=60)
        await sim.wait_for(lambda: count(sim, grid, "满意吗") >= 1, timeout=60)
        await asyncio.sleep(3)  # a few more ticks: nothing may come twice
        for message in reports:
            replies = sim.replies_to(grid.id, message["message_id"])
            assert sum("已登记" in r.get("text", "") for r in replies) == 1
        assert count(sim, office, "🔺 督办") == 3
        assert count(sim, grid, "满意吗") == 1
        assert count(sim, grid, "已超过响应时限") + count(sim, grid, "还没有人接单") == 3
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()
        await server.stop()
