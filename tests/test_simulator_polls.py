"""The simulator's polls (sendPoll, users answering, stopPoll, poll/poll_answer updates), ForceReply
and the other markups a client shows, answerCallbackQuery's url, copy_text buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from telegram import (
    Bot,
    CopyTextButton,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    Poll,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, RetryAfter

from bot.launcher import BotProcess
from bot.simulator import RateLimits, SimServer, Simulator, start_server
from tests import e2e
from tests.e2e import Live
from tests.harness import harness
from tests.test_simulator_api import World, build_world, http_bot, inprocess_bot, unknown_fields

JSON = dict[str, Any]
OPTIONS = ["同意", "不同意", "弃权"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Simulator:
    return Simulator(wall_clock=clock)


@pytest.fixture
def world(sim: Simulator) -> World:
    return build_world(sim)


@pytest.fixture(params=["in-process", "http"])
async def any_bot(request: pytest.FixtureRequest, sim: Simulator) -> AsyncIterator[Bot]:
    if request.param == "in-process":
        async with inprocess_bot(sim) as running:
            yield running
        return
    server = await start_server(sim)
    try:
        async with http_bot(sim, server) as running:
            yield running
    finally:
        await server.stop()


@pytest.fixture
async def bot(sim: Simulator) -> AsyncIterator[Bot]:
    async with inprocess_bot(sim) as running:
        yield running


@pytest.fixture
async def server(sim: Simulator) -> AsyncIterator[SimServer]:
    running = await start_server(sim)
    try:
        yield running
    finally:
        await running.stop()


async def fetch(bot: Bot, allowed: list[str] | None = None) -> list[Update]:
    """Fetch and confirm everything pending."""
    updates = list(await bot.get_updates(timeout=0, allowed_updates=allowed))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


async def send_vote(bot: Bot, world: World, **kwargs: Any) -> int:
    """A non-anonymous 同意/不同意/弃权 poll in the group; its message id (updates drained)."""
    message = await bot.send_poll(
        world.group.id, "3号楼2单元凉房改造", OPTIONS, is_anonymous=False, **kwargs
    )
    await fetch(bot)
    return message.message_id


# ==================================================================================== sendPoll


async def test_send_poll_returns_a_message_with_the_poll(any_bot: Bot, world: World) -> None:
    message = await any_bot.send_poll(
        world.group.id,
        "3号楼2单元凉房改造",
        [InputPollOption("同意"), "不同意", InputPollOption("弃权")],
        is_anonymous=False,
    )
    poll = message.poll
    assert poll is not None
    assert unknown_fields(message) == []
    assert poll.question == "3号楼2单元凉房改造"
    assert [o.text for o in poll.options] == OPTIONS
    assert [o.voter_count for o in poll.options] == [0, 0, 0]
    assert (poll.total_voter_count, poll.is_closed, poll.is_anonymous) == (0, False, False)
    assert (poll.type, poll.allows_multiple_answers) == (Poll.REGULAR, False)
    assert poll.id.isdigit()
    assert message.from_user is not None and message.from_user.id == world.sim.bot.id
    other = await any_bot.send_poll(world.group.id, "再问一次", ["是", "否"])
    assert other.poll is not None and other.poll.id != poll.id
    assert other.poll.is_anonymous is True  # Telegram's default
    assert [m["message_id"] for m in world.sim.poll_messages(world.group)] == [
        message.message_id,
        other.message_id,
    ]


async def test_send_poll_in_a_topic_and_as_a_reply(bot: Bot, sim: Simulator, world: World) -> None:
    forum = sim.add_group("议事厅", forum=True)
    sim.set_member(forum, world.admin, "creator")
    sim.add_bot(forum, by=world.admin)
    topic = sim.create_topic(forum, "议事")
    message = await bot.send_poll(forum.id, "装电梯吗", ["装", "不装"], message_thread_id=topic)
    assert message.message_thread_id == topic and message.is_topic_message
    asked = sim.send_text(world.group, world.resident, "/vote 装电梯吗")
    reply = await bot.send_poll(
        world.group.id,
        "装电梯吗",
        ["装", "不装"],
        reply_to_message_id=asked["message_id"],
        disable_notification=True,
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == asked["message_id"]
    assert sim.replies_to(world.group, asked["message_id"])[0]["poll"]["question"] == "装电梯吗"


@pytest.mark.parametrize(
    ("question", "options", "error"),
    [
        ("  ", ["a", "b"], "poll question must be non-empty"),
        ("问" * 301, ["a", "b"], "poll question length must not exceed 300"),
        ("q", ["a"], "poll must have at least 2 option"),
        ("q", [str(n) for n in range(13)], "poll can't have more than 12 options"),
        ("q", ["a", " "], "poll options must be non-empty"),
        ("q", ["a", "长" * 101], "poll options length must not exceed 100"),
        ("q", ["a", "a"], "POLL_OPTION_DUPLICATE"),
    ],
)
async def test_send_poll_validation(
    bot: Bot, world: World, question: str, options: list[str], error: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_poll(world.group.id, question, options)
    assert caught.value.message.lower() == error.lower()
    assert world.sim.poll_messages(world.group) == []


async def test_send_poll_limits_that_pass(bot: Bot, world: World) -> None:
    message = await bot.send_poll(
        world.group.id, "问" * 300, ["长" * 100, *[str(n) for n in range(11)]]
    )
    assert message.poll is not None and len(message.poll.options) == 12


async def test_quiz_is_refused_and_open_period_is_checked(bot: Bot, world: World) -> None:
    with pytest.raises(BadRequest, match=r"(?i)quiz"):
        await bot.send_poll(world.group.id, "q", ["a", "b"], type=Poll.QUIZ, correct_option_ids=[0])
    with pytest.raises(BadRequest):
        await bot.send_poll(world.group.id, "q", ["a", "b"], open_period=2)


async def test_send_poll_counts_against_flood_limits(
    bot: Bot, sim: Simulator, world: World
) -> None:
    sim.limits = RateLimits(per_group_per_minute=2)
    await bot.send_message(world.group.id, "一")
    await bot.send_poll(world.group.id, "q", ["a", "b"])
    with pytest.raises(RetryAfter):
        await bot.send_poll(world.group.id, "q", ["a", "b"])
    assert len(sim.poll_messages(world.group)) == 1


# ==================================================================================== answering


async def test_answer_retract_and_change_with_updates(
    any_bot: Bot, sim: Simulator, world: World
) -> None:
    message_id = await send_vote(any_bot, world)
    poll = sim.answer_poll(world.group, message_id, world.resident, [0])
    assert [o["voter_count"] for o in poll["options"]] == [1, 0, 0]
    assert poll["total_voter_count"] == 1
    assert sim.poll_messages(world.group)[0]["poll"]["total_voter_count"] == 1  # the live message

    updates = await fetch(any_bot)
    assert [u.effective_chat for u in updates] == [None, None]
    answer, state = updates[0].poll_answer, updates[1].poll
    assert answer is not None and state is not None
    assert all(unknown_fields(u) == [] for u in updates)
    assert answer.poll_id == state.id
    assert answer.user is not None and answer.user.id == world.resident.id
    assert answer.voter_chat is None
    assert answer.option_ids == (0,)
    assert [o.voter_count for o in state.options] == [1, 0, 0]

    sim.answer_poll(world.group, message_id, world.resident, [])  # retraction
    updates = await fetch(any_bot)
    assert updates[0].poll_answer is not None and updates[0].poll_answer.option_ids == ()
    assert updates[1].poll is not None and updates[1].poll.total_voter_count == 0

    sim.answer_poll(world.group, state.id, world.resident, [1])  # by poll id
    sim.answer_poll(world.group, message_id, world.admin, [2])
    poll = sim.answer_poll(world.group, message_id, world.resident, [2])  # a change
    assert [o["voter_count"] for o in poll["options"]] == [0, 0, 2]
    answers = [u.poll_answer for u in await fetch(any_bot) if u.poll_answer]
    assert [(a.user.id if a.user else 0, a.option_ids) for a in answers] == [
        (world.resident.id, (1,)),
        (world.admin.id, (2,)),
        (world.resident.id, (2,)),
    ]


async def test_answers_the_client_would_not_allow_are_refused(
    bot: Bot, sim: Simulator, world: World
) -> None:
    message_id = await send_vote(bot, world)
    with pytest.raises(ValueError, match="one option"):
        sim.answer_poll(world.group, message_id, world.resident, [0, 1])
    with pytest.raises(ValueError, match="nothing to retract"):
        sim.answer_poll(world.group, message_id, world.resident, [])
    with pytest.raises(ValueError, match=r"options 0\.\.2"):
        sim.answer_poll(world.group, message_id, world.resident, [3])
    sim.answer_poll(world.group, message_id, world.resident, [0])
    with pytest.raises(ValueError, match="already chose"):
        sim.answer_poll(world.group, message_id, world.resident, [0])
    with pytest.raises(ValueError, match="not a bot's poll"):
        sim.answer_poll(world.group, message_id + 100, world.resident, [0])
    stranger = sim.add_user("路人")
    with pytest.raises(ValueError, match="not a bot's poll"):
        sim.answer_poll(world.private, message_id, stranger, [0])
    fixed = await bot.send_poll(world.group.id, "q", ["a", "b"], allows_revoting=False)
    sim.answer_poll(world.group, fixed.message_id, world.resident, [1])
    with pytest.raises(ValueError, match="does not allow changing"):
        sim.answer_poll(world.group, fixed.message_id, world.resident, [0])


async def test_multiple_answers(bot: Bot, sim: Simulator, world: World) -> None:
    message = await bot.send_poll(
        world.group.id, "哪天开会", ["周一", "周二", "周三"], allows_multiple_answers=True
    )
    poll = sim.answer_poll(world.group, message.message_id, world.resident, [2, 0])
    assert [o["voter_count"] for o in poll["options"]] == [1, 0, 1]
    assert poll["total_voter_count"] == 1


async def test_anonymous_poll_gives_only_poll_updates(
    bot: Bot, sim: Simulator, world: World
) -> None:
    message = await bot.send_poll(world.group.id, "q", ["a", "b"])
    await fetch(bot)
    sim.answer_poll(world.group, message.message_id, world.resident, [1])
    updates = await fetch(bot)
    assert [u.poll is not None for u in updates] == [True]


async def test_anonymous_admin_votes_as_the_chat(bot: Bot, sim: Simulator, world: World) -> None:
    message_id = await send_vote(bot, world)
    hidden = sim.add_user("匿名管理员")
    sim.set_member(world.group, hidden, "administrator", is_anonymous=True)
    await fetch(bot)
    sim.answer_poll(world.group, message_id, hidden, [0])
    answer = (await fetch(bot))[0].poll_answer
    assert answer is not None and answer.voter_chat is not None
    assert answer.voter_chat.id == world.group.id
    assert answer.user is not None and answer.user.id == 136817688  # Telegram's placeholder
    assert answer.option_ids == (0,)


async def test_allowed_updates_filter_poll_updates(bot: Bot, sim: Simulator, world: World) -> None:
    message_id = await send_vote(bot, world)
    await fetch(bot, ["message", "poll_answer"])
    sim.answer_poll(world.group, message_id, world.resident, [0])
    updates = await fetch(bot)  # allowed_updates persists
    assert [u.poll_answer is not None for u in updates] == [True]
    await fetch(bot, ["poll"])
    sim.answer_poll(world.group, message_id, world.admin, [1])
    updates = await fetch(bot)
    assert [u.poll is not None for u in updates] == [True]


# ==================================================================================== stopPoll


async def test_stop_poll(any_bot: Bot, sim: Simulator, world: World) -> None:
    message_id = await send_vote(any_bot, world)
    sim.answer_poll(world.group, message_id, world.resident, [0])
    await fetch(any_bot)
    stopped = await any_bot.stop_poll(world.group.id, message_id)
    assert stopped.is_closed is True
    assert [o.voter_count for o in stopped.options] == [1, 0, 0]
    assert unknown_fields(stopped) == []
    assert sim.poll_messages(world.group)[0]["poll"]["is_closed"] is True
    updates = await fetch(any_bot)
    assert len(updates) == 1 and updates[0].poll is not None and updates[0].poll.is_closed
    with pytest.raises(ValueError, match="closed"):
        sim.answer_poll(world.group, message_id, world.admin, [1])
    with pytest.raises(BadRequest, match=r"(?i)poll has already been closed"):
        await any_bot.stop_poll(world.group.id, message_id)


async def test_stop_poll_errors(bot: Bot, sim: Simulator, world: World) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message to stop poll not found"):
        await bot.stop_poll(world.group.id, 9999)
    text = await bot.send_message(world.group.id, "不是投票")
    with pytest.raises(BadRequest, match=r"(?i)message is not a poll"):
        await bot.stop_poll(world.group.id, text.message_id)
    poll = await bot.send_poll(world.group.id, "q", ["a", "b"])
    await bot.delete_message(world.group.id, poll.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to stop poll not found"):
        await bot.stop_poll(world.group.id, poll.message_id)
    with pytest.raises(ValueError, match="deleted"):
        sim.answer_poll(world.group, poll.message_id, world.resident, [0])
    assert sim.poll_messages(world.group) == []


async def test_stop_poll_sets_or_removes_the_keyboard(
    bot: Bot, sim: Simulator, world: World
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("看结果", callback_data="v1|vote|1")]])
    message = await bot.send_poll(world.group.id, "q", ["a", "b"], reply_markup=keyboard)
    assert message.reply_markup == keyboard
    await bot.stop_poll(world.group.id, message.message_id)
    assert "reply_markup" not in sim.poll_messages(world.group)[0]


async def test_open_period_closes_the_poll(
    bot: Bot, sim: Simulator, world: World, clock: Clock
) -> None:
    message = await bot.send_poll(world.group.id, "q", ["a", "b"], open_period=60)
    assert message.poll is not None and message.poll.open_period is not None
    await fetch(bot)
    clock.now += 61
    updates = await fetch(bot)
    assert len(updates) == 1 and updates[0].poll is not None and updates[0].poll.is_closed
    with pytest.raises(ValueError, match="closed"):
        sim.answer_poll(world.group, message.message_id, world.resident, [0])


# ==================================================================================== control


async def test_control_answer_poll_and_polls(
    bot: Bot, sim: Simulator, world: World, server: SimServer
) -> None:
    message_id = await send_vote(bot, world)
    async with aiohttp.ClientSession() as session:
        body = {
            "chat_id": world.group.id,
            "message_id": message_id,
            "user_id": world.resident.id,
            "option_ids": [1],
        }
        async with session.post(f"{server.control_url}/answer_poll", json=body) as response:
            answer = await response.json()
        assert answer["ok"] and answer["result"]["options"][1]["voter_count"] == 1
        poll_id = answer["result"]["id"]
        retract = {**body, "option_ids": [], "message_id": None, "poll_id": poll_id}
        async with session.post(f"{server.control_url}/answer_poll", json=retract) as response:
            assert (await response.json())["result"]["total_voter_count"] == 0
        async with session.post(f"{server.control_url}/answer_poll", json=retract) as response:
            refused = await response.json()
        assert response.status == 400 and "nothing to retract" in refused["error"]
        query = {"chat_id": world.group.id}
        async with session.get(f"{server.control_url}/polls", params=query) as response:
            polls = (await response.json())["result"]
        assert [m["message_id"] for m in polls] == [message_id]
    answers = [u.poll_answer for u in await fetch(bot) if u.poll_answer]
    assert [a.option_ids for a in answers] == [(1,), ()]


# ==================================================================================== markups


async def test_force_reply_is_accepted_and_kept_aside(
    any_bot: Bot, sim: Simulator, world: World
) -> None:
    markup = ForceReply(selective=True, input_field_placeholder="例如 3-2-501")
    message = await any_bot.send_message(world.group.id, "请回复房号", reply_markup=markup)
    assert message.reply_markup is None  # Telegram's Message carries inline keyboards only
    shown = sim.reply_markup_of(world.group, message.message_id)
    assert shown == {
        "force_reply": True,
        "selective": True,
        "input_field_placeholder": "例如 3-2-501",
    }
    removed = await any_bot.send_message(world.group.id, "好", reply_markup=ReplyKeyboardRemove())
    assert sim.reply_markup_of(world.group, removed.message_id) == {"remove_keyboard": True}
    with pytest.raises(BadRequest, match=r"(?i)placeholder"):
        await any_bot.send_message(
            world.group.id, "x", reply_markup=ForceReply(input_field_placeholder="长" * 65)
        )


async def test_copy_text_buttons(bot: Bot, sim: Simulator, world: World) -> None:
    button = InlineKeyboardButton("复制房号", copy_text=CopyTextButton("3-2-501"))
    message = await bot.send_message(
        world.private.id, "房号", reply_markup=InlineKeyboardMarkup([[button]])
    )
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].copy_text == CopyTextButton("3-2-501")
    assert sim.reply_markup_of(world.private, message.message_id) == {
        "inline_keyboard": [[{"text": "复制房号", "copy_text": {"text": "3-2-501"}}]]
    }
    too_long = InlineKeyboardButton("复制", copy_text=CopyTextButton("x" * 257))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_COPY_TEXT_INVALID"):
        await bot.send_message(
            world.private.id, "房号", reply_markup=InlineKeyboardMarkup([[too_long]])
        )


async def test_answer_callback_query_url(any_bot: Bot, sim: Simulator, world: World) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("投票", callback_data="v1|vote|1")]])
    message = await any_bot.send_message(world.group.id, "议事", reply_markup=keyboard)
    first = sim.press_button(world.group, message.message_id, world.resident, "v1|vote|1")
    url = "https://t.me/linlitong_bot?start=vote_1"
    assert await any_bot.answer_callback_query(first, url=url) is True
    assert sim.callback_answers[first]["url"] == url
    second = sim.press_button(world.group, message.message_id, world.resident, "v1|vote|1")
    for wrong in ("https://example.com/", "https://t.me/other_bot?start=x", "t.me/linlitong_bot"):
        with pytest.raises(BadRequest, match=r"(?i)URL_INVALID"):
            await any_bot.answer_callback_query(second, url=wrong)
    assert await any_bot.answer_callback_query(second, url="t.me/LinliTong_bot?start=a-b_c")


# ==================================================================================== harnesses


async def test_harness_vote_and_polls(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        resident = h.sim.add_user("王阿姨")
        chat = h.group("北瑞小区一网格", resident)
        await h.drain()
        message = await h.app.bot.send_poll(chat.id, "凉房改造", OPTIONS, is_anonymous=False)
        assert [m["message_id"] for m in h.polls(chat)] == [message.message_id]
        state = await h.vote(chat, message.message_id, resident, "不同意")
        assert state["options"][1]["voter_count"] == 1
        assert h.sim.pending_updates() == 0  # the bot took the poll_answer and poll updates
        assert [u.poll_answer.option_ids for u in h.processed if u.poll_answer] == [(1,)]
        await h.vote(chat, h.polls(chat)[0], resident)  # retract
        assert h.polls(chat)[0]["poll"]["total_voter_count"] == 0


async def test_e2e_vote_goes_through_the_control_api(
    sim: Simulator, world: World, bot: Bot, server: SimServer
) -> None:
    message_id = await send_vote(bot, world)
    live = Live(sim, server, cast(BotProcess, None), start=cast(Any, None))
    state = await e2e.vote(live, world.group, message_id, world.resident, 2)
    assert state["options"][2]["voter_count"] == 1
    assert [m["message_id"] for m in e2e.polls(sim, world.group)] == [message_id]
    with pytest.raises(AssertionError, match="nothing to retract"):
        await e2e.vote(live, world.group, state["id"], world.admin)
