"""关爱走访's Telegram side (handlers/care.py): /care and /visit, their guided forms and
one-line forms, who may use them, and what a group never reads.

Driven through the simulator the way Telegram drives the bot (tests/harness.py), with the
cast of tests/care_cast.py; the rules themselves (cadence, alarms, the tick) are tested in
tests/test_care_rules.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.ext import ConversationHandler

from bot.callbacks import CarePress, encode, parse
from bot.fit import plain
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage.care import CarePerson
from storage.vocabulary import CareStatus, DueKind, VisitOutcome, VisitWay
from tests.care_cast import Town, texts_in, town
from tests.harness import Harness, harness

JSON = dict[str, Any]
TEXTS = Texts("zh")


def said(key: str, **values: object) -> str:
    """A catalogue text as the chat shows it (tags parsed away)."""
    return plain(TEXTS(key, **values))


DAY = timedelta(days=1)


def last(bot: Harness, chat: SimChat) -> JSON:
    return bot.sim.bot_messages(chat.id)[-1]


def now_of(bot: Harness, chat: SimChat, message: JSON) -> JSON:
    """A message as the chat shows it now (edited, its buttons taken off)."""
    return next(m for m in bot.sim.messages(chat.id) if m["message_id"] == message["message_id"])


def buttons(message: JSON) -> dict[str, str]:
    """A message's buttons: label -> callback data."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(bot: Harness, chat: SimChat, message: JSON, user: SimUser, label: str) -> str:
    """Press the button labelled ``label`` on ``message``; the pop-up's text."""
    data = buttons(message)[label]
    query = bot.sim.press_button(chat, message["message_id"], user, data)
    await bot.drain()
    return str(bot.sim.callback_answers[query].get("text", ""))


async def ask(bot: Harness, place: Town, text: str) -> str:
    """The officer writes in private; the one reply's text."""
    message = await bot.say(place.private, place.officer, text)
    return bot.reply_text(place.private, message)


async def person(bot: Harness, number: int) -> CarePerson:
    found = await bot.storage.care.get(number)
    assert found is not None
    return found


async def add(bot: Harness, place: Town, line: str) -> CarePerson:
    answer = await ask(bot, place, f"/care add {line}")
    assert answer.startswith("✅ 已登记 关爱"), answer
    number = int(answer.split("关爱 ")[1].split("：")[0])
    return await person(bot, number)


# -- /care add ----------------------------------------------------------------------------------


async def test_the_guided_add_asks_with_buttons_and_saves(bot: Harness) -> None:
    place = await town(bot)
    private, officer = place.private, place.officer
    await bot.say(private, officer, "/care add")  # one grid: no grid question
    assert "称呼" in last(bot, private)["text"]
    await bot.say(private, officer, "曹大爷")
    assert "曹大爷 的地址" in last(bot, private)["text"]
    await bot.say(private, officer, "3号楼2单元101")
    tiers = last(bot, private)
    assert list(buttons(tiers)) == ["高风险", "重点", "一般", "✖️ 取消"]
    assert await press(bot, private, tiers, officer, "高风险") == ""
    assert bot.sim.messages(private.id)[-2]["message_id"] == tiers["message_id"]
    answered = next(
        m for m in bot.sim.messages(private.id) if m["message_id"] == tiers["message_id"]
    )
    assert not answered.get("reply_markup")  # an answered question loses its buttons
    visitors = last(bot, private)
    assert "谁负责走访" in visitors["text"]
    assert {"我自己", "张书记", "跳过", "✖️ 取消"} <= set(buttons(visitors))
    await press(bot, private, visitors, officer, "张书记")
    assert "紧急联系人" in last(bot, private)["text"]
    await bot.say(private, officer, "女儿 13812345678")
    notes = last(bot, private)
    assert "备注" in notes["text"]
    await press(bot, private, notes, officer, "跳过")
    saved = last(bot, private)["text"]
    assert saved.startswith("✅ 已登记 关爱 1：曹大爷（高风险），走访人 张书记")
    assert "下次走访 12月3日" in saved  # a week after 26 November
    added = await person(bot, 1)
    assert (added.name, added.address, added.tier, added.contact, added.notes) == (
        "曹大爷",
        "3号楼2单元101",
        "高风险",
        "女儿 13812345678",
        "",
    )
    assert (added.visitor_id, added.grid_id) == (bot.admin.id, place.grid.id)
    # the form is over: its last buttons went with it, and typing no longer adds anyone
    await bot.say(private, officer, "王奶奶")
    assert await bot.storage.care.get(2) is None


async def test_a_form_is_cancelled_by_button_by_word_or_by_command(bot: Harness) -> None:
    place = await town(bot)
    private, officer = place.private, place.officer
    await bot.say(private, officer, "/care add")
    await bot.say(private, officer, "曹大爷")
    assert await press(bot, private, last(bot, private), officer, "✖️ 取消") == ""
    assert last(bot, private)["text"] == said("care_cmd.cancelled")
    await bot.say(private, officer, "/care add")
    assert await ask(bot, place, "取消") == said("care_cmd.cancelled")
    await bot.say(private, officer, "/care add")
    assert await ask(bot, place, "/cancel") == said("care_cmd.cancelled")
    assert await ask(bot, place, "/cancel") == said("care_cmd.no_form")
    assert await bot.storage.care.roster(None) == []


async def test_the_grid_is_asked_first_of_someone_who_works_several(bot: Harness) -> None:
    place = await town(bot)
    second = bot.group("宝东二网格")
    await bot.say(second, bot.admin, "/bind 第二网格 通顺社区 交通街道")
    admin, private = bot.admin, bot.sim.private_chat(bot.admin)  # ADMIN_IDS: every grid
    # the one-line form keeps what it read while the grid is asked
    await bot.say(private, admin, "/care add 曹大爷 3号楼2单元101 高风险 女儿 13812345678")
    question = last(bot, private)
    assert "哪个网格" in question["text"]
    grids = await bot.storage.grids.grids()
    data = {label: parse(d) for label, d in buttons(question).items()}
    assert {p for p in data.values() if isinstance(p, CarePress) and p.step == "grid"} == {
        CarePress("grid", g.id) for g in grids
    }
    other = next(g for g in grids if g.name == "第二网格")
    await press(bot, private, question, admin, "第二网格")
    assert last(bot, private)["text"].startswith("✅ 已登记 关爱 1：曹大爷（高风险）")
    added = await person(bot, 1)
    assert (added.grid_id, added.contact, added.visitor_id) == (
        other.id,
        "女儿 13812345678",
        admin.id,
    )
    # a typed grid name answers the question too
    await bot.say(private, admin, "/care add 王奶奶 5号楼 重点")
    await bot.say(private, admin, place.grid.name)
    assert (await person(bot, 2)).grid_id == place.grid.id


async def test_the_one_line_add_saves_at_once_or_asks_the_tier(bot: Harness) -> None:
    place = await town(bot)
    answer = await ask(bot, place, "/care add 曹大爷 3号楼2单元101 高风险")
    assert answer.startswith("✅ 已登记 关爱 1：曹大爷（高风险），走访人 刘网格员")
    first = await person(bot, 1)
    assert (first.address, first.visitor_id) == ("3号楼2单元101", place.officer.id)
    # no tier: asked by buttons, the rest kept
    await bot.say(place.private, place.officer, "/care add 王奶奶 5号楼1单元202")
    question = last(bot, place.private)
    assert list(buttons(question))[:3] == ["高风险", "重点", "一般"]
    await press(bot, place.private, question, place.officer, "重点")
    assert last(bot, place.private)["text"].startswith("✅ 已登记 关爱 2：王奶奶（重点）")
    assert (await person(bot, 2)).address == "5号楼1单元202"
    # an unknown tier word typed at the tier question is refused, the question stays
    await bot.say(place.private, place.officer, "/care add 李爷爷")
    assert await ask(bot, place, "超级") == TEXTS(
        "care_cmd.unknown_tier", word="超级", tiers="高风险、重点、一般"
    )
    assert (await ask(bot, place, "高危")).startswith("✅ 已登记 关爱 3：李爷爷（高风险）")
    # too long
    assert await ask(bot, place, "/care add " + "曹" * 41 + " 高风险") == TEXTS(
        "care_cmd.too_long", limit=40
    )


# -- /care: the list -------------------------------------------------------------------------------


async def test_the_list_puts_the_overdue_first(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "一般奶奶 1号楼 一般")
    bot.clock.advance(DAY)
    await add(bot, place, "重点爷爷 2号楼 重点")
    bot.clock.advance(DAY)
    late = await add(bot, place, "曹大爷 3号楼 高风险")
    paused = await add(bot, place, "住院奶奶 4号楼 高风险")
    assert (await ask(bot, place, f"/care pause {paused.id} 住院")).startswith("⏸")
    bot.clock.advance(10 * DAY)  # 曹大爷: owed on day 9, on time until day 11: a day late
    listing = await ask(bot, place, "/care")
    lines = listing.split("\n")
    assert lines[0] == said("care_cmd.list_head", count=4, overdue=1)
    assert lines[1] == f"关爱 {late.id} · 曹大爷 · 高风险 · ⚠️ 逾期 1天"
    assert lines[2].startswith("关爱 2 · 重点爷爷 · 重点 · 下次 12月27日")
    assert lines[3].startswith("关爱 1 · 一般奶奶 · 一般 · 下次 2月24日")
    assert lines[4] == f"关爱 {paused.id} · 住院奶奶 · 高风险 · 暂停"
    assert "13812345678" not in listing


async def test_a_long_list_fits_one_message_with_a_count(bot: Harness) -> None:
    place = await town(bot)
    runtime_people = 70
    for n in range(runtime_people):
        await add(bot, place, f"{'长' * 30}{n} {n}号楼 一般")
    listing = await ask(bot, place, "/care")
    assert len(listing) < 4096
    assert said("care_cmd.list_more", more=runtime_people - 50) in listing


# -- /care show, edit, pause, resume, end ---------------------------------------------------------


async def test_show_edit_pause_resume_end(bot: Harness) -> None:
    place = await town(bot)
    cao = await add(bot, place, "曹大爷 3号楼2单元101 高风险 女儿 13812345678")
    shown = await ask(bot, place, f"/care show {cao.id}")
    for part in (
        "关爱 1 · 曹大爷（高风险，在册）",
        "地址：3号楼2单元101",
        "紧急联系人：女儿 13812345678",  # unmasked: staff, in private
        "走访人：刘网格员",
        "常规走访：12月3日",
        "最近走访：尚无",
        "登记（刘网格员）",
    ):
        assert part in shown, (part, shown)
    # one-line edits
    assert await ask(bot, place, "/care edit 1 地址 3号楼2单元102") == (
        "✅ 已修改 关爱 1 的地址。下次走访 12月3日"
    )
    assert await ask(bot, place, "/care edit 1 备注 糖尿病，独居") == (
        "✅ 已修改 关爱 1 的备注。下次走访 12月3日"
    )
    assert (await ask(bot, place, "/care edit 1 等级 重点")).endswith("下次走访 12月26日")
    assert await ask(bot, place, "/care edit 1 等级 超级") == TEXTS(
        "care_cmd.unknown_tier", word="超级", tiers="高风险、重点、一般"
    )
    assert "不认识「颜色」" in await ask(bot, place, "/care edit 1 颜色 红")
    edited = await person(bot, 1)
    assert (edited.address, edited.notes, edited.tier) == ("3号楼2单元102", "糖尿病，独居", "重点")
    # the guided edit: which field, then its value
    private, officer = place.private, place.officer
    await bot.say(private, officer, "/care edit 1")
    fields = last(bot, private)
    assert list(buttons(fields)) == [
        "称呼",
        "地址",
        "等级",
        "走访人",
        "紧急联系人",
        "备注",
        "✖️ 取消",
    ]
    await press(bot, private, fields, officer, "等级")
    await press(bot, private, last(bot, private), officer, "高风险")
    assert last(bot, private)["text"].startswith("✅ 已修改 关爱 1 的等级。")
    await bot.say(private, officer, "/care edit 1 走访人")
    await press(bot, private, last(bot, private), officer, "张书记")
    await bot.say(private, officer, "/care edit 1")
    await press(bot, private, last(bot, private), officer, "称呼")
    assert await ask(bot, place, "曹爷爷") == "✅ 已修改 关爱 1 的称呼。下次走访 12月3日"
    edited = await person(bot, 1)
    assert (edited.tier, edited.visitor_id, edited.name) == ("高风险", bot.admin.id, "曹爷爷")
    shown = await ask(bot, place, "/care show 1")
    assert "修改（刘网格员）：称呼" in shown and "走访人：张书记" in shown
    # pause, resume, end
    assert await ask(bot, place, "/care pause 1 住院") == TEXTS(
        "care_cmd.paused", id=1, reason="（住院）"
    )
    assert await bot.storage.care.dues_of(1) == []
    assert "暂停（住院）" in await ask(bot, place, "/care show 1")
    assert await ask(bot, place, "/visit 1 正常") == TEXTS(
        "care_cmd.visit_inactive", id=1, status="暂停（住院）"
    )
    assert await ask(bot, place, "/care pause 1") == TEXTS(
        "care_cmd.pause_refused", id=1, status="暂停"
    )
    assert await ask(bot, place, "/care resume 1") == "▶️ 关爱 1 已恢复，待访，11月28日前。"
    assert await ask(bot, place, "/care resume 1") == TEXTS(
        "care_cmd.resume_refused", id=1, status="在册"
    )
    assert await ask(bot, place, "/care end 1") == said("care_cmd.end_reason", id=1)
    assert await ask(bot, place, "/care end 1 搬去女儿家") == TEXTS(
        "care_cmd.ended", id=1, reason="搬去女儿家"
    )
    assert (await person(bot, 1)).status is CareStatus.ENDED
    assert await ask(bot, place, "/care end 1 again") == said("care_cmd.end_refused", id=1)
    assert await ask(bot, place, "/care edit 1 地址 x") == said("care_cmd.edit_ended", id=1)
    assert await ask(bot, place, "/care show") == TEXTS(
        "care_cmd.need_number", usage="/care show 7"
    )
    assert await ask(bot, place, "/care show 99") == said("care_cmd.no_person", id=99)
    assert await ask(bot, place, "/care fly") == said("care_cmd.usage")


# -- /care round -----------------------------------------------------------------------------------


async def test_a_round_covers_the_tier_in_the_senders_grids(bot: Harness) -> None:
    place = await town(bot)
    for line in ("曹大爷 1号楼 高风险", "李爷爷 2号楼 高风险", "王奶奶 3号楼 重点"):
        await add(bot, place, line)
    answer = await ask(bot, place, "/care round 高温 高风险 3d")
    assert answer.startswith("✅ 已发起专项走访「高温」：高风险 2 人，11月29日")
    rounds = [d for p in (1, 2, 3) for d in await bot.storage.care.dues_of(p)]
    owed = [d for d in rounds if d.kind is DueKind.ROUND]
    assert [d.person_id for d in owed] == [1, 2]
    assert owed[0].window_end == bot.clock.now() + 3 * DAY
    assert "专项走访：" in await ask(bot, place, "/care show 1")
    assert await ask(bot, place, "/care round 高温") == TEXTS(
        "care_cmd.round_usage", tiers="高风险、重点、一般"
    )
    assert await ask(bot, place, "/care round 高温 高风险 200d") == TEXTS(
        "care_cmd.round_bad_deadline", days=90
    )
    assert "没有在册的一般对象" in await ask(bot, place, "/care round 寒潮 一般")


# -- /visit ----------------------------------------------------------------------------------------


async def test_a_one_line_visit_records_at_once(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    bot.clock.advance(DAY)
    message = await bot.say(place.private, place.officer, "/visit 1 正常 精神不错")
    answer = bot.reply_text(place.private, message)
    assert answer == "✅ 已记录 关爱 1 的走访：上门 · 正常\n下次走访 12月4日"
    (visit,) = await bot.storage.care.visits_of(1)
    assert (visit.way, visit.outcome, visit.note) == (
        VisitWay.HOME,
        VisitOutcome.NORMAL,
        "精神不错",
    )
    assert visit.visitor_id == place.officer.id
    source = await bot.storage.db.fetch_one(
        "SELECT source_chat_id, source_message_id FROM care_visits WHERE id = ?", (visit.id,)
    )
    assert source is not None
    assert (source[0], source[1]) == (place.private.id, message["message_id"])
    assert "上门 · 正常（刘网格员）：精神不错" in await ask(bot, place, "/care show 1")
    assert await ask(bot, place, "/visit") == said("care_cmd.visit_usage")
    assert await ask(bot, place, "/visit 99 正常") == said("care_cmd.no_person", id=99)


async def test_the_guided_visit_with_a_photo(bot: Harness) -> None:
    place = await town(bot)
    private, officer = place.private, place.officer
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    await bot.say(private, officer, "/visit 1")
    ways = last(bot, private)
    assert "关爱 1 · 曹大爷：走访方式" in ways["text"]
    assert list(buttons(ways))[:5] == [
        "上门",
        "电话/视频",
        "亲属邻里代看",
        "志愿者结对",
        "智能设备",
    ]
    await press(bot, private, ways, officer, "电话/视频")
    outcomes = last(bot, private)
    assert list(buttons(outcomes))[:4] == ["正常", "异常需跟进", "未见到", "拒访"]
    await press(bot, private, outcomes, officer, "正常")
    assert "走访情况" in last(bot, private)["text"]
    await bot.say(private, officer, "视频里气色不错，按时吃药")
    assert "照片" in last(bot, private)["text"]
    photo = bot.sim.send_media(private, officer, "photo")
    await bot.drain()
    largest = max(photo["photo"], key=lambda p: p["width"] * p["height"])
    got = last(bot, private)
    assert got["text"] == said("care_cmd.photos_got")
    second = bot.sim.send_media(private, officer, "photo")
    await bot.drain()
    assert last(bot, private) == got  # later photos are kept without a word
    await press(bot, private, got, officer, "✅ 完成")
    answer = last(bot, private)["text"]
    assert answer.startswith("✅ 已记录 关爱 1 的走访：电话/视频 · 正常（照片 2 张）")
    (visit,) = await bot.storage.care.visits_of(1)
    assert visit.note == "视频里气色不错，按时吃药" and visit.way is VisitWay.CALL
    assert visit.photos[0] == largest["file_id"]
    assert visit.photos[1] == max(second["photo"], key=lambda p: p["width"])["file_id"]


async def test_the_reminders_button_starts_the_visit_form(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    await bot.tick(7 * DAY + timedelta(hours=1))
    reminder = next(
        m for m in bot.sim.bot_messages(place.private.id) if "关爱走访提醒" in m.get("text", "")
    )
    assert buttons(reminder)[said("care.button_visit")] == encode(CarePress("visit", 1))
    assert await press(bot, place.private, reminder, place.officer, "📝 记录走访") == ""
    ways = last(bot, place.private)
    await press(bot, place.private, ways, place.officer, "上门")
    await press(bot, place.private, last(bot, place.private), place.officer, "拒访")
    await press(bot, place.private, last(bot, place.private), place.officer, "跳过")
    photos = last(bot, place.private)
    await press(bot, place.private, photos, place.officer, "跳过")
    assert last(bot, place.private)["text"].startswith("✅ 已记录 关爱 1 的走访：上门 · 拒访")
    (visit,) = await bot.storage.care.visits_of(1)
    assert visit.outcome is VisitOutcome.REFUSED and visit.photos == ()
    assert not now_of(bot, place.private, photos).get("reply_markup")  # the form is over


async def test_a_concern_opens_a_ticket_whose_group_receipt_names_nobody(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险 女儿 13812345678")
    before = len(texts_in(bot, place.group))
    answer = await ask(bot, place, "/visit 1 异常需跟进 说胸口疼")
    (visit,) = await bot.storage.care.visits_of(1)
    assert visit.ticket_id is not None
    assert f"已开工单 {visit.ticket_id}（群内回执不含姓名）" in answer
    receipts = texts_in(bot, place.group)[before:]
    assert receipts and any(str(visit.ticket_id) in t for t in receipts)
    for secret in ("曹大爷", "3号楼2单元101", "胸口疼", "13812345678"):
        assert all(secret not in t for t in texts_in(bot, place.group)), secret


async def test_the_second_unseen_tells_the_office(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    first = await ask(bot, place, "/visit 1 未见到 敲门没人应")
    assert "连续第 1 次未见到本人。" in first and "已报社区" not in first
    assert not [t for t in texts_in(bot, place.office) if "未见到" in t]
    bot.clock.advance(timedelta(hours=3))
    second = await ask(bot, place, "/visit 1 电话 未见到")
    assert "连续第 2 次未见到本人。\n已报社区。" in second
    alarms = [t for t in texts_in(bot, place.office) if "连续 2 次未见到" in t]
    assert len(alarms) == 1 and "曹大爷" in alarms[0]


# -- who may, and where ---------------------------------------------------------------------------


async def test_a_resident_is_refused_everything_without_learning_who_exists(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    resident = place.resident
    mine = bot.sim.private_chat(resident)
    staff_only, missing = said("care_cmd.staff_only"), said("care_cmd.no_person", id=1)
    refusals = {
        "/care": staff_only,
        "/care add": staff_only,
        "/care add 王奶奶 5号楼 重点": staff_only,
        "/care round 高温 高风险": staff_only,
        "/care show 1": missing,
        "/care 1": missing,
        "/care edit 1": missing,
        "/care edit 1 地址 x": missing,
        "/care pause 1 住院": missing,
        "/care resume 1": missing,
        "/care end 1 搬走": missing,
        "/visit 1": missing,
        "/visit 1 正常": missing,
    }
    for command, refusal in refusals.items():
        message = await bot.say(mine, resident, command)
        assert bot.reply_text(mine, message) == refusal, command
    # a person that does not exist gets the very same words
    message = await bot.say(mine, resident, "/care show 2")
    assert bot.reply_text(mine, message) == said("care_cmd.no_person", id=2)
    assert not [t for t in texts_in(bot, mine) if "曹大爷" in t or "3号楼" in t]
    # the visit button, forged onto a message of her own chat
    forged = dict(last(bot, mine))
    forged["reply_markup"] = {
        "inline_keyboard": [[{"text": "📝", "callback_data": encode(CarePress("visit", 1))}]]
    }
    query_id = "forged-visit"
    bot.sim.open_callback_queries.add(query_id)
    sent = len(bot.sim.bot_messages(mine.id))
    bot.sim.inject_update(
        {
            "callback_query": {
                "id": query_id,
                "from": resident.to_dict(),
                "chat_instance": "forged",
                "data": encode(CarePress("visit", 1)),
                "message": forged,
            }
        }
    )
    await bot.drain()
    assert bot.sim.callback_answers[query_id]["text"] == said("care.not_yours")
    assert len(bot.sim.bot_messages(mine.id)) == sent  # no form was opened
    assert await bot.storage.care.visits_of(1) == []
    assert (await person(bot, 1)).status is CareStatus.ACTIVE


async def test_in_a_group_every_care_command_gets_one_line_and_no_names(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    for command in ("/care", "/care show 1", "/care add 王奶奶 5号楼 重点", "/visit 1 正常"):
        message = await bot.say(place.group, place.officer, command)
        assert bot.reply_text(place.group, message) == said("care_cmd.private_only"), command
    assert not [t for t in texts_in(bot, place.group) if "曹大爷" in t or "3号楼" in t]
    assert await bot.storage.care.visits_of(1) == []
    assert await bot.storage.care.get(2) is None


# -- replays, restarts, timeouts -----------------------------------------------------------------


async def test_a_replayed_visit_records_once(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    message = await bot.say(place.private, place.officer, "/visit 1 异常需跟进 说胸口疼")
    replayed = bot.processed[-1].update_id
    replies = len(bot.replies(place.private, message))
    bot.sim.redeliver(replayed)  # Telegram hands it out again: the app skips it
    assert await bot.drain() == 1
    assert len(await bot.storage.care.visits_of(1)) == 1
    assert len(bot.replies(place.private, message)) == replies
    # even with the handled-update record gone, storage keeps one visit per message
    await bot.storage.updates.forget_before(bot.clock.now() + DAY)
    bot.sim.redeliver(replayed)
    await bot.drain()
    (visit,) = await bot.storage.care.visits_of(1)
    assert bot.replies(place.private, message)[-1]["text"] == said("care_cmd.visited_before", id=1)
    tickets = await bot.storage.db.fetch_value("SELECT COUNT(*) FROM tickets")
    assert tickets == 1 and visit.ticket_id is not None


async def test_a_form_lost_in_a_restart_answers_its_buttons_politely(
    tmp_path: Path, database: Path | str
) -> None:
    async with harness(tmp_path, database=database) as bot:
        place = await town(bot)
        await bot.say(place.private, place.officer, "/care add")
        await bot.say(place.private, place.officer, "曹大爷")
        await bot.say(place.private, place.officer, "3号楼2单元101")
        tiers = last(bot, place.private)
        sim = bot.sim
    async with harness(tmp_path, sim=sim, database=database) as again:
        answer = await press(again, place.private, tiers, place.officer, "高风险")
        assert answer == said("care_cmd.expired")
        assert not now_of(again, place.private, tiers).get("reply_markup")  # dead buttons go
        assert await again.storage.care.get(1) is None
        # words typed into the lost form add nobody; a new form works
        await again.say(place.private, place.officer, "重点")
        assert await again.storage.care.get(1) is None
        message = await again.say(place.private, place.officer, "/care add 曹大爷 3号楼 高风险")
        assert again.reply_text(place.private, message).startswith("✅ 已登记 关爱 1")


async def test_an_unanswered_form_times_out_with_a_message(bot: Harness) -> None:
    place = await town(bot)
    await bot.say(place.private, place.officer, "/visit")
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    await bot.say(place.private, place.officer, "/visit 1")
    ways = last(bot, place.private)
    (forms,) = [h for h in bot.app.handlers[0] if isinstance(h, ConversationHandler)]
    job = forms.timeout_jobs[(place.private.id, place.officer.id)]
    await job.run(bot.app)  # FORM_TIMEOUT has passed (PTB's job, run now)
    await bot.drain()
    assert last(bot, place.private)["text"] == said("care_cmd.timed_out", minutes=30)
    assert not now_of(bot, place.private, ways).get("reply_markup")
    await bot.say(place.private, place.officer, "正常")
    assert await bot.storage.care.visits_of(1) == []
    assert last(bot, place.private)["text"] == said("care_cmd.timed_out", minutes=30)


async def test_a_new_form_replaces_the_open_one_and_old_buttons_expire(bot: Harness) -> None:
    place = await town(bot)
    await add(bot, place, "曹大爷 3号楼2单元101 高风险")
    private, officer = place.private, place.officer
    await bot.say(private, officer, "/care add 王奶奶 5号楼")
    tiers = last(bot, private)
    # a look at the list while the form is open leaves the form open
    assert "曹大爷" in await ask(bot, place, "/care")
    await press(bot, private, tiers, officer, "重点")
    assert last(bot, private)["text"].startswith("✅ 已登记 关爱 2：王奶奶（重点）")
    # a new form drops the open one; a one-line /visit in between records and keeps it
    await bot.say(private, officer, "/care add 李爷爷")
    old = last(bot, private)
    await bot.say(private, officer, "/visit 1")
    ways = last(bot, private)
    assert "走访方式" in ways["text"]
    assert not now_of(bot, private, old).get("reply_markup")
    assert await ask(bot, place, "/visit 1 正常") == (
        "✅ 已记录 关爱 1 的走访：上门 · 正常\n下次走访 12月3日"
    )
    await press(bot, private, ways, officer, "上门")
    assert "走访结果" in last(bot, private)["text"]
