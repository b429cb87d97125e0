"""End to end: 💬 ready answers in the real `linlitong run` process — the choice in private, a
template's preview, 发送 — closes the ticket, and the group reads it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import AnswerPress, encode, parse
from bot.simulator import Simulator
from bot.simulator.models import SimChat
from bot.texts import Texts
from storage import Storage, is_url
from tests.e2e import bind, grid_cast, reply_to, running

pytestmark = pytest.mark.e2e
TEXTS = Texts("zh")
JSON = dict[str, Any]


def current(sim: Simulator, chat: SimChat, message_id: int) -> JSON:
    return next(m for m in sim.messages(chat.id) if m["message_id"] == message_id)


def datas(message: JSON) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def pressed(sim: Simulator, chat: SimChat, message_id: int, user: Any, data: str) -> JSON:
    query = sim.press_button(chat, message_id, user, data)
    await sim.wait_for(lambda: sim.callback_answers.get(query), timeout=10)
    return sim.callback_answers[query]


async def test_reply_button_to_send_resolves_the_ticket_once(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, officer = cast.grid, cast.officer
    private = sim.private_chat(officer)
    async with running(sim, tmp_path, database=database, admin=cast.admin, log=False) as live:
        assert "✅" in (await bind(sim, grid, cast.admin, "/bind 第一网格 通顺社区"))["text"]
        sim.send_text(private, officer, "/start")
        await sim.wait_for(lambda: sim.bot_messages(private.id), timeout=30)
        report = sim.send_text(grid, cast.resident, "#报修 北瑞小区3号楼楼道灯不亮")
        receipt = await reply_to(sim, grid, report["message_id"], within=30)
        ticket_id = 1
        ask = encode(AnswerPress("ask", ticket_id))
        assert ask in datas(receipt)

        # 💬: the choice arrives in his private chat, the group reads nothing
        in_group = len(sim.messages(grid.id))
        answer = await pressed(sim, grid, receipt["message_id"], officer, ask)
        assert answer.get("text") == TEXTS("abtn.popup_private")
        (choice,) = await sim.wait_for(lambda: sim.bot_messages(private.id)[1:], timeout=10)
        assert f"工单 {ticket_id} · 报修" in choice["text"]
        done = TEXTS("answers.action_done")
        buttons = choice["reply_markup"]["inline_keyboard"]
        data = next(
            b["callback_data"] for row in buttons for b in row if f"【{done}】" in b["text"]
        )
        template = parse(data)
        assert isinstance(template, AnswerPress) and template.step == "pick"

        # the template's preview, then 发送
        await pressed(sim, private, choice["message_id"], officer, data)
        shown = current(sim, private, choice["message_id"])
        assert "预览" in shown["text"] and "3号楼" in shown["text"]
        send = encode(AnswerPress("send", ticket_id, template.template_id))
        assert send in datas(shown)
        answer = await pressed(sim, private, choice["message_id"], officer, send)
        assert answer.get("text") == TEXTS("abtn.popup_sent", id=ticket_id, status="已办结")

        def posts() -> list[JSON]:
            return [
                m
                for m in sim.replies_to(grid.id, report["message_id"])
                if m["message_id"] != receipt["message_id"]
            ]

        (post,) = await sim.wait_for(posts, timeout=10)
        assert post["text"].startswith(f"✅ 您反映的问题（工单 {ticket_id}）已办结：")
        assert current(sim, private, choice["message_id"])["text"].startswith("已发送 ✓")
        await sim.wait_for(lambda: datas(current(sim, grid, receipt["message_id"])) == [], 10)
        # a second press on the spent preview finds no button; the process stops cleanly
        assert datas(current(sim, private, choice["message_id"])) == []
        assert await live.bot.stop() == 0

    assert len(posts()) == 1
    assert len(sim.messages(grid.id)) == in_group + 1  # the post; the receipt was edited
    target = database if is_url(database) else tmp_path / database
    storage = await Storage.open(target, migrate=False, create=False)
    try:
        ticket = await storage.tickets.get(ticket_id)
        assert ticket is not None and ticket.status == "resolved"
        assert ticket.assignee_id == officer.id
        used = [t for t in await storage.answers.list("repair", "done") if t.uses]
        assert [(t.id, t.uses) for t in used] == [(template.template_id, 1)]
    finally:
        await storage.close()
