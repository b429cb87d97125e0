"""SIGKILL with reminders, escalations, follow-ups and outbox rows pending; restart; each once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from bot.simulator.models import FaultPlan, SimChat
from tests.e2e import bind, count, grid_cast, running

pytestmark = pytest.mark.e2e

# Deadlines in seconds so that the real clock plays the day (durations accept s/m/h/d).
CATEGORIES = """
[categories.repair]
tag = "报修"
response = "3s"
resolution = "6s"
"""


def settings(tmp_path: Path) -> dict[str, str]:
    """A day of seconds: the categories above, ticks and follow-ups as often, no digest."""
    (tmp_path / "categories.toml").write_text(CATEGORIES, encoding="utf-8")
    return {
        "TICK_INTERVAL": "1s",
        "REMINDER_LEAD": "1s",
        "FOLLOWUP_DELAY": "2s",
        "QUIET_HOURS": "off",
        "DIGEST_TIME": "23:59",
        "CATEGORIES_FILE": str(tmp_path / "categories.toml"),
        "LOG_LEVEL": "INFO",
    }


def attempted(sim: Simulator, chat: SimChat, needle: str) -> bool:
    """The bot tried to send it (whether or not Telegram took it)."""
    return any(
        c.parsed.get("chat_id") == chat.id and needle in str(c.parsed.get("text", ""))
        for c in sim.calls_to("sendMessage")
    )


async def test_kill_9_and_restart_delivers_everything_exactly_once(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, admin, resident = cast.grid, cast.admin, cast.resident
    office = sim.add_group("通顺社区督办群")
    sim.set_member(office, admin, "creator")
    sim.add_bot(office, by=admin, status="member")
    env = settings(tmp_path)
    async with running(sim, tmp_path, database=database, admin=admin, settings=env) as live:
        await bind(sim, grid, admin, "/bind 第一网格 通顺社区")
        await bind(sim, office, admin, "/supervise 通顺社区")
        done = sim.send_text(grid, resident, "#报修 5号楼水管漏水")
        await sim.wait_for(lambda: sim.replies_to(grid.id, done["message_id"]), 15)
        sim.send_text(grid, cast.officer, "/done 1 换了新水管")
        await sim.wait_for(lambda: count(sim, grid, "已办结：换了新水管") == 1, 15)

        # Telegram starts failing every send: receipts, reminders, escalations and the 回访
        # pile up in the outbox while the tick keeps queuing them.
        sim.faults = FaultPlan(error_5xx=1.0)
        reports = [sim.send_text(grid, resident, f"#报修 {n}号楼楼道灯不亮") for n in (1, 2, 3)]
        # real seconds: the response (3s) and resolution (6s) deadlines pass, and the bot's
        # tick has queued the escalations (it tries to send one) by the time it is killed
        await sim.wait_for(lambda: attempted(sim, office, "督办"), timeout=60)
        await live.bot.kill9()
        sim.faults = FaultPlan()
        await live.restart()

        await sim.wait_for(
            lambda: all(
                any("已登记" in r.get("text", "") for r in sim.replies_to(grid.id, m["message_id"]))
                for m in reports
            ),
            timeout=60,
        )
        await sim.wait_for(lambda: count(sim, office, "🔺 督办") >= 3, timeout=60)
        await sim.wait_for(lambda: count(sim, grid, "满意吗") >= 1, timeout=60)
        # a few more seconds of ticks (as many polls of a second): nothing may come twice
        polls = len(sim.calls_to("getUpdates"))
        await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) >= polls + 3, timeout=60)
        for message in reports:
            replies = sim.replies_to(grid.id, message["message_id"])
            assert sum("已登记" in r.get("text", "") for r in replies) == 1
        assert count(sim, office, "🔺 督办") == 3
        assert count(sim, grid, "满意吗") == 1
        assert count(sim, grid, "已超过响应时限") + count(sim, grid, "还没有人接单") == 3
