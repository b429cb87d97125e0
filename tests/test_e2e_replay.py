"""The real process, killed and restarted while Telegram redelivers what it had handled."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.e2e import bind, count, grid_cast, reply_to, running
from tests.test_e2e_restart import settings

pytestmark = pytest.mark.e2e


async def test_updates_redelivered_after_kill_9_are_not_carried_out_again(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, officer = cast.grid, cast.officer
    env = settings(tmp_path)
    async with running(sim, tmp_path, database=database, admin=cast.admin, settings=env) as live:
        await bind(sim, grid, cast.admin, "/bind 第一网格 通顺社区")
        report = sim.send_text(grid, cast.resident, "#报修 5号楼水管漏水")
        await reply_to(sim, grid, report["message_id"], within=15)
        handled = [
            sim.send_text(grid, officer, "/progress 1 已联系物业明早维修"),
            sim.send_text(grid, officer, "/list"),
        ]
        await sim.wait_for(lambda: count(sim, grid, "已联系物业明早维修") == 1, 15)
        await reply_to(sim, grid, handled[1]["message_id"], within=15)
        ids = {m["message_id"] for m in handled}
        update_ids = [
            update_id
            for update_id, update in sim.queue.history.items()
            if update.get("message", {}).get("message_id") in ids
            and update["message"]["chat"]["id"] == grid.id
        ]
        assert len(update_ids) == 2
        await live.bot.kill9()

        # Telegram hands out again what the dead process had not confirmed
        for update_id in update_ids:
            sim.redeliver(update_id)
        await live.restart()
        # updates are handled in order: once this one is answered, the replays were handled
        probe = sim.send_text(grid, officer, "/status 1")
        await reply_to(sim, grid, probe["message_id"], within=30)
        assert count(sim, grid, "已联系物业明早维修") == 1
        assert len(sim.replies_to(grid.id, handled[1]["message_id"])) == 1
