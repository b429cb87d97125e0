"""💬 ready answers, pressed on a receipt: the choice in private, the preview, 发送, 改一改.

Driven through the Bot API (tests/harness.py) on both engines. The group must read exactly
what the officer command would have posted, once, however often the button is pressed or the
update delivered; nobody but the grid's officers gets anything, and never in the group.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

from bot import answers
from bot import tickets as domain
from bot.callbacks import AnswerAction, AnswerPress, encode, parse
from bot.context import runtime_of
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from handlers.answers import public_text
from storage import Ticket
from tests.harness import Harness

JSON = dict[str, Any]
TEXTS = Texts("zh")


@dataclass
class World:
    grid: SimChat
    resident: SimUser
    officer: SimUser  # admin of the grid's group, his private chat started
    named: SimUser  # named officer (/officer), his private chat started
    report: JSON
    ticket: Ticket
    receipt: JSON


async def world(bot: Harness, *, started: bool = True) -> World:
    sim = bot.sim
    resident, officer, named = (
        sim.add_user("王阿姨"),
        sim.add_user("刘网格员"),
        sim.add_user("老周"),
    )
    grid = await bot.grid("北瑞小区一网格", resident, named)
    sim.set_member(grid, officer, "administrator")
    said = sim.send_text(grid, named, "大家好")
    await bot.say(grid, bot.admin, "/officer", reply_to=said["message_id"])
    if started:
        for person in (officer, named):
            await bot.say(sim.private_chat(person), person, "/start")
    report, ticket = await bot.report(grid, resident, "#报修 北瑞小区3号楼2单元楼道灯不亮")
    receipt = bot.replies(grid, report)[0]
    assert encode(AnswerPress("ask", ticket.id)) in buttons(receipt)
    return World(grid, resident, officer, named, report, ticket, receipt)


def buttons(message: JSON) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def labels(message: JSON) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    return {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}


def now(bot: Harness, chat: SimChat | SimUser, message_id: int) -> JSON:
    """A message as it is now (after edits)."""
    return next(m for m in bot.sim.messages(chat.id) if m["message_id"] == message_id)


def private(bot: Harness, user: SimUser) -> list[JSON]:
    """The bot's messages in the user's private chat, as they are now."""
    return [m for m in bot.sim.messages(user.id) if m.get("from", {}).get("id") == bot.app.bot.id]


async def press(
    bot: Harness, chat: SimChat | SimUser, message_id: int, user: SimUser, data: str
) -> JSON:
    """A real press; the callback's answer."""
    where = chat if isinstance(chat, SimChat) else bot.sim.private_chat(chat)
    query = bot.sim.press_button(where, message_id, user, data)
    await bot.drain()
    return bot.sim.callback_answers[query]


def group_posts(bot: Harness, w: World) -> list[JSON]:
    """The bot's replies to the resident's report other than the receipt."""
    return [m for m in bot.replies(w.grid, w.report) if m["message_id"] != w.receipt["message_id"]]


async def ask(bot: Harness, w: World, who: SimUser) -> JSON:
    """Press 💬 on the receipt; the choice that arrived in private."""
    before = len(private(bot, who))
    answer = await press(
        bot, w.grid, w.receipt["message_id"], who, encode(AnswerPress("ask", w.ticket.id))
    )
    assert answer.get("text") == TEXTS("abtn.popup_private"), answer
    sent = private(bot, who)
    assert len(sent) == before + 1
    return sent[-1]


def pick(message: JSON, action: str) -> tuple[str, int]:
    """The first template button of an action in the choice: its data and template id."""
    label = answers.action_name(action, TEXTS)
    for data, text in labels(message).items():
        parsed = parse(data)
        if (
            isinstance(parsed, AnswerPress)
            and parsed.step == "pick"
            and text.startswith(f"【{label}】")
        ):
            return data, parsed.template_id
    raise AssertionError(f"no {action} template in {labels(message)}")


async def preview(bot: Harness, w: World, who: SimUser, action: str = "done") -> tuple[JSON, str]:
    """💬, then a template of ``action``: the preview message and the template's words."""
    choice = await ask(bot, w, who)
    data, template_id = pick(choice, action)
    await press(bot, who, choice["message_id"], who, data)
    template = await bot.storage.answers.get(template_id)
    assert template is not None
    runtime = runtime_of(bot.app)
    words = answers.render(
        template.text, w.ticket, runtime.catalog, runtime.settings.tz, who.first_name, runtime.texts
    )
    return now(bot, who, choice["message_id"]), words


async def test_a_resident_pressing_reply_is_refused_and_gets_nothing(bot: Harness) -> None:
    w = await world(bot)
    await bot.say(bot.sim.private_chat(w.resident), w.resident, "/start")
    mine = len(private(bot, w.resident))
    in_group = len(bot.sim.messages(w.grid.id))
    answer = await press(
        bot, w.grid, w.receipt["message_id"], w.resident, encode(AnswerPress("ask", w.ticket.id))
    )
    assert answer.get("text") == TEXTS("popup.not_allowed")
    assert len(private(bot, w.resident)) == mine
    assert len(bot.sim.messages(w.grid.id)) == in_group


async def test_an_officer_gets_the_choice_in_private_and_the_group_nothing(bot: Harness) -> None:
    w = await world(bot)
    in_group = len(bot.sim.messages(w.grid.id))
    choice = await ask(bot, w, w.officer)
    assert len(bot.sim.messages(w.grid.id)) == in_group
    assert f"工单 {w.ticket.id} · 报修" in choice["text"] and "3号楼" in choice["text"]
    presses = [parse(d) for d in buttons(choice)]
    assert all(isinstance(p, AnswerPress) and p.ticket_id == w.ticket.id for p in presses)
    # a new ticket: 受理, 进展, 办结, 退回, each with its templates used most (at most three)
    shown = list(labels(choice).values())
    for action in ("open", "progress", "done", "reject"):
        label = answers.action_name(action, TEXTS)
        count = sum(1 for text in shown if text.startswith(f"【{label}】"))
        assert 1 <= count <= 3, (action, shown)


async def test_the_preview_is_the_rendered_template_and_send_resolves_once(bot: Harness) -> None:
    w = await world(bot)
    shown, words = await preview(bot, w, w.officer)
    template_id, previewed = pick_id(shown), shown["text"]
    assert words in previewed and "{" not in words
    assert "3号楼" in words  # {位置} filled
    assert group_posts(bot, w) == []  # a preview posts nothing
    send = next(
        d for d in buttons(shown) if parse(d) == AnswerPress("send", w.ticket.id, pick_id(shown))
    )

    answer = await press(bot, w.officer, shown["message_id"], w.officer, send)
    assert answer.get("text") == TEXTS("abtn.popup_sent", id=w.ticket.id, status="已办结")
    ticket = await bot.fresh(w.ticket)
    assert ticket.status == "resolved" and ticket.assignee_id == w.officer.id
    posts = group_posts(bot, w)
    assert len(posts) == 1
    # exactly what /done N <words> posts
    assert (
        posts[0]["text"]
        == f"✅ 您反映的问题（工单 {w.ticket.id}）已办结：{words}。稍后会请您评价处理结果。"
    )
    assert posts[0]["text"] in previewed  # the preview showed that very post
    sent = now(bot, w.officer, shown["message_id"])
    assert sent["text"].startswith("已发送 ✓") and buttons(sent) == []
    assert buttons(now(bot, w.grid, w.receipt["message_id"])) == []  # the receipt shows it
    uses = [t for t in await bot.storage.answers.list("repair", "done") if t.uses]
    assert [(t.id, t.uses) for t in uses] == [(template_id, 1)]


def pick_id(preview_message: JSON) -> int:
    for data in buttons(preview_message):
        parsed = parse(data)
        if isinstance(parsed, AnswerPress) and parsed.step == "send":
            return parsed.template_id
    raise AssertionError("no 发送 on the preview")


async def prompt_for(bot: Harness, w: World, who: SimUser) -> JSON:
    """A progress template's preview, 改一改 pressed: the ForceReply prompt it sends."""
    shown, _ = await preview(bot, w, who, "progress")
    edit = encode(AnswerPress("edit", w.ticket.id, pick_id(shown)))
    await press(bot, who, shown["message_id"], who, edit)
    return private(bot, who)[-1]


async def test_a_double_press_and_a_replayed_update_send_once(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "progress")
    send = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    chat = bot.sim.private_chat(w.officer)
    first = bot.sim.press_button(chat, shown["message_id"], w.officer, send)
    second = bot.sim.press_button(chat, shown["message_id"], w.officer, send)
    await bot.drain()
    update_id = bot.processed[-1].update_id
    bot.sim.redeliver(update_id)
    await bot.drain()
    assert len(group_posts(bot, w)) == 1
    assert (await bot.fresh(w.ticket)).status == "accepted"
    answers_ = [bot.sim.callback_answers[q].get("text") for q in (first, second)]
    assert sorted(answers_, key=str) == sorted(
        [TEXTS("abtn.popup_sent", id=w.ticket.id, status="处理中"), TEXTS("abtn.popup_used")],
        key=str,
    )
    progress = [e for e in await bot.storage.tickets.events(w.ticket.id) if e.kind == "progress"]
    assert len(progress) == 1
    assert sum(t.uses for t in await bot.storage.answers.list("repair", "progress")) == 1


async def test_edit_sends_the_officers_reply_once(bot: Harness) -> None:
    w = await world(bot)
    shown, words = await preview(bot, w, w.officer)
    template_id = pick_id(shown)
    edit = encode(AnswerPress("edit", w.ticket.id, template_id))
    await press(bot, w.officer, shown["message_id"], w.officer, edit)
    assert buttons(now(bot, w.officer, shown["message_id"])) == []  # the prompt is the way on
    prompt = private(bot, w.officer)[-1]
    assert prompt["message_id"] != shown["message_id"] and words in prompt["text"]
    assert any(e["type"] == "code" for e in prompt.get("entities", []))  # a tap copies it
    calls = bot.sim.calls_to("sendMessage")
    markup = calls[-1].params.get("reply_markup")
    assert "force_reply" in str(markup) and "input_field_placeholder" in str(markup)
    assert group_posts(bot, w) == []

    chat = bot.sim.private_chat(w.officer)
    mine = "灯已换好，谢谢您的耐心。— 刘网格员"
    reply = await bot.say(chat, w.officer, mine, reply_to=prompt["message_id"])
    assert bot.reply_text(chat, reply).startswith("已发送 ✓")
    assert (await bot.fresh(w.ticket)).status == "resolved"
    posts = group_posts(bot, w)
    assert len(posts) == 1 and mine in posts[0]["text"] and words not in posts[0]["text"]
    uses = [(t.id, t.uses) for t in await bot.storage.answers.list("repair", "done") if t.uses]
    assert uses == [(template_id, 1)]  # the template the words started from

    again = await bot.say(chat, w.officer, "再发一次", reply_to=prompt["message_id"])
    assert bot.reply_text(chat, again) == TEXTS("abtn.already_sent", id=w.ticket.id)
    assert len(group_posts(bot, w)) == 1


async def test_someone_else_replying_to_a_prompt_is_refused(bot: Harness) -> None:
    w = await world(bot)
    prompt = await prompt_for(bot, w, w.officer)
    # only the officer can write in his private chat: another person's reply is a forged update
    forged = {
        "update_id": 900_000_001,
        "message": {
            "message_id": 900_001,
            "date": prompt["date"],
            "chat": prompt["chat"],
            "from": {"id": w.resident.id, "is_bot": False, "first_name": "王阿姨"},
            "text": "我来替他回复",
            "reply_to_message": prompt,
        },
    }
    await bot.feed(forged)
    await bot.flush()
    assert group_posts(bot, w) == []
    assert (await bot.fresh(w.ticket)).status == "new"
    assert private(bot, w.officer)[-1]["text"] == TEXTS("abtn.not_yours")
    # the prompt is still his to use
    chat = bot.sim.private_chat(w.officer)
    reply = await bot.say(
        chat, w.officer, "已联系电工，明天上午来修", reply_to=prompt["message_id"]
    )
    assert bot.reply_text(chat, reply).startswith("已发送 ✓")
    assert len(group_posts(bot, w)) == 1


async def test_an_officer_who_stopped_working_the_grid_is_refused_at_send(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.named)
    said = bot.sim.send_text(w.grid, w.named, "我调岗了")
    await bot.say(w.grid, bot.admin, "/unofficer", reply_to=said["message_id"])
    send = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    answer = await press(bot, w.named, shown["message_id"], w.named, send)
    assert answer.get("text") == TEXTS("popup.not_allowed")
    assert (await bot.fresh(w.ticket)).status == "new"
    assert group_posts(bot, w) == []
    assert await bot.storage.answers.find_draft(w.named.id, shown["message_id"]) is not None
    draft = await bot.storage.answers.find_draft(w.named.id, shown["message_id"])
    assert draft is not None and draft.used_at is None


async def test_a_private_chat_not_started_gets_a_start_link_then_the_choice(bot: Harness) -> None:
    w = await world(bot, started=False)
    answer = await press(
        bot, w.grid, w.receipt["message_id"], w.officer, encode(AnswerPress("ask", w.ticket.id))
    )
    username = bot.app.bot.username
    assert answer.get("url") == f"https://t.me/{username}?start=answers_{w.ticket.id}"
    assert answer.get("show_alert") and answer.get("text") == TEXTS("abtn.start_first")
    assert private(bot, w.officer) == []
    chat = bot.sim.private_chat(w.officer)
    start = await bot.say(chat, w.officer, f"/start answers_{w.ticket.id}")
    choice = bot.replies(chat, start)
    assert len(choice) == 1 and f"工单 {w.ticket.id} · 报修" in choice[0]["text"]
    pick(choice[0], "done")
    # a resident following the same link gets no choice
    await bot.say(bot.sim.private_chat(w.resident), w.resident, "/start")
    mine = bot.sim.private_chat(w.resident)
    refused = await bot.say(mine, w.resident, f"/start answers_{w.ticket.id}")
    assert bot.reply_text(mine, refused) == TEXTS("officer.not_allowed", id=w.ticket.id)


async def test_accepting_by_hand_takes_the_ticket_and_posts_the_words(bot: Harness) -> None:
    w = await world(bot)
    shown, words = await preview(bot, w, w.officer, "open")
    await press(
        bot,
        w.officer,
        shown["message_id"],
        w.officer,
        encode(AnswerPress("send", w.ticket.id, pick_id(shown))),
    )
    ticket = await bot.fresh(w.ticket)
    assert ticket.status == "accepted" and ticket.assignee_id == w.officer.id
    posts = group_posts(bot, w)
    assert len(posts) == 1 and words in posts[0]["text"]
    # accepted now: 受理 is offered no more, 办结 still is
    choice = await ask(bot, w, w.officer)
    shown_labels = list(labels(choice).values())
    assert not any(text.startswith("【受理】") for text in shown_labels)
    pick(choice, "done")


async def test_back_returns_to_the_choice_and_another_template_replaces_the_draft(
    bot: Harness,
) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "done")
    await press(
        bot, w.officer, shown["message_id"], w.officer, encode(AnswerPress("back", w.ticket.id))
    )
    choice = now(bot, w.officer, shown["message_id"])
    data, template_id = pick(choice, "progress")
    await press(bot, w.officer, choice["message_id"], w.officer, data)
    again = now(bot, w.officer, choice["message_id"])
    assert pick_id(again) == template_id
    await press(
        bot,
        w.officer,
        again["message_id"],
        w.officer,
        encode(AnswerPress("send", w.ticket.id, template_id)),
    )
    assert (await bot.fresh(w.ticket)).status == "accepted"  # 进展, not 办结
    assert len(group_posts(bot, w)) == 1


async def test_a_preview_of_a_ticket_closed_meanwhile_is_refused_politely(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "progress")
    await bot.say(w.grid, w.officer, f"/done {w.ticket.id}")
    posts = len(group_posts(bot, w))
    await press(
        bot,
        w.officer,
        shown["message_id"],
        w.officer,
        encode(AnswerPress("send", w.ticket.id, pick_id(shown))),
    )
    assert len(group_posts(bot, w)) == posts
    refused = now(bot, w.officer, shown["message_id"])
    assert "已办结" in refused["text"] and buttons(refused) == []


# -- the review's findings: replies, stale buttons, the care form, closed tickets ----------------

_FORGED = itertools.count(1)


async def stale_press(bot: Harness, user: SimUser, message: JSON, data: str) -> JSON:
    """A press carrying ``message`` as it was (another device still showing old buttons, or a
    forged update): what ``press`` cannot send once the buttons are gone. Its pop-up."""
    query_id = f"stale{next(_FORGED)}"
    bot.sim.open_callback_queries.add(query_id)
    bot.sim.queue.push(
        "callback_query",
        {
            "id": query_id,
            "from": bot.sim.world.user(user).to_dict(),
            "message": copy.deepcopy(message),
            "chat_instance": "1",
            "data": data,
        },
    )
    await bot.drain()
    return bot.sim.callback_answers.get(query_id, {})


async def test_a_plain_reply_to_a_preview_or_to_the_choice_sends_nothing(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "done")
    chat = bot.sim.private_chat(w.officer)
    hint = TEXTS("abtn.reply_hint")
    to_preview = await bot.say(chat, w.officer, "这条模板不太合适", reply_to=shown["message_id"])
    assert [m["text"] for m in bot.replies(chat, to_preview)] == [hint]
    await press(
        bot, w.officer, shown["message_id"], w.officer, encode(AnswerPress("back", w.ticket.id))
    )
    to_choice = await bot.say(chat, w.officer, "请问哪个是进展？", reply_to=shown["message_id"])
    assert [m["text"] for m in bot.replies(chat, to_choice)] == [hint]
    assert (await bot.fresh(w.ticket)).status == "new"
    assert group_posts(bot, w) == []
    assert not any(m["text"].startswith("已发送") for m in private(bot, w.officer))
    # the preview is still there to send: the hint used nothing
    choice = now(bot, w.officer, shown["message_id"])
    data, template_id = pick(choice, "progress")
    await press(bot, w.officer, shown["message_id"], w.officer, data)
    send = encode(AnswerPress("send", w.ticket.id, template_id))
    answer = await press(bot, w.officer, shown["message_id"], w.officer, send)
    assert answer.get("text") == TEXTS("abtn.popup_sent", id=w.ticket.id, status="处理中")
    # a reply to the sent preview ("已发送 ✓", no buttons) is not ours to answer: it passes on
    after = await bot.say(chat, w.officer, "好的", reply_to=shown["message_id"])
    assert hint not in [m["text"] for m in bot.replies(chat, after)]
    assert len(group_posts(bot, w)) == 1


async def test_a_reply_to_a_preview_gets_the_hint_even_with_a_care_form_open(
    bot: Harness,
) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.named, "done")
    chat = bot.sim.private_chat(w.named)
    started = await bot.say(chat, w.named, "/care add")
    question = bot.reply_text(chat, started)
    reply = await bot.say(chat, w.named, "张大爷", reply_to=shown["message_id"])
    assert [m["text"] for m in bot.replies(chat, reply)] == [TEXTS("abtn.reply_hint")]
    # the form did not take it: its next plain answer is still the first one it reads
    answered = await bot.say(chat, w.named, "张大爷")
    assert bot.replies(chat, answered) and bot.reply_text(chat, answered) != question
    assert (await bot.fresh(w.ticket)).status == "new" and group_posts(bot, w) == []


async def test_back_forgets_the_preview_so_its_stale_send_sends_nothing(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "reject")
    seen = copy.deepcopy(shown)  # the preview as another device still shows it
    send = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    await press(
        bot, w.officer, shown["message_id"], w.officer, encode(AnswerPress("back", w.ticket.id))
    )
    assert await bot.storage.answers.find_draft(w.officer.id, shown["message_id"]) is None
    answer = await stale_press(bot, w.officer, seen, send)
    # nothing was sent: the button is stale, not "sent already"
    assert answer.get("text") == TEXTS("popup.invalid")
    assert (await bot.fresh(w.ticket)).status == "new" and group_posts(bot, w) == []


async def test_a_stale_send_of_another_template_on_the_same_message_sends_nothing(
    bot: Harness,
) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "done")
    seen = copy.deepcopy(shown)  # 办结's preview, as another device still shows it
    old = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    await press(
        bot, w.officer, shown["message_id"], w.officer, encode(AnswerPress("back", w.ticket.id))
    )
    data, template_id = pick(now(bot, w.officer, shown["message_id"]), "progress")
    await press(bot, w.officer, shown["message_id"], w.officer, data)
    answer = await stale_press(bot, w.officer, seen, old)
    assert answer.get("text") == TEXTS("popup.invalid")
    assert (await bot.fresh(w.ticket)).status == "new" and group_posts(bot, w) == []
    # the message's own preview (进展) still sends, with its own words
    new = encode(AnswerPress("send", w.ticket.id, template_id))
    await press(bot, w.officer, shown["message_id"], w.officer, new)
    assert (await bot.fresh(w.ticket)).status == "accepted" and len(group_posts(bot, w)) == 1


async def test_a_send_naming_another_ticket_moves_neither(bot: Harness) -> None:
    w = await world(bot)
    report2, other = await bot.report(w.grid, w.resident, "#报修 北瑞小区5号楼电梯坏了")
    shown, _ = await preview(bot, w, w.officer, "done")
    forged = encode(AnswerPress("send", other.id, pick_id(shown)))
    seen = copy.deepcopy(shown)
    seen["reply_markup"]["inline_keyboard"].append([{"text": "x", "callback_data": forged}])
    answer = await stale_press(bot, w.officer, seen, forged)
    assert answer.get("text") == TEXTS("popup.invalid")
    assert (await bot.fresh(w.ticket)).status == "new"
    assert (await bot.fresh(other)).status == "new"
    assert len(bot.replies(w.grid, report2)) == 1  # its receipt only
    # the preview's own 发送 still sends it, on its own ticket
    send = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    await press(bot, w.officer, shown["message_id"], w.officer, send)
    assert (await bot.fresh(w.ticket)).status == "resolved" and len(group_posts(bot, w)) == 1


async def test_a_prompt_reply_is_sent_even_with_a_care_form_open(bot: Harness) -> None:
    w = await world(bot)
    prompt = await prompt_for(bot, w, w.named)
    chat = bot.sim.private_chat(w.named)
    started = await bot.say(chat, w.named, "/care add")
    question = bot.reply_text(chat, started)
    reply = await bot.say(chat, w.named, "已联系电工，明天上午来修", reply_to=prompt["message_id"])
    assert [m["text"][:5] for m in bot.replies(chat, reply)] == ["已发送 ✓ "[:5]]
    assert (await bot.fresh(w.ticket)).status == "accepted"
    (post,) = group_posts(bot, w)
    assert "已联系电工，明天上午来修" in post["text"]
    # the form still waits for its answer: plain words go to it, not to the ticket
    answered = await bot.say(chat, w.named, "张大爷")
    assert bot.replies(chat, answered) and bot.reply_text(chat, answered) != question
    assert not bot.reply_text(chat, answered).startswith("已发送")
    assert len(group_posts(bot, w)) == 1


async def test_a_reply_not_to_a_prompt_still_reaches_the_care_form(bot: Harness) -> None:
    w = await world(bot)
    chat = bot.sim.private_chat(w.named)
    started = await bot.say(chat, w.named, "/care add")
    question = bot.replies(chat, started)[-1]
    # replying to the form's own question (a message of the bot that is no prompt)
    answered = await bot.say(chat, w.named, "张大爷", reply_to=question["message_id"])
    assert bot.replies(chat, answered) and bot.reply_text(chat, answered) != question["text"]
    assert group_posts(bot, w) == []


async def test_the_button_on_a_ticket_no_longer_open_pops_up_and_sends_nothing(
    bot: Harness,
) -> None:
    w = await world(bot)
    assert labels(w.receipt)[encode(AnswerPress("ask", w.ticket.id))] == "💬 快捷回复"
    # resolved behind the receipt's back (another instance; its refresh not yet seen)
    moved = await domain.act(
        bot.storage, domain.Action.DONE, w.ticket, domain.Actor(1, "某人"), bot.clock.now()
    )
    assert moved.moved
    mine = len(private(bot, w.officer))
    answer = await press(
        bot, w.grid, w.receipt["message_id"], w.officer, encode(AnswerPress("ask", w.ticket.id))
    )
    assert answer.get("text") == TEXTS("abtn.popup_nothing", id=w.ticket.id, status="已办结")
    assert len(private(bot, w.officer)) == mine


async def test_the_tick_forgets_old_drafts(bot: Harness) -> None:
    w = await world(bot)
    shown, _ = await preview(bot, w, w.officer, "done")
    await bot.tick(timedelta(days=1))
    assert await bot.storage.answers.find_draft(w.officer.id, shown["message_id"]) is not None
    await bot.tick(timedelta(days=7))
    assert await bot.storage.answers.find_draft(w.officer.id, shown["message_id"]) is None
    send = encode(AnswerPress("send", w.ticket.id, pick_id(shown)))
    answer = await press(bot, w.officer, shown["message_id"], w.officer, send)
    assert answer.get("text") == TEXTS("popup.invalid")  # forgotten, never sent
    assert (await bot.fresh(w.ticket)).status == "new"


async def test_every_default_reads_well_in_its_post(bot: Harness) -> None:
    """Each shipped template as the resident reads it: the post around it gives the number and
    the name once, no doubled full stop, and no "reply to this message" (a reply reaches
    nobody)."""
    w = await world(bot)
    runtime = runtime_of(bot.app)
    ticket = replace(w.ticket, id=4321)
    name = "刘网格员"
    for spec in answers.defaults(runtime.catalog):
        kind = replace(ticket, category=spec.category or "repair")
        if spec.keywords:  # the automatic answer, signed by the grid's officers
            text = answers.auto_message(
                cast(answers.Template, spec),
                kind,
                runtime.catalog,
                runtime.settings.tz,
                [name],
                runtime.texts,
            ).text
        else:
            words = answers.render(
                spec.text, kind, runtime.catalog, runtime.settings.tz, name, runtime.texts
            )
            text = public_text(runtime, cast(AnswerAction, spec.action), kind, name, words)
        assert text.count("4321") == 1, text
        assert text.count(name) <= 1, text
        assert "。。" not in text and "。—" not in text, text
        assert "回复本条" not in text and "回复此消息" not in text, text
