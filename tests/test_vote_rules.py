"""议事's rules (bot.votes): the count as a table (pure), then on the running bot — the poll
through the outbox, answers, untied answers counted after /room, proxies, splits, the close by
/vote close or by the deadline (once, across ticks and a restart), stop_poll and the result.

Answers are given with the domain's own call (``bot.votes.answer``, what the PollAnswerHandler
calls); the /vote and /room commands are tested in tests/test_vote_commands.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from telegram import InputPollOption
from telegram.error import BadRequest

from bot import votes
from bot.care import Actor, Desk
from bot.categories import CategoryCatalog
from bot.cli import main
from bot.context import runtime_of
from bot.export import VOTE_COLUMNS, export_ledger, votes_path
from bot.parsing.vote import MAJORITY, Label, Rule, VoteLine, parse_label, parse_vote_line
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage import Storage
from storage.vocabulary import MemberStatus, VoteEventKind, VoteStatus
from storage.votes import HouseholdEventKind, Member, Vote, VoteAnswer, VoteHousehold
from tests.harness import Harness
from tests.test_export import cli_database

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
OPTIONS = ("同意", "不同意", "弃权")


# -- the count, as a table (pure) -----------------------------------------------------------


def a_vote(
    eligible: int = 4,
    rule: Rule = MAJORITY,
    quorum: tuple[int, int] | None = None,
) -> Vote:
    return Vote(
        id=1,
        grid_id=1,
        chat_id=-100,
        thread_id=None,
        question="凉房改造",
        options=OPTIONS,
        rule_num=rule.num,
        rule_den=rule.den,
        rule_strict=rule.strict,
        quorum_num=quorum[0] if quorum else None,
        quorum_den=quorum[1] if quorum else None,
        scope="",
        deadline=T0 + timedelta(days=7),
        status=VoteStatus.OPEN,
        started_by=9,
        started_by_name="刘网格员",
        started_at=T0,
        eligible=eligible,
        closed_at=None,
        closed_by=None,
        closed_by_name="",
        result=None,
        source_chat_id=None,
        source_message_id=None,
    )


def homes(count: int) -> list[VoteHousehold]:
    """Households 1…count, labelled 3-2-101 …"""
    return [VoteHousehold(1, h, f"3-2-{h}01") for h in range(1, count + 1)]


def members(*pairs: tuple[int, int]) -> list[Member]:
    """(user, household) ties."""
    return [
        Member(i, 1, household, user, f"u{user}", MemberStatus.CLAIMED, None, T0)
        for i, (user, household) in enumerate(pairs, 1)
    ]


@dataclass(frozen=True)
class A:
    """An answer at minute ``at``: a member's (``user``) or a proxy's (``proxy`` = household)."""

    at: int
    option: int | None
    user: int | None = None
    proxy: int | None = None


def answers(*given: A) -> list[VoteAnswer]:
    return [
        VoteAnswer(
            id=i,
            vote_id=1,
            user_id=a.user if a.proxy is None else 99,
            user_name=f"u{a.user}" if a.proxy is None else "officer",
            option=a.option,
            proxy_household_id=a.proxy,
            note="电话确认" if a.proxy is not None else "",
            answered_at=T0 + timedelta(minutes=a.at),
            poll_id="p",
        )
        for i, a in enumerate(given, 1)
    ]


@dataclass(frozen=True)
class Row:
    name: str
    ties: Sequence[tuple[int, int]]
    given: Sequence[A]
    counts: tuple[int, int, int]
    voted: int
    passed: bool
    splits: tuple[str, ...] = ()
    proxies: int = 0
    untied: int = 0
    eligible: int = 4
    rule: Rule = MAJORITY
    quorum: tuple[int, int] | None = None


TABLE = [
    Row("nobody answered", [(1, 1)], [], (0, 0, 0), 0, False),
    Row("one yes of four", [(1, 1)], [A(1, 0, 1)], (1, 0, 0), 1, False),
    Row(
        "three of four: more than half",
        [(1, 1), (2, 2), (3, 3)],
        [A(1, 0, 1), A(2, 0, 2), A(3, 0, 3)],
        (3, 0, 0),
        3,
        True,
    ),
    Row(
        "two of four is not more than half",
        [(1, 1), (2, 2)],
        [A(1, 0, 1), A(2, 0, 2)],
        (2, 0, 0),
        2,
        False,
    ),
    Row(
        "two of four is at least 1/2",
        [(1, 1), (2, 2)],
        [A(1, 0, 1), A(2, 0, 2)],
        (2, 0, 0),
        2,
        True,
        rule=Rule(1, 2, False),
    ),
    Row(
        "a retraction leaves no answer",
        [(1, 1), (2, 2)],
        [A(1, 0, 1), A(2, 1, 2), A(3, None, 1)],
        (0, 1, 0),
        1,
        False,
    ),
    Row(
        "a retraction then a new answer",
        [(1, 1)],
        [A(1, 0, 1), A(2, None, 1), A(3, 2, 1)],
        (0, 0, 1),
        1,
        False,
    ),
    Row(
        "her latest answer wins",
        [(1, 1)],
        [A(1, 0, 1), A(2, 1, 1), A(3, 0, 1)],
        (1, 0, 0),
        1,
        False,
    ),
    Row(
        "one household, one vote: two members agreeing count once",
        [(1, 1), (2, 1)],
        [A(1, 0, 1), A(2, 0, 2)],
        (1, 0, 0),
        1,
        False,
    ),
    Row(
        "members disagree: a split, the latest counts",
        [(1, 1), (2, 1)],
        [A(1, 0, 1), A(2, 1, 2)],
        (0, 1, 0),
        1,
        False,
        splits=("3-2-101",),
    ),
    Row(
        "the split resolved: she retracted",
        [(1, 1), (2, 1)],
        [A(1, 0, 1), A(2, 1, 2), A(3, None, 2)],
        (1, 0, 0),
        1,
        False,
    ),
    Row(
        "a proxy for a household without Telegram",
        [(1, 1)],
        [A(1, 0, 1), A(2, 0, proxy=2)],
        (2, 0, 0),
        2,
        False,
        proxies=1,
    ),
    Row(
        "a member answering after the proxy wins",
        [(1, 1)],
        [A(1, 0, proxy=1), A(2, 1, 1)],
        (0, 1, 0),
        1,
        False,
    ),
    Row(
        "a proxy after the member wins",
        [(1, 1)],
        [A(1, 1, 1), A(2, 0, proxy=1)],
        (1, 0, 0),
        1,
        False,
        proxies=1,
    ),
    Row(
        "a withdrawn proxy leaves the member's answer",
        [(1, 1)],
        [A(1, 1, 1), A(2, 0, proxy=1), A(3, None, proxy=1)],
        (0, 1, 0),
        1,
        False,
    ),
    Row(
        "an untied answer is kept, not counted",
        [(1, 1)],
        [A(1, 0, 1), A(2, 0, 7)],
        (1, 0, 0),
        1,
        False,
        untied=1,
    ),
    Row(
        "the latest recorded wins, whatever the instances' clocks said",
        [(1, 1)],
        [A(5, 0, 1), A(1, 1, 1)],
        (0, 1, 0),
        1,
        False,
    ),
    Row(
        "an answer at or past the deadline is kept, not counted: the earlier one stands",
        [(1, 1)],
        [A(1, 0, 1), A(7 * 24 * 60, 1, 1), A(7 * 24 * 60 + 1, None, 1)],
        (1, 0, 0),
        1,
        False,
    ),
    Row(
        "at least 2/3: two of three",
        [(1, 1), (2, 2)],
        [A(1, 0, 1), A(2, 0, 2)],
        (2, 0, 0),
        2,
        True,
        eligible=3,
        rule=Rule(2, 3, False),
    ),
    Row(
        "more than 2/3: two of three is not",
        [(1, 1), (2, 2)],
        [A(1, 0, 1), A(2, 0, 2)],
        (2, 0, 0),
        2,
        False,
        eligible=3,
        rule=Rule(2, 3, True),
    ),
    Row(
        "the rule met but the quorum not",
        [(1, 1), (2, 2), (3, 3)],
        [A(1, 0, 1), A(2, 0, 2), A(3, 1, 3)],
        (2, 1, 0),
        3,
        False,
        eligible=6,
        rule=Rule(1, 3, False),
        quorum=(2, 3),
    ),
    Row(
        "the rule and the quorum met",
        [(1, 1), (2, 2), (3, 3), (4, 4)],
        [A(1, 0, 1), A(2, 0, 2), A(3, 1, 3), A(4, 2, 4)],
        (2, 1, 1),
        4,
        True,
        eligible=6,
        rule=Rule(1, 3, False),
        quorum=(2, 3),
    ),
]


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_the_count(row: Row) -> None:
    vote = a_vote(row.eligible, row.rule, row.quorum)
    result = votes.tally(vote, homes(row.eligible), members(*row.ties), answers(*row.given))
    assert result.counts == row.counts
    assert (result.voted, result.eligible, result.passed) == (row.voted, row.eligible, row.passed)
    assert tuple(s.label for s in result.splits) == row.splits
    assert result.proxies == row.proxies
    assert len(result.untied) == row.untied
    assert len(result.finals) == row.eligible
    if row.quorum is not None:
        assert result.quorum_met == (row.voted * row.quorum[1] >= row.quorum[0] * row.eligible)


def test_finals_say_who_answered_and_how() -> None:
    result = votes.tally(
        a_vote(3),
        homes(3),
        members((1, 1), (2, 1)),
        answers(A(1, 0, 1), A(2, 1, 2), A(3, 2, proxy=2)),
    )
    first, second, third = result.finals
    assert (first.option, first.user_id, first.name, first.proxy) == (1, 2, "u2", False)
    assert (second.option, second.proxy, second.note, second.name) == (
        2,
        True,
        "电话确认",
        "officer",
    )
    assert third.option is None and third.at is None
    (split,) = result.splits
    assert split.answers == (("u1", 0), ("u2", 1))
    assert result.as_result()["splits"] == ["3-2-101"]


def test_an_untied_answer_counts_once_she_is_tied() -> None:
    given = answers(A(1, 0, 7))
    before = votes.tally(a_vote(2), homes(2), members(), given)
    assert (before.voted, len(before.untied)) == (0, 1)
    after = votes.tally(a_vote(2), homes(2), members((7, 2)), given)
    assert (after.voted, after.counts, after.untied) == (1, (1, 0, 0), ())


def test_no_eligible_household_never_passes() -> None:
    result = votes.tally(a_vote(0, Rule(1, 2, False)), [], [], [])
    assert (result.eligible, result.passed) == (0, False)


# -- on the running bot ---------------------------------------------------------------------


@dataclass
class Stair:
    """A grid's group, its officer and four residents; households 3-2-101 … 3-2-401 and
    3-1-101 (another unit)."""

    group: SimChat
    officer: SimUser
    people: list[SimUser]
    grid_id: int

    @property
    def actor(self) -> Actor:
        return Actor(self.officer.id, self.officer.first_name)


async def stair(bot: Harness) -> Stair:
    officer = bot.sim.add_user("刘网格员")
    people = [bot.sim.add_user(name) for name in ("王阿姨", "李叔", "赵姐", "孙哥")]
    group = await bot.grid("北瑞小区一网格", *people)
    bot.sim.set_member(group, officer, "administrator")
    for person in (officer, *people):  # each has started the bot: it may write to them
        await bot.say(bot.sim.private_chat(person), person, "/start")
    binding = await bot.storage.grids.binding(group.id)
    assert binding is not None and binding.grid_id is not None
    grid_id = binding.grid_id
    desk = runtime_of(bot.app).care_desk
    labels = [Label("3", "2", f"{floor}01") for floor in range(1, 5)] + [Label("3", "1", "101")]
    await votes.add_households(
        desk, grid_id=grid_id, labels=labels, by=officer.id, now=bot.clock.now()
    )
    return Stair(group, officer, people, grid_id)


def desk_of(bot: Harness) -> Desk:
    return runtime_of(bot.app).care_desk


async def tie(bot: Harness, place: Stair, person: SimUser, label: str) -> None:
    parsed = parse_label(label)
    assert parsed is not None
    await votes.tie(
        desk_of(bot),
        grid_id=place.grid_id,
        user_id=person.id,
        user_name=person.first_name,
        label=parsed,
        status=MemberStatus.CLAIMED,
        set_by=person.id,
        now=bot.clock.now(),
    )


async def start(bot: Harness, place: Stair, words: str, message_id: int = 1) -> Vote:
    now = bot.clock.now()
    line = parse_vote_line(words, now, TZ)
    started = await votes.start(
        desk_of(bot),
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=line,
        actor=place.actor,
        now=now,
        source=(place.group.id, message_id),
    )
    assert started is not None and started.created
    await bot.flush()
    return started.vote


async def answer(bot: Harness, vote: Vote, person: SimUser, *options: int) -> None:
    (poll,) = await bot.storage.votes.polls(vote.id)
    await votes.answer(
        desk_of(bot),
        poll_id=poll.poll_id,
        user_id=person.id,
        user_name=person.first_name,
        option_ids=list(options),
        now=bot.clock.now(),
    )
    await bot.flush()


def texts_to(bot: Harness, chat: SimChat | int) -> list[str]:
    return [str(m.get("text", "")) for m in bot.sim.bot_messages(chat)]


async def test_a_vote_from_start_to_its_deadline(bot: Harness) -> None:
    place = await stair(bot)
    wang, li, zhao, sun = place.people
    await tie(bot, place, wang, "3-2-101")
    await tie(bot, place, li, "3号楼2单元201")
    await tie(bot, place, zhao, "3栋2单元201室")  # li's household too
    vote = await start(bot, place, "凉房改造 --where 3号楼2单元 --until 3d")
    assert (vote.eligible, vote.scope, vote.is_open) == (4, "3-2", True)

    # the poll went out through the outbox, non-anonymous; its id is recorded
    (poll_message,) = bot.polls(place.group)
    poll = poll_message["poll"]
    assert poll["question"] == "凉房改造" and poll["is_anonymous"] is False
    assert [o["text"] for o in poll["options"]] == list(OPTIONS)
    (recorded,) = await bot.storage.votes.polls(vote.id)
    assert (recorded.poll_id, recorded.message_id) == (poll["id"], poll_message["message_id"])
    assert await bot.storage.votes.vote_of_poll(poll["id"]) == vote

    await answer(bot, vote, wang, 0)
    await answer(bot, vote, wang)  # a retraction …
    await answer(bot, vote, wang, 1)  # … and another answer
    await answer(bot, vote, li, 0)
    await answer(bot, vote, zhao, 1)  # li's household disagrees: a split, flagged once
    await answer(bot, vote, zhao, 0)
    await answer(bot, vote, zhao, 1)
    flags = [t for t in texts_to(bot, place.officer.id) if "不一致" in t]
    assert len(flags) == 1 and "3-2-201" in flags[0]
    await answer(bot, vote, sun, 0)  # tied to nothing: told once, privately
    await answer(bot, vote, sun, 1)
    told = [t for t in texts_to(bot, sun.id) if "议事" in t]
    assert len(told) == 1 and "/room" in told[0]
    assert not [t for t in texts_to(bot, place.group) if "/room" in t]  # never in the group

    # sun ties herself before the close: her latest answer counts without voting again
    await tie(bot, place, sun, "3-2-401")
    state = await bot.storage.votes.state(vote.id)
    assert state is not None
    now_count = votes.tally_state(state)
    assert now_count.counts == (0, 3, 0) and now_count.voted == 3

    # the deadline, kept by the tick: not before …
    report = await bot.tick(timedelta(days=3) - timedelta(minutes=1))
    assert report.votes_closed == 0
    report = await bot.tick(timedelta(minutes=1))
    assert report.votes_closed == 1
    assert (await bot.tick(timedelta(minutes=5))).votes_closed == 0  # … and once

    closed = await bot.storage.votes.get(vote.id)
    assert closed is not None and closed.status is VoteStatus.CLOSED and closed.closed_by is None
    assert closed.result is not None
    assert (closed.result["counts"], closed.result["voted"], closed.result["eligible"]) == (
        [0, 3, 0],
        3,
        4,
    )
    assert closed.result["passed"] is False and closed.result["splits"] == ["3-2-201"]
    # the poll stopped once; the result once, in the group, replying to the poll
    assert bot.polls(place.group)[0]["poll"]["is_closed"] is True
    assert len(await bot.storage.outbox.items("stop_poll")) == 1
    results = [m for m in bot.sim.bot_messages(place.group) if "结果" in str(m.get("text", ""))]
    assert len(results) == 1
    text = str(results[0]["text"])
    assert "参与 3 户 / 应参与 4 户" in text and "未通过" in text
    assert "王阿姨" not in text  # no names in the group
    assert results[0]["reply_to_message"]["message_id"] == poll_message["message_id"]
    # the starter has the detail privately: each household, the split
    detail = [t for t in texts_to(bot, place.officer.id) if "已结束" in t]
    assert len(detail) == 1 and "3-2-301：未表态" in detail[0] and "3-2-201" in detail[0]
    # finals kept for the ledger
    finals = {h.label: h for h in (await bot.storage.votes.state(vote.id) or state).households}
    assert finals["3-2-401"].final_option == 1 and finals["3-2-401"].final_name == "孙哥"
    assert finals["3-2-301"].final_option is None
    kinds = [e.kind for e in await bot.storage.votes.events(vote.id)]
    assert kinds.count(VoteEventKind.CLOSED) == 1 and VoteEventKind.SPLIT in kinds
    assert VoteEventKind.NOT_COUNTED in kinds and VoteEventKind.RETRACTED in kinds

    # a closed vote takes no more answers
    assert (
        await votes.answer(
            desk_of(bot),
            poll_id=poll["id"],
            user_id=wang.id,
            user_name="王阿姨",
            option_ids=[0],
            now=bot.clock.now(),
        )
        is None
    )


async def test_proxy_and_close_by_hand(bot: Harness) -> None:
    place = await stair(bot)
    wang = place.people[0]
    await tie(bot, place, wang, "3-2-101")
    vote = await start(bot, place, "加装电梯 --pass 2/3")
    assert vote.eligible == 5  # every household of the grid
    desk = desk_of(bot)
    now = bot.clock.now()
    await answer(bot, vote, wang, 0)
    for label in ("3-2-201", "3-2-301"):
        done = await votes.proxy(desk, vote, label, 0, actor=place.actor, note="电话确认", now=now)
        assert done is not None and done.household.label == label
    # withdrawn, then recorded again
    assert await votes.proxy(desk, vote, "3号楼2单元401", 1, actor=place.actor, now=now)
    assert await votes.proxy(desk, vote, "3-2-401", None, actor=place.actor, now=now)
    # not one of the vote's households
    assert await votes.proxy(desk, vote, "9-9-999", 0, actor=place.actor, now=now) is None
    # a replay of the /vote message starts nothing
    again = await votes.start(
        desk,
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=VoteLine("加装电梯", deadline=now + timedelta(days=1)),
        actor=place.actor,
        now=now,
        source=(place.group.id, 1),
    )
    assert again is not None and not again.created and again.vote.id == vote.id

    closed = await votes.close(desk, vote, bot.clock.now(), place.actor)
    assert closed is not None and closed.closed_by == place.officer.id
    assert await votes.close(desk, vote, bot.clock.now(), place.actor) is None  # once
    await bot.flush()
    assert closed.result is not None
    assert (closed.result["yes"], closed.result["voted"], closed.result["proxies"]) == (3, 3, 2)
    assert closed.result["passed"] is False  # 3 of 5 is less than 2/3
    (result,) = [t for t in texts_to(bot, place.group) if "结果" in t]
    assert "其中 2 户由网格员代为登记" in result and "不少于应参与户数的 2/3" in result
    state = await bot.storage.votes.state(vote.id)
    assert state is not None
    finals = {h.label: h for h in state.households}
    assert finals["3-2-201"].final_proxy and finals["3-2-201"].final_note == "电话确认"
    assert finals["3-2-401"].final_option is None
    # /vote close on a vote with no eligible household left to start: none in that scope
    empty = await votes.start(
        desk,
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=VoteLine("x", scope="7", deadline=now + timedelta(days=1)),
        actor=place.actor,
        now=now,
    )
    assert empty is None


async def test_a_stop_poll_refused_is_done(bot: Harness) -> None:
    place = await stair(bot)
    vote = await start(bot, place, "凉房改造")
    (poll_message,) = bot.polls(place.group)
    bot.sim.stop_poll(bot.sim.poll_record(place.group.id, poll_message["message_id"]))
    assert await votes.close(desk_of(bot), vote, bot.clock.now(), place.actor)
    await bot.flush()  # Telegram: "poll has already been closed" — done, not failed
    (stop,) = await bot.storage.outbox.items("stop_poll")
    assert stop.status == "sent"
    kinds = [e.kind for e in await bot.storage.votes.events(vote.id)]
    assert VoteEventKind.POLL_STOPPED in kinds


# -- the deadline across a restart (storage only) -------------------------------------------


def a_desk(storage: Storage) -> Desk:
    return Desk(storage, CategoryCatalog.default(), Texts("zh"), TZ)


async def test_the_deadline_closes_once_across_ticks_and_a_restart(
    database: Path | str,
) -> None:
    storage = await Storage.open(database)
    grid = await storage.grids.bind_grid(
        chat_id=-1001,
        title="一网格",
        grid="第一网格",
        community="通顺社区",
        street=None,
        by=1,
        now=T0,
    )
    assert grid.grid_id is not None
    grid_id = grid.grid_id
    desk = a_desk(storage)
    await votes.add_households(
        desk, grid_id=grid_id, labels=[Label("3", "2", "101"), Label("3", "2", "201")], by=1, now=T0
    )
    started = await votes.start(
        desk,
        grid_id=grid_id,
        chat_id=-1001,
        thread_id=None,
        line=parse_vote_line("凉房改造 --until 2d", T0, TZ),
        actor=Actor(1, "刘网格员"),
        now=T0,
        source=(-1001, 5),
    )
    assert started is not None
    vote = started.vote
    # a crash between Telegram accepting the poll and the row marked sent: two polls
    assert await storage.votes.poll_sent(vote.id, "poll-a", -1001, 10, T0)
    assert not await storage.votes.poll_sent(vote.id, "poll-a", -1001, 10, T0)
    assert await storage.votes.poll_sent(vote.id, "poll-b", -1001, 11, T0)
    await storage.votes.tie(
        grid_id, 7, "王阿姨", "3-2-101", ("3", "2", "101"), MemberStatus.CLAIMED, 7, T0
    )
    await votes.answer(
        desk, poll_id="poll-b", user_id=7, user_name="王阿姨", option_ids=[0], now=T0
    )
    assert await votes.tick(desk, T0 + timedelta(days=1)) == 0
    await storage.close()

    storage = await Storage.open(database)  # a restart: nothing lived in memory
    desk = a_desk(storage)
    deadline = T0 + timedelta(days=2)
    assert [v.id for v in await storage.votes.due(deadline)] == [vote.id]
    assert await votes.tick(desk, deadline) == 1
    assert await votes.tick(desk, deadline + timedelta(minutes=1)) == 0
    await storage.close()
    storage = await Storage.open(database)
    assert await votes.tick(a_desk(storage), deadline + timedelta(hours=1)) == 0
    stops = await storage.outbox.items("stop_poll")
    assert sorted(s.payload["message_id"] for s in stops) == [10, 11]  # both polls stopped
    (result,) = await storage.outbox.items("vote_result")
    assert result.chat_id == -1001 and result.dedupe_key == f"vote:{vote.id}:result"
    assert "通过" in result.text and "参与 1 户 / 应参与 2 户" in result.text
    closed = await storage.votes.get(vote.id)
    assert closed is not None and closed.result is not None and closed.result["yes"] == 1
    await storage.close()


# -- the 议事 ledger --------------------------------------------------------------------------


async def a_closed_vote(storage: Storage) -> Vote:
    """Two households of 第一网格; 3-2-101 answered 同意 by 王阿姨, 3-2-201 不同意 by proxy;
    closed by hand."""
    grid = await storage.grids.bind_grid(
        chat_id=-1001,
        title="一网格",
        grid="第一网格",
        community="通顺社区",
        street=None,
        by=1,
        now=T0,
    )
    assert grid.grid_id is not None
    desk = a_desk(storage)
    officer = Actor(1, "刘网格员")
    labels = [Label("3", "2", "101"), Label("3", "2", "201")]
    await votes.add_households(desk, grid_id=grid.grid_id, labels=labels, by=1, now=T0)
    started = await votes.start(
        desk,
        grid_id=grid.grid_id,
        chat_id=-1001,
        thread_id=None,
        line=parse_vote_line("=凉房改造 --pass 2/3 --quorum 1/2", T0, TZ),
        actor=officer,
        now=T0,
    )
    assert started is not None
    await storage.votes.poll_sent(started.vote.id, "poll-a", -1001, 10, T0)
    await votes.tie(
        desk,
        grid_id=grid.grid_id,
        user_id=7,
        user_name="王阿姨",
        label=labels[0],
        status=MemberStatus.CONFIRMED,
        set_by=1,
        now=T0,
    )
    later = T0 + timedelta(hours=1)
    await votes.answer(
        desk, poll_id="poll-a", user_id=7, user_name="王阿姨", option_ids=[0], now=later
    )
    await votes.proxy(desk, started.vote, "3-2-201", 1, actor=officer, note="电话确认", now=later)
    closed = await votes.close(desk, started.vote, T0 + timedelta(days=1), officer)
    assert closed is not None
    return closed


async def test_the_ledger_has_a_votes_sheet(storage: Storage) -> None:
    vote = await a_closed_vote(storage)
    catalog = CategoryCatalog.default()
    now = T0 + timedelta(days=2)
    buffer = io.BytesIO()
    written = await export_ledger(
        storage, "xlsx", buffer, catalog=catalog, tz=TZ, now=now, what="votes"
    )
    assert (written.votes_written, written.votes, written.tickets) == (True, 1, 0)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["议事"]
    rows = list(book["议事"].iter_rows(values_only=True))
    assert tuple(rows[0]) == VOTE_COLUMNS and len(rows) == 3
    first, second = (dict(zip(VOTE_COLUMNS, row, strict=True)) for row in rows[1:])
    assert (first["议事编号"], first["网格"], first["社区"]) == (vote.id, "第一网格", "通顺社区")
    assert first["事项"] == "=凉房改造"  # as written: the xlsx cell is text, never a formula
    assert first["通过规则"] == "同意户数不少于2/3，参与户数不少于1/2"
    assert (first["状态"], first["发起人"], first["范围"]) == ("已结束", "刘网格员", "全部")
    assert first["截止时间"] == datetime(2026, 12, 3, 10, 0)  # Beijing time
    assert first["结果"] == "未通过：同意 1，不同意 1，弃权 0；参与 2 户 / 应参与 2 户"
    assert (first["户号"], first["表态"], first["表态人"], first["代录"]) == (
        "3-2-101",
        "同意",
        "王阿姨",
        None,
    )
    assert (second["户号"], second["表态"], second["表态人"], second["代录"]) == (
        "3-2-201",
        "不同意",
        "刘网格员",
        "是",
    )
    assert second["备注"] == "电话确认" and second["表态时间"] == datetime(2026, 11, 26, 11, 0)

    # the whole ledger: the votes are its last sheet; a CSV of votes is a table of its own
    everything = io.BytesIO()
    written = await export_ledger(
        storage, "xlsx", everything, catalog=catalog, tz=TZ, now=now, what="all"
    )
    assert written.votes_written and written.care
    assert load_workbook(everything).sheetnames == ["台账", "关爱走访", "议事"]
    table = io.BytesIO()
    await export_ledger(storage, "csv", table, catalog=catalog, tz=TZ, now=now, what="votes")
    lines = list(csv.reader(io.StringIO(table.getvalue().decode("utf-8-sig"), newline="")))
    assert tuple(lines[0]) == VOTE_COLUMNS and len(lines) == 3
    assert lines[1][3] == "'=凉房改造"  # CSV: never a formula
    # grids without votes: no 议事 sheet in "all" (unless asked for)
    none = io.BytesIO()
    written = await export_ledger(
        storage, "xlsx", none, catalog=catalog, tz=TZ, now=now, what="all", grid="无此网格"
    )
    assert not written.votes_written
    assert load_workbook(none).sheetnames == ["台账", "关爱走访"]


def test_cli_export_what_votes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_database(tmp_path, monkeypatch, a_closed_vote)
    out = tmp_path / "议事.csv"
    assert main(["export", "--what", "votes", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == Texts("zh")("vote.cli_exported", votes=1, path=out)
    assert out.read_text(encoding="utf-8-sig").startswith(",".join(VOTE_COLUMNS))
    both = tmp_path / "台账.csv"
    assert main(["export", "--what", "all", "--output", str(both)]) == 0
    assert votes_path(both) == tmp_path / "台账_议事.csv" and votes_path(both).exists()


# -- fixes after review: takeover, late answers, the record, void polls, migration, readers --


def confirmed_and_claimed() -> list[Member]:
    """3-2-101: u1 confirmed by an officer, u2 only claimed; 3-2-201: u3 and u4 both claimed."""
    return [
        Member(1, 1, 1, 1, "u1", MemberStatus.CONFIRMED, 9, T0),
        Member(2, 1, 1, 2, "u2", MemberStatus.CLAIMED, None, T0),
        Member(3, 1, 2, 3, "u3", MemberStatus.CLAIMED, None, T0),
        Member(4, 1, 2, 4, "u4", MemberStatus.CLAIMED, None, T0),
    ]


def test_a_claim_does_not_take_over_a_confirmed_household() -> None:
    given = answers(A(1, 0, 1), A(2, 1, 2), A(3, 0, 3), A(4, 1, 4))
    result = votes.tally(a_vote(2), homes(2), confirmed_and_claimed(), given)
    first, second = result.finals
    assert (first.option, first.user_id) == (0, 1)  # the confirmed member speaks for it
    assert (second.option, second.user_id) == (1, 4)  # nobody confirmed: the latest claim
    assert [s.label for s in result.splits] == ["3-2-201"]  # u2 is set aside, not a split
    (aside,) = result.set_aside
    assert (aside.name, aside.label, aside.reason, aside.option) == (
        "u2",
        "3-2-101",
        votes.UNCONFIRMED,
        1,
    )
    assert result.as_result()["set_aside"][0]["reason"] == "unconfirmed"
    detail = votes.detail_text(Texts("zh"), a_vote(2), result, closed=False)
    assert "房号待确认" in detail and "u2（3-2-101）" in detail


def test_late_answers_are_listed_as_set_aside() -> None:
    vote = a_vote(1)
    given = answers(A(1, 0, 1), A(7 * 24 * 60, 1, 1), A(7 * 24 * 60, 0, proxy=1))
    result = votes.tally(vote, homes(1), members((1, 1)), given)
    assert result.counts == (1, 0, 0) and result.proxies == 0
    assert [(a.name, a.reason) for a in result.set_aside] == [("u1", votes.LATE)]
    assert "截止之后" in votes.detail_text(Texts("zh"), vote, result, closed=True)


async def test_poll_texts_go_as_written_never_as_html(bot: Harness) -> None:
    place = await stair(bot)
    question = "费用<500元 & <b>凉房</b>改造"
    now = bot.clock.now()
    line = VoteLine(question, ("同意<b>", "a & b", "弃权"), deadline=now + timedelta(days=1))
    started = await votes.start(
        desk_of(bot),
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=line,
        actor=place.actor,
        now=now,
    )
    assert started is not None
    await bot.flush()
    (message,) = bot.polls(place.group)
    assert message["poll"]["question"] == question
    assert [o["text"] for o in message["poll"]["options"]] == ["同意<b>", "a & b", "弃权"]
    # the simulator parses as Telegram does: the app's default HTML would have been refused
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.app.bot.send_poll(place.group.id, question, ["a", "b"], is_anonymous=False)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.app.bot.send_poll(
            place.group.id, "ok", [InputPollOption("a<"), InputPollOption("b")]
        )


async def test_a_poll_telegram_refuses_makes_the_vote_void(bot: Harness) -> None:
    place = await stair(bot)
    await tie(bot, place, place.people[0], "3-2-101")
    now = bot.clock.now()
    too_long = "凉房改造" + "🏠" * 149  # 302 UTF-16 units: Telegram refuses the poll
    started = await votes.start(
        desk_of(bot),
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=VoteLine(too_long, deadline=now + timedelta(days=3)),
        actor=place.actor,
        now=now,
    )
    assert started is not None
    vote = started.vote
    await bot.flush()
    assert bot.polls(place.group) == []
    (row,) = await bot.storage.outbox.items("poll")
    assert row.status == "failed"
    closed = await bot.storage.votes.get(vote.id)
    assert closed is not None and not closed.is_open and closed.result is not None
    assert closed.result["failed"] and closed.result["passed"] is False
    await bot.flush()  # the notice queued when the poll was given up
    # the starter is told why, privately; the group reads no result
    (told,) = [t for t in texts_to(bot, place.officer.id) if "没能发到群里" in t]
    assert f"议事 {vote.id}" in told and "length" in told
    assert not [t for t in texts_to(bot, place.group) if "结果" in t]
    assert await bot.storage.outbox.items("vote_result") == []
    # the deadline changes nothing; /vote show reads it as void
    assert (await bot.tick(timedelta(days=4))).votes_closed == 0
    shown = await votes.recorded(desk_of(bot), vote.id)
    assert shown is not None and shown[1].failed is not None
    assert "作废" in votes.detail_text(Texts("zh"), shown[0], shown[1], closed=True)
    events = await bot.storage.votes.events(vote.id)
    (closing,) = [e.note for e in events if e.kind is VoteEventKind.CLOSED]
    assert closing.startswith("failed")


async def test_closed_before_its_poll_went_out(bot: Harness) -> None:
    place = await stair(bot)
    now = bot.clock.now()
    line = VoteLine("凉房改造", deadline=now + timedelta(days=1))
    started = await votes.start(
        desk_of(bot),
        grid_id=place.grid_id,
        chat_id=place.group.id,
        thread_id=None,
        line=line,
        actor=place.actor,
        now=now,
    )
    assert started is not None
    vote = started.vote
    assert await votes.close(desk_of(bot), vote, now, place.actor)
    await bot.flush()
    assert bot.polls(place.group) == []  # closed first: no poll goes out at all
    # a poll that went out all the same (the sender read the vote just before the close) is
    # stopped: its stop_poll row comes with its record
    assert await bot.storage.votes.poll_sent(vote.id, "late-poll", place.group.id, 77, now)
    (stop,) = await bot.storage.outbox.items("stop_poll")
    assert stop.payload["message_id"] == 77 and stop.dedupe_key is not None
    assert stop.dedupe_key.startswith(f"vote:{vote.id}:stop:")
    assert not await bot.storage.votes.poll_sent(vote.id, "late-poll", place.group.id, 77, now)
    assert len(await bot.storage.outbox.items("stop_poll")) == 1


async def test_who_is_eligible_and_the_room_history(storage: Storage) -> None:
    grid = await storage.grids.bind_grid(
        chat_id=-1001,
        title="一网格",
        grid="第一网格",
        community="通顺社区",
        street=None,
        by=1,
        now=T0,
    )
    assert grid.grid_id is not None
    gid = grid.grid_id
    desk = a_desk(storage)
    rv = storage.votes
    await votes.add_households(desk, grid_id=gid, labels=[Label("3", "2", "101")], by=1, now=T0)
    # a resident's typos: each claim makes a household; she moves on from two of them
    for room in ("901", "902", "903"):
        await rv.tie(gid, 7, "王", f"9-9-{room}", ("9", "9", room), MemberStatus.CLAIMED, 7, T0)
    # an officer sets 赵 into a room nobody added (vouched), and 李 claims 3-2-101
    await rv.tie(gid, 8, "赵", "5-1-101", ("5", "1", "101"), MemberStatus.CONFIRMED, 1, T0)
    await rv.tie(gid, 9, "李", "5-1-202", ("5", "1", "202"), MemberStatus.CLAIMED, 9, T0)
    await rv.untie(gid, 8, 1, T0)  # 5-1-101 stays eligible: an officer stood for it
    await rv.untie(gid, 9, 9, T0)  # 5-1-202 was only a claim, nobody lives there now
    line = VoteLine("凉房", deadline=T0 + timedelta(days=1))
    first = await votes.start(
        desk, grid_id=gid, chat_id=-1001, thread_id=None, line=line, actor=Actor(1, "o"), now=T0
    )
    assert first is not None
    state = await rv.state(first.vote.id)
    assert state is not None
    assert [h.label for h in state.households] == ["3-2-101", "5-1-101", "9-9-903"]
    # an officer removes a household: no new vote counts it, the running one keeps it
    removed = await votes.remove_household(desk, grid_id=gid, label="9-9-903", by=1, now=T0)
    assert removed is not None and removed.removed
    assert await rv.remove_household(gid, "9-9-903", 1, T0) is None
    second = await votes.start(
        desk,
        grid_id=gid,
        chat_id=-1001,
        thread_id=None,
        line=VoteLine("电梯", deadline=T0 + timedelta(days=1)),
        actor=Actor(1, "o"),
        now=T0,
    )
    assert second is not None and second.vote.eligible == 2
    assert first.vote.eligible == 3
    assert [line.household.label for line in await rv.households(gid)] == [
        "3-2-101",
        "5-1-101",
        "5-1-202",
        "9-9-901",
        "9-9-902",
    ]
    # added again by an officer: back
    assert (
        await votes.add_households(desk, grid_id=gid, labels=[Label("9", "9", "903")], by=1, now=T0)
        == 1
    )
    # the history: who tied whom where, and when
    kinds = [(e.kind, e.label, e.user_id, e.actor_id) for e in await rv.household_events(gid)]
    assert kinds == [
        (HouseholdEventKind.ADD, "3-2-101", None, 1),
        (HouseholdEventKind.TIE, "9-9-901", 7, 7),
        (HouseholdEventKind.MOVE, "9-9-902", 7, 7),
        (HouseholdEventKind.MOVE, "9-9-903", 7, 7),
        (HouseholdEventKind.SET, "5-1-101", 8, 1),
        (HouseholdEventKind.TIE, "5-1-202", 9, 9),
        (HouseholdEventKind.UNTIE, "5-1-101", 8, 1),
        (HouseholdEventKind.UNTIE, "5-1-202", 9, 9),
        (HouseholdEventKind.REMOVE, "9-9-903", None, 1),
        (HouseholdEventKind.ADD, "9-9-903", None, 1),
    ]
    moves = [e.note for e in await rv.household_events(gid) if e.kind is HouseholdEventKind.MOVE]
    assert moves == ["9-9-901", "9-9-902"]
    # a claim where an officer confirmed someone: the tie says so (the handler tells)
    await rv.tie(gid, 8, "赵", "3-2-101", ("3", "2", "101"), MemberStatus.CONFIRMED, 1, T0)
    claim = await rv.tie(gid, 10, "陈", "3-2-101", ("3", "2", "101"), MemberStatus.CLAIMED, 10, T0)
    assert claim.contested and [m.user_id for m in claim.confirmed] == [8]
    assert not claim.repeat
    again = await rv.tie(gid, 10, "陈", "3-2-101", ("3", "2", "101"), MemberStatus.CLAIMED, 10, T0)
    assert again.repeat and again.contested
    confirmed = await rv.confirm(gid, 10, 1, T0)
    assert confirmed is not None and not confirmed.contested


async def test_show_of_a_closed_vote_is_its_record(bot: Harness) -> None:
    place = await stair(bot)
    wang, li, zhao, _sun = place.people
    await tie(bot, place, wang, "3-2-101")
    await tie(bot, place, li, "3-2-201")
    await tie(bot, place, zhao, "3-2-201")
    vote = await start(bot, place, "凉房改造 --where 3-2")
    await answer(bot, vote, wang, 0)
    await answer(bot, vote, li, 0)
    await answer(bot, vote, zhao, 1)
    closed = await votes.close(desk_of(bot), vote, bot.clock.now(), place.actor)
    assert closed is not None and closed.result is not None
    # after the close, people move: the record does not change
    await tie(bot, place, zhao, "3-1-101")
    await tie(bot, place, wang, "3-1-101")
    shown = await votes.current(desk_of(bot), vote.id)
    assert shown is not None
    shown_vote, record = shown
    assert record.recorded and list(record.counts) == closed.result["counts"] == [1, 1, 0]
    assert (record.voted, record.eligible, record.passed) == (2, 4, False)
    assert [s.label for s in record.splits] == ["3-2-201"]
    assert record.splits[0].answers == (("李叔", 0), ("赵姐", 1))
    finals = {record.labels[f.household_id]: f for f in record.finals}
    assert finals["3-2-101"].name == "王阿姨" and finals["3-2-101"].option == 0
    assert (await votes.recorded(desk_of(bot), vote.id)) == shown
    text = votes.result_text(Texts("zh"), shown_vote, record)
    assert "参与 2 户 / 应参与 4 户" in text


async def test_late_answers_and_proxies_change_nothing(bot: Harness) -> None:
    place = await stair(bot)
    wang, li, *_ = place.people
    await tie(bot, place, wang, "3-2-101")
    await tie(bot, place, li, "3-2-201")
    vote = await start(bot, place, "凉房改造 --until 1h")
    await answer(bot, vote, wang, 0)
    bot.clock.advance(timedelta(hours=1, seconds=20))  # the tick is late (a restart)
    await answer(bot, vote, li, 0)
    await answer(bot, vote, wang, 1)
    now = bot.clock.now()
    assert votes.refusal(vote, now) == "vote.refused_late"
    assert votes.refusal(vote, vote.deadline - timedelta(seconds=1)) is None
    assert Texts("zh")("vote.refused_late", id=vote.id)
    done = await votes.proxy(desk_of(bot), vote, "3-2-301", 0, actor=place.actor, now=now)
    assert done is None
    assert await bot.storage.votes.proxy(vote.id, "3-2-301", 0, 1, "o", "", now) is None
    kept = await bot.storage.votes.answers(vote.id)
    assert len(kept) == 3  # kept …
    await bot.tick()
    closed = await bot.storage.votes.get(vote.id)
    assert closed is not None and closed.result is not None
    assert (closed.result["counts"], closed.result["voted"]) == ([1, 0, 0], 1)  # … not counted
    assert {a["reason"] for a in closed.result["set_aside"]} == {"late"}


async def test_an_answer_racing_the_close_is_counted_or_refused(database: Path | str) -> None:
    first = await Storage.open(database)
    second = await Storage.open(database)
    try:
        grid = await first.grids.bind_grid(
            chat_id=-1001,
            title="一网格",
            grid="第一网格",
            community="通顺社区",
            street=None,
            by=1,
            now=T0,
        )
        assert grid.grid_id is not None
        desk, other = a_desk(first), a_desk(second)
        labels = [Label("3", "2", str(100 + i)) for i in range(6)]
        await votes.add_households(desk, grid_id=grid.grid_id, labels=labels, by=1, now=T0)
        for i in range(6):
            await votes.tie(
                desk,
                grid_id=grid.grid_id,
                user_id=100 + i,
                user_name=f"u{i}",
                label=labels[i],
                status=MemberStatus.CLAIMED,
                set_by=1,
                now=T0,
            )
        line = VoteLine("凉房", deadline=T0 + timedelta(days=2))
        started = await votes.start(
            desk,
            grid_id=grid.grid_id,
            chat_id=-1001,
            thread_id=None,
            line=line,
            actor=Actor(1, "o"),
            now=T0,
        )
        assert started is not None
        vote = started.vote
        await first.votes.poll_sent(vote.id, "p", -1001, 10, T0)
        at = T0 + timedelta(hours=1)
        given = [
            votes.answer(other, poll_id="p", user_id=100 + i, user_name="u", option_ids=[0], now=at)
            for i in range(6)
        ]
        await asyncio.gather(votes.close(desk, vote.id, at, None), *given)
        kept = await first.votes.answers(vote.id)
        closed = await first.votes.get(vote.id)
        assert closed is not None and closed.result is not None
        assert closed.result["voted"] == len(kept)  # nothing recorded after the close
    finally:
        await first.close()
        await second.close()


async def test_a_group_that_becomes_a_supergroup_takes_its_votes(bot: Harness) -> None:
    officer = bot.sim.add_user("刘网格员")
    wang, li = bot.sim.add_user("王阿姨"), bot.sim.add_user("李叔")
    group = await bot.grid("北瑞", wang, li, supergroup=False)
    bot.sim.set_member(group, officer, "administrator")
    (grid,) = await bot.storage.grids.grids()
    desk = desk_of(bot)
    for person, room in ((wang, "101"), (li, "201")):
        await votes.tie(
            desk,
            grid_id=grid.id,
            user_id=person.id,
            user_name=person.first_name,
            label=Label("3", "2", room),
            status=MemberStatus.CLAIMED,
            set_by=person.id,
            now=bot.clock.now(),
        )
    now = bot.clock.now()
    started = await votes.start(
        desk,
        grid_id=grid.id,
        chat_id=group.id,
        thread_id=None,
        line=VoteLine("凉房", deadline=now + timedelta(days=1)),
        actor=Actor(officer.id, "刘网格员"),
        now=now,
    )
    assert started is not None
    vote = started.vote
    await bot.flush()
    (old_poll,) = bot.polls(group)
    await bot.vote(group, old_poll, wang, 0)
    new = bot.sim.migrate_to_supergroup(group)
    await bot.drain()
    moved = await bot.storage.votes.get(vote.id)
    assert moved is not None and moved.chat_id == new.id
    await bot.flush()
    (new_poll,) = bot.polls(new)  # a fresh poll in the new chat
    await bot.vote(new, new_poll, li, 0)
    assert await votes.close(desk, vote.id, bot.clock.now(), Actor(officer.id, "刘网格员"))
    await bot.flush()
    stops = await bot.storage.outbox.items("stop_poll")
    assert [(s.chat_id, s.payload["message_id"]) for s in stops] == [
        (new.id, new_poll["message_id"])
    ]
    assert bot.polls(new)[0]["poll"]["is_closed"] is True
    closed = await bot.storage.votes.get(vote.id)
    assert closed is not None and closed.result is not None
    assert closed.result["counts"][0] == 2  # 王阿姨's answer in the old poll still counts
    assert [t for t in texts_to(bot, new) if "议事 1 结果" in t]


async def test_officer_only_texts_reach_an_officer_when_the_starter_cannot(bot: Harness) -> None:
    place = await stair(bot)
    desk = desk_of(bot)
    wang, li, *_ = place.people
    await tie(bot, place, wang, "3-2-101")
    await tie(bot, place, li, "3-2-101")
    now = bot.clock.now()
    line = VoteLine("凉房改造", deadline=now + timedelta(days=1))

    async def anonymous_start(message_id: int) -> Vote:
        started = await votes.start(
            desk,
            grid_id=place.grid_id,
            chat_id=place.group.id,
            thread_id=None,
            line=line,
            actor=Actor(None, "北瑞小区一网格"),  # an anonymous admin: no user
            now=now,
            source=(place.group.id, message_id),
        )
        assert started is not None
        await bot.flush()
        return started.vote

    # no named officer: the community's office chat (staff) reads it
    office = bot.group("通顺社区办公室")
    await bot.storage.grids.bind_supervisor(
        chat_id=office.id, title="办公室", name="通顺社区", by=bot.admin.id, now=now
    )
    vote = await anonymous_start(1)
    await answer(bot, vote, wang, 0)
    await answer(bot, vote, li, 1)
    assert [t for t in texts_to(bot, office) if "不一致" in t]
    assert await votes.close(desk, vote, now, None)
    await bot.flush()
    assert [t for t in texts_to(bot, office) if "已结束" in t]
    # a named officer: he reads it, not the office
    await bot.storage.officers.name(place.grid_id, place.officer.id, "刘网格员", by=1, now=now)
    before = len(texts_to(bot, office))
    second = await anonymous_start(2)
    await answer(bot, second, wang, 0)
    await answer(bot, second, li, 1)

    async def gone(user_id: int, grid_id: int) -> bool:
        return False

    assert await votes.readers(desk, second, gone) == [place.officer.id]
    assert await votes.close(desk, second, now, None, may_see=gone)
    await bot.flush()
    mine = texts_to(bot, place.officer.id)
    assert [t for t in mine if f"议事 {second.id}（已结束）" in t and "转给您" in t]
    assert len(texts_to(bot, office)) == before


async def test_a_deadline_in_quiet_hours_stops_the_poll_and_posts_the_result_at_their_end(
    bot: Harness,
) -> None:
    place = await stair(bot)  # 09:00 local on 11月26日; QUIET_HOURS 22:00-07:00 by default
    wang = place.people[0]
    await tie(bot, place, wang, "3-2-101")
    vote = await start(bot, place, "凉房改造 --until 11月27日")  # the end of that day: 00:00
    await answer(bot, vote, wang, 0)
    report = await bot.tick(timedelta(days=1, hours=15, minutes=1))  # 11月28日 00:01
    assert report.votes_closed == 1
    assert bot.polls(place.group)[0]["poll"]["is_closed"] is True  # no answer after 00:00
    assert not [t for t in texts_to(bot, place.group) if "结果" in t]  # nobody woken at night
    assert not [t for t in texts_to(bot, place.officer.id) if "已结束" in t]
    await bot.tick(timedelta(hours=6, minutes=58))  # 06:59
    assert not [t for t in texts_to(bot, place.group) if "结果" in t]
    await bot.tick(timedelta(minutes=1))  # 07:00
    assert len([t for t in texts_to(bot, place.group) if "结果" in t]) == 1
    assert len([t for t in texts_to(bot, place.officer.id) if "已结束" in t]) == 1
