"""End to end: ready answers in the real `linlitong run` process. 💬 — the choice in private, a
template's preview, 发送 — closes the ticket, and the group reads it once. The automatic answer
to a #咨询 report comes once per ticket, across a kill -9 and Telegram's redeliveries, but for
the one repeat README allows (a message Telegram took just before the kill)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import AnswerPress, encode, parse
from bot.simulator import Simulator
from bot.simulator.models import FaultPlan, SimChat
from bot.texts import Texts
from storage import Storage, is_url
from tests.e2e import bind, grid_cast, reply_to, running
from tests.waiting import eventually

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


# Words of the shipped 咨询 answers (bot.categories.DEFAULT_CONSULT_ANSWERS): 带什么材料 and
# 办公时间 are keywords; the chatter and the 报修 report hold keywords too (居住证, 几点上班), but
# only an opened 咨询 ticket is answered.
CONSULT = "#咨询 想开个居住证明，需要带什么材料？"
CHATTER = "谢谢大家，居住证已经办好了，办公时间也问清楚了"
REPAIR = "#报修 3号楼楼道灯不亮，物业几点上班能来修"
CONSULT_AGAIN = "#咨询 社区周末上班吗？办公时间是几点"
AUTO = "【自动回复】"
SETTINGS = {"DIGEST_TIME": "23:59", "QUIET_HOURS": "off"}


def second_send_lost() -> FaultPlan:
    """From now on, the first sendMessage goes through and the second is carried out but its
    answer never comes (the simulator's seeded draws: the first seed whose first draw misses the
    timeout share and whose second hits it)."""
    share = 0.5
    seed = next(
        n for n in itertools.count() if (draw := random.Random(n)).random() >= share > draw.random()
    )
    return FaultPlan(timeout=share, timeout_applies=True, methods={"sendMessage"}, seed=seed)


def replying(message: JSON) -> int | None:
    quoted = message.get("reply_to_message")
    return int(quoted["message_id"]) if quoted else None


def seen_as(message: JSON) -> tuple[str, int | None]:
    """What a reader sees of a message: its words and the message it replies to."""
    return message.get("text", ""), replying(message)


async def test_automatic_answer_once_per_ticket_across_kill_9_and_redelivery(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, resident = cast.grid, cast.resident
    target = database if is_url(database) else tmp_path / database

    def automatic(message: JSON) -> int:
        return sum(
            AUTO in r.get("text", "") for r in sim.replies_to(grid.id, message["message_id"])
        )

    def receipts(message: JSON) -> int:
        return sum(
            "已登记" in r.get("text", "") for r in sim.replies_to(grid.id, message["message_id"])
        )

    async with running(
        sim, tmp_path, database=database, admin=cast.admin, log=False, settings=SETTINGS
    ) as live:
        await bind(sim, grid, cast.admin, "/bind 第一网格 通顺社区")
        watcher = await Storage.open(target, migrate=False, create=False)
        try:

            async def all_sent() -> bool:
                return (await watcher.outbox.counts()).get("pending", 0) == 0

            consult = sim.send_text(grid, resident, CONSULT)
            chatter = sim.send_text(grid, resident, CHATTER)
            repair = sim.send_text(grid, resident, REPAIR)
            # the receipts and the 咨询's automatic answer; then every queued message has left
            # (updates of a chat are handled in order: the chatter's came before the 报修's)
            await sim.wait_for(lambda: automatic(consult) and receipts(repair), timeout=30)
            assert await eventually(all_sent, within=30)
            assert (receipts(consult), automatic(consult)) == (1, 1)
            (answer,) = [m for m in sim.bot_messages(grid.id) if AUTO in m.get("text", "")]
            assert "关于办事材料" in answer["text"] and "工单 1 仍由网格员跟进" in answer["text"]
            assert sim.replies_to(grid.id, chatter["message_id"]) == []
            assert (receipts(repair), automatic(repair)) == (1, 0)

            # the next report: its receipt goes through; Telegram takes its automatic answer
            # but the answer to the bot is lost, and the bot is killed before it marks it sent
            sim.faults = second_send_lost()
            again = sim.send_text(grid, resident, CONSULT_AGAIN)
            await sim.wait_for(lambda: automatic(again), timeout=30)
            await live.bot.kill9()
            sim.faults = FaultPlan()
            assert receipts(again) == 1
            before = [m["message_id"] for m in sim.bot_messages(grid.id)]

            # Telegram hands out the reports and the chatter once more, then the bot restarts
            reports = {m["message_id"] for m in (consult, chatter, repair, again)}
            updates = [
                update_id
                for update_id, update in sim.queue.history.items()
                if update.get("message", {}).get("message_id") in reports
                and update["message"]["chat"]["id"] == grid.id
            ]
            assert len(updates) == len(reports)
            for update_id in updates:
                sim.redeliver(update_id)
            await live.restart()
            # handled in order: once the probe is answered, the replays were handled
            probe = sim.send_text(grid, cast.officer, "/status 3")
            await reply_to(sim, grid, probe["message_id"], within=30)
            await sim.wait_for(lambda: automatic(again) == 2, timeout=30)
            assert await eventually(all_sent, within=30)
        finally:
            await watcher.close()
        assert await live.bot.stop() == 0

    # README's one repeat: the message Telegram took just before the kill -9 (the second
    # automatic answer) goes once more, first of the new process's messages in the chat;
    # nothing else the group had is repeated
    shown = [m for m in sim.bot_messages(grid.id) if replying(m) != probe["message_id"]]
    old = [m for m in shown if m["message_id"] in before]
    new = [m for m in shown if m["message_id"] not in before]
    assert [seen_as(m) for m in new] == [seen_as(old[-1])]
    assert AUTO in new[0]["text"] and replying(new[0]) == again["message_id"]
    assert len({seen_as(m) for m in old}) == len(old)
    # per ticket: the receipts once; one automatic answer (the 咨询 just before the kill: the
    # one repeat); the chatter and the 报修 none
    assert [receipts(m) for m in (consult, repair, again)] == [1, 1, 1]
    assert [automatic(m) for m in (consult, chatter, repair, again)] == [1, 0, 0, 2]
    assert sim.replies_to(grid.id, chatter["message_id"]) == []

    storage = await Storage.open(target, migrate=False, create=False)
    try:
        queued = await storage.outbox.items("answer")
        assert [(i.ticket_id, i.status) for i in queued] == [(1, "sent"), (3, "sent")]
        used = {t.text[:6]: t.uses for t in await storage.answers.list("consult", "open") if t.uses}
        assert used == {"关于办事材料": 1, "关于办公时间": 1}
        ticket = await storage.tickets.get(3)
        assert ticket is not None and ticket.category == "consult"
        assert await storage.tickets.get(4) is None
    finally:
        await storage.close()
