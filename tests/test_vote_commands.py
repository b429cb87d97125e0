"""议事's Telegram side (handlers/votes.py): /room, /vote and the answers to the bot's polls,
who may do what, what a group reads and what only officers read in private.

Driven through the simulator the way Telegram drives the bot (tests/harness.py); the count
itself is tested as a table with the domain (bot/votes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.fit import plain
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage import GridInfo
from storage.vocabulary import MemberStatus
from tests.harness import Harness

JSON = dict[str, Any]
TEXTS = Texts("zh")
TZ = ZoneInfo("Asia/Shanghai")  # the harness's time zone
ROOM_LINK = "https://t.me/linlitong_bot?start=room"  # shown as a link: plain() drops it


def said(key: str, **values: object) -> str:
    """A catalogue text as the chat shows it (tags parsed away)."""
    return plain(TEXTS(key, **values))


@dataclass
class Stair:
    """北瑞小区一网格: its officer (an admin of the group), residents of 3号楼2单元 (王阿姨 and
    李叔 live together in 501), a newcomer who gave no room, the officer's private chat."""

    group: SimChat
    officer: SimUser
    wang: SimUser
    li: SimUser
    zhao: SimUser
    chen: SimUser
    grid: GridInfo
    private: SimChat


async def stair(bot: Harness) -> Stair:
    names = ("刘网格员", "王阿姨", "李叔", "赵奶奶", "陈先生")
    officer, wang, li, zhao, chen = (bot.sim.add_user(n) for n in names)
    group = await bot.grid("北瑞小区一网格", wang, li, zhao, chen)
    bot.sim.set_member(group, officer, "administrator")
    private = bot.sim.private_chat(officer)
    await bot.say(private, officer, "/start")  # split flags and details reach him privately
    for person in (wang, li, zhao, chen):
        await bot.say(bot.sim.private_chat(person), person, "/start")
    (grid,) = await bot.storage.grids.grids()
    return Stair(group, officer, wang, li, zhao, chen, grid, private)


async def ask(bot: Harness, chat: SimChat, user: SimUser, text: str, **kw: Any) -> str:
    """``user`` writes ``text`` in ``chat``; the bot's one reply, as shown."""
    message = await bot.say(chat, user, text, **kw)
    return bot.reply_text(chat, message)


def links_of(message: JSON) -> list[str]:
    """The addresses of a message's text links."""
    return [str(e["url"]) for e in message.get("entities", []) if e.get("type") == "text_link"]


def texts_in(bot: Harness, chat: SimChat) -> list[str]:
    return [str(m.get("text", "")) for m in bot.sim.bot_messages(chat.id)]


async def tie_all(bot: Harness, place: Stair) -> None:
    """王阿姨 and 李叔 in 3-2-501, 赵奶奶 in 3-2-502, officer adds 3-2-503 (no Telegram)."""
    for person, room in (
        (place.wang, "3-2-501"),
        (place.li, "3号楼2单元501"),
        (place.zhao, "3-2-502"),
    ):
        answer = await ask(bot, place.group, person, f"/room {room}")
        assert answer.startswith("✅ 已登记"), answer
    answer = await ask(bot, place.group, place.officer, "/room add 3-2-503")
    assert answer.startswith("✅ 新添加 1 户"), answer


# -- /room ------------------------------------------------------------------------------------


async def test_residents_tie_themselves_in_the_group_or_in_private(bot: Harness) -> None:
    place = await stair(bot)
    wang_private = bot.sim.private_chat(place.wang)
    answer = await ask(bot, place.group, place.wang, "/room 3号楼2单元501室")
    # the group reads that it is done; her room goes to her private chat
    assert answer == said("votes.room_group_done", done=said("votes.done_claimed"), link=ROOM_LINK)
    assert "501" not in answer
    assert texts_in(bot, wang_private)[-1] == said("votes.room_tied", label="3-2-501")
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None
    assert (tied[0].label, tied[1].status) == ("3-2-501", MemberStatus.CLAIMED)
    # a move in the group: neither room in the group
    answer = await ask(bot, place.group, place.wang, "/room 3-2-502")
    assert "501" not in answer and "502" not in answer
    assert "原登记 3-2-501" in texts_in(bot, wang_private)[-1]
    await ask(bot, place.group, place.wang, "/room 3-2-501")
    # /room alone in the group: that she has one, not which
    answer = await ask(bot, place.group, place.wang, "/room")
    assert "3-2-501" not in answer
    assert answer == said(
        "votes.room_mine_group", status=said("votes.room_claimed_word"), link=ROOM_LINK
    )
    # …and in private, which
    answer = await ask(bot, wang_private, place.wang, "/room")
    assert "3-2-501" in answer and "待网格员确认" in answer
    # in private, a new room: her one grid group is found, and she moves
    answer = await ask(bot, wang_private, place.wang, "/room ３－２－６０１")
    assert answer.startswith(said("votes.room_tied", label="3-2-601"))
    assert "原登记 3-2-501" in answer
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None and tied[0].label == "3-2-601"
    # someone in no grid group is told to join one
    stranger = bot.sim.add_user("路人")
    answer = await ask(bot, bot.sim.private_chat(stranger), stranger, "/room 3-2-501")
    assert answer == said("votes.room_no_group")
    # nobody tied yet
    answer = await ask(bot, place.group, place.li, "/room")
    assert answer == said("votes.room_none", link=ROOM_LINK)
    assert await ask(bot, bot.sim.private_chat(place.li), place.li, "/room") == said(
        "votes.room_none_private"
    )


async def test_a_resident_without_a_private_chat_reads_no_room_in_the_group(
    bot: Harness,
) -> None:
    place = await stair(bot)
    newcomer = bot.sim.add_user("孙阿姨")  # never wrote to the bot
    bot.sim.set_member(place.group, newcomer, "member")
    message = await bot.say(place.group, newcomer, "/room 3-2-601")
    (reply,) = bot.replies(place.group, message)
    answer = str(reply["text"])
    assert answer == said("votes.room_group_no_dm", done=said("votes.done_claimed"), link=ROOM_LINK)
    assert "601" not in answer
    assert links_of(reply) == [ROOM_LINK]
    tied = await bot.storage.votes.household_of(place.grid.id, newcomer.id)
    assert tied is not None and tied[0].label == "3-2-601"
    # the link opens the private chat with /room's usage: /start room
    private = bot.sim.private_chat(newcomer)
    assert await ask(bot, private, newcomer, "/start room") == said("votes.room_start")
    assert "/start room" not in said("votes.room_start")


async def test_officers_confirm_or_set_a_room_by_replying(bot: Harness) -> None:
    place = await stair(bot)
    claim = await bot.say(place.group, place.wang, "/room 3-2-501")
    answer = await ask(bot, place.group, place.officer, "/room", reply_to=claim["message_id"])
    # the group: done, no name, no room; the officer in private: who and which
    assert answer == said(
        "votes.room_group_done", done=said("votes.done_confirmed"), link=ROOM_LINK
    )
    assert texts_in(bot, place.private)[-1] == said(
        "votes.room_confirmed", name="王阿姨", label="3-2-501"
    )
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None and tied[1].status is MemberStatus.CONFIRMED
    # corrects 李叔, who wrote something else
    chat = await bot.say(place.group, place.li, "我家在五楼")
    answer = await ask(
        bot, place.group, place.officer, "/room 3-2-502", reply_to=chat["message_id"]
    )
    assert answer == said("votes.room_group_done", done=said("votes.done_set"), link=ROOM_LINK)
    assert "502" not in answer and "李叔" not in answer
    assert texts_in(bot, place.private)[-1] == said("votes.room_set", name="李叔", label="3-2-502")
    # nothing to confirm
    other = await bot.say(place.group, place.zhao, "大家好")
    answer = await ask(bot, place.group, place.officer, "/room", reply_to=other["message_id"])
    assert answer == said("votes.room_nothing_to_confirm")
    assert "赵奶奶" not in answer
    # a resident replying to a neighbour ties herself, never the neighbour
    await bot.say(place.group, place.zhao, "/room 3-2-504", reply_to=claim["message_id"])
    zhao_private = bot.sim.private_chat(place.zhao)
    assert texts_in(bot, zhao_private)[-1] == said("votes.room_tied", label="3-2-504")
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None and tied[0].label == "3-2-501"
    # someone working the grid (a deployment admin) who never started a private chat with the
    # bot: only the line, nothing of who or where
    answer = await ask(bot, place.group, bot.admin, "/room 3-2-503", reply_to=chat["message_id"])
    assert answer == said("votes.room_group_no_dm", done=said("votes.done_set"), link=ROOM_LINK)
    tied = await bot.storage.votes.household_of(place.grid.id, place.li.id)
    assert tied is not None and tied[0].label == "3-2-503"


async def test_in_a_forum_topic_the_topic_s_first_message_is_nobody(bot: Harness) -> None:
    officer, wang = bot.sim.add_user("刘网格员"), bot.sim.add_user("王阿姨")
    group = await bot.grid("北瑞", wang, forum=True)
    bot.sim.set_member(group, officer, "administrator")
    await bot.say(bot.sim.private_chat(officer), officer, "/start")
    thread = bot.sim.create_topic(group, "议事", by=wang)
    await bot.drain()
    (grid,) = await bot.storage.grids.grids()
    # the officer's /room in the topic is his own, not the topic creator's
    await bot.say(group, officer, "/room 3-2-601", thread_id=thread)
    mine = await bot.storage.votes.household_of(grid.id, officer.id)
    assert mine is not None and mine[0].label == "3-2-601"
    assert await bot.storage.votes.household_of(grid.id, wang.id) is None
    # bare /room: whether he has one, not a confirmation of the topic creator
    answer = await ask(bot, group, officer, "/room", thread_id=thread)
    assert answer == said(
        "votes.room_mine_group", status=said("votes.room_confirmed_word"), link=ROOM_LINK
    )
    # a real reply inside the topic still names its author
    said_ = await bot.say(group, wang, "我住3-2-602", thread_id=thread)
    await bot.say(group, officer, "/room 3-2-602", thread_id=thread, reply_to=said_["message_id"])
    hers = await bot.storage.votes.household_of(grid.id, wang.id)
    assert hers is not None and hers[0].label == "3-2-602"


async def test_room_add_and_list_names_only_to_officers_in_private(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    answer = await ask(bot, place.group, place.officer, "/room 添加 3-2-503 3-2-504")
    assert answer == said("votes.room_added", added=1, known=1, labels="3-2-503、3-2-504")
    assert await ask(bot, place.group, place.wang, "/room add 3-2-505") == said(
        "votes.room_officers_only"
    )
    # the group sees counts, whoever asks
    for person in (place.wang, place.officer):
        answer = await ask(bot, place.group, person, "/room list")
        assert answer == said("votes.room_counts", households=4, members=3, unconfirmed=3)
        assert "王阿姨" not in answer
    # a resident in private: refused; the officer: names, the unconfirmed marked
    wang_private = bot.sim.private_chat(place.wang)
    assert await ask(bot, wang_private, place.wang, "/room list") == said(
        "votes.room_officers_only"
    )
    listing = await ask(bot, place.private, place.officer, "/room list 3号楼2单元")
    assert "3-2-501：王阿姨（待确认）、李叔（待确认）" in listing
    assert "3-2-503：（无人登记）" in listing
    # a bad label: one polite reply with an example
    answer = await ask(bot, place.group, place.officer, "/room add 3-2-506 楼上")
    assert answer.startswith("抱歉，没能看懂") and "/room add 3-2-502 3-2-503" in answer
    assert await bot.storage.votes.household(place.grid.id, "3-2-506") is None
    answer = await ask(bot, place.group, place.wang, "/room 楼上那家")
    assert answer.startswith("抱歉，没能看懂") and "/room 3-2-501" in answer


# -- /vote: who, and malformed lines ------------------------------------------------------------


async def test_only_officers_start_close_or_proxy(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    refused = said("votes.officers_only")
    assert await ask(bot, place.group, place.wang, "/vote 凉房改造") == refused
    assert bot.polls(place.group) == []
    assert await ask(bot, place.private, place.officer, "/vote 凉房改造") == said(
        "votes.group_only"
    )
    await ask(bot, place.group, place.officer, "/vote 凉房改造")
    assert await ask(bot, place.group, place.wang, "/vote close 1") == refused
    wang_private = bot.sim.private_chat(place.wang)
    assert await ask(bot, wang_private, place.wang, "/vote 代投 1 3-2-503 同意") == refused
    assert await ask(bot, wang_private, place.wang, "/vote 结束 1") == refused
    vote = await bot.storage.votes.get(1)
    assert vote is not None and vote.is_open
    # an unbound group has no votes
    other = bot.group("闲聊群", place.wang)
    assert await ask(bot, other, bot.admin, "/vote 凉房改造") == said("votes.unbound")


async def test_a_malformed_vote_line_gets_one_polite_reply_with_an_example(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    example = "/vote 3号楼2单元凉房改造 同意|不同意|弃权"
    for line in (
        "/vote 凉房改造 --until 去年",
        "/vote 凉房改造 --pass 7/3",
        "/vote --where 3号楼",
        "/vote 凉房改造 --颜色 红",
        "/vote 凉房改造 同意|同意",
        "/vote 凉房改造 —until",
        "/vote 凉房改造 <b>x</b> --where <script>",
    ):
        answer = await ask(bot, place.group, place.officer, line)
        assert answer.startswith("抱歉，没能看懂"), (line, answer)
        assert example in answer, (line, answer)
    assert bot.polls(place.group) == []
    assert await bot.storage.votes.list_votes(None) == []
    assert await ask(bot, place.group, place.officer, "/vote") == said("votes.usage")
    # nobody to vote in 5号楼
    answer = await ask(bot, place.group, place.officer, "/vote 凉房改造 --where 5号楼")
    assert answer == said("votes.no_households", scope="5")
    assert await ask(bot, place.group, place.officer, "/vote show") == said(
        "votes.need_number", usage=said("votes.example_show")
    )
    assert await ask(bot, place.group, place.officer, "/vote show 9") == said(
        "votes.not_found", id=9
    )


# -- a vote from start to result ------------------------------------------------------------------


async def test_a_vote_from_start_to_result(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    group = place.group
    command = await bot.say(
        group, place.officer, "/vote 3号楼2单元凉房改造 —where 3号楼2单元 --until 3d"
    )
    (started,) = bot.replies(group, command)
    answer = str(started["text"])
    assert answer.startswith("🗳 议事 1 已发起：3号楼2单元凉房改造"), answer
    assert "3-2 3 户" in answer
    assert links_of(started) == [ROOM_LINK]  # those without a room: /room in private
    (poll_message,) = bot.polls(group)
    poll = poll_message["poll"]
    assert poll["question"] == "3号楼2单元凉房改造" and not poll["is_anonymous"]
    assert [o["text"] for o in poll["options"]] == ["同意", "不同意", "弃权"]

    await bot.vote(group, poll_message, place.wang, "同意")
    await bot.vote(group, poll_message, place.zhao, "不同意")
    await bot.vote(group, poll_message, place.zhao)  # retracted
    await bot.vote(group, poll_message, place.li, "不同意")  # 501 split: the latest counts
    # 陈先生 gave no room: told privately, once, and not counted
    await bot.vote(group, poll_message, place.chen, "同意")
    await bot.vote(group, poll_message, place.chen, "弃权")
    chen_private = bot.sim.private_chat(place.chen)
    assert sum("还没有登记房号" in t for t in texts_in(bot, chen_private)) == 1
    # the officer hears of the split once
    assert sum("3-2-501 的家庭成员选择不一致" in t for t in texts_in(bot, place.private)) == 1
    # a proxy for 3-2-503 (no Telegram), by word
    answer = await ask(bot, place.private, place.officer, "/vote proxy 1 3-2-503 同意 电话确认")
    assert answer == said("votes.proxy_recorded", id=1, label="3-2-503", option="同意")
    answer = await ask(bot, place.private, place.officer, "/vote proxy 1 3-2-509 1")
    assert answer == said("votes.proxy_not_eligible", id=1, label="3-2-509")
    answer = await ask(bot, place.private, place.officer, "/vote proxy 1 3-2-503 随便")
    assert answer == said("votes.proxy_bad_option", word="随便", options="同意、不同意、弃权")

    # the group sees counts; the officer in private sees who
    shown = await ask(bot, group, place.wang, "/vote 查看 1")
    assert "· 同意：1 户" in shown and "· 不同意：1 户" in shown
    assert "参与 2 户 / 应参与 3 户" in shown
    for name in ("王阿姨", "李叔", "刘网格员"):
        assert name not in shown
    detail = await ask(bot, place.private, place.officer, "/vote show 1")
    assert "3-2-501：不同意（李叔）" in detail
    assert "3-2-502：未表态" in detail
    assert "3-2-503：同意（网格员 刘网格员 代录），备注：电话确认" in detail
    assert "⚠️ 3-2-501 家庭成员意见不一致" in detail
    assert "陈先生" in detail  # not counted, named to the officer
    listing = await ask(bot, group, place.zhao, "/vote list")
    assert "1. 3号楼2单元凉房改造 · 进行中" in listing

    # closed by hand: the poll stops, the result goes to the group once
    answer = await ask(bot, group, place.officer, "/vote close 1")
    assert answer == said("votes.closed", id=1)
    await bot.flush()
    assert bot.polls(group)[0]["poll"]["is_closed"]
    results = [t for t in texts_in(bot, group) if t.startswith("🗳 议事 1 结果")]
    assert len(results) == 1, results
    (result,) = results
    assert "· 同意：1 户" in result and "· 不同意：1 户" in result and "· 弃权：0 户" in result
    assert "参与 2 户 / 应参与 3 户" in result and "未通过" in result
    assert "李叔" not in result and "王阿姨" not in result
    vote = await bot.storage.votes.get(1)
    assert vote is not None and not vote.is_open and vote.closed_by == place.officer.id
    # closing again, proxies and the tick change nothing
    answer = await ask(bot, group, place.officer, "/vote close 1")
    assert answer.startswith("议事 1 已于")
    answer = await ask(bot, place.private, place.officer, "/vote proxy 1 3-2-502 同意")
    assert answer.startswith("议事 1 已于")
    await bot.tick(timedelta(days=4))
    assert sum(t.startswith("🗳 议事 1 结果") for t in texts_in(bot, group)) == 1
    listing = await ask(bot, group, place.zhao, "/vote list")
    assert "1. 3号楼2单元凉房改造 · 已结束 ❌ 未通过" in listing
    # a closed vote shows what was recorded at its close, whoever moves afterwards
    shown = await ask(bot, group, place.zhao, "/vote show 1")
    await ask(bot, group, place.wang, "/room 5-1-101")
    await ask(bot, group, place.li, "/room 5-1-102")  # 3-2-501 has nobody now
    assert await ask(bot, group, place.zhao, "/vote show 1") == shown
    assert "· 不同意：1 户" in shown and "参与 2 户 / 应参与 3 户" in shown


async def test_the_deadline_closes_a_vote_once(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    group = place.group
    await ask(bot, group, place.officer, "/vote 加装电梯 同意|反对 --until 2d --pass 2/3")
    (poll_message,) = bot.polls(group)
    await bot.vote(group, poll_message, place.wang, 0)
    await bot.vote(group, poll_message, place.zhao, "同意")
    answer = await ask(bot, place.private, place.officer, "/vote 代投 1 3-2-503 1 电话")
    assert answer.startswith("✅ 已为 3-2-503 代录“同意”")
    answer = await ask(bot, place.private, place.officer, "/vote 代投 1 3-2-503 撤回")
    assert answer == said("votes.proxy_withdrawn", id=1, label="3-2-503")
    # not yet
    await bot.tick(timedelta(days=1))
    assert not bot.polls(group)[0]["poll"]["is_closed"]
    # the deadline passes: stopped and posted once, however often the tick runs
    report = await bot.tick(timedelta(days=1, minutes=1))
    assert report.votes_closed == 1
    await bot.tick(timedelta(minutes=5))
    assert bot.polls(group)[0]["poll"]["is_closed"]
    results = [t for t in texts_in(bot, group) if t.startswith("🗳 议事 1 结果")]
    assert len(results) == 1
    assert "参与 2 户 / 应参与 3 户" in results[0] and "✅ 通过" in results[0]
    stops = [c for c in bot.sim.calls if c.method.lower() == "stoppoll"]
    assert len(stops) == 1
    # a tap on the closed poll is refused by Telegram's client; the record stays
    vote = await bot.storage.votes.get(1)
    assert vote is not None and vote.closed_by is None and vote.result is not None
    assert vote.result["passed"] is True


async def test_an_anonymous_admins_answer_and_poll_updates_count_for_nothing(
    bot: Harness,
) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    group = place.group
    await ask(bot, group, place.officer, "/vote 凉房改造")
    (poll_message,) = bot.polls(group)
    ghost = bot.sim.add_user("匿名管理员")
    bot.sim.set_member(group, ghost, "administrator", is_anonymous=True)
    await bot.vote(group, poll_message, ghost, "同意")
    await bot.vote(group, poll_message, place.wang, "同意")
    answers = await bot.storage.votes.answers(1)
    assert [a.user_id for a in answers] == [place.wang.id]
    # the poll's own updates (its counts) were handled, and said nothing
    assert any(u.poll is not None for u in bot.processed)
    assert not any(
        m.get("reply_to_message") is None and "抱歉" in m.get("text", "")
        for m in bot.sim.bot_messages(group.id)
    )


# -- the reviewer's findings ---------------------------------------------------------------------


async def test_proxies_are_recorded_only_in_private(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    await ask(bot, place.group, place.officer, "/vote 凉房改造")
    answer = await ask(bot, place.group, place.officer, "/vote proxy 1 3-2-503 不同意 电话")
    assert answer == said("votes.proxy_private")
    assert "3-2-503" not in answer
    assert await bot.storage.votes.answers(1) == []
    answer = await ask(bot, place.private, place.officer, "/vote proxy 1 3-2-503 不同意 电话")
    assert answer == said("votes.proxy_recorded", id=1, label="3-2-503", option="不同意")


async def test_subcommand_words_open_questions_when_the_rest_is_no_subcommand(
    bot: Harness,
) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    answer = await ask(bot, place.group, place.officer, "/vote 关闭 东门 同意|不同意")
    assert answer.startswith("🗳 议事 1 已发起：关闭 东门"), answer
    assert bot.polls(place.group)[0]["poll"]["question"] == "关闭 东门"
    answer = await ask(bot, place.group, place.officer, "/vote 列表 要不要更新")
    assert answer.startswith("🗳 议事 2 已发起：列表 要不要更新"), answer
    # the subcommands themselves still work
    assert "1. 关闭 东门" in await ask(bot, place.group, place.officer, "/vote 列表")
    assert await ask(bot, place.group, place.officer, "/vote 关闭 1") == said("votes.closed", id=1)
    assert await ask(bot, place.group, place.officer, "/vote 结束") == said(
        "votes.need_number", usage=said("votes.example_close")
    )


async def test_a_deadline_with_a_time_and_one_too_soon(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    now = bot.clock.now().astimezone(TZ)
    soon = (now + timedelta(minutes=5)).strftime("%H:%M")
    answer = await ask(bot, place.group, place.officer, f"/vote 凉房改造 --until {soon}")
    assert answer.startswith("抱歉，没能看懂") and "至少要在 10 分钟以后" in answer, answer
    gone = (now - timedelta(hours=1)).strftime("%H:%M")
    answer = await ask(bot, place.group, place.officer, f"/vote 凉房改造 --until {gone}")
    assert "已经过去了" in answer, answer
    day = (now + timedelta(days=2)).date()
    written = f"{day.month}-{day.day} 18:00"
    answer = await ask(
        bot, place.group, place.officer, f"/vote 凉房改造 同意 | 不同意 --until {written}"
    )
    assert answer.startswith("🗳 议事 1 已发起"), answer
    vote = await bot.storage.votes.get(1)
    assert vote is not None and vote.options == ("同意", "不同意")
    local = vote.deadline.astimezone(TZ)
    assert (local.date(), local.hour, local.minute) == (day, 18, 0)


async def test_officers_untie_people_remove_households_and_set_rooms_by_user_id(
    bot: Harness,
) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    # untie 李叔, replying to his message: the group reads only that it is done
    said_ = await bot.say(place.group, place.li, "我搬走了")
    answer = await ask(bot, place.group, place.officer, "/room del", reply_to=said_["message_id"])
    assert answer == said("votes.room_group_done", done=said("votes.done_untied"), link=ROOM_LINK)
    assert texts_in(bot, place.private)[-1] == said(
        "votes.room_untied", name="李叔", label="3-2-501"
    )
    assert await bot.storage.votes.household_of(place.grid.id, place.li.id) is None
    # a resident may untie herself, nobody else
    refused = await ask(bot, place.group, place.zhao, "/room del", reply_to=said_["message_id"])
    assert refused == said("votes.room_officers_only")
    await ask(bot, place.group, place.zhao, "/room del")
    assert await bot.storage.votes.household_of(place.grid.id, place.zhao.id) is None
    zhao_private = bot.sim.private_chat(place.zhao)
    assert "原 3-2-502" in texts_in(bot, zhao_private)[-1]
    # a household off the roster: the next vote leaves it out
    assert await ask(bot, place.group, place.wang, "/room del 3-2-503") == said(
        "votes.room_officers_only"
    )
    answer = await ask(bot, place.group, place.officer, "/room del 3-2-503")
    assert answer == said("votes.room_removed", label="3-2-503")
    answer = await ask(bot, place.group, place.officer, "/room del 3-2-509")
    assert answer == said("votes.room_not_listed", label="3-2-509")
    # 陈先生 never writes: the officer sets his room by user id (in the group or in private)
    chen = str(place.chen.id)
    assert await ask(bot, place.group, place.wang, f"/room 3-2-505 {chen}") == said(
        "votes.room_officers_only"
    )
    answer = await ask(bot, place.private, place.officer, f"/room 3-2-505 {chen}")
    assert answer == said("votes.room_set", name="陈先生", label="3-2-505")
    tied = await bot.storage.votes.household_of(place.grid.id, place.chen.id)
    assert tied is not None and tied[0].label == "3-2-505"
    assert tied[1].status is MemberStatus.CONFIRMED
    await ask(bot, place.group, place.officer, f"/room 3-2-506 {chen}")
    assert texts_in(bot, place.private)[-1].startswith(
        said("votes.room_set", name="陈先生", label="3-2-506")
    )
    answer = await ask(bot, place.group, place.officer, "/room 3-2-505 999999999")
    assert answer == said("votes.room_no_such_person", id=999999999)
    answer = await ask(bot, place.group, place.officer, "/vote 凉房改造 --where 3-2")
    # 501 (王阿姨), 505 and 506 (set by the officer); not 502 (emptied: nobody vouched for it)
    # nor 503 (removed)
    assert "3-2 3 户" in answer, answer


async def test_a_claim_into_a_confirmed_household_is_flagged_once(bot: Harness) -> None:
    place = await stair(bot)
    # the officer is a named officer of the grid (told privately of claims to check)
    named = await bot.say(place.group, place.officer, "我是网格员")
    await bot.say(place.group, bot.admin, "/officer", reply_to=named["message_id"])
    claim = await bot.say(place.group, place.wang, "/room 3-2-501")
    await bot.say(place.group, place.officer, "/room", reply_to=claim["message_id"])
    before = len(texts_in(bot, place.private))
    # 李叔 claims the same room: he hears that an officer must confirm him
    await bot.say(place.group, place.li, "/room 3-2-501")
    li_private = bot.sim.private_chat(place.li)
    assert texts_in(bot, li_private)[-1] == said("votes.room_tied", label="3-2-501") + said(
        "votes.room_claim_pending", label="3-2-501"
    )
    grid_name = f"{place.grid.community_name} {place.grid.name}"
    told = said("votes.room_claim_to_officer", name="李叔", grid=grid_name, label="3-2-501")
    assert texts_in(bot, place.private)[before:] == [told]
    # the same claim again tells the officers nothing new
    await bot.say(bot.sim.private_chat(place.li), place.li, "/room 3-2-501")
    assert texts_in(bot, place.private)[before:] == [told]


async def test_long_rosters_and_details_come_in_several_messages(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    for building in range(1, 5):
        labels = " ".join(f"{building}-1-{room}" for room in range(101, 201))
        answer = await ask(bot, place.group, place.officer, f"/room add {labels}")
        assert answer.startswith("✅ 新添加 100 户"), answer
    message = await bot.say(place.private, place.officer, "/room list")
    parts = [str(m.get("text", "")) for m in bot.replies(place.private, message)]
    assert len(parts) >= 2, parts
    whole = "\n".join(parts)
    assert "1-1-101：（无人登记）" in whole and "4-1-200：（无人登记）" in whole
    assert "3-2-501：王阿姨（待确认）、李叔（待确认）" in whole
    await ask(bot, place.group, place.officer, "/vote 全网格议事")
    message = await bot.say(place.private, place.officer, "/vote show 1")
    parts = [str(m.get("text", "")) for m in bot.replies(place.private, message)]
    assert len(parts) >= 2, parts
    whole = "\n".join(parts)
    assert "1-1-101：未表态" in whole and "4-1-200：未表态" in whole, whole[-300:]
