"""End to end: an untagged problem in the real `linlitong run` process, asked about and opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from bot.texts import Texts
from tests.e2e import bind, grid_cast, reply_to, running

pytestmark = pytest.mark.e2e
TEXTS = Texts("zh")


async def test_an_untagged_problem_is_asked_about_and_opened(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    async with running(sim, tmp_path, database=database, admin=cast.admin, log=False) as live:
        assert "✅" in (await bind(sim, cast.grid, cast.admin, "/bind 第一网格 通顺社区"))["text"]
        chatter = sim.send_text(cast.grid, cast.resident, "收到，谢谢网格员")
        problem = sim.send_text(cast.grid, cast.resident, "电梯又停了，老人下不了楼 5号楼")
        offer = await reply_to(sim, cast.grid, problem["message_id"])
        assert offer["text"] == TEXTS("offer.ask")
        assert sim.replies_to(cast.grid.id, chatter["message_id"]) == []  # read before it
        data = offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = sim.press_button(cast.grid, offer["message_id"], cast.resident, data)
        await sim.wait_for(lambda: sim.callback_answers.get(query), timeout=10)
        assert sim.callback_answers[query]["text"] == TEXTS("popup.offer_opened", id=1)

        def receipt() -> list[dict[str, object]] | None:
            replies = sim.replies_to(cast.grid.id, problem["message_id"])
            return replies if replies and "已登记" in str(replies[0].get("text")) else None

        (shown,) = await sim.wait_for(receipt, timeout=10)
        assert "类别：报修" in str(shown["text"]) and "5号楼" in str(shown["text"])
        assert (cast.grid.id, offer["message_id"]) in sim.deleted
        assert await live.bot.stop() == 0
