"""Ready answers in the chat: /template list|add|del, the automatic answer on opening (once,
whatever is replayed or restarted), and /stats' 常用回复 — through the Bot API (simulator)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.callbacks import OfferPress, parse
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from tests.harness import Harness, harness

JSON = dict[str, Any]
TEXTS = Texts("zh")
ASK_PAPERS = "#咨询 请问开证明需要什么材料？"


@dataclass
class Grid:
    chat: SimChat
    resident: SimUser
    officer: SimUser


async def grid(bot: Harness) -> Grid:
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    chat = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(chat, officer, "administrator")
    return Grid(chat, resident, officer)


def automatic(bot: Harness, chat: SimChat) -> list[str]:
    return [
        str(m.get("text", ""))
        for m in bot.sim.bot_messages(chat.id)
        if str(m.get("text", "")).startswith("【自动回复】")
    ]


async def ask(bot: Harness, chat: SimChat, user: SimUser, text: str) -> str:
    message = await bot.say(chat, user, text)
    return bot.reply_text(chat, message)


# -- /template ------------------------------------------------------------------------------------


async def test_add_refuses_an_unknown_variable_naming_it(bot: Harness) -> None:
    g = await grid(bot)
    before = len(await bot.storage.answers.list())
    reply = await ask(
        bot, g.chat, bot.admin, "/template add 报修 办结 已修好，有事打 {电话} 找{网格员}"
    )
    assert "{电话}" in reply and "没有保存" in reply
    assert all("{" + v + "}" in reply for v in ("工单号", "类别", "位置", "网格员", "办结时限"))
    assert "{网格员}" not in reply.split("可用的变量")[0]  # only the unknown one is named
    assert len(await bot.storage.answers.list()) == before


async def test_a_lone_brace_is_refused_as_such(bot: Harness) -> None:
    g = await grid(bot)
    before = len(await bot.storage.answers.list())
    for text, brace in (("已修好 {", "{"), ("已修好 }", "}"), ("{位置}} 好", "}")):
        reply = await ask(bot, g.chat, bot.admin, f"/template add 报修 办结 {text}")
        assert f"没有配对的花括号「{brace}」" in reply and "没有保存" in reply, reply
        assert "{{ 或 }}" in reply and "不认识的变量" not in reply
    assert len(await bot.storage.answers.list()) == before
    kept = await ask(bot, g.chat, bot.admin, "/template add 报修 办结 {{位置}} 原样")
    assert "已添加" in kept


async def test_add_and_del_are_for_admins_list_for_officers(bot: Harness) -> None:
    g = await grid(bot)
    refused = await ask(bot, g.chat, g.officer, "/template add 报修 办结 修好了 {工单号}")
    assert refused == TEXTS("answers.admins_only")
    added = await ask(
        bot, g.chat, bot.admin, "/template add #报修 办结 {位置}的灯已换好（工单 {工单号}）"
    )
    assert "已添加" in added and "报修" in added and "办结" in added
    (mine,) = [t for t in await bot.storage.answers.list("repair", "done") if t.source == "chat"]
    assert mine.text == "{位置}的灯已换好（工单 {工单号}）" and mine.created_by == bot.admin.id
    # asked in the group: the list goes privately (the group reads one line), as /my does
    cannot = await ask(bot, g.chat, g.officer, "/template list 报修 办结")
    assert cannot.startswith("回复模板较长") and "?start=templates" in cannot
    private = bot.sim.private_chat(g.officer)
    await bot.say(private, g.officer, "/start")
    in_group = len(bot.sim.messages(g.chat.id))
    line = await ask(bot, g.chat, g.officer, "/template list 报修 办结")
    assert line.startswith("回复模板已私信发给您") and "#" not in line
    assert len(bot.sim.messages(g.chat.id)) == in_group + 2  # the command and one line
    listed = str(bot.sim.bot_messages(private.id)[-1]["text"])
    assert f"#{mine.id}" in listed and "{位置}的灯已换好" in listed and "已用 0 次" in listed
    assert "全部类别" in listed  # the every-category ones are offered for repair too
    assert "进展" not in listed.split("\n", 1)[1].replace("进展会", "")  # only 办结 ones
    assert "#" in await ask(bot, private, g.officer, "/template list")  # officers, in private
    assert await ask(bot, g.chat, g.resident, "/template list") == TEXTS("answers.not_allowed")
    stranger = bot.sim.add_user("路人")
    assert await ask(bot, bot.sim.private_chat(stranger), stranger, "/template list") == TEXTS(
        "answers.not_allowed"
    )
    assert await ask(bot, g.chat, g.officer, f"/template del {mine.id}") == TEXTS(
        "answers.admins_only"
    )
    assert await ask(bot, g.chat, bot.admin, f"/template del {mine.id}") == TEXTS(
        "answers.deleted", id=mine.id
    )
    assert f"#{mine.id} " not in await ask(bot, private, g.officer, "/template list 报修")
    assert await ask(bot, g.chat, bot.admin, f"/template del {mine.id}") == TEXTS(
        "answers.not_found", id=mine.id
    )


async def test_unknown_category_or_action_is_answered_with_the_choices(bot: Harness) -> None:
    g = await grid(bot)
    category = await ask(bot, g.chat, bot.admin, "/template add 电梯 办结 好了")
    assert "电梯" in category and "报修" in category and "咨询" in category
    action = await ask(bot, g.chat, bot.admin, "/template add 报修 完成 好了")
    assert "完成" in action and all(w in action for w in ("受理", "进展", "办结", "退回"))
    usage = await ask(bot, g.chat, bot.admin, "/template")
    assert "/template add" in usage and "{工单号}" in usage
    every = await ask(bot, g.chat, bot.admin, "/template add * 进展 正在处理 {工单号}")
    assert "全部类别" in every


# -- the automatic answer on opening --------------------------------------------------------------


async def test_a_consult_matching_a_keyword_is_answered_once_and_still_opened(bot: Harness) -> None:
    g = await grid(bot)
    message = await bot.say(g.chat, g.resident, ASK_PAPERS)
    opened = await bot.storage.tickets.by_message(g.chat.id, message["message_id"])
    assert opened is not None and opened.category == "consult" and opened.status == "new"
    replies = bot.replies(g.chat, message)
    assert len(replies) == 2, replies
    receipt, auto = (str(r.get("text", "")) for r in replies)
    assert f"工单 <b>{opened.id}</b>" in receipt or f"工单 {opened.id}" in receipt
    assert auto.startswith("【自动回复】") and "自动回复" in auto
    assert "材料" in auto and f"工单 {opened.id} 仍由网格员跟进" in auto
    # a replayed update and more ticks send nothing again
    bot.sim.redeliver(bot.processed[-1].update_id)
    assert await bot.drain() == 1
    await bot.tick(timedelta(minutes=5))
    assert len(automatic(bot, g.chat)) == 1
    assert len(bot.replies(g.chat, message)) == 2
    used = await bot.storage.answers.uses(opened.created_at, bot.clock.now() + timedelta(1))
    assert [n for _, n in used] == [1]


async def test_no_automatic_answer_without_a_matching_keyword(bot: Harness) -> None:
    g = await grid(bot)
    for text in ("#咨询 低保怎么申请", "#报修 3号楼楼道灯不亮，需要什么材料"):
        message = await bot.say(g.chat, g.resident, text)
        assert len(bot.replies(g.chat, message)) == 1  # the receipt only
    assert automatic(bot, g.chat) == []


async def test_the_officers_name_signs_the_automatic_answer(bot: Harness) -> None:
    g = await grid(bot)
    await ask(bot, g.chat, bot.admin, "/template add 咨询 受理 先看看 {网格员}")  # by hand only
    await ask(bot, g.chat, bot.admin, "/template add 咨询 受理 {网格员}在的：{类别} 几点上班")
    binding = await bot.storage.grids.active_binding(g.chat.id)
    assert binding is not None and binding.grid_id is not None
    await bot.storage.officers.name(
        binding.grid_id, g.officer.id, "刘网格员", by=bot.admin.id, now=bot.clock.now()
    )
    opened = await bot.say(g.chat, g.resident, "#咨询 社区办公时间是几点？")
    (auto,) = automatic(bot, g.chat)
    assert "办公时间" in auto and "先看看" not in auto and "几点上班" not in auto
    assert len(bot.replies(g.chat, opened)) == 2


async def test_a_press_on_an_offer_gets_the_automatic_answer_too(bot: Harness) -> None:
    g = await grid(bot)
    message = await bot.say(g.chat, g.resident, "请问居住证怎么办理？去哪办")
    (offer,) = bot.replies(g.chat, message)
    choices = [
        b
        for row in offer["reply_markup"]["inline_keyboard"]
        for b in row
        if isinstance(parse(b["callback_data"]), OfferPress)
    ]
    consult = next(b for b in choices if "咨询" in b["text"])
    bot.sim.press_button(g.chat, offer["message_id"], g.resident, consult["callback_data"])
    await bot.drain()
    opened = await bot.storage.tickets.by_message(g.chat.id, message["message_id"])
    assert opened is not None and opened.category == "consult"
    (auto,) = automatic(bot, g.chat)
    assert "居住证" in auto
    assert len(bot.replies(g.chat, message)) == 2  # the receipt and the automatic answer


async def test_once_across_a_restart_and_the_file_templates(tmp_path: Path) -> None:
    file = tmp_path / "categories.toml"
    file.write_text(
        "[answers]\n[[answers.templates]]\n"
        'category = "repair"\naction = "open"\ntext = "{类别}已登记，电梯困人请先按警铃。"\n'
        'keywords = ["困人"]\n',
        encoding="utf-8",
    )
    async with harness(tmp_path, categories_file=file) as bot:
        g = await grid(bot)
        message = await bot.say(g.chat, g.resident, "#报修 5号楼电梯困人了")
        (auto,) = automatic(bot, g.chat)
        assert "报修已登记" in auto
        sim, replayed, start = bot.sim, bot.processed[-1].update_id, bot.clock.now()
        count = len(await bot.storage.answers.list())
    async with harness(tmp_path, sim=sim, categories_file=file) as again:
        again.clock.set(start + timedelta(seconds=5))
        sim.redeliver(replayed)
        await again.drain()
        await again.tick(timedelta(minutes=1))
        assert len(automatic(again, g.chat)) == 1
        assert len(again.replies(g.chat, message)) == 2
        assert len(await again.storage.answers.list()) == count  # synced, not doubled


# -- /stats ---------------------------------------------------------------------------------------


async def test_stats_shows_the_answers_used_most(bot: Harness) -> None:
    g = await grid(bot)
    quiet = await ask(bot, g.chat, g.officer, "/stats")
    assert "常用回复" not in quiet
    for text in ("#咨询 开证明去哪里开", "#咨询 请问开证明找谁", "#咨询 医保怎么交"):
        await bot.say(g.chat, g.resident, text)
    assert len(automatic(bot, g.chat)) == 3
    bot.clock.advance(timedelta(minutes=1))
    stats = await ask(bot, g.chat, g.officer, "/stats 7")
    section = stats.split("常用回复", 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("·")]
    assert lines[0].startswith("· 2 次 · 咨询 · 受理 · 关于开具证明")
    assert lines[1].startswith("· 1 次 · 咨询 · 受理 · 关于医保社保")
    assert len(lines) == 2
    later = await ask(bot, g.chat, g.officer, "/stats 1")
    assert "常用回复" in later
    bot.clock.advance(timedelta(days=2))
    assert "常用回复" not in await ask(bot, g.chat, g.officer, "/stats 1")
