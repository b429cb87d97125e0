"""议事's Telegram side (handlers/votes.py): /room, /vote and the answers to the bot's polls,
who may do what, what a group reads and what only officers read in private.

Driven through the simulator the way Telegram drives the bot (tests/harness.py); the count
itself is tested as a table with the domain (bot/votes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.fit import plain
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage import GridInfo
from storage.vocabulary import MemberStatus
from tests.harness import Harness

JSON = dict[str, Any]
TEXTS = Texts("zh")


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
    answer = await ask(bot, place.group, place.wang, "/room 3号楼2单元501室")
    assert answer == said("votes.room_tied", label="3-2-501")
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None
    assert (tied[0].label, tied[1].status) == ("3-2-501", MemberStatus.CLAIMED)
    # /room alone in the group: that she has one, not which
    answer = await ask(bot, place.group, place.wang, "/room")
    assert "3-2-501" not in answer
    assert answer == said("votes.room_mine_group", status=said("votes.room_claimed_word"))
    # …and in private, which
    wang_private = bot.sim.private_chat(place.wang)
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
    assert answer == said("votes.room_none")


async def test_officers_confirm_or_set_a_room_by_replying(bot: Harness) -> None:
    place = await stair(bot)
    claim = await bot.say(place.group, place.wang, "/room 3-2-501")
    answer = await ask(bot, place.group, place.officer, "/room", reply_to=claim["message_id"])
    assert answer == said("votes.room_confirmed", name="王阿姨", label="3-2-501")
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None and tied[1].status is MemberStatus.CONFIRMED
    # corrects 李叔, who wrote something else
    chat = await bot.say(place.group, place.li, "我家在五楼")
    answer = await ask(
        bot, place.group, place.officer, "/room 3-2-501", reply_to=chat["message_id"]
    )
    assert answer == said("votes.room_set", name="李叔", label="3-2-501")
    # nothing to confirm
    other = await bot.say(place.group, place.zhao, "大家好")
    answer = await ask(bot, place.group, place.officer, "/room", reply_to=other["message_id"])
    assert answer == said("votes.room_nothing_to_confirm", name="赵奶奶")
    # a resident replying to a neighbour ties herself, never the neighbour
    answer = await ask(bot, place.group, place.zhao, "/room 3-2-502", reply_to=claim["message_id"])
    assert answer == said("votes.room_tied", label="3-2-502")
    tied = await bot.storage.votes.household_of(place.grid.id, place.wang.id)
    assert tied is not None and tied[0].label == "3-2-501"


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
    assert await ask(bot, place.group, place.wang, "/vote 代投 1 3-2-503 同意") == refused
    wang_private = bot.sim.private_chat(place.wang)
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
    answer = await ask(
        bot, group, place.officer, "/vote 3号楼2单元凉房改造 —where 3号楼2单元 --until 3d"
    )
    assert answer.startswith("🗳 议事 1 已发起：3号楼2单元凉房改造"), answer
    assert "3-2 3 户" in answer
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


async def test_the_deadline_closes_a_vote_once(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    group = place.group
    await ask(bot, group, place.officer, "/vote 加装电梯 同意|反对 --until 2d --pass 2/3")
    (poll_message,) = bot.polls(group)
    await bot.vote(group, poll_message, place.wang, 0)
    await bot.vote(group, poll_message, place.zhao, "同意")
    answer = await ask(bot, place.group, place.officer, "/vote 代投 1 3-2-503 1 电话")
    assert answer.startswith("✅ 已为 3-2-503 代录“同意”")
    answer = await ask(bot, place.group, place.officer, "/vote 代投 1 3-2-503 撤回")
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
