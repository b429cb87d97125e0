"""Hostile input: thousands of generated messages, commands and button presses.

Nothing may raise out of a handler (the error handler would log it), every reply is one of the
documented ones or none, and the database stays consistent.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from bot.callbacks import TicketPress, encode
from bot.simulator.entities import utf16_len
from bot.simulator.models import SimChat, SimUser
from tests.harness import Harness

SEED = 20261126
COMMANDS = [
    "/take",
    "/assign",
    "/progress",
    "/note",
    "/done",
    "/reject",
    "/dup",
    "/reopen",
    "/show",
    "/list",
    "/status",
    "/my",
    "/metoo",
    "/log",
    "/escalate",
    "/stats",
    "/digest",
    "/bind",
    "/supervise",
    "/unbind",
    "/officer",
    "/unofficer",
    "/help",
    "/start",
    "/export",
    "/chart",
]
NASTY = [
    "'; DROP TABLE tickets; --",
    '" OR 1=1 --',
    "%s%s%s%n",
    "{0}{1}",
    "<b>未闭合",
    "</a>",
    "&amp;&lt;",
    "\u202e反向\u202c",
    "\u200b\u200c\u200d",
    "\x00\x01\x07\x1b[31m",
    "🔥" * 50,
    "𠀀𠀁𠀂",
    "#",
    "＃",
    "##",
    "#报修#",
    "【#】",
    "99999999999999999999999",
    "-1",
    "0",
    "1e309",
    "NaN",
    "١٢٣",
    "１２３",
    "\n\n\n",
    "\t",
    " " * 100,
    "null",
    "undefined",
    "../../etc/passwd",
    "http://x.cn/#报修",
    "@linlitong_bot",
    "/take@linlitong_bot 1",
    "3#楼",
    "7-6-1046",
    "13812345678",
    "11010519491231002X",
]
TAGS = ["#报修", "＃积水", "【#隐患】", "#飞线充电", "#通知", "#求助", "#停车", ""]


def noise(rng: random.Random) -> str:
    parts = [rng.choice(NASTY) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.05:
        parts.append("楼道灯不亮" * rng.randint(200, 800))
    if rng.random() < 0.2:
        parts.append("".join(_char(rng) for _ in range(rng.randint(1, 40))))
    return " ".join(parts)


def _char(rng: random.Random) -> str:
    """Any character Telegram can carry (valid UTF-8: no lone surrogates)."""
    while 0xD800 <= (code := rng.randint(0x20, 0x2FFFF)) <= 0xDFFF:
        pass
    return chr(code)


def message_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        command = rng.choice(COMMANDS)
        args = " ".join(
            rng.choice([noise(rng), str(rng.randint(-5, 10**15)), "1", "2"])
            for _ in range(rng.randint(0, 3))
        )
        return f"{command} {args}".strip()
    if roll < 0.8:
        return f"{rng.choice(TAGS)} {noise(rng)}"
    return noise(rng)


def within_limit(text: str, limit: int = 4096) -> str:
    """Cut to Telegram's message limit, counted in UTF-16 units as Telegram counts."""
    text = text[:limit]
    while utf16_len(text) > limit:
        text = text[: -max(1, (utf16_len(text) - limit) // 2)]
    return text


def forged_callback(rng: random.Random, user: SimUser, message: dict[str, Any]) -> dict[str, Any]:
    data = rng.choice(
        [
            f"tk:take:{rng.randint(0, 10**13)}",
            f"tk:merge:1:{rng.randint(0, 10**13)}",
            f"fb:{rng.randint(0, 99)}:{rng.choice('sbux')}",
            f"ls:{rng.choice(['open', 'c.x', '💥'])}:{rng.randint(-1, 10**7)}",
            noise(rng)[:64],
            "",
            "tk:",
            "fb:1:s:extra",
            # this release's syntax (bot.callbacks), forged
            encode(TicketPress("done", rng.randint(1, 10**12 - 1))),
            f"v1|tk|merge|1|{rng.randint(0, 10**13)}",
            f"v1|fb|{rng.randint(0, 99)}|{rng.choice('sbux')}",
            f"v1|ls|{rng.choice(['open', 'c.x', '💥'])}|{rng.randint(-1, 10**7)}",
            "v1|",
            "v2|tk|take|1",
        ]
    )
    return {
        "callback_query": {
            "id": f"forged-{rng.random()}",
            "from": user.to_dict(),
            "chat_instance": "x",
            "data": data,
            "message": message,
        }
    }


def deleted_reply(rng: random.Random, chat: SimChat, user: SimUser, n: int) -> dict[str, Any]:
    """A reply whose target is gone: reply_to_message names a message the chat never had."""
    return {
        "message": {
            "message_id": 900000 + n,
            "date": 1795660000,
            "chat": chat.to_dict(),
            "from": user.to_dict(),
            "text": rng.choice(["+1", "/done", "/metoo", "#报修 补充", "灯还是不亮"]),
            "reply_to_message": {
                "message_id": 800000 + n,
                "date": 1795650000,
                "chat": chat.to_dict(),
                "from": user.to_dict(),
                "text": "已删除",
            },
        }
    }


@pytest.mark.parametrize("seed", [SEED, SEED + 1])
async def test_generated_hostile_input(
    bot: Harness, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    rng = random.Random(seed)
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    grid = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(grid, officer, "administrator")
    private = bot.sim.private_chat(resident)
    await bot.say(grid, resident, "#报修 3号楼楼道灯不亮")
    caplog.set_level(logging.ERROR, logger="handlers.errors")
    people = [resident, officer, bot.admin]
    for n in range(750):
        who = rng.choice(people)
        chat = rng.choice([grid, grid, grid, private]) if who is resident else grid
        roll = rng.random()
        if roll < 0.08:
            receipts = bot.sim.bot_messages(grid.id) or [
                {"message_id": 1, "chat": grid.to_dict(), "date": 0}
            ]
            bot.sim.inject_update(forged_callback(rng, who, rng.choice(receipts)))
        elif roll < 0.12:
            bot.sim.inject_update(deleted_reply(rng, grid, who, n))
        else:
            text = within_limit(message_text(rng)).strip() or "x"
            if chat is private and who is not resident:
                chat = grid
            bot.sim.send_text(chat, who, text)
        if n % 25 == 0:
            await bot.drain()
    await bot.drain()
    await bot.tick()
    failures = [r for r in caplog.records if r.name == "handlers.errors"]
    assert failures == [], failures[0].getMessage() if failures else ""
    apologies = [m for m in bot.sim.bot_messages() if "出了点问题" in m.get("text", "")]
    assert apologies == []
    assert await bot.storage.db.integrity_check() == []
    # the forged presses carry query ids Telegram never issued: only their answers may fail
    rejected = [
        c
        for c in bot.sim.calls
        if c.error is not None
        and c.error.error_code == 400
        and c.method not in ("answerCallbackQuery", "getChatMember")  # probes of made-up ids
    ]
    assert rejected == [], [(c.method, c.error.description) for c in rejected[:3] if c.error]
