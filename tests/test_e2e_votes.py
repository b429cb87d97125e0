"""议事 through the real `linlitong run`: residents tie their rooms, an officer starts a vote in
the group, answers come in (a retraction, a household split, someone with no room, a proxy),
the process is killed with kill -9 and started again before the deadline on a clock moved
close to it; the deadline passes and the bot's own tick closes the vote: the poll is stopped
once, the result posted once, the record kept."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.launcher import RUN_SCRIPT, BotProcess, start_bot
from bot.simulator import SimChat, Simulator, SimUser
from storage import Storage, is_url
from tests.e2e import bind, count, grid_cast, reply_to, running
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

BEFORE_DEADLINE = timedelta(seconds=5)  # the restarted clock starts this long before it


async def test_a_household_vote_through_the_real_process(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    grid, admin, officer, wang = cast.grid, cast.admin, cast.officer, cast.resident
    li, zhao, chen = sim.add_user("李叔"), sim.add_user("赵奶奶"), sim.add_user("陈先生")
    for person in (li, zhao, chen):
        sim.set_member(grid, person, "member")
    env = {
        "TICK_INTERVAL": "1s",
        "QUIET_HOURS": "off",
        "DIGEST_TIME": "23:59",
        "LOG_LEVEL": "INFO",
    }
    target = database if is_url(database) else tmp_path / database
    async with running(sim, tmp_path, database=database, admin=admin, settings=env) as live:
        await bind(sim, grid, admin, "/bind 第一网格 通顺社区 交通街道")

        async def say(chat: SimChat, user: SimUser, text: str, reply: int | None = None) -> str:
            sent = sim.send_text(chat, user, text, reply_to=reply)
            return str((await reply_to(sim, chat, sent["message_id"], within=30))["text"])

        mine = {p.id: sim.private_chat(p) for p in (officer, chen, li)}
        for person in (officer, chen, li):  # private chats open: notices can reach them
            sim.send_text(mine[person.id], person, "/start")
            await sim.wait_for(partial(sim.bot_messages, mine[person.id].id), 30)

        # rooms: in the group (the room is not shown there), in private (her one grid group is
        # found), confirmed by the officer (who and which: in his private chat)
        claim = sim.send_text(grid, wang, "/room 3-2-501")
        tied = str((await reply_to(sim, grid, claim["message_id"], 30))["text"])
        assert tied.startswith("✅ 已登记") and "501" not in tied, tied
        assert "✅ 已登记 3-2-501" in await say(mine[li.id], li, "/room 3号楼2单元501")
        tied = await say(grid, zhao, "/room 3-2-502")
        assert tied.startswith("✅ 已登记") and "502" not in tied, tied
        confirmed = await say(grid, officer, "/room", claim["message_id"])
        assert confirmed.startswith("✅ 已确认") and "王阿姨" not in confirmed, confirmed
        # the officer hears who and which privately, and that 李叔 (same room, unconfirmed)
        # counts only once confirmed: he does so by user id (李叔 wrote nothing in the group)
        await sim.wait_for(lambda: count(sim, mine[officer.id], "待确认的住户：李叔") == 1, 30)
        assert count(sim, mine[officer.id], "已确认 王阿姨 的房号 3-2-501") == 1
        assert (await say(grid, officer, f"/room 3-2-501 {li.id}")).startswith("✅ 已登记")
        assert "新添加 1 户" in await say(grid, officer, "/room add 3-2-503")

        # a resident may not start one; the officer does
        refused = await say(grid, wang, "/vote 凉房改造")
        assert "只有本网格的网格员" in refused
        started = await say(grid, officer, "/vote 3号楼2单元凉房改造 —where 3-2 --until 1d")
        assert "议事 1" in started and "3 户" in started, started
        await sim.wait_for(lambda: len(sim.poll_messages(grid.id)) == 1, 30)
        (poll_message,) = sim.poll_messages(grid.id)
        assert not poll_message["poll"]["is_anonymous"]

        watcher = await Storage.open(target, migrate=False, create=False)
        try:

            async def answered(n: int) -> bool:
                return len(await watcher.votes.answers(1)) == n

            # one at a time, so that "the latest" is the order written here
            taps: list[tuple[SimUser, list[int]]] = [
                (li, [1]),  # 3-2-501: 不同意 …
                (wang, [0]),  # … then her 同意: a split, the latest counts
                (zhao, [1]),  # 3-2-502: 不同意 …
                (zhao, []),  # … retracted: no answer
                (chen, [0]),  # no room: kept, not counted, told privately
            ]
            for n, (person, options) in enumerate(taps, start=1):
                sim.answer_poll(grid, poll_message["message_id"], person, options)
                assert await eventually(partial(answered, n), within=30)
            # 3-2-503 has no Telegram: the officer records its answer by phone
            proxied = await say(mine[officer.id], officer, "/vote proxy 1 3-2-503 同意 电话确认")
            assert "已为 3-2-503 代录“同意”" in proxied
            await sim.wait_for(lambda: count(sim, mine[chen.id], "还没有登记房号") == 1, 30)
            await sim.wait_for(lambda: count(sim, mine[officer.id], "家庭成员选择不一致") == 1, 30)

            vote = await watcher.votes.get(1)
            assert vote is not None and vote.is_open
            deadline = vote.deadline
        finally:
            await watcher.close()

        # killed before the deadline; the next process's clock starts just before it
        await live.bot.kill9()
        later = {**env, "CLOCK_START": (deadline - BEFORE_DEADLINE).isoformat()}

        async def start_later() -> BotProcess:
            return await start_bot(
                base_url=live.server.base_url,
                token=sim.token,
                database_path=target,
                cwd=tmp_path,
                admin_ids=(admin.id,),
                log_path=tmp_path / "bot.log",
                extra_env=later,
                command=RUN_SCRIPT,
            )

        live.start = start_later
        await live.restart()

        # the deadline passes: the tick closes the vote, stops the poll, posts the result
        await sim.wait_for(lambda: count(sim, grid, "议事 1 结果") == 1, 60)
        await sim.wait_for(lambda: sim.poll_messages(grid.id)[0]["poll"]["is_closed"], 30)
        # the bot goes on (a command answered after it), and nothing came twice
        listing = await say(grid, zhao, "/vote list")
        assert "已结束 ✅ 通过" in listing
        assert count(sim, grid, "议事 1 结果") == 1
        assert len(sim.calls_to("stopPoll")) == 1
        (result,) = [
            t for m in sim.bot_messages(grid.id) if "议事 1 结果" in (t := m.get("text", ""))
        ]
        for line in ("· 同意：2 户", "· 不同意：0 户", "参与 2 户 / 应参与 3 户", "✅ 通过"):
            assert line in result, result
        assert "其中 1 户由网格员代为登记" in result
        for name in ("王阿姨", "李叔", "赵奶奶", "陈先生"):
            assert name not in result
        # the starter got the household detail privately
        await sim.wait_for(lambda: count(sim, mine[officer.id], "议事 1（已结束）") == 1, 30)

    stored = await Storage.open(target, migrate=False, create=False)
    try:
        vote = await stored.votes.get(1)
        assert vote is not None and not vote.is_open
        assert vote.closed_by is None and vote.closed_at is not None
        assert vote.closed_at >= vote.deadline
        assert vote.result is not None and vote.result["passed"] is True
        assert vote.result["splits"] == ["3-2-501"]
        assert vote.result["not_counted"] == 1
    finally:
        await stored.close()
