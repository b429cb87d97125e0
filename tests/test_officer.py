"""Officers and residents work tickets in the chat, through the Bot API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.callbacks import AnswerPress, PagePress, TicketPress, encode
from bot.simulator.models import SimChat, SimUser
from storage import TicketFilter
from tests.harness import Harness

JSON = dict[str, Any]


@dataclass
class World:
    grid1: SimChat
    grid2: SimChat
    office: SimChat
    resident: SimUser
    neighbour: SimUser
    officer1: SimUser  # admin of grid 1's group
    officer2: SimUser  # admin of grid 2's group only
    staff: SimUser  # member of the community's supervisor chat
    named: SimUser  # named officer of grid 1 (not a chat admin)


async def world(bot: Harness) -> World:
    sim = bot.sim
    resident, neighbour = sim.add_user("王阿姨"), sim.add_user("李大爷")
    officer1, officer2 = sim.add_user("刘网格员"), sim.add_user("陈网格员")
    staff, named = sim.add_user("社区小赵"), sim.add_user("志愿者老周")
    grid1 = await bot.grid("北瑞小区一网格", resident, neighbour, named, grid="第一网格")
    grid2 = await bot.grid("宝东二网格", resident, grid="第二网格")
    sim.set_member(grid1, officer1, "administrator")
    sim.set_member(grid2, officer2, "administrator")
    office = bot.group("通顺社区督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    naming = await bot.say(grid1, bot.admin, "/officer", reply_to=_any_message(bot, grid1, named))
    assert "网格员" in bot.reply_text(grid1, naming)
    return World(grid1, grid2, office, resident, neighbour, officer1, officer2, staff, named)


def _any_message(bot: Harness, chat: SimChat, user: SimUser) -> int:
    return int(bot.sim.send_text(chat, user, "大家好")["message_id"])


def receipt(bot: Harness, chat: SimChat, message: JSON) -> JSON:
    replies = bot.replies(chat, message)
    return replies[0]


def buttons(message: JSON) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def test_lifecycle_by_command(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼2单元楼道灯不亮")
    assert buttons(receipt(bot, w.grid1, message)) == [
        encode(TicketPress("take", ticket.id)),
        encode(TicketPress("done", ticket.id)),
        encode(AnswerPress("ask", ticket.id)),
    ]

    take = await bot.say(w.grid1, w.officer1, f"/take {ticket.id}")
    assert "接单" in bot.reply_text(w.grid1, take)
    t = await bot.fresh(ticket)
    assert (t.status, t.assignee_id, t.accepted_at) == ("accepted", w.officer1.id, bot.clock.now())
    assert "状态：处理中（刘网格员）" in receipt(bot, w.grid1, message)["text"]
    assert buttons(receipt(bot, w.grid1, message)) == [
        encode(TicketPress("done", ticket.id)),
        encode(AnswerPress("ask", ticket.id)),
    ]

    await bot.say(w.grid1, w.officer1, f"/progress {ticket.id} 已联系电工，明天上午来修")
    public = [m for m in bot.replies(w.grid1, message) if "进展" in m["text"]]
    assert len(public) == 1 and "明天上午来修" in public[0]["text"]

    private = bot.sim.private_chat(w.officer1)
    await bot.say(private, w.officer1, f"/note {ticket.id} 电工电话 13912345678")
    assert all("13912345678" not in m.get("text", "") for m in bot.sim.messages(w.grid1.id))

    await bot.say(w.grid1, w.officer1, f"/done {ticket.id} 灯已换好")
    t = await bot.fresh(ticket)
    assert t.status == "resolved" and t.resolved_at == bot.clock.now()
    assert any("已办结：灯已换好" in m["text"] for m in bot.replies(w.grid1, message))
    assert buttons(receipt(bot, w.grid1, message)) == []

    again = await bot.say(w.grid1, w.officer1, f"/done {ticket.id}")
    assert "现在是「已办结」" in bot.reply_text(w.grid1, again)

    reopen = await bot.say(w.grid1, w.officer1, f"/reopen {ticket.id} 居民说又不亮了")
    assert "第 1 次" in bot.reply_text(w.grid1, reopen)
    t = await bot.fresh(ticket)
    assert (t.status, t.reopen_count, t.resolved_at) == ("accepted", 1, None)

    await bot.say(w.grid1, w.officer1, f"/reject {ticket.id} 属于供电公司线路问题，已转报")
    assert any("已退回：属于供电公司" in m["text"] for m in bot.replies(w.grid1, message))
    t = await bot.fresh(ticket)
    assert t.status == "rejected" and t.closed_at is not None
    kinds = [(e.kind, e.from_status, e.to_status) for e in await bot.storage.tickets.events(t.id)]
    assert kinds == [
        ("opened", None, "new"),
        ("take", "new", "accepted"),
        ("progress", "accepted", "accepted"),
        ("note", "accepted", "accepted"),
        ("done", "accepted", "resolved"),
        ("reopen", "resolved", "accepted"),
        ("reject", "accepted", "rejected"),
    ]
    assert all(e.actor_id == w.officer1.id for e in (await bot.storage.tickets.events(t.id))[1:])


async def test_commands_accept_a_reply_instead_of_a_number(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    await bot.say(w.grid1, w.officer1, "/take", reply_to=message["message_id"])
    assert (await bot.fresh(ticket)).status == "accepted"
    receipt_id = receipt(bot, w.grid1, message)["message_id"]
    await bot.say(w.grid1, w.officer1, "/done 修好了", reply_to=receipt_id)
    assert (await bot.fresh(ticket)).status == "resolved"


async def test_lifecycle_by_buttons(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    rid = receipt(bot, w.grid1, message)["message_id"]
    query = bot.sim.press_button(w.grid1, rid, w.officer1, encode(TicketPress("take", ticket.id)))
    await bot.drain()
    assert "已完成" in bot.sim.callback_answers[query].get("text", "")
    assert (await bot.fresh(ticket)).status == "accepted"
    bot.sim.press_button(w.grid1, rid, w.officer1, encode(TicketPress("done", ticket.id)))
    await bot.drain()
    t = await bot.fresh(ticket)
    assert t.status == "resolved" and t.assignee_id == w.officer1.id
    assert "已办结" in receipt(bot, w.grid1, message)["text"]
    assert buttons(receipt(bot, w.grid1, message)) == []


async def test_forged_and_stale_buttons(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    forged = (
        encode(TicketPress("take", 99999)),
        "v1|tk|drop|1",
        "v1|tk|take|1;DROP",
        "x" * 64,
        "v1|tk|merge|1",
    )
    for n, data in enumerate(forged):
        bot.sim.open_callback_queries.add(f"forged-{n}")  # Telegram issued it; the data is forged
        query = bot.sim.inject_update(
            {
                "callback_query": {
                    "id": f"forged-{n}",
                    "from": w.officer1.to_dict(),
                    "chat_instance": "1",
                    "data": data,
                    "message": receipt(bot, w.grid1, message),
                }
            }
        )
        assert query
        await bot.drain()
    assert (await bot.fresh(ticket)).status == "new"
    answers = [bot.sim.callback_answers[f"forged-{n}"] for n in range(len(forged))]
    assert all("失效" in a.get("text", "") for a in answers)


COMMANDS = [
    ("/take {id}", "accepted"),
    ("/assign {id} {officer}", "accepted"),
    ("/progress {id} 正在处理", "accepted"),
    ("/done {id} 好了", "resolved"),
    ("/reject {id} 不归我们管", "rejected"),
    ("/dup {id} {other}", "duplicate"),
]
WHO = ["resident", "officer2", "officer1", "named", "staff", "admin"]
ALLOWED = {"officer1", "named", "staff", "admin"}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(("command", "after"), COMMANDS)
async def test_permission_matrix_commands(bot: Harness, who: str, command: str, after: str) -> None:
    w = await world(bot)
    _, other = await bot.report(w.grid1, w.neighbour, "#报修 5号楼电梯不动")
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    actor = bot.admin if who == "admin" else getattr(w, who)
    chat = w.grid2 if who == "officer2" else w.grid1
    if who == "staff":
        chat = w.office
    events = len(await bot.storage.tickets.events(ticket.id))
    text = command.format(id=ticket.id, other=other.id, officer=w.officer1.id)
    sent = await bot.say(chat, actor, text)
    t = await bot.fresh(ticket)
    if who in ALLOWED:
        assert t.status == after, (who, text, bot.replies(chat, sent))
    else:
        assert t.status == "new"
        assert len(await bot.storage.tickets.events(ticket.id)) == events
        assert "只有本网格的网格员" in bot.reply_text(chat, sent)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    ("button", "after"), [("take", "accepted"), ("done", "resolved"), ("merge", "duplicate")]
)
async def test_permission_matrix_buttons(bot: Harness, who: str, button: str, after: str) -> None:
    w = await world(bot)
    _, original = await bot.report(w.grid1, w.neighbour, "#报修 北瑞小区3号楼楼道灯不亮")
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 北瑞小区3号楼灯坏了")
    data = buttons(receipt(bot, w.grid1, message))
    assert data == [
        encode(TicketPress("take", ticket.id)),
        encode(TicketPress("done", ticket.id)),
        encode(AnswerPress("ask", ticket.id)),
        encode(TicketPress("merge", ticket.id, original.id)),
    ]  # the likely duplicate is offered for merging
    actor = bot.admin if who == "admin" else getattr(w, who)
    rid = receipt(bot, w.grid1, message)["message_id"]
    events = len(await bot.storage.tickets.events(ticket.id))
    query = bot.sim.press_button(w.grid1, rid, actor, next(d for d in data if f"|{button}|" in d))
    await bot.drain()
    t = await bot.fresh(ticket)
    answer = bot.sim.callback_answers[query].get("text", "")
    if who in ALLOWED:
        assert t.status == after and "已完成" in answer
    else:
        assert t.status == "new"
        assert len(await bot.storage.tickets.events(ticket.id)) == events
        assert "只有本网格的网格员" in answer


async def test_officer_of_other_grid_cannot_close_and_staff_of_community_can(bot: Harness) -> None:
    w = await world(bot)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    private2 = bot.sim.private_chat(w.officer2)
    await bot.say(private2, w.officer2, f"/done {ticket.id}")
    assert (await bot.fresh(ticket)).status == "new"
    private_staff = bot.sim.private_chat(w.staff)
    await bot.say(private_staff, w.staff, f"/done {ticket.id} 已协调")
    assert (await bot.fresh(ticket)).status == "resolved"


async def test_duplicate_merge_moves_reporters(bot: Harness) -> None:
    w = await world(bot)
    _, original = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    dup_message, dup = await bot.report(w.grid1, w.neighbour, "#报修 三号楼楼道的灯坏了")
    reply = await bot.say(w.grid1, w.officer1, f"/dup {dup.id} {original.id}")
    assert "已合并" in bot.reply_text(w.grid1, reply)
    t = await bot.fresh(dup)
    assert (t.status, t.duplicate_of) == ("duplicate", original.id)
    assert await bot.storage.tickets.co_reporters(original.id) == [(w.neighbour.id, "李大爷")]
    assert any("同一问题" in m["text"] for m in bot.replies(w.grid1, dup_message))
    same = await bot.say(w.grid1, w.officer1, f"/dup {original.id} {original.id}")
    assert "不能把工单合并到它自己" in bot.reply_text(w.grid1, same)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/take", "请写上工单号"),
        ("/take 99999", "没有找到工单 99999"),
        ("/take abc", "请写上工单号"),
        ("/progress {id}", "请在工单号后面写上进展"),
        ("/reject {id}", "请在工单号后面写上退回原因"),
        ("/assign {id}", "请回复要指派的人"),
        ("/dup {id}", "用法：/dup"),
        ("/reopen {id}", "不能重办"),
        ("/list nonsense", "用法：/list"),
    ],
)
async def test_errors_are_polite_and_change_nothing(bot: Harness, text: str, expected: str) -> None:
    w = await world(bot)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    events = len(await bot.storage.tickets.events(ticket.id))
    sent = await bot.say(w.grid1, w.officer1, text.format(id=ticket.id))
    assert expected in bot.reply_text(w.grid1, sent)
    assert (await bot.fresh(ticket)).status == "new"
    assert len(await bot.storage.tickets.events(ticket.id)) == events


async def test_list_and_show(bot: Harness) -> None:
    w = await world(bot)
    for n in range(12):
        await bot.report(w.grid1, w.resident, f"#报修 {n + 1}号楼楼道灯不亮 电话13812345678")
    _, water = await bot.report(w.grid1, w.resident, "#积水 5号楼门口")
    listing = await bot.say(w.grid1, w.officer1, "/list")
    first = bot.replies(w.grid1, listing)[0]
    assert "共 13 个（第 1/2 页）" in first["text"]
    assert "13812345678" not in first["text"] and "138****5678" in first["text"]
    assert buttons(first) == [encode(PagePress("open", 2))]
    bot.sim.press_button(w.grid1, first["message_id"], w.officer1, encode(PagePress("open", 2)))
    await bot.drain()
    paged = bot.sim.messages(w.grid1.id)
    assert any("第 2/2 页" in m.get("text", "") for m in paged)
    by_tag = await bot.say(w.grid1, w.officer1, "/list 积水")
    assert "共 1 个" in bot.reply_text(w.grid1, by_tag)
    await bot.say(w.grid1, w.officer1, f"/take {water.id}")
    mine = await bot.say(w.grid1, w.officer1, "/list mine")
    assert f"<b>{water.id}</b>" not in bot.reply_text(w.grid1, mine)  # HTML parsed away
    assert "共 1 个" in bot.reply_text(w.grid1, mine)
    show = await bot.say(w.grid1, w.officer1, f"/show {water.id}")
    detail = bot.reply_text(w.grid1, show)
    assert "工单" in detail and "接单（刘网格员）" in detail
    resident_list = await bot.say(w.grid1, w.resident, "/list")
    assert "/my" in bot.reply_text(w.grid1, resident_list)


async def test_private_details_are_unmasked_only_for_officers(bot: Harness) -> None:
    w = await world(bot)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼漏水 联系13812345678")
    private = bot.sim.private_chat(w.named)
    await bot.say(private, w.named, f"/show {ticket.id}")
    assert "13812345678" in bot.sim.bot_messages(private.id)[-1]["text"]
    neighbour = bot.sim.private_chat(w.neighbour)
    await bot.say(neighbour, w.neighbour, f"/status {ticket.id}")
    text = bot.sim.bot_messages(neighbour.id)[-1]["text"]
    assert text == f"工单 {ticket.id}：待受理"
    await bot.say(neighbour, w.neighbour, f"/show {ticket.id}")
    assert "13812345678" not in bot.sim.bot_messages(neighbour.id)[-1]["text"]


async def test_every_group_facing_message_is_masked(bot: Harness) -> None:
    w = await world(bot)
    phone, idcard = "13812345678", "11010519491231002X"
    _, ticket = await bot.report(w.grid1, w.resident, f"#报修 3号楼漏水 {phone} 身份证{idcard}")
    await bot.say(w.grid1, w.officer1, f"/progress {ticket.id} 师傅电话13987654321，已约")
    await bot.say(w.grid1, w.officer1, "/list all")
    await bot.say(w.grid1, w.officer1, f"/show {ticket.id}")
    await bot.say(w.grid1, w.resident, f"/status {ticket.id}")
    await bot.say(w.grid1, w.officer1, f"/done {ticket.id} 已修好，有问题打13987654321")
    await bot.say(w.grid1, w.officer1, f"/reopen {ticket.id} 居民{phone}说还漏")
    await bot.say(w.grid1, w.officer1, f"/reject {ticket.id} 转物业 {phone}")
    group_texts = [m.get("text", "") for m in bot.sim.bot_messages(w.grid1.id)]
    assert len(group_texts) > 8
    for text in group_texts:
        for secret in (phone, idcard, "13987654321"):
            assert secret not in text, text


async def test_metoo_photo_and_my(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    for text in ("+1", "我也是！", "同样"):
        reply = await bot.say(w.grid1, w.neighbour, text, reply_to=message["message_id"])
        assert bot.replies(w.grid1, reply)
    assert await bot.storage.tickets.co_reporters(ticket.id) == [(w.neighbour.id, "李大爷")]
    own = await bot.say(w.grid1, w.resident, "+1", reply_to=message["message_id"])
    assert "已经在" in bot.reply_text(w.grid1, own)
    assert await bot.storage.tickets.count() == 2 - 1  # no new ticket from "+1"

    photo = bot.sim.send_media(w.grid1, w.resident, kind="photo", reply_to=message["message_id"])
    await bot.drain()
    assert "照片已补充" in bot.reply_text(w.grid1, photo)
    assert [m.message_id for m in await bot.storage.tickets.media(ticket.id)] == [
        photo["message_id"]
    ]
    stranger = bot.sim.send_media(
        w.grid1, w.neighbour, kind="photo", reply_to=message["message_id"]
    )
    await bot.drain()
    assert len(await bot.storage.tickets.media(ticket.id)) == 2  # co-reporters may add photos too
    assert bot.replies(w.grid1, stranger)

    my = await bot.say(w.grid1, w.resident, "/my")
    assert "?start=my" in bot.reply_text(w.grid1, my)
    private = bot.sim.private_chat(w.resident)
    await bot.say(private, w.resident, "/start my")
    assert "您的工单（共 1 个）" in bot.sim.bot_messages(private.id)[-1]["text"]


async def test_patrol_log(bot: Harness) -> None:
    w = await world(bot)
    logged = await bot.say(w.grid1, w.officer1, "/log #隐患 5号楼消防通道堆放杂物")
    assert "民情日记" in bot.reply_text(w.grid1, logged)
    tickets, total = await bot.storage.tickets.find(TicketFilter())
    assert total == 1
    t = tickets[0]
    assert (t.source, t.status, t.category, t.assignee_id, t.building) == (
        "patrol",
        "accepted",
        "safety",
        w.officer1.id,
        "5",
    )
    no_tag = await bot.say(w.grid1, w.officer1, "/log 5号楼有点乱")
    assert "请带上一个标签" in bot.reply_text(w.grid1, no_tag)
    by_resident = await bot.say(w.grid1, w.resident, "/log #隐患 我也想记")
    assert "只有本网格的网格员" in bot.reply_text(w.grid1, by_resident)
    assert (await bot.storage.tickets.find(TicketFilter()))[1] == 1


async def test_naming_officers_is_for_admins(bot: Harness) -> None:
    w = await world(bot)
    refused = await bot.say(w.grid1, w.officer1, f"/officer {w.neighbour.id}")
    assert "只有部署管理员" in bot.reply_text(w.grid1, refused)
    removed = await bot.say(w.grid1, bot.admin, f"/unofficer {w.named.id}")
    assert "已取消" in bot.reply_text(w.grid1, removed)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    await bot.say(w.grid1, w.named, f"/take {ticket.id}")
    assert (await bot.fresh(ticket)).status == "new"


async def test_anonymous_admin_acts_as_an_officer(bot: Harness) -> None:
    w = await world(bot)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    await bot.say(w.grid1, bot.admin, f"/take {ticket.id}", sender_chat=w.grid1)
    after = await bot.fresh(ticket)
    assert after.status == "accepted"
    assert after.assignee_id is None and after.assignee_name == "北瑞小区一网格（匿名管理员）"
    # posting as another group is no authority here
    await bot.say(w.grid1, bot.admin, f"/done {ticket.id}", sender_chat=w.grid2)
    assert (await bot.fresh(ticket)).status == "accepted"
