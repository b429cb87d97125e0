"""议事: the eligible households are fixed when a vote starts, and the roster can lose a
household that people still live in — what each person is told then must be true.

Driven through the simulator (tests/harness.py), as tests/test_vote_commands.py.
"""

from __future__ import annotations

from tests.harness import Harness
from tests.test_vote_commands import ask, said, stair, texts_in, tie_all


async def test_an_answer_counts_after_room_only_if_the_household_is_on_the_vote_s_list(
    bot: Harness,
) -> None:
    place = await stair(bot)
    await tie_all(bot, place)  # 501 (王阿姨, 李叔), 502 (赵奶奶), 503 (added)
    started = await ask(bot, place.group, place.officer, "/vote 凉房改造")
    assert "名单" in started and "/vote proxy" in started, started
    poll = bot.polls(place.group)[0]
    # 陈先生 has no room: told that it counts only if his household is on this vote's list
    await bot.vote(place.group, poll, place.chen, 0)
    chen_private = bot.sim.private_chat(place.chen)
    told = texts_in(bot, chen_private)[-1]
    assert told == said("vote.untied", id=1, question="凉房改造")
    assert "名单" in told and "/vote proxy" in told
    # his /room makes a new household (3-2-504): not on the list; he is told so
    answer = await ask(bot, chen_private, place.chen, "/room 3-2-504")
    assert answer.startswith(said("votes.room_tied", label="3-2-504"))
    assert said("votes.room_outside_vote", id=1, question="凉房改造", label="3-2-504") in answer
    # a newcomer who answers, then ties herself to 3-2-503 (on the list): she counts, no warning
    sun = bot.sim.add_user("孙阿姨")
    bot.sim.set_member(place.group, sun, "member")
    sun_private = bot.sim.private_chat(sun)
    await bot.say(sun_private, sun, "/start")
    await bot.vote(place.group, poll, sun, 1)
    answer = await ask(bot, sun_private, sun, "/room 3-2-503")
    assert answer == said("votes.room_tied", label="3-2-503")
    # a retracted answer is no answer: no warning either
    await bot.vote(place.group, poll, place.chen)
    answer = await ask(bot, chen_private, place.chen, "/room 3-2-505")
    assert "议事 1" not in answer
    await bot.vote(place.group, poll, place.chen, 0)
    await ask(bot, place.group, place.officer, "/vote close 1")
    vote = await bot.storage.votes.get(1)
    assert vote is not None and vote.result is not None
    assert vote.result["voted"] == 1  # 3-2-503 (孙阿姨); 陈先生's 3-2-505 is no eligible one
    assert vote.result["counts"] == [0, 1, 0]


async def test_a_household_off_the_roster_with_residents(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    # 3-2-502 goes off the roster while 赵奶奶 is tied to it: the group reads no name …
    answer = await ask(bot, place.group, place.officer, "/room del 3-2-502")
    assert answer == said("votes.room_removed", label="3-2-502")
    assert "赵奶奶" not in answer
    # … the officer reads who, and how to untie her, privately
    detail = texts_in(bot, place.private)[-1]
    names = f"赵奶奶 ({place.zhao.id})"
    assert detail == said("votes.room_removed_residents", label="3-2-502", count=1, names=names)
    # /room list shows it, marked off the roster; 3-2-503 off the roster and empty is not shown
    await ask(bot, place.group, place.officer, "/room del 3-2-503")
    listed = await ask(bot, place.private, place.officer, "/room list")
    assert "3-2-502（已移出名册）：赵奶奶" in listed, listed
    assert "3-2-503" not in listed
    # a claim of a removed room: told privately it is off the roster
    chen_private = bot.sim.private_chat(place.chen)
    answer = await ask(bot, chen_private, place.chen, "/room 3-2-503")
    assert said("votes.room_claim_removed", label="3-2-503") in answer
    # a vote: both answer; each is told the room is off the roster (not "outside the list")
    await ask(bot, place.group, place.officer, "/vote 凉房改造")
    poll = bot.polls(place.group)[0]
    for person, label in ((place.chen, "3-2-503"), (place.zhao, "3-2-502")):
        await bot.vote(place.group, poll, person, 0)
        told = texts_in(bot, bot.sim.private_chat(person))[-1]
        assert told == said("vote.not_eligible_removed", id=1, question="凉房改造", label=label)
    # a room outside the vote's scope reads the other text
    await ask(bot, place.group, place.officer, "/room add 3-1-101")
    await ask(bot, place.group, place.officer, "/vote 一单元的事 --where 3-1")
    poll = bot.polls(place.group)[1]
    await bot.vote(place.group, poll, place.wang, 0)
    told = texts_in(bot, bot.sim.private_chat(place.wang))[-1]
    assert told == said("vote.not_eligible", id=2, question="一单元的事", label="3-2-501")
    # the officer unties her by user id, as the private detail said
    answer = await ask(bot, place.private, place.officer, f"/room del {place.zhao.id}")
    assert answer == said("votes.room_untied", name="赵奶奶", label="3-2-502")
    assert await bot.storage.votes.household_of(place.grid.id, place.zhao.id) is None
    answer = await ask(bot, place.group, place.officer, f"/room del {place.zhao.id}")
    assert answer == said("votes.room_nothing_to_untie")
    listed = await ask(bot, place.private, place.officer, "/room list")
    assert "3-2-502" not in listed


async def test_an_english_subcommand_word_with_no_number_gets_its_usage(bot: Harness) -> None:
    place = await stair(bot)
    await tie_all(bot, place)
    answer = await ask(bot, place.group, place.officer, "/vote show x")
    assert answer == said("votes.need_number", usage=said("votes.example_show"))
    answer = await ask(bot, place.group, place.officer, "/vote close 最后")
    assert answer == said("votes.need_number", usage=said("votes.example_close"))
    assert bot.polls(place.group) == []
    # a Chinese word followed by words is still a question
    answer = await ask(bot, place.group, place.officer, "/vote 关闭 东门 --until 30m")
    assert answer.startswith("🗳 议事 1 已发起：关闭 东门"), answer
