"""A handler that fails: the person is answered, the admins are told once, masked, no token."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import LinliContext
from tests.harness import Harness


class Boom(RuntimeError):
    pass


async def explode(update: Update, context: LinliContext) -> None:
    raise Boom(f"居民电话 13812345678 token {context.bot.token}")


def notices(bot: Harness) -> list[str]:
    chat = bot.sim.private_chat(bot.admin)
    return [m.get("text", "") for m in bot.sim.bot_messages(chat.id) if "⚠️" in m.get("text", "")]


async def test_admins_hear_of_a_failure_once_per_window_masked(bot: Harness) -> None:
    bot.app.add_handler(CommandHandler("boom", explode), group=-5)
    await bot.say(bot.sim.private_chat(bot.admin), bot.admin, "/start")  # the admin can be told
    resident = bot.sim.add_user("王阿姨")
    chat = await bot.grid("北瑞小区一网格", resident)
    asked = await bot.say(chat, resident, "/boom")
    assert "出了点问题" in bot.reply_text(chat, asked)
    sent = notices(bot)
    assert len(sent) == 1
    assert "Boom" in sent[0] and "138****5678" in sent[0]
    assert "13812345678" not in sent[0] and bot.sim.token not in sent[0]
    for _ in range(3):
        await bot.say(chat, resident, "/boom")
    assert len(notices(bot)) == 1  # a storm of the same error is one notice
    bot.clock.advance(timedelta(minutes=11))
    await bot.say(chat, resident, "/boom")
    assert len(notices(bot)) == 2
