"""Who may press which button, and what forged or outdated presses get: through the Bot API.

Every press goes through ``handlers.common.authorize_press``: keyed on the person pressing, the
chat of the message and the ticket's grid. A refused press changes nothing: no ticket, no event,
no outbox row, no message (the simulator's copy of every chat is compared), only a pop-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import answers, callbacks
from bot.callbacks import (
    MAX_BYTES,
    AnswerPress,
    Invalid,
    OfferPress,
    Outdated,
    PagePress,
    Rating,
    RatingPress,
    TicketAction,
    TicketPress,
    encode,
    parse,
)
from bot.keyboards import page_keyboard
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage import OutboxDraft, Ticket, TicketFilter
from storage.vocabulary import Status
from tests.harness import Harness

JSON = dict[str, Any]
TEXTS = Texts("zh")
# what a press may cost without changing anything: the pop-up and role look-ups
READ_ONLY = {"answerCallbackQuery", "getChatAdministrators", "getChatMember", "getUpdates"}


@dataclass
class World:
    grid: SimChat
    other_grid: SimChat
    reporter: SimUser  # reported ``ticket``
    resident: SimUser  # a resident of the group; reported ``original`` only
    officer: SimUser  # admin of the grid's group
    other_officer: SimUser  # admin of the other grid's group; a plain member of this one
    stranger: SimUser  # in no chat at all (a public group lets anyone press)
    original: Ticket
    ticket: Ticket  # a likely duplicate of ``original``: its receipt offers 合并
    report: JSON  # the reporter's message


PRESSERS = ("officer", "resident", "other_officer", "stranger", "reporter")


async def world(bot: Harness, *, bot_status: str = "administrator") -> World:
    """No office chat, so nobody is staff: not even the bot, whose role the old check asked."""
    sim = bot.sim
    reporter, resident = sim.add_user("王阿姨"), sim.add_user("李大爷")
    officer, other_officer = sim.add_user("刘网格员"), sim.add_user("陈网格员")
    stranger = sim.add_user("路人甲")
    grid = await bot.grid("北瑞小区一网格", reporter, resident, other_officer, grid="第一网格")
    other_grid = await bot.grid("宝东二网格", grid="第二网格")
    sim.set_member(grid, officer, "administrator")
    sim.set_member(other_grid, other_officer, "administrator")
    if bot_status != "member":
        sim.set_bot_status(grid, bot_status, by=bot.admin)
    await bot.drain()
    _, original = await bot.report(grid, resident, "#报修 北瑞小区3号楼楼道灯不亮")
    message, ticket = await bot.report(grid, reporter, "#报修 北瑞小区3号楼灯坏了")
    w = World(
        grid,
        other_grid,
        reporter,
        resident,
        officer,
        other_officer,
        stranger,
        original,
        ticket,
        message,
    )
    assert buttons(receipt_of(bot, w, ticket)) == [
        encode(TicketPress("take", ticket.id)),
        encode(TicketPress("done", ticket.id)),
        encode(AnswerPress("ask", ticket.id)),
        encode(TicketPress("merge", ticket.id, original.id)),
    ]
    return w


def message_now(bot: Harness, chat: SimChat, message_id: int) -> JSON:
    return next(m for m in bot.sim.messages(chat.id) if m["message_id"] == message_id)


def receipt_of(bot: Harness, w: World, ticket: Ticket) -> JSON:
    receipt = bot.sim.replies_to(w.grid.id, ticket.message_id)[0]  # the first reply
    return message_now(bot, w.grid, receipt["message_id"])


def buttons(message: JSON) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def list_message(bot: Harness, chat: SimChat, user: SimUser, pages: int = 2) -> JSON:
    """Enough open tickets for ``pages`` pages, and ``user``'s /list of them."""
    fresh = TicketFilter(statuses=(Status.NEW,))
    open_now = len((await bot.storage.tickets.find(fresh, limit=500))[0])
    for n in range(open_now, 10 * (pages - 1) + 1):
        await bot.report(chat, user, f"#环境 {n + 1}号楼门口垃圾没人清")
    sent = await bot.say(chat, user, "/list")
    listing = bot.replies(chat, sent)[0]
    assert f"第 1/{pages} 页" in listing["text"], listing["text"]
    return listing


async def question(bot: Harness, w: World) -> JSON:
    """The 回访 question of ``w.ticket``, after the officer closed it."""
    await bot.say(w.grid, w.officer, f"/done {w.ticket.id} 灯已换好")
    await bot.tick(timedelta(hours=2))
    asks = [m for m in bot.sim.bot_messages(w.grid.id) if "满意吗" in m.get("text", "")]
    assert len(asks) == 1
    return asks[0]


async def snapshot(bot: Harness, *chats: SimChat) -> str:
    """Everything a press could change: tickets, their events, the outbox, the chats."""
    tickets, _ = await bot.storage.tickets.find(TicketFilter(), limit=1000)
    events = [len(await bot.storage.tickets.events(t.id)) for t in tickets]
    rows = [
        [t.id, t.status, t.assignee_id, t.duplicate_of, t.satisfaction, t.reopen_count, n]
        for t, n in zip(tickets, events, strict=True)
    ]
    messages = [bot.sim.messages(chat.id) for chat in chats]
    outbox = await bot.storage.outbox.counts()
    return json.dumps([rows, messages, outbox], sort_keys=True, ensure_ascii=False)


async def press(bot: Harness, chat: SimChat, message_id: int, user: SimUser, data: str) -> str:
    """A real press of a button the message has; the pop-up's text."""
    query = bot.sim.press_button(chat, message_id, user, data)
    await bot.drain()
    return str(bot.sim.callback_answers[query].get("text", ""))


async def forge(bot: Harness, message: JSON, user: SimUser, data: str) -> tuple[str, set[str]]:
    """A press Telegram delivers with data (or a message) the bot never made: a modified client.
    Returns the pop-up's text and the API methods the bot called meanwhile."""
    query_id = f"forged-{len(bot.sim.callback_answers)}-{len(bot.sim.calls)}"
    bot.sim.open_callback_queries.add(query_id)  # Telegram issued the query; the data is forged
    calls = len(bot.sim.calls)
    bot.sim.inject_update(
        {
            "callback_query": {
                "id": query_id,
                "from": user.to_dict(),
                "chat_instance": "forged",
                "data": data,
                "message": message,
            }
        }
    )
    await bot.drain()
    methods = {c.method for c in bot.sim.calls[calls:]}
    return str(bot.sim.callback_answers[query_id].get("text", "")), methods


# -- the matrix: every kind of press × every kind of person -----------------------------------

ACTIONS: dict[str, TicketAction] = {"take": "take", "done": "done", "merge": "merge"}
RATINGS: dict[str, Rating] = {"rate_s": "s", "rate_b": "b", "rate_u": "u"}
KINDS = (*ACTIONS, "page_next", "page_prev", *RATINGS, "offer")
# who may press each kind (everyone else gets the kind's polite refusal)
ALLOWED = {"offer": ("reporter", "officer"), **{k: ("reporter",) for k in RATINGS}}
REFUSAL = {"offer": "popup.offer_not_yours", **{k: "popup.not_reporter" for k in RATINGS}}


async def target(bot: Harness, w: World, kind: str) -> tuple[int, str]:
    """The message a kind of button is on, and its data (already on that message)."""
    if kind in ACTIONS:
        receipt = receipt_of(bot, w, w.ticket)
        other = w.original.id if kind == "merge" else None
        return receipt["message_id"], encode(TicketPress(ACTIONS[kind], w.ticket.id, other))
    if kind == "offer":  # the reporter's untagged problem: 登记提示
        said = await bot.say(w.grid, w.reporter, "5号楼楼道里堆满了纸箱，消防通道都堵死了")
        offer = bot.replies(w.grid, said)[0]
        return offer["message_id"], buttons(offer)[0]
    if kind.startswith("page"):
        listing = await list_message(bot, w.grid, w.officer)
        if kind == "page_prev":
            await press(bot, w.grid, listing["message_id"], w.officer, encode(PagePress("open", 2)))
            assert "第 2/2 页" in message_now(bot, w.grid, listing["message_id"])["text"]
            return listing["message_id"], encode(PagePress("open", 1))
        return listing["message_id"], encode(PagePress("open", 2))
    ask = await question(bot, w)
    return ask["message_id"], encode(RatingPress(w.ticket.id, RATINGS[kind]))


async def assert_allowed(bot: Harness, w: World, kind: str, message_id: int, answer: str) -> None:
    if kind == "offer":  # the question is gone; the ticket is the reporter's, in its category
        opened, _ = await bot.storage.tickets.find(TicketFilter(reporter_id=w.reporter.id))
        newest = max(opened, key=lambda t: t.id)
        assert answer == TEXTS("popup.offer_opened", id=newest.id)
        assert newest.id not in (w.ticket.id, w.original.id) and newest.category == "safety"
        assert all(m["message_id"] != message_id for m in bot.sim.bot_messages(w.grid.id))
        return
    ticket = await bot.fresh(w.ticket)
    text = message_now(bot, w.grid, message_id)["text"]
    if kind == "take":
        assert (ticket.status, ticket.assignee_id) == ("accepted", w.officer.id)
    elif kind == "done":
        assert ticket.status == "resolved"
    elif kind == "merge":
        assert (ticket.status, ticket.duplicate_of) == ("duplicate", w.original.id)
    elif kind == "page_next":
        assert "第 2/2 页" in text and answer == ""
    elif kind == "page_prev":
        assert "第 1/2 页" in text and answer == ""
    else:
        expected = {"rate_s": "closed", "rate_b": "closed", "rate_u": "accepted"}[kind]
        assert ticket.status == expected and answer == TEXTS("popup.rated")
        assert "感谢您的评价" in text
    if kind in ("take", "done", "merge"):
        assert answer.startswith("已完成")


@pytest.mark.parametrize("presser", PRESSERS)
@pytest.mark.parametrize("kind", KINDS)
async def test_who_may_press_what(bot: Harness, kind: str, presser: str) -> None:
    w = await world(bot)
    message_id, data = await target(bot, w, kind)
    before = await snapshot(bot, w.grid, w.other_grid)
    answer = await press(bot, w.grid, message_id, getattr(w, presser), data)
    if presser in ALLOWED.get(kind, ("officer",)):
        await assert_allowed(bot, w, kind, message_id, answer)
        return
    assert answer == TEXTS(REFUSAL.get(kind, "popup.not_allowed")), answer
    assert await snapshot(bot, w.grid, w.other_grid) == before


# -- officers in a group where the bot is a plain member; the list's own rules ---------------


async def test_officer_pages_his_list_where_the_bot_is_a_plain_member(bot: Harness) -> None:
    w = await world(bot, bot_status="member")
    listing = await list_message(bot, w.grid, w.officer)
    before = await snapshot(bot, w.grid)
    answer = await press(
        bot, w.grid, listing["message_id"], w.resident, encode(PagePress("open", 2))
    )
    assert answer == TEXTS("popup.not_allowed")
    assert await snapshot(bot, w.grid) == before
    answer = await press(
        bot, w.grid, listing["message_id"], w.officer, encode(PagePress("open", 2))
    )
    assert answer == ""
    assert "第 2/2 页" in message_now(bot, w.grid, listing["message_id"])["text"]


async def test_a_page_that_no_longer_exists_is_refused_and_the_list_kept(bot: Harness) -> None:
    w = await world(bot)
    listing = await list_message(bot, w.grid, w.officer)  # 11 open tickets: two pages
    await bot.say(w.grid, w.officer, f"/done {w.original.id} 已修好")  # now 10: one page
    before = await snapshot(bot, w.grid)
    answer = await press(
        bot, w.grid, listing["message_id"], w.officer, encode(PagePress("open", 2))
    )
    assert answer == TEXTS("popup.page_gone", page=2, pages=1)
    assert await snapshot(bot, w.grid) == before


async def test_a_private_list_is_paged_only_by_its_owner(bot: Harness) -> None:
    w = await world(bot)
    await list_message(bot, w.grid, w.officer)  # his role is known from his group from now on
    private = bot.sim.private_chat(w.officer)
    await bot.say(private, w.officer, "/list")
    listing = bot.sim.bot_messages(private.id)[-1]  # in private, not a reply
    assert "第 1/2 页" in listing["text"]
    before = await snapshot(bot, private, w.grid)
    for intruder in (w.stranger, w.resident, w.other_officer):
        answer, methods = await forge(bot, listing, intruder, encode(PagePress("open", 2)))
        assert answer == TEXTS("popup.not_allowed") and methods <= READ_ONLY, (answer, methods)
    assert await snapshot(bot, private, w.grid) == before
    answer = await press(
        bot, private, listing["message_id"], w.officer, encode(PagePress("open", 2))
    )
    assert answer == "" and "第 2/2 页" in message_now(bot, private, listing["message_id"])["text"]


# -- forged, malformed and outdated data -------------------------------------------------------

# (case, data ({t} ticket, {o} original), the message it is forged onto, presser, pop-up)
FORGED = [
    ("garbage", "💥💥", "receipt", "officer", "popup.invalid"),
    ("empty", "", "receipt", "officer", "popup.invalid"),
    ("too long", "v1|tk|take|{t}|" + "9" * 60, "receipt", "officer", "popup.invalid"),
    ("65 bytes", "x" * (MAX_BYTES + 1), "receipt", "officer", "popup.invalid"),
    ("wrong version", "v2|tk|take|{t}", "receipt", "officer", "popup.outdated"),
    ("no version", "tk|take|{t}", "receipt", "officer", "popup.invalid"),
    ("leading zero", "v1|tk|take|0{t}", "receipt", "officer", "popup.invalid"),
    ("full-width digit", "v1|tk|take|１", "receipt", "officer", "popup.invalid"),
    ("unknown action", "v1|tk|drop|{t}", "receipt", "officer", "popup.invalid"),
    ("merge into itself", "v1|tk|merge|{t}|{t}", "receipt", "officer", "popup.invalid"),
    ("old take", "tk:take:{t}", "receipt", "officer", "popup.outdated"),
    ("old merge", "tk:merge:{t}:{o}", "receipt", "officer", "popup.outdated"),
    ("old page", "ls:open:2", "list", "officer", "popup.outdated"),
    ("page 0", "v1|ls|open|0", "list", "officer", "popup.invalid"),
    ("page -1", "v1|ls|open|-1", "list", "officer", "popup.invalid"),
    ("page 99999", "v1|ls|open|99999", "list", "officer", "popup.invalid"),
    ("page 3 of 2", "v1|ls|open|3", "list", "officer", "popup.invalid"),
    ("unknown scope", "v1|ls|secret|2", "list", "officer", "popup.invalid"),
    ("no such ticket", "v1|tk|take|99999", "receipt", "officer", "popup.invalid"),
    ("merge into none", "v1|tk|merge|{t}|99999", "receipt", "officer", "popup.invalid"),
    ("page on a receipt", "v1|ls|open|2", "receipt", "officer", "popup.invalid"),
    ("take on a list", "v1|tk|take|{t}", "list", "officer", "popup.invalid"),
    ("take on the 回访", "v1|tk|take|{t}", "question", "officer", "popup.invalid"),
    ("another receipt's take", "v1|tk|take|{o}", "receipt", "officer", "popup.invalid"),
    ("rating on a receipt", "v1|fb|{t}|s", "receipt", "reporter", "popup.invalid"),
    ("rating of another ticket", "v1|fb|{o}|s", "question", "resident", "popup.invalid"),
    ("old rating not on it", "fb:{t}:s", "question", "reporter", "popup.invalid"),
    ("old rating, garbled", "fb:{t}:s:extra", "question", "reporter", "popup.invalid"),
    ("offer on a receipt", "v1|of|1|0", "receipt", "officer", "popup.invalid"),
    ("offer on a list", "v1|of|1|0", "list", "officer", "popup.invalid"),
    ("offer choice 00", "v1|of|1|00", "receipt", "officer", "popup.invalid"),
    ("offer choice 3", "v1|of|1|3", "receipt", "officer", "popup.invalid"),
    ("offer 0", "v1|of|0|0", "receipt", "officer", "popup.invalid"),
]


@pytest.mark.parametrize(
    ("data", "where", "presser", "popup"),
    [case[1:] for case in FORGED],
    ids=[case[0] for case in FORGED],
)
async def test_forged_presses_change_nothing(
    bot: Harness, data: str, where: str, presser: str, popup: str
) -> None:
    w = await world(bot)
    # a second open ticket of the reporter's whose receipt keeps its buttons
    _, ticket = await bot.report(w.grid, w.reporter, "#噪音 5号楼晚上装修")
    messages = {
        "receipt": receipt_of(bot, w, ticket),
        "list": await list_message(bot, w.grid, w.officer),
        "question": await question(bot, w),
    }
    data = data.format(t=ticket.id if where != "question" else w.ticket.id, o=w.original.id)
    before = await snapshot(bot, w.grid, w.other_grid)
    answer, methods = await forge(bot, messages[where], getattr(w, presser), data)
    assert answer == TEXTS(popup), answer
    assert methods <= READ_ONLY, methods
    assert await snapshot(bot, w.grid, w.other_grid) == before


async def test_a_message_claiming_a_button_is_still_checked(bot: Harness) -> None:
    """Even if the message itself were forged to carry the button, the kind of message
    decides: a take only on that ticket's receipt, a page never on a receipt."""
    w = await world(bot)
    listing = await list_message(bot, w.grid, w.officer)
    receipt = receipt_of(bot, w, w.ticket)
    for message, data in [
        (listing, encode(TicketPress("take", w.ticket.id))),
        (receipt, encode(PagePress("open", 2))),
        (receipt, encode(TicketPress("take", 99999))),
        (receipt, encode(TicketPress("merge", w.ticket.id, 99999))),
        (receipt, encode(RatingPress(w.ticket.id, "u"))),
    ]:
        claimed = {
            **message,
            "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": data}]]},
        }
        before = await snapshot(bot, w.grid)
        who = w.reporter if data.startswith("v1|fb") else w.officer
        answer, methods = await forge(bot, claimed, who, data)
        assert answer == TEXTS("popup.invalid") and methods <= READ_ONLY, (data, answer, methods)
        assert await snapshot(bot, w.grid) == before, data


async def test_a_receipt_too_old_to_show_still_works_for_its_officers_only(bot: Harness) -> None:
    """Telegram sends an InaccessibleMessage (date 0) for old messages: no buttons to compare,
    so the receipt itself must be the ticket's, and the presser's role decides."""
    w = await world(bot)
    receipt = receipt_of(bot, w, w.ticket)
    old = {"chat": w.grid.to_dict(), "message_id": receipt["message_id"], "date": 0}
    take = encode(TicketPress("take", w.ticket.id))
    before = await snapshot(bot, w.grid)
    answer, _ = await forge(bot, old, w.resident, take)
    assert answer == TEXTS("popup.not_allowed")
    answer, _ = await forge(
        bot, {**old, "message_id": receipt["message_id"] + 1000}, w.officer, take
    )
    assert answer == TEXTS("popup.invalid")
    assert await snapshot(bot, w.grid) == before
    listing = await list_message(bot, w.grid, w.officer)
    page = {"chat": w.grid.to_dict(), "message_id": listing["message_id"], "date": 0}
    answer, _ = await forge(bot, page, w.officer, encode(PagePress("open", 2)))
    assert answer == TEXTS("popup.outdated")
    answer, _ = await forge(bot, old, w.officer, take)
    assert answer.startswith("已完成") and (await bot.fresh(w.ticket)).status == "accepted"


async def test_a_question_from_the_last_release_can_still_be_answered(bot: Harness) -> None:
    """A 回访 queued before the upgrade carries ``fb:<id>:<s|b|u>``: the reporter can still
    rate with it (bot.callbacks explains why), and nobody else can."""
    w = await world(bot)
    await bot.say(w.grid, w.officer, f"/done {w.ticket.id} 灯已换好")
    legacy = [[["满意", f"fb:{w.ticket.id}:s"], ["不满意", f"fb:{w.ticket.id}:u"]]]
    await bot.storage.outbox.add(
        OutboxDraft(
            chat_id=w.grid.id,
            kind="followup",
            text=f"您反映的问题（工单 {w.ticket.id}）已经办结，请问您对处理结果满意吗？",
            payload={"reply_to": w.report["message_id"], "keyboard": legacy},
            ticket_id=w.ticket.id,
            dedupe_key=f"legacy:{w.ticket.id}",
            not_before=bot.clock.now(),
        ),
        bot.clock.now(),
    )
    await bot.flush()
    ask = next(m for m in bot.sim.bot_messages(w.grid.id) if "满意吗" in m.get("text", ""))
    before = await snapshot(bot, w.grid)
    answer = await press(bot, w.grid, ask["message_id"], w.resident, f"fb:{w.ticket.id}:u")
    assert answer == TEXTS("popup.not_reporter")
    assert await snapshot(bot, w.grid) == before
    answer = await press(bot, w.grid, ask["message_id"], w.reporter, f"fb:{w.ticket.id}:u")
    assert answer == TEXTS("popup.rated")
    assert (await bot.fresh(w.ticket)).status == "accepted"


async def test_an_old_receipt_button_gets_a_polite_popup(bot: Harness) -> None:
    """A receipt from the last release carries ``tk:take:<id>``: not acted upon, answered."""
    w = await world(bot)
    receipt = receipt_of(bot, w, w.ticket)
    old_markup = {
        "inline_keyboard": [[{"text": "接单", "callback_data": f"tk:take:{w.ticket.id}"}]]
    }
    old_receipt = {**receipt, "reply_markup": old_markup}
    before = await snapshot(bot, w.grid)
    answer, methods = await forge(bot, old_receipt, w.officer, f"tk:take:{w.ticket.id}")
    assert answer == TEXTS("popup.outdated") and "过期" in answer and methods <= READ_ONLY
    assert await snapshot(bot, w.grid) == before


# -- the data itself (pure) ---------------------------------------------------------------------

BIGGEST = [
    TicketPress("merge", 10**12 - 1, 10**12 - 2),
    TicketPress("take", 10**12 - 1),
    PagePress("c." + "k" * 40, callbacks.MAX_PAGE),
    PagePress("overdue", callbacks.MAX_PAGE),
    RatingPress(10**12 - 1, "u"),
    OfferPress(10**12 - 1, callbacks.MAX_OFFER_CHOICES - 1),
    AnswerPress("ask", 10**12 - 1),
    AnswerPress("pick", 10**12 - 1, 10**12 - 1),
    AnswerPress("send", 10**12 - 1, 10**12 - 1),
    AnswerPress("edit", 10**12 - 1, 0),
    AnswerPress("write", 10**12 - 1, action="progress"),
    AnswerPress("back", 10**12 - 1),
]


@pytest.mark.parametrize("press_", BIGGEST, ids=repr)
def test_every_encoding_fits_telegrams_64_bytes_and_parses_back(
    press_: TicketPress | PagePress | RatingPress | OfferPress | AnswerPress,
) -> None:
    data = encode(press_)
    assert len(data.encode()) <= MAX_BYTES and data.startswith("v1|")
    assert parse(data) == press_


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: TicketPress("take", 0), "out of range"),
        (lambda: TicketPress("take", 10**12), "out of range"),
        (lambda: TicketPress("merge", 1), "only merge"),
        (lambda: TicketPress("done", 1, 2), "only merge"),
        (lambda: TicketPress("merge", 1, 1), "itself"),
        (lambda: PagePress("open", 0), "out of range"),
        (lambda: PagePress("open", -1), "out of range"),
        (lambda: PagePress("open", callbacks.MAX_PAGE + 1), "out of range"),
        (lambda: PagePress("c." + "k" * 41, 1), "scope"),
        (lambda: PagePress("c.电梯", 1), "scope"),
        (lambda: RatingPress(1, "x"), "rating"),  # type: ignore[arg-type]
        (lambda: OfferPress(0, 0), "out of range"),
        (lambda: OfferPress(1, callbacks.MAX_OFFER_CHOICES), "out of range"),
        (lambda: OfferPress(1, -1), "out of range"),
        (lambda: AnswerPress("ask", 0), "out of range"),
        (lambda: AnswerPress("pick", 1), "out of range"),  # a preview names its template
        (lambda: AnswerPress("send", 1, -1), "out of range"),
        (lambda: AnswerPress("back", 1, 5), "names no template"),
        (lambda: AnswerPress("write", 1), "only write"),
        (lambda: AnswerPress("ask", 1, action="done"), "only write"),
        (lambda: AnswerPress("write", 1, action="take"), "answer action"),  # type: ignore[arg-type]
        (lambda: AnswerPress("reply", 1), "answer step"),  # type: ignore[arg-type]
    ],
)
def test_presses_that_could_not_be_sent_cannot_be_made(make: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        make()


@pytest.mark.parametrize(
    "data",
    [
        "v1|an|0",
        "v1|an|012",
        "v1|an|pick|12|0",  # a preview names its template
        "v1|an|pick|12",
        "v1|an|send|12|05",
        "v1|an|back|12|0",
        "v1|an|write|12|take",
        "v1|an|write|12",
        "v1|an|ask|12",  # the receipt's 💬 is v1|an|12
        "v1|an|12|3",
    ],
)
def test_ready_answer_data_we_never_send_is_invalid(data: str) -> None:
    assert isinstance(parse(data), Invalid)


def test_the_ready_answer_actions_are_bot_answers_actions() -> None:
    assert get_args(callbacks.AnswerAction) == answers.ACTIONS


def test_a_list_whose_scope_no_button_can_carry_gets_no_buttons() -> None:
    assert page_keyboard("c.电梯", 1, 3, TEXTS) is None
    markup = page_keyboard("c.elevator", 2, 3, TEXTS)
    assert markup is not None
    assert [b.callback_data for b in markup.inline_keyboard[0]] == [
        "v1|ls|c.elevator|1",
        "v1|ls|c.elevator|3",
    ]


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
def test_parse_never_raises_and_accepts_only_what_encode_makes(data: str) -> None:
    parsed = parse(data)
    if isinstance(parsed, Outdated | Invalid):
        return
    legacy = data.startswith("fb:")  # the last release's 回访 data, still accepted
    assert encode(parsed) == data or (legacy and isinstance(parsed, RatingPress))


@given(
    st.one_of(
        st.builds(TicketPress, st.sampled_from(["take", "done"]), st.integers(1, 10**12 - 1)),
        st.builds(
            PagePress,
            st.sampled_from(["open", "overdue", "mine", "all", "c.repair", "c.my-key_2"]),
            st.integers(1, callbacks.MAX_PAGE),
        ),
        st.builds(RatingPress, st.integers(1, 10**12 - 1), st.sampled_from(["s", "b", "u"])),
        st.builds(OfferPress, st.integers(1, 10**12 - 1), st.integers(0, 2)),
        st.builds(
            AnswerPress,
            st.sampled_from(["send", "edit"]),
            st.integers(1, 10**12 - 1),
            st.integers(0, 10**12 - 1),
        ),
        st.builds(
            AnswerPress,
            st.sampled_from(["ask", "back"]),
            st.integers(1, 10**12 - 1),
        ),
        st.builds(
            AnswerPress,
            st.just("write"),
            st.integers(1, 10**12 - 1),
            action=st.sampled_from(["open", "progress", "done", "reject"]),
        ),
    )
)
def test_round_trip(
    press_: TicketPress | PagePress | RatingPress | OfferPress | AnswerPress,
) -> None:
    data = encode(press_)
    assert len(data.encode()) <= MAX_BYTES and parse(data) == press_
