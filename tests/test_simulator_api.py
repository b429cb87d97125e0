"""The simulator behaves like the Bot API for a real ``telegram.Bot``, in-process and over HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    BotCommandScopeChatMember,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
    ReplyParameters,
    TelegramObject,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bot.simulator import (
    FaultPlan,
    RateLimits,
    SimChat,
    SimServer,
    Simulator,
    SimulatorRequest,
    SimUser,
    start_server,
)
from bot.simulator.state import PLACEHOLDER_PNG

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("受理", callback_data="take:1")]])


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns on int time periods (RetryAfter, durations) unless this opt-in is set."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


class Tick:
    """An injectable monotonic clock that only moves when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    sim: Simulator
    admin: SimUser
    resident: SimUser
    group: SimChat
    private: SimChat


def build_world(sim: Simulator, *, bot_status: str = "member") -> World:
    """A supergroup with a creator, a resident and the bot; the resident started the bot."""
    admin = sim.add_user("张书记", username="zhang_shuji")
    resident = sim.add_user("王阿姨", username="wang_ayi")
    group = sim.add_group("北瑞小区一网格")
    sim.set_member(group, admin, "creator")
    sim.set_member(group, resident, "member")
    sim.add_bot(group, by=admin, status=bot_status)
    private = sim.private_chat(resident)
    sim.send_text(private, resident, "/start")
    return World(sim, admin, resident, group, private)


def inprocess_bot(sim: Simulator) -> Bot:
    return Bot(sim.token, request=SimulatorRequest(sim), get_updates_request=SimulatorRequest(sim))


def http_bot(sim: Simulator, server: SimServer, **request: Any) -> Bot:
    return Bot(
        sim.token,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        request=HTTPXRequest(**request) if request else None,
    )


def unknown_fields(obj: object, path: str = "") -> list[str]:
    """Fields PTB did not recognise (they land in ``api_kwargs``), anywhere in ``obj``."""
    if isinstance(obj, TelegramObject):
        found = [f"{path}: {sorted(obj.api_kwargs)}"] if obj.api_kwargs else []
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if not name.startswith("_") and name != "api_kwargs":
                    found += unknown_fields(getattr(obj, name, None), f"{path}.{name}")
        return found
    if isinstance(obj, tuple | list):
        return [x for i, item in enumerate(obj) for x in unknown_fields(item, f"{path}[{i}]")]
    return []


async def drain(bot: Bot) -> list[Update]:
    """Fetch and confirm everything pending."""
    updates = list(await bot.get_updates(timeout=0))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
def world(sim: Simulator) -> World:
    return build_world(sim)


@pytest.fixture
async def server(sim: Simulator) -> AsyncIterator[SimServer]:
    running = await start_server(sim)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def bot(sim: Simulator) -> AsyncIterator[Bot]:
    async with inprocess_bot(sim) as running:
        yield running


@pytest.fixture(params=["in-process", "http"])
async def any_bot(request: pytest.FixtureRequest, sim: Simulator) -> AsyncIterator[Bot]:
    """The same tests through SimulatorRequest and through the HTTP server."""
    if request.param == "in-process":
        async with inprocess_bot(sim) as running:
            yield running
        return
    running_server = await start_server(sim)
    try:
        async with http_bot(sim, running_server) as running:
            yield running
    finally:
        await running_server.stop()


# ==================================================================================== basics


async def test_get_me(any_bot: Bot) -> None:
    me = await any_bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        123456,
        "linlitong_bot",
        "邻里通",
        True,
    )
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is True
    assert me.supports_inline_queries is False
    assert unknown_fields(me) == []


async def test_every_update_parses_without_unknown_fields(bot: Bot, sim: Simulator) -> None:
    w = build_world(sim, bot_status="administrator")
    forum = sim.add_group("报修专区", forum=True)
    sim.set_member(forum, w.admin, "creator")
    sim.add_bot(forum, by=w.admin, status="administrator")
    topic = sim.create_topic(forum, "报修")
    report = sim.send_text(
        forum, w.resident, "#报修 灯 https://x.com @wang_ayi /take", thread_id=topic
    )
    sim.send_text(forum, w.resident, "回复", reply_to=report["message_id"])
    sim.send_text(w.group, w.admin, "匿名管理员", sender_chat=w.group)
    channel = sim.add_channel("社区公告")
    sim.send_text(w.group, None, "频道自动转发", sender_chat=channel, is_automatic_forward=True)
    sim.send_album(w.group, w.resident, count=2, caption="#积水")
    sim.send_media(w.group, w.resident, "video", caption="视频")
    sim.send_media(w.group, w.resident, "document", caption="文件")
    sim.edit_text(forum, report["message_id"], "#报修 改了")
    sim.set_member(w.group, w.resident, "restricted")
    sim.set_member(w.group, w.resident, "kicked", by=w.admin)
    basic = sim.add_group("老群", supergroup=False)
    sim.set_member(basic, w.admin, "creator")
    sim.add_bot(basic, by=w.admin)
    sim.migrate_to_supergroup(basic)
    sim.block_bot(w.resident)
    raw = await sim.call("getUpdates", {"allowed_updates": json.dumps(list(Update.ALL_TYPES))})
    assert len(raw) > 20
    for update in raw:
        assert unknown_fields(Update.de_json(update, bot)) == [], update


# ==================================================================================== sending


async def test_send_reply_in_a_topic_then_edit(any_bot: Bot, sim: Simulator) -> None:
    w = build_world(sim)
    forum = sim.add_group("北瑞小区", forum=True)
    sim.set_member(forum, w.admin, "creator")
    sim.add_bot(forum, by=w.admin)
    topic = sim.create_topic(forum, "报修专区", by=w.admin)
    report = sim.send_text(forum, w.resident, "#报修 3号楼楼道灯不亮", thread_id=topic)
    assert report["message_thread_id"] == topic and report["is_topic_message"] is True
    assert report["reply_to_message"]["forum_topic_created"]["name"] == "报修专区"

    sent = await any_bot.send_message(
        forum.id,
        "已收到 <b>工单 1</b>",
        parse_mode="HTML",
        reply_parameters=ReplyParameters(report["message_id"]),
        message_thread_id=topic,
        reply_markup=KEYBOARD,
    )
    assert sent.text == "已收到 工单 1"
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == report["message_id"]
    assert sent.reply_to_message.reply_to_message is None  # one level only
    assert (sent.message_thread_id, sent.is_topic_message) == (topic, True)
    assert [e.type for e in sent.entities] == ["bold"]
    assert sim.replies_to(forum.id, report["message_id"]) == [sim.sent[-1]]

    edited = await any_bot.edit_message_text("已受理", chat_id=forum.id, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert sim.sent[-1]["text"] == "已受理" and "edit_date" in sim.sent[-1]
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await any_bot.edit_message_text("已受理", chat_id=forum.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)thread not found"):
        await any_bot.send_message(forum.id, "x", message_thread_id=9999)


async def test_plain_replies_in_a_supergroup_carry_the_thread_root(bot: Bot, world: World) -> None:
    sim = world.sim
    first = sim.send_text(world.group, world.resident, "第一条")
    second = sim.send_text(world.group, world.admin, "回复", reply_to=first["message_id"])
    third = sim.send_text(world.group, world.resident, "再回复", reply_to=second["message_id"])
    assert second["message_thread_id"] == first["message_id"]
    assert third["message_thread_id"] == first["message_id"]
    assert "is_topic_message" not in third
    assert "reply_to_message" not in third["reply_to_message"]
    sent = await bot.send_message(world.group.id, "收到", reply_to_message_id=third["message_id"])
    assert sent.message_thread_id == first["message_id"] and not sent.is_topic_message


async def test_edit_caption_markup_and_delete(any_bot: Bot, world: World) -> None:
    sim = world.sim
    photo = await any_bot.send_photo(
        world.group.id, PLACEHOLDER_PNG, caption="现场", reply_markup=KEYBOARD
    )
    edited = await any_bot.edit_message_caption(
        chat_id=world.group.id,
        message_id=photo.message_id,
        caption="现场 #积水",
        reply_markup=KEYBOARD,
    )
    assert isinstance(edited, Message)
    assert edited.caption == "现场 #积水" and edited.caption_entities[0].type == "hashtag"
    assert edited.reply_markup == KEYBOARD
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await any_bot.edit_message_reply_markup(
            chat_id=world.group.id, message_id=photo.message_id, reply_markup=KEYBOARD
        )
    text = await any_bot.send_message(world.group.id, "文字")
    with pytest.raises(BadRequest, match=r"(?i)no caption"):
        await any_bot.edit_message_caption(
            chat_id=world.group.id, message_id=text.message_id, caption="x"
        )
    resident_message = sim.send_text(world.group, world.resident, "居民的话")
    with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
        await any_bot.edit_message_text(
            "x", chat_id=world.group.id, message_id=resident_message["message_id"]
        )
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted"):
        await any_bot.delete_message(world.group.id, resident_message["message_id"])
    assert await any_bot.delete_message(world.group.id, text.message_id) is True
    assert [m["message_id"] for m in sim.bot_messages(world.group.id)] == [photo.message_id]
    with pytest.raises(BadRequest, match=r"(?i)to delete not found"):
        await any_bot.delete_message(world.group.id, text.message_id)


async def test_error_cases_raise_the_right_exceptions(any_bot: Bot, world: World) -> None:
    sim = world.sim
    stranger = sim.add_user("陌生人")
    lonely = sim.add_group("没有机器人的群")
    cases: list[tuple[Any, type[Exception], str]] = [
        (any_bot.send_message(-100999, "x"), BadRequest, "chat not found"),
        (
            any_bot.send_message(stranger.id, "x"),
            Forbidden,
            "bot can't initiate conversation with a user",
        ),
        (
            any_bot.send_message(lonely.id, "x"),
            Forbidden,
            "bot is not a member of the supergroup chat",
        ),
        (any_bot.send_message(world.group.id, " \n "), BadRequest, "message text is empty"),
        (any_bot.send_message(world.group.id, "长" * 4097), BadRequest, "message is too long"),
        (
            any_bot.send_message(world.group.id, "<p>段落</p>", parse_mode="HTML"),
            BadRequest,
            'can\'t parse entities: unsupported start tag "p" at byte offset 0',
        ),
        (
            any_bot.send_message(world.group.id, "x", reply_to_message_id=99999),
            BadRequest,
            "message to be replied not found",
        ),
        (
            any_bot.send_message(
                world.group.id,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("a", callback_data="x" * 65)]]
                ),
            ),
            BadRequest,
            "button_data_invalid",
        ),
        (
            any_bot.send_photo(world.group.id, PLACEHOLDER_PNG, caption="图" * 1025),
            BadRequest,
            "message caption is too long",
        ),
        (
            any_bot.send_photo(world.group.id, "no-such-file-id"),
            BadRequest,
            "wrong file identifier",
        ),
    ]
    for call, error, text in cases:
        with pytest.raises(error) as caught:
            await call
        assert text in str(caught.value).lower()
    lenient = await any_bot.send_message(
        world.group.id,
        "x",
        reply_parameters=ReplyParameters(99999, allow_sending_without_reply=True),
    )
    assert lenient.reply_to_message is None
    too_long_is_fine_at_the_limit = await any_bot.send_message(world.group.id, "长" * 4096)
    assert too_long_is_fine_at_the_limit.text is not None


async def test_kicked_left_and_blocked(any_bot: Bot, world: World) -> None:
    sim = world.sim
    sim.set_bot_status(world.group, "kicked", by=world.admin)
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await any_bot.send_message(world.group.id, "x")
    basic = sim.add_group("老群", supergroup=False)
    sim.set_member(basic, world.admin, "creator")
    sim.add_bot(basic, by=world.admin)
    assert await any_bot.leave_chat(basic.id) is True
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the group chat"):
        await any_bot.send_message(basic.id, "x")
    sim.block_bot(world.resident)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await any_bot.send_message(world.private.id, "x")
    kinds = [
        u.my_chat_member.new_chat_member.status for u in await drain(any_bot) if u.my_chat_member
    ]
    assert kinds == ["member", "kicked", "member", "left", "kicked"]


async def test_chat_migrated(any_bot: Bot, sim: Simulator) -> None:
    admin = sim.add_user("张书记")
    basic = sim.add_group("北瑞小区", supergroup=False)
    sim.set_member(basic, admin, "creator")
    sim.add_bot(basic, by=admin)
    new = sim.migrate_to_supergroup(basic)
    assert new.type == "supergroup" and new.id < -1_000_000_000_000
    with pytest.raises(ChatMigrated) as caught:
        await any_bot.send_message(basic.id, "x")
    assert caught.value.new_chat_id == new.id
    messages = [u.message for u in await drain(any_bot) if u.message]
    assert messages[-2].migrate_to_chat_id == new.id and messages[-2].chat.id == basic.id
    assert messages[-1].migrate_from_chat_id == basic.id and messages[-1].chat.id == new.id
    assert messages[-1].message_id == 1  # a new supergroup counts its own message ids
    assert (await any_bot.send_message(new.id, "迁移后")).chat.id == new.id


async def test_chat_info_and_members(any_bot: Bot, world: World) -> None:
    sim = world.sim
    info = await any_bot.get_chat(world.group.id)
    assert (info.id, info.type, info.title) == (world.group.id, "supergroup", "北瑞小区一网格")
    assert info.max_reaction_count == 11
    member = await any_bot.get_chat_member(world.group.id, world.resident.id)
    assert member.status == "member" and member.user.id == world.resident.id
    admins = await any_bot.get_chat_administrators(world.group.id)
    assert [a.user.id for a in admins] == [world.admin.id]
    assert await any_bot.get_chat_member_count(world.group.id) == 3
    sim.set_member(world.group, world.resident, "restricted")
    restricted = await any_bot.get_chat_member(world.group.id, world.resident.id)
    assert restricted.status == "restricted"
    # the group's permissions and a restricted member's name every ChatPermissions field
    assert info.permissions is not None
    granted = info.permissions.to_dict()
    assert granted == ChatPermissions.all_permissions().to_dict()
    assert {k for k in restricted.to_dict() if k.startswith("can_")} == set(granted)
    me = await any_bot.get_chat_member(world.group.id, sim.bot.id)
    assert me.status == "member"
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await any_bot.get_chat_member(world.group.id, 42)


# ==================================================================================== faults


async def test_timeouts_in_process(bot: Bot, world: World) -> None:
    sim = world.sim
    sim.faults = FaultPlan(timeout=1.0)
    with pytest.raises(TimedOut):
        await bot.send_message(world.group.id, "丢了")
    assert sim.bot_messages(world.group.id) == []
    sim.faults = FaultPlan(timeout=1.0, timeout_applies=True)
    with pytest.raises(TimedOut):
        await bot.send_message(world.group.id, "发出去了但没有回音")
    assert [m["text"] for m in sim.bot_messages(world.group.id)] == ["发出去了但没有回音"]
    assert sim.calls[-1].timed_out is True
    assert (await bot.get_me()).username == "linlitong_bot"  # not in the default fault scope


async def test_timeout_over_http(sim: Simulator, server: SimServer) -> None:
    w = build_world(sim)
    sim.faults = FaultPlan(timeout=1.0, hang_seconds=0.6)
    async with http_bot(sim, server, read_timeout=0.2) as http:
        with pytest.raises(TimedOut):
            await http.send_message(w.group.id, "x")
        sim.faults = FaultPlan()
        # an answer that comes is never cut short, however slow the machine
        assert (await http.send_message(w.group.id, "ok", read_timeout=30)).text == "ok"


async def test_bad_gateway_and_flood_storm(bot: Bot, world: World) -> None:
    sim = world.sim
    tick = Tick()
    sim.clock = tick
    sim.faults = FaultPlan(error_5xx=1.0, methods={"sendMessage"})
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(world.group.id, "x")
    sim.faults = FaultPlan(flood=1.0, flood_retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(world.group.id, "x")
    assert caught.value.retry_after == timedelta(seconds=7)
    sim.faults.flood = 0.0
    tick.now += 3
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(world.group.id, "x")
    assert caught.value.retry_after == timedelta(seconds=4)
    tick.now += 4
    assert (await bot.send_message(world.group.id, "恢复")).text == "恢复"


async def test_rate_limits_group_minute_and_private_burst(bot: Bot, sim: Simulator) -> None:
    tick = Tick()
    sim.clock = tick
    w = build_world(sim)
    sim.limits = RateLimits()
    for index in range(20):
        await bot.send_message(w.group.id, f"第{index + 1}条")
        tick.now += 1
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(w.group.id, "第21条")
    assert caught.value.retry_after == timedelta(seconds=40)
    first = sim.bot_messages(w.group.id)[0]
    with pytest.raises(RetryAfter):  # edits count against the chat too
        await bot.edit_message_text("改", chat_id=w.group.id, message_id=first["message_id"])
    tick.now += 40
    assert (await bot.send_message(w.group.id, "第21条")).text == "第21条"

    for _ in range(3):
        await bot.send_message(w.private.id, "私聊")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(w.private.id, "太快了")
    assert caught.value.retry_after == timedelta(seconds=1)
    tick.now += 1
    await bot.send_message(w.private.id, "可以了")
    rejected = [c for c in sim.calls if c.error and c.error.error_code == 429]
    assert len(rejected) == 3 and rejected[0].error is not None
    assert rejected[0].error.parameters == {"retry_after": 40}


# ==================================================================================== updates


async def test_get_updates_offset_and_limit(bot: Bot, world: World) -> None:
    sim = world.sim
    await drain(bot)
    for index in range(5):
        sim.send_text(world.private, world.resident, f"消息{index}")
    assert sim.pending_updates() == 5
    two = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in two if u.message] == ["消息0", "消息1"]
    assert sim.pending_updates() == 5  # handed out, not yet confirmed
    rest = await bot.get_updates(offset=two[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in rest if u.message] == ["消息2", "消息3", "消息4"]
    assert sim.pending_updates() == 3
    last = await bot.get_updates(offset=-1, timeout=0)
    assert [u.update_id for u in last] == [rest[-1].update_id]
    assert sim.pending_updates() == 1
    assert await bot.get_updates(offset=last[0].update_id + 1, timeout=0) == ()
    assert sim.pending_updates() == 0
    assert len(await sim.call("getUpdates", {"limit": "0"})) == 0


async def test_long_polling_waits_for_an_update(bot: Bot, world: World) -> None:
    sim = world.sim
    await drain(bot)
    polls = len(sim.calls_to("getUpdates"))
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) > polls)
    assert not waiting.done()
    sim.send_text(world.private, world.resident, "在吗")
    updates = await asyncio.wait_for(waiting, 30)
    assert [u.message.text for u in updates if u.message] == ["在吗"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    confirm = {"offset": updates[-1].update_id + 1, "timeout": 0.2}
    # it holds the poll for its timeout (it cannot end sooner; a slow machine ends it later)
    assert await asyncio.wait_for(sim.call("getUpdates", confirm), 30) == []
    assert loop.time() - started >= 0.15


async def test_a_second_poller_gets_the_first_one_a_conflict(
    sim: Simulator, server: SimServer
) -> None:
    async with http_bot(sim, server) as first, http_bot(sim, server) as second:
        polls = len(sim.calls_to("getUpdates"))
        waiting = asyncio.create_task(first.get_updates(timeout=5))
        await sim.wait_for(lambda: len(sim.calls_to("getUpdates")) > polls)
        assert await second.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await waiting


async def test_allowed_updates_default_excludes_chat_member(bot: Bot, sim: Simulator) -> None:
    w = build_world(sim, bot_status="administrator")
    await drain(bot)
    newcomer = sim.add_user("新邻居")
    sim.set_member(w.group, newcomer, "member")
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await drain(bot)]
    assert kinds == ["message"]  # the join message; chat_member is not in the default set
    sim.set_member(w.group, newcomer, "administrator", by=w.admin)
    wanted = await bot.get_updates(timeout=0, allowed_updates=["message", "chat_member"])
    assert [u.chat_member.new_chat_member.status for u in wanted if u.chat_member] == [
        "administrator"
    ]
    await bot.get_updates(offset=wanted[-1].update_id + 1, timeout=0)
    sim.set_member(w.group, newcomer, "left", by=w.admin)
    persisted = await drain(bot)  # allowed_updates persists across calls
    assert {next(k for k in u.to_dict() if k != "update_id") for u in persisted} == {
        "chat_member",
        "message",
    }


async def test_chat_member_updates_need_an_admin_bot(bot: Bot, world: World) -> None:
    await drain(bot)
    await bot.get_updates(timeout=0, allowed_updates=["message", "chat_member"])
    world.sim.set_member(world.group, world.sim.add_user("新邻居"), "member")
    assert [u.chat_member for u in await drain(bot) if u.chat_member] == []


async def test_privacy_mode_filters_group_messages(sim: Simulator) -> None:
    private_sim = Simulator(can_read_all_group_messages=False)
    w = build_world(private_sim)
    async with inprocess_bot(private_sim) as bot:
        await drain(bot)
        say = private_sim.send_text
        say(w.group, w.resident, "#报修 路灯坏了")
        command = say(w.group, w.resident, "/report 路灯")
        addressed = say(w.group, w.resident, "/report@linlitong_bot")
        say(w.group, w.resident, "/report@other_bot")
        mention = say(w.group, w.resident, "@linlitong_bot 看看")
        prompt = await bot.send_message(w.group.id, "请回复本消息")
        reply = say(w.group, w.resident, "好的", reply_to=prompt.message_id)
        say(w.group, w.resident, "回复别人", reply_to=command["message_id"])
        in_private = say(w.private, w.resident, "私聊里什么都收到")
        received = [u.message.message_id for u in await drain(bot) if u.message]
        expected = [command, addressed, mention, reply, in_private]
        assert received == [m["message_id"] for m in expected]
        private_sim.set_bot_status(w.group, "administrator", by=w.admin)
        await drain(bot)
        plain = say(w.group, w.resident, "管理员机器人什么都看得到")
        assert [u.message.message_id for u in await drain(bot) if u.message] == [
            plain["message_id"]
        ]
        assert len(private_sim.messages(w.group)) > len(received)  # the history has everything


async def test_album_is_several_messages_with_one_caption(bot: Bot, world: World) -> None:
    sim = world.sim
    await drain(bot)
    album = sim.send_album(
        world.group, world.resident, count=3, caption="#积水 宝东6号街坊", caption_index=1
    )
    messages = [u.message for u in await drain(bot) if u.message]
    assert [m.message_id for m in messages] == [m["message_id"] for m in album]
    assert len({m.media_group_id for m in messages}) == 1 and messages[0].media_group_id
    assert [m.caption for m in messages] == [None, "#积水 宝东6号街坊", None]
    assert [e.type for e in messages[1].caption_entities] == ["hashtag"]
    assert [p.width for p in messages[0].photo] == [90, 320, 800, 1280]
    assert len({m.photo[-1].file_unique_id for m in messages}) == 3


async def test_redeliver_hands_the_same_update_out_again(bot: Bot, world: World) -> None:
    sim = world.sim
    await drain(bot)
    sim.send_text(world.private, world.resident, "重复投递")
    (first,) = await bot.get_updates(timeout=0)
    assert await bot.get_updates(offset=first.update_id + 1, timeout=0) == ()
    sim.redeliver(first.update_id)
    assert sim.pending_updates() == 1
    (again,) = await bot.get_updates(offset=first.update_id + 1, timeout=0)
    assert again.to_dict() == first.to_dict()
    assert await bot.get_updates(offset=first.update_id + 1, timeout=0) == ()
    with pytest.raises(ValueError, match=r"(?i)no update"):
        sim.redeliver(999_999)


async def test_user_edits_and_raw_updates(bot: Bot, world: World) -> None:
    sim = world.sim
    await drain(bot)
    message = sim.send_text(world.group, world.resident, "#积水 5号楼")
    sim.edit_text(world.group, message["message_id"], "#积水 5号楼2单元")
    sim.inject_update(
        {"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    )
    updates = await drain(bot)
    assert updates[1].edited_message is not None
    assert updates[1].edited_message.text == "#积水 5号楼2单元"
    assert updates[1].edited_message.edit_date is not None
    assert updates[2].update_id == updates[1].update_id + 1
    assert sim.messages(world.group)[-1]["text"] == "#积水 5号楼2单元"


async def test_anonymous_admin_and_channel_senders(world: World) -> None:
    sim = world.sim
    anonymous = sim.send_text(world.group, world.admin, "管理员匿名", sender_chat=world.group)
    assert (
        anonymous["from"]["id"] == 1087968824 and anonymous["sender_chat"]["id"] == world.group.id
    )
    sim.set_member(world.group, world.admin, "creator", is_anonymous=True)
    implicit = sim.send_text(world.group, world.admin, "也是匿名")
    assert implicit["from"]["username"] == "GroupAnonymousBot"
    channel = sim.add_channel("社区公告")
    forward = sim.send_text(
        world.group, None, "频道转发", sender_chat=channel, is_automatic_forward=True
    )
    assert forward["from"]["id"] == 777000 and forward["is_automatic_forward"] is True
    assert forward["forward_origin"]["chat"]["id"] == channel.id
    as_channel = sim.send_text(world.group, None, "以频道身份", sender_chat=channel)
    assert as_channel["from"]["id"] == 136817688


# ============================================================================ buttons, commands


async def test_callback_press_and_answer(any_bot: Bot, world: World) -> None:
    sim = world.sim
    ticket = await any_bot.send_message(world.group.id, "工单 1", reply_markup=KEYBOARD)
    await drain(any_bot)
    query_id = sim.press_button(world.group, ticket.message_id, world.admin, "take:1")
    (update,) = await drain(any_bot)
    query = update.callback_query
    assert query is not None and query.id == query_id
    assert (query.data, query.from_user.id) == ("take:1", world.admin.id)
    assert query.message is not None and query.message.message_id == ticket.message_id
    assert await any_bot.answer_callback_query(query_id, text="已受理", show_alert=True) is True
    assert sim.callback_answers[query_id] == {
        "callback_query_id": query_id,
        "show_alert": True,
        "text": "已受理",
    }
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await any_bot.answer_callback_query(query_id, text="again")
    second = sim.press_button(world.group, ticket.message_id, world.resident, "take:1")
    with pytest.raises(BadRequest):
        await any_bot.answer_callback_query(second, text="长" * 201)
    with pytest.raises(ValueError, match=r"(?i)no button"):
        sim.press_button(world.group, ticket.message_id, world.admin, "nope")


async def test_commands_are_recorded_per_scope_and_language(any_bot: Bot, world: World) -> None:
    sim = world.sim
    await any_bot.set_my_commands([BotCommand("help", "帮助")])
    await any_bot.set_my_commands(
        [BotCommand("take", "受理")], scope=BotCommandScopeAllGroupChats(), language_code="zh"
    )
    await any_bot.set_my_commands(
        [BotCommand("bind", "绑定")], scope=BotCommandScopeChat(world.group.id)
    )
    await any_bot.set_my_commands(
        [BotCommand("report", "报表")],
        scope=BotCommandScopeChatMember(world.group.id, world.admin.id),
    )
    assert set(sim.commands) == {
        ("default", ""),
        ("all_group_chats", "zh"),
        (f"chat:{world.group.id}", ""),
        (f"chat_member:{world.group.id}:{world.admin.id}", ""),
    }
    assert sim.commands[("default", "")] == [{"command": "help", "description": "帮助"}]
    zh = await any_bot.get_my_commands(scope=BotCommandScopeAllGroupChats(), language_code="zh")
    assert [c.command for c in zh] == ["take"]
    assert await any_bot.get_my_commands(language_code="en") == ()
    assert await any_bot.delete_my_commands() is True
    assert ("default", "") not in sim.commands
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await any_bot.set_my_commands([BotCommand("Take", "大写不行")])


# ==================================================================================== files


async def test_uploads_downloads_and_media_groups(any_bot: Bot, world: World) -> None:
    sim = world.sim
    photo = await any_bot.send_photo(world.private.id, PLACEHOLDER_PNG, caption="现场照片 #积水")
    assert [e.type for e in photo.caption_entities] == ["hashtag"]
    file = await any_bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PLACEHOLDER_PNG
    document = await any_bot.send_document(
        world.private.id, InputFile(b"a,b\n1,2\n", filename="台账.csv")
    )
    assert document.document is not None
    assert (document.document.file_name, document.document.file_size) == ("台账.csv", 8)
    again = await any_bot.send_photo(world.group.id, photo.photo[-1].file_id)
    assert [p.file_unique_id for p in again.photo] == [p.file_unique_id for p in photo.photo]
    album = await any_bot.send_media_group(
        world.group.id, [InputMediaPhoto(b"one"), InputMediaPhoto(b"two", caption="两张")]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    assert album[1].caption == "两张"
    users_photo = sim.send_media(world.private, world.resident, "photo")
    their_file = await any_bot.get_file(users_photo["photo"][-1]["file_id"])
    assert bytes(await their_file.download_as_bytearray()).startswith(b"\x89PNG")


# ==================================================================================== HTTP


async def test_raw_http_wire_format(sim: Simulator, server: SimServer) -> None:
    w = build_world(sim)
    api = f"{server.base_url}{sim.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}123:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{api}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{api}/getMe") as response:
            assert (await response.json())["result"]["username"] == "linlitong_bot"
        form = {"chat_id": str(w.group.id), "text": "表单", "reply_markup": KEYBOARD.to_json()}
        async with http.post(f"{api}/sendMessage", data=form) as response:
            body = await response.json()
            assert body["ok"] is True and body["result"]["reply_markup"] == KEYBOARD.to_dict()
        async with http.post(
            f"{api}/SENDMESSAGE", json={"chat_id": w.group.id, "text": "JSON"}
        ) as r:
            assert (await r.json())["result"]["text"] == "JSON"
        async with http.get(
            f"{api}/sendMessage", params={"chat_id": w.group.id, "text": "查询"}
        ) as r:
            assert (await r.json())["result"]["text"] == "查询"
        async with http.post(f"{api}/sendMessage", json={"chat_id": 1, "text": "x"}) as response:
            assert response.status == 400
            assert await response.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
    assert [m["text"] for m in sim.bot_messages(w.group.id)] == ["表单", "JSON", "查询"]


async def test_control_api_round_trip(sim: Simulator, server: SimServer) -> None:
    async with aiohttp.ClientSession() as http:

        async def control(action: str, **body: Any) -> Any:
            async with http.post(f"{server.control_url}/{action}", json=body) as response:
                data = await response.json()
                assert response.status == 200, data
                return data["result"]

        admin = await control("users", first_name="张书记")
        resident = await control("users", first_name="王阿姨", username="wang_ayi")
        group = await control("groups", title="北瑞小区一网格")
        await control("members", chat_id=group["id"], user_id=admin["id"], status="creator")
        await control("members", chat_id=group["id"], user_id=resident["id"], status="member")
        await control("bot/add", chat_id=group["id"], by=admin["id"])
        report = await control(
            "send_text", chat_id=group["id"], user_id=resident["id"], text="#报修 路灯坏了"
        )
        assert report["entities"] == [{"type": "hashtag", "offset": 0, "length": 3}]

        async with http_bot(sim, server) as bot:
            updates = await bot.get_updates(timeout=0)
            incoming = [u.message for u in updates if u.message and u.message.text][-1]
            await incoming.reply_text("收到，工单 1")
        waited = await control("wait", what="sent", at_least=1, timeout=2)
        assert waited == {"count": 1}
        async with http.get(
            f"{server.control_url}/replies",
            params={"chat_id": group["id"], "message_id": report["message_id"]},
        ) as response:
            replies = (await response.json())["result"]
        assert [r["text"] for r in replies] == ["收到，工单 1"]
        calls = await control("calls", method="sendMessage")
        assert len(calls) == 1 and calls[0]["result"]["text"] == "收到，工单 1"
        parsed = sim.calls_to("sendMessage")[0].parsed
        assert parsed["chat_id"] == group["id"]
        assert parsed["reply_parameters"]["message_id"] == report["message_id"]
        state = await control("state")
        assert state["sent"] == 1 and len(state["users"]) == 2
        assert (await control("pending"))["pending_updates"] == len(updates)

        async with http.post(f"{server.control_url}/nothing", json={}) as response:
            assert response.status == 404
        async with http.post(f"{server.control_url}/send_text", json={"chat_id": 1}) as response:
            assert response.status == 400 and (await response.json())["ok"] is False
        async with http.post(
            f"{server.control_url}/wait", json={"what": "sent", "at_least": 9, "timeout": 0.05}
        ) as response:
            assert response.status == 408


async def test_application_polls_the_http_server(sim: Simulator, server: SimServer) -> None:
    resident = sim.add_user("王阿姨")
    private = sim.private_chat(resident)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"回声：{update.effective_message.text}")

    app = Application.builder().token(sim.token).base_url(server.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            sim.send_text(private, resident, "你好")
            replies = await sim.wait_for(lambda: sim.bot_messages(private.id))
        finally:
            await app.updater.stop()
            await app.stop()
    assert [r["text"] for r in replies] == ["回声：你好"]
    assert sim.pending_updates() == 0


async def test_unknown_paths_get_the_json_404(server: SimServer) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/nothing/here") as response:
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"


async def test_command_line_server_starts_and_stops() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.simulator",
        "--port",
        "0",
        "--privacy",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("BOT_API_BASE_URL=http://127.0.0.1:")
        base_url = line.split("=", 1)[1].strip()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}123456:TEST-TOKEN/getMe") as response,
        ):
            me = (await response.json())["result"]
        assert me["can_read_all_group_messages"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
