"""Binding chats, the bot joining groups, and the command menu, through the Bot API."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.harness import Harness, harness


async def test_only_deployment_admins_bind(bot: Harness) -> None:
    resident = bot.sim.add_user("王阿姨")
    chat = bot.group("北瑞小区一网格", resident)
    for command in ("/bind 第一网格 通顺社区", "/supervise 通顺社区", "/unbind"):
        message = await bot.say(chat, resident, command)
        assert "只有部署管理员" in bot.reply_text(chat, message)
    assert await bot.storage.grids.bindings(include_inactive=True) == []


@pytest.mark.parametrize("command", ["/bind", "/bind 只有一个", "/bind a b c d"])
async def test_bind_usage(bot: Harness, command: str) -> None:
    chat = bot.group("北瑞小区一网格")
    message = await bot.say(chat, bot.admin, command)
    assert "用法：/bind" in bot.reply_text(chat, message)
    assert await bot.storage.grids.bindings() == []


async def test_bind_in_private_chat_is_redirected(bot: Harness) -> None:
    private = bot.sim.private_chat(bot.admin)
    await bot.say(private, bot.admin, "/bind 第一网格 通顺社区")
    assert "请在要绑定的群里" in bot.sim.bot_messages(private.id)[-1]["text"]


async def test_bind_with_bot_username_full_width_spaces_and_long_names(bot: Harness) -> None:
    chat = bot.group("北瑞小区一网格")
    username = bot.sim.bot.username
    message = await bot.say(chat, bot.admin, f"/bind@{username} 第一网格\u3000通顺社区")
    assert "第一网格" in bot.reply_text(chat, message)
    long = await bot.say(chat, bot.admin, "/bind " + "网" * 41 + " 通顺社区")
    assert "名称太长" in bot.reply_text(chat, long)
    binding = await bot.storage.grids.active_binding(chat.id)
    assert binding is not None and binding.grid_name == "第一网格"


async def test_rebind_updates_and_a_grid_has_one_chat(bot: Harness) -> None:
    first = await bot.grid("一网格群", grid="第一网格")
    second = bot.group("另一个群")
    taken = await bot.say(second, bot.admin, "/bind 第一网格 通顺社区")
    assert "已绑定到另一个群" in bot.reply_text(second, taken)
    moved = await bot.say(first, bot.admin, "/bind 第三网格 通顺社区")
    assert "第三网格" in bot.reply_text(first, moved)
    now_free = await bot.say(second, bot.admin, "/bind 第一网格 通顺社区")
    assert "✅" in bot.reply_text(second, now_free)


async def test_supervise_community_street_and_unknown(bot: Harness) -> None:
    await bot.grid("一网格群")
    office = bot.group("督办群")
    unknown = await bot.say(office, bot.admin, "/supervise 不存在社区")
    assert "没有找到" in bot.reply_text(office, unknown)
    usage = await bot.say(office, bot.admin, "/supervise")
    assert "用法：/supervise" in bot.reply_text(office, usage)
    ok = await bot.say(office, bot.admin, "/supervise 通顺社区")
    assert "督办群" in bot.reply_text(office, ok)
    street = bot.group("街道群")
    ok2 = await bot.say(street, bot.admin, "/supervise 交通街道")
    assert "交通街道" in bot.reply_text(street, ok2)
    kinds = {b.chat_id: b.kind for b in await bot.storage.grids.bindings()}
    assert kinds[office.id] == "supervisor" and kinds[street.id] == "supervisor"
    # a supervisor chat opens no tickets
    report = await bot.say(office, bot.admin, "#报修 3号楼灯不亮")
    assert bot.replies(office, report) == []


async def test_unbind_when_not_bound(bot: Harness) -> None:
    chat = bot.group("群")
    message = await bot.say(chat, bot.admin, "/unbind")
    assert "没有绑定" in bot.reply_text(chat, message)


async def test_welcome_and_privacy_warning_when_bot_cannot_read(tmp_path: Path) -> None:
    async with harness(tmp_path, sim=Simulator(can_read_all_group_messages=False)) as bot:
        chat = bot.sim.add_group("北瑞小区一网格")
        bot.sim.set_member(chat, bot.admin, "creator")
        bot.sim.add_bot(chat, by=bot.admin, status="member")
        await bot.drain()
        texts = [m["text"] for m in bot.sim.bot_messages(chat.id)]
        assert any("大家好" in t for t in texts)
        assert any("看不到群里的普通消息" in t and "/setprivacy" in t for t in texts)
        # promoted to admin: it can read now, no further warning
        bot.sim.set_bot_status(chat, "administrator", by=bot.admin)
        await bot.drain()
        assert len(bot.sim.bot_messages(chat.id)) == len(texts)


async def test_no_privacy_warning_when_bot_can_read(bot: Harness) -> None:
    chat = bot.group("北瑞小区一网格")
    await bot.drain()
    texts = [m["text"] for m in bot.sim.bot_messages(chat.id)]
    assert any("大家好" in t for t in texts)
    assert not any("看不到" in t for t in texts)


async def test_command_menu_per_scope_and_language(bot: Harness) -> None:
    commands = bot.sim.commands
    for scope in ("all_private_chats", "all_group_chats", "all_chat_administrators"):
        for language in ("", "zh", "en"):
            assert (scope, language) in commands, (scope, language)
    admin_zh = {c["command"]: c["description"] for c in commands[("all_chat_administrators", "zh")]}
    assert {"bind", "supervise", "unbind", "help"} <= set(admin_zh)
    assert "绑定" in admin_zh["bind"]
    admin_en = {c["command"]: c["description"] for c in commands[("all_chat_administrators", "en")]}
    assert "Bind" in admin_en["bind"]
    private = [c["command"] for c in commands[("all_private_chats", "")]]
    assert private[:4] == ["start", "help", "my", "status"] and "export" in private
    group = [c["command"] for c in commands[("all_group_chats", "zh")]]
    assert group == ["help", "my", "status", "metoo", "room"]
    # every command in a menu has a handler
    registered = {
        name
        for handlers in bot.app.handlers.values()
        for handler in handlers
        for name in getattr(handler, "commands", ())
    }
    menus = {c["command"] for scope in commands.values() for c in scope}
    assert menus <= registered, menus - registered


async def test_start_and_help(bot: Harness) -> None:
    resident = bot.sim.add_user("王阿姨")
    private = bot.sim.private_chat(resident)
    await bot.say(private, resident, "/start")
    assert "#报修" in bot.sim.bot_messages(private.id)[-1]["text"]
    chat = await bot.grid("北瑞小区一网格", resident)
    message = await bot.say(chat, resident, "/help")
    assert "#充电" in bot.reply_text(chat, message)
