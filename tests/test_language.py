"""Which language each person reads: LANGUAGE=zh|en for everyone, or LANGUAGE=auto, which
answers a person in a private chat in her Telegram language (zh for zh-*, en otherwise) while
groups, read by many, keep the default (zh)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.callbacks import PagePress, RatingPress, encode
from bot.config import Settings
from bot.context import runtime_of
from bot.simulator.models import SimChat, SimUser
from storage import Ticket
from tests.harness import JSON, Harness, harness

REPORT = "#报修 北瑞小区3号楼2单元501室 楼道灯不亮"


@pytest.fixture
async def auto(tmp_path: Path) -> AsyncIterator[Harness]:
    (tmp_path / "auto").mkdir()
    async with harness(tmp_path / "auto", language="auto") as running_bot:
        yield running_bot


@pytest.fixture
async def english(tmp_path: Path) -> AsyncIterator[Harness]:
    """LANGUAGE=en, beside the default ``bot`` (zh) when a test takes both."""
    (tmp_path / "en").mkdir()
    async with harness(tmp_path / "en", language="en") as running_bot:
        yield running_bot


def last_text(bot: Harness, chat: SimChat) -> str:
    return str(bot.sim.bot_messages(chat.id)[-1].get("text", ""))


async def private_answer(bot: Harness, user: SimUser, text: str) -> str:
    chat = bot.sim.private_chat(user)
    await bot.say(chat, user, text)
    return last_text(bot, chat)


async def report(bot: Harness, chat: SimChat, user: SimUser, text: str = REPORT) -> Ticket:
    message = await bot.say(chat, user, text)
    ticket = await bot.storage.tickets.by_message(chat.id, message["message_id"])
    assert ticket is not None, bot.replies(chat, message)
    return ticket


async def officer_world(bot: Harness, **officer: Any) -> tuple[SimChat, SimUser, SimUser]:
    """A bound grid group, a resident, and an officer (an admin of the group)."""
    resident = bot.sim.add_user("王阿姨")
    tom = bot.sim.add_user("Tom", **officer)
    grid = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(grid, tom, "administrator")
    await bot.say(grid, tom, "/list")  # he acts in his group: known as its officer from now on
    return grid, resident, tom


# -- LANGUAGE=auto ----------------------------------------------------------------------------


async def test_auto_answers_start_and_help_in_each_persons_language(auto: Harness) -> None:
    tom = auto.sim.add_user("Tom", language_code="en")
    li = auto.sim.add_user("李", language_code="zh-hans")
    ivan = auto.sim.add_user("Ivan", language_code="ru")
    nobody = auto.sim.add_user("无名", language_code=None)
    for command in ("/start", "/help"):
        assert "Hello, I am LinliTong" in await private_answer(auto, tom, command)
        assert "Hello, I am LinliTong" in await private_answer(auto, ivan, command)
        assert "您好，我是邻里通" in await private_answer(auto, li, command)
        assert "您好，我是邻里通" in await private_answer(auto, nobody, command)  # the default


async def test_auto_keeps_groups_in_the_default_language(auto: Harness) -> None:
    tom = auto.sim.add_user("Tom", language_code="en")
    grid = await auto.grid("北瑞小区一网格", tom)
    asked = await auto.say(grid, tom, "/help")
    assert "在本群发送" in auto.reply_text(grid, asked)
    ticket = await report(auto, grid, tom)
    receipt = auto.reply_text(grid, ticket.message_id)
    assert "收到，工单" in receipt and "北瑞小区 3号楼 2单元 501室" in receipt
    listed = await auto.say(grid, auto.admin, "/list")
    assert "待办工单" in auto.reply_text(grid, listed)


async def test_auto_answers_officers_in_private_in_their_language(auto: Harness) -> None:
    grid, resident, tom = await officer_world(auto, language_code="en-GB")
    ticket = await report(auto, grid, resident)
    listed = await private_answer(auto, tom, "/list")
    assert "Open tickets: 1 in all" in listed and "Building 3, unit 2, room 501" in listed
    shown = await private_answer(auto, tom, f"/show {ticket.id}")
    assert f"Ticket {ticket.id}" in shown and "Location: 北瑞小区, Building 3, unit 2" in shown
    assert "History:" in shown and "opened (王阿姨)" in shown
    assert "does not exist" in await private_answer(auto, tom, "/show 999")
    assert "Please post tagged messages" in await private_answer(auto, tom, "#报修 灯坏了")
    assert "last 7 days" in await private_answer(auto, tom, "/stats")
    # the same officer in the group reads the group's language
    in_group = await auto.say(grid, tom, f"/show {ticket.id}")
    assert f"工单 {ticket.id}" in auto.reply_text(grid, in_group)


async def test_auto_pop_ups_speak_to_the_presser(auto: Harness) -> None:
    """A pop-up is seen by the presser alone: her language, in a group too."""
    tom = auto.sim.add_user("Tom", language_code="en")
    grid = await auto.grid("北瑞小区一网格", tom)
    for n in range(11):
        await report(auto, grid, tom, f"#报修 {n + 1}号楼楼道灯不亮")
    listed = await auto.say(grid, auto.admin, "/list")
    page = auto.replies(grid, listed)[0]
    assert "待办工单：共 11 个" in page["text"]
    query = auto.sim.press_button(grid, page["message_id"], tom, encode(PagePress("open", 2)))
    await auto.drain()
    assert "Only this grid's officers" in auto.sim.callback_answers[query]["text"]
    now = next(m for m in auto.sim.messages(grid.id) if m["message_id"] == page["message_id"])
    assert now["text"] == page["text"]  # the list itself stays as the group reads it


async def test_auto_menus_follow_telegrams_language(auto: Harness) -> None:
    commands = auto.sim.commands
    default = {c["command"]: c["description"] for c in commands[("all_private_chats", "")]}
    english = {c["command"]: c["description"] for c in commands[("all_private_chats", "en")]}
    assert default["start"] == "开始使用邻里通" and english["start"] == "Start using LinliTong"


# -- a fixed language -------------------------------------------------------------------------


async def test_a_fixed_language_answers_everyone_in_it(bot: Harness, english: Harness) -> None:
    tom = bot.sim.add_user("Tom", language_code="en")
    assert "您好，我是邻里通" in await private_answer(bot, tom, "/start")
    assert "请把带标签的消息" in await private_answer(bot, tom, "#报修 灯坏了")
    li = english.sim.add_user("李", language_code="zh-hans")
    assert "Please post tagged messages" in await private_answer(english, li, "#报修 灯坏了")
    commands = english.sim.commands
    menu = {c["command"]: c["description"] for c in commands[("all_private_chats", "")]}
    assert menu["start"] == "Start using LinliTong"


async def test_receipts_name_the_place_in_the_readers_words(bot: Harness, english: Harness) -> None:
    for running, words in (
        (bot, "位置：北瑞小区 3号楼 2单元 501室"),
        (english, "Location: 北瑞小区, Building 3, unit 2, room 501"),
    ):
        resident = running.sim.add_user("王阿姨")
        grid = await running.grid("北瑞小区一网格", resident)
        message = await running.say(grid, resident, REPORT)
        assert words in running.reply_text(grid, message)


async def test_anonymous_admin_is_named_in_the_deployments_language(english: Harness) -> None:
    grid, resident, _ = await officer_world(english)
    ticket = await report(english, grid, resident)
    await english.say(grid, english.admin, f"/take {ticket.id}", sender_chat=grid)
    after = await english.storage.tickets.get(ticket.id)
    assert after is not None and after.assignee_name == "北瑞小区一网格 (anonymous admin)"


# -- the history of /show: the bot's own rows and stored codes, in words ----------------------


def followup_question(bot: Harness, grid: SimChat, ticket: Ticket) -> JSON:
    buttons = encode(RatingPress(ticket.id, "s"))
    for message in bot.sim.bot_messages(grid.id):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(b.get("callback_data") == buttons for row in rows for b in row):
            return message
    raise AssertionError("no 回访 question")


async def history(bot: Harness) -> str:
    """A ticket reminded, resolved, asked and rated 满意; its /show in the group."""
    grid, resident, officer = await officer_world(bot)
    ticket = await report(bot, grid, resident)
    await bot.tick(timedelta(hours=1, minutes=31))  # 30 minutes before the response deadline
    await bot.say(grid, officer, f"/done {ticket.id}")
    await bot.tick(runtime_of(bot.app).settings.followup_delay + timedelta(minutes=1))
    ask = followup_question(bot, grid, ticket)
    bot.sim.press_button(grid, ask["message_id"], resident, encode(RatingPress(ticket.id, "s")))
    await bot.drain()
    shown = await bot.say(grid, officer, f"/show {ticket.id}")
    return bot.reply_text(grid, shown)


async def test_show_tells_the_bots_own_steps_in_words(bot: Harness, english: Harness) -> None:
    zh = await history(bot)
    assert "提醒网格员（邻里通）" in zh and "回访（邻里通）" in zh
    assert "居民评价（王阿姨）：满意" in zh
    assert "reminded" not in zh and "satisfied" not in zh
    en = await history(english)
    assert "officers reminded (LinliTong)" in en and "follow-up asked (LinliTong)" in en
    assert "rated (王阿姨): Satisfied" in en
    assert "邻里通" not in en and "满意" not in en


# -- the setting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "setting", "default"),
    [("auto", "auto", "zh"), ("AUTO", "auto", "zh"), ("en", "en", "en"), ("en_US:en", "en", "en")],
)
def test_language_setting(value: str, setting: str, default: str) -> None:
    settings = Settings(_env_file=None, language=value)
    assert (settings.language, settings.default_language) == (setting, default)
    assert settings.auto_language is (setting == "auto")
