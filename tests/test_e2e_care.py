"""关爱走访 through the real `linlitong run`: a roster added by command, a reminder, a visit that
opens a nameless ticket, a kill -9, a missed visit that reaches the community and then the
street — each message once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from bot.simulator.models import SimChat
from storage import Storage, is_url
from tests.e2e import bind, count, grid_cast, reply_to, running
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

# a 高风险 week of seconds: owed 4 s after a visit, on time until 4 s later, the street 4 s after
CATEGORIES = """
[care.tiers."高风险"]
every = "4s"
grace = "4s"
"""


def office(sim: Simulator, title: str, admin_id: int) -> SimChat:
    chat = sim.add_group(title)
    sim.set_member(chat, admin_id, "creator")
    sim.add_bot(chat, by=admin_id, status="member")
    return chat


async def test_care_visits_through_the_real_process(tmp_path: Path, database: Path | str) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, admin, officer = cast.grid, cast.admin, cast.officer
    community, street = (
        office(sim, "通顺社区办公室", admin.id),
        office(sim, "交通街道办公室", admin.id),
    )
    (tmp_path / "categories.toml").write_text(CATEGORIES, encoding="utf-8")
    env = {
        "TICK_INTERVAL": "1s",
        "QUIET_HOURS": "off",
        "DIGEST_TIME": "23:59",
        "CATEGORIES_FILE": str(tmp_path / "categories.toml"),
        "LOG_LEVEL": "INFO",
    }
    private = sim.private_chat(officer)
    async with running(sim, tmp_path, database=database, admin=admin, settings=env) as live:
        await bind(sim, grid, admin, "/bind 第一网格 通顺社区 交通街道")
        await bind(sim, community, admin, "/supervise 通顺社区")
        await bind(sim, street, admin, "/supervise 交通街道")
        # the officer works the grid (he administers its group) and adds 曹大爷 in one line
        added = sim.send_text(private, officer, "/care add 曹大爷 3号楼2单元101 高风险")
        answer = await reply_to(sim, private, added["message_id"], within=30)
        assert "关爱 1" in answer["text"], answer
        # due today (in 4 s): the visitor is reminded privately, with the 📝 button
        await sim.wait_for(lambda: count(sim, private, "关爱走访提醒") == 1, 30)

        concern = sim.send_text(private, officer, "/visit 1 异常需跟进 说胸口疼")
        recorded = await reply_to(sim, private, concern["message_id"], within=30)
        assert "工单" in recorded["text"], recorded
        # the 求助 ticket's receipt in the residents' group names nobody
        await sim.wait_for(lambda: count(sim, grid, "关爱 1") >= 1, 30)
        group_text = "\n".join(m.get("text", "") for m in sim.bot_messages(grid.id))
        for secret in ("曹大爷", "3号楼2单元101", "胸口疼"):
            assert secret not in group_text

        # the next visit is owed (in 4 s, today): reminded again at once
        await sim.wait_for(lambda: count(sim, private, "关爱走访提醒") == 2, 30)
        # …and marked sent (a message Telegram took but the bot had not marked may go once
        # more after a kill -9, README's one exception: not what this test is about)
        target = database if is_url(database) else tmp_path / database
        watcher = await Storage.open(target, migrate=False, create=False)
        try:

            async def all_sent() -> bool:
                return (await watcher.outbox.counts()).get("pending", 0) == 0

            assert await eventually(all_sent, within=30)
        finally:
            await watcher.close()

        # killed with the missed visit's alarms still to come (nothing on the wire: each
        # message below must come exactly once, whichever process sends it)
        await live.bot.kill9()
        await live.restart()

        # nobody visits: past the window the community hears, one period later the street
        await sim.wait_for(lambda: count(sim, street, "社区督办后仍未走访") == 1, 60)
        assert count(sim, private, "关爱走访提醒") == 2
        assert count(sim, community, "逾期未访") == 1
        assert "曹大爷" in "".join(m.get("text", "") for m in sim.bot_messages(community.id))
        # a visit now settles it; the bot reports the next due and repeats nothing
        late = sim.send_text(private, officer, "/visit 1 正常")
        await reply_to(sim, private, late["message_id"], within=30)
        await sim.wait_for(lambda: count(sim, private, "关爱走访提醒") == 3, 30)
        assert count(sim, community, "逾期未访") == 1
        assert count(sim, street, "关爱") == 1
        assert count(sim, private, "关爱走访提醒") == 3
