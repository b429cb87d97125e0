"""The outbox against a Telegram that enforces its limits and fails now and then."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import VirtualClock
from bot.context import runtime_of
from bot.ratelimit import TelegramBudget
from bot.schedule import queue_digests
from bot.simulator import Simulator
from bot.simulator.models import FaultPlan, RateLimits, SimChat, SimUser
from storage import OutboxDraft, TicketFilter
from tests.harness import JSON, Harness, harness

# Telegram's windows and the budget's are measured on one virtual clock, which jumps to the next
# deadline once every task waits for it: the limits cost no real time, and no test depends on
# how fast the machine runs.


def limited_sim(clock: VirtualClock, limits: RateLimits | None = None) -> Simulator:
    return Simulator(clock=clock.monotonic, limits=limits or RateLimits())


def unlimited(clock: VirtualClock) -> TelegramBudget:
    return TelegramBudget(
        group_per_minute=1_000_000,
        private_per_second=1_000_000,
        global_per_second=1_000_000,
        clock=clock,
    )


def errors_429(bot: Harness) -> int:
    return sum(1 for c in bot.sim.calls if c.error is not None and c.error.error_code == 429)


async def test_burst_of_40_reports_gets_every_receipt_within_a_minute(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    async with harness(tmp_path, sim=limited_sim(clock), budget=TelegramBudget(clock=clock)) as bot:
        resident = bot.sim.add_user("王阿姨")
        grid = await bot.grid("北瑞小区一网格", resident)
        started = clock.monotonic()
        messages = [
            bot.sim.send_text(grid, resident, f"#报修 {n + 1}号楼楼道灯不亮") for n in range(40)
        ]
        await bot.drain()
        elapsed = clock.monotonic() - started
        tickets = await bot.storage.tickets.find(TicketFilter(), limit=100)
        assert tickets[1] == 40
        receipts = await bot.storage.outbox.items("receipt")
        assert len(receipts) == 40 and all(r.status == "sent" for r in receipts)
        combined = [m for m in bot.sim.bot_messages(grid.id) if "条报事" in m.get("text", "")]
        individual = sum(1 for m in messages if bot.replies(grid, m))
        listed = sum(m["text"].count("工单 ") for m in combined)
        assert individual + listed == 40, (individual, listed)
        assert combined, "the group's budget ran out: receipts must have been combined"
        assert errors_429(bot) == 0
        assert elapsed < 60  # Telegram's minute, on the clock both sides measure it with
        # every ticket knows the message that answered it
        for ticket in tickets[0]:
            assert ticket.receipt_message_id is not None


async def _bound_groups(
    bot: Harness, clock: VirtualClock, count: int, *members: SimUser
) -> list[SimChat]:
    chats = await bot.bound_groups(count, *members)
    clock.advance(1.1)  # the welcomes' second of the global budget has passed
    bot.sim.limits = bot.sim.limits  # and the simulator's counters start afresh
    return chats


def acknowledgements(bot: Harness, chat: SimChat, report: JSON) -> int:
    """Receipts replying to the report, plus combined receipts naming its ticket's link."""
    replies = [r for r in bot.replies(chat, report) if "已登记" in r.get("text", "")]
    link = f'/{report["message_id"]}"'
    combined = [
        m
        for m in bot.sim.bot_messages(chat.id)
        if "条报事" in m.get("text", "") and link in json.dumps(m.get("entities", []))
    ]
    return len(replies) + len(combined)


async def test_receipts_past_the_global_rate_are_combined_per_group(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    async with harness(tmp_path, sim=limited_sim(clock), budget=TelegramBudget(clock=clock)) as bot:
        resident = bot.sim.add_user("王阿姨")
        chats = await _bound_groups(bot, clock, 45, resident)
        sent_before = len(bot.sim.sent)
        reports = [
            (chat, bot.sim.send_text(chat, resident, f"#报修 {n}号楼楼道灯不亮"))
            for n in range(3)
            for chat in chats
        ]
        started = clock.monotonic()
        await bot.drain()
        elapsed = clock.monotonic() - started
        for chat, report in reports:
            assert acknowledgements(bot, chat, report) == 1
        messages = len(bot.sim.sent) - sent_before
        # 135 receipts one by one would take 4.7 s of the global budget: combined, far fewer
        assert messages < 100, messages
        assert errors_429(bot) == 0
        assert elapsed < 135 / 28
        for ticket in (await bot.storage.tickets.find(TicketFilter(), limit=200))[0]:
            assert ticket.receipt_message_id is not None


async def test_reports_arriving_while_a_group_waits_join_its_message(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    budget = TelegramBudget(global_per_second=1, clock=clock)
    async with harness(tmp_path, sim=Simulator(clock=clock.monotonic), budget=budget) as bot:
        resident = bot.sim.add_user("王阿姨")
        first, second = await _bound_groups(bot, clock, 2, resident)
        clock.autojump = False  # from here time moves when the test says so
        early = [bot.sim.send_text(chat, resident, "#报修 1号楼灯不亮") for chat in (first, second)]
        await bot.process()
        flushing = asyncio.create_task(bot.flush())
        # the first group's receipt is out; the second waits its turn, asleep on the budget
        await bot.sim.wait_for(
            lambda: acknowledgements(bot, first, early[0]) == 1 and clock.sleeping == 1,
            timeout=30,
        )
        late = [bot.sim.send_text(second, resident, f"#报修 {n}号楼灯不亮") for n in (2, 3)]
        await bot.process()
        assert not flushing.done()
        clock.advance(budget.wait_time(None))  # its second comes
        await flushing
        assert len(bot.replies(first, early[0])) == 1  # alone: a receipt of its own
        for report in (early[1], *late):
            assert acknowledgements(bot, second, report) == 1
        combined = [m for m in bot.sim.bot_messages(second.id) if "条报事" in m.get("text", "")]
        assert len(combined) == 1  # the three went out together, in the turn it waited for


async def test_digest_to_200_groups_within_the_limits(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    budget = TelegramBudget(clock=clock)
    async with harness(tmp_path, sim=limited_sim(clock), budget=budget) as bot:
        runtime = runtime_of(bot.app)
        await bot.bound_groups(200)  # the welcome messages: 200 more sends, within the limits
        welcomes = errors_429(bot)
        clock.advance(2.0)  # the welcomes' seconds have passed
        started = clock.monotonic()
        queued = await queue_digests(runtime, bot.clock.now(), bot.clock.now().date())
        assert queued == 200
        await bot.flush()
        elapsed = clock.monotonic() - started
        digests = await bot.storage.outbox.items("digest")
        assert len(digests) == 200 and all(d.status == "sent" for d in digests)
        assert welcomes == errors_429(bot) == 0
        # 30 a second: the 200th message can leave 6 s after the first, not sooner
        minimum = float((200 - 1) // 30)
        print(f"\n200-group digest: {elapsed:.2f} s; limit-imposed minimum {minimum:.2f} s")
        assert elapsed >= minimum  # the global limit was kept
        # … and held each second only the budget's margin longer than Telegram does
        assert elapsed / minimum == pytest.approx(1 + budget.margin / 5)
        again = await queue_digests(runtime, bot.clock.now(), bot.clock.now().date())
        assert again == 0  # once per chat and day


async def test_a_flooded_chat_does_not_stall_the_others(tmp_path: Path) -> None:
    clock = VirtualClock(autojump=True)
    sim = limited_sim(clock, RateLimits(per_group_per_minute=3))
    async with harness(tmp_path, sim=sim, budget=TelegramBudget(clock=clock)) as bot:
        a, b = bot.sim.add_group("A"), bot.sim.add_group("B")
        for chat in (a, b):
            bot.sim.set_member(chat, bot.admin, "creator")
            bot.sim.add_bot(chat, by=bot.admin, status="member")
        bot.sim.limits = RateLimits(per_group_per_minute=3)  # counters reset after the welcomes
        now = bot.clock.now()
        drafts = [OutboxDraft(a.id, "notice", now, text=f"A{n}") for n in range(6)]
        drafts += [OutboxDraft(b.id, "notice", now, text=f"B{n}") for n in range(3)]
        await bot.storage.outbox.add_many(drafts, now)
        await bot.flush()
        texts = [m.get("text") for m in bot.sim.bot_messages(b.id)]
        assert texts[-3:] == ["B0", "B1", "B2"]
        sent_a = [
            m.get("text") for m in bot.sim.bot_messages(a.id) if m.get("text", "").startswith("A")
        ]
        assert sent_a == ["A0", "A1", "A2"]
        assert errors_429(bot) == 1  # Telegram said so once; the chat now waits
        calls = len(bot.sim.calls)
        await bot.flush()
        assert len(bot.sim.calls) == calls  # blocked: nothing is tried before retry_after
        pending = [i for i in await bot.storage.outbox.items() if i.status == "pending"]
        assert [i.text for i in pending] == ["A3", "A4", "A5"]
        clock.advance(60)  # Telegram's retry_after has passed
        await bot.flush()
        sent_a = [m.get("text") for m in bot.sim.bot_messages(a.id)]
        assert sent_a[-3:] == ["A3", "A4", "A5"]
        assert errors_429(bot) == 1


async def test_flaky_telegram_everything_arrives_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        resident = bot.sim.add_user("王阿姨")
        grid = await bot.grid("北瑞小区一网格", resident)
        bot.sim.faults = FaultPlan(error_5xx=0.3, timeout=0.2, seed=7, timeout_applies=False)
        messages = [
            bot.sim.send_text(grid, resident, f"#报修 {n + 1}号楼灯不亮") for n in range(20)
        ]
        await bot.drain()
        for _ in range(40):  # move the clock past each backoff until the outbox is empty
            if not [i for i in await bot.storage.outbox.items() if i.status == "pending"]:
                break
            await bot.tick(timedelta(minutes=5))
        bot.sim.faults = FaultPlan()
        assert all(i.status == "sent" for i in await bot.storage.outbox.items("receipt"))
        for message in messages:
            receipts = [r for r in bot.replies(grid, message) if "已登记" in r.get("text", "")]
            assert len(receipts) == 1
        failures = [c for c in bot.sim.calls if c.error is not None or c.timed_out]
        assert failures, "the fault plan should have failed some calls"


async def test_flaky_telegram_reminders_escalations_followups_digests_arrive_once(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(autojump=True)
    sim = Simulator(clock=clock.monotonic)
    async with harness(tmp_path, sim=sim, budget=unlimited(clock)) as bot:
        resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
        grid = await bot.grid("北瑞小区一网格", resident)
        bot.sim.set_member(grid, officer, "administrator")
        office = bot.group("通顺社区督办群")
        await bot.say(office, bot.admin, "/supervise 通顺社区")
        done = await bot.say(grid, resident, "#报修 5号楼水管漏水")
        await bot.say(grid, officer, "/done 1 换了新水管")  # its 回访 is due in an hour
        assert bot.replies(grid, done)
        started = len(bot.sim.sent)
        # A share of every send fails: 502s, lost answers, and 429 storms of a second.
        bot.sim.faults = FaultPlan(
            error_5xx=0.25, timeout=0.15, flood=0.05, flood_retry_after=1, seed=11
        )
        reports = [
            bot.sim.send_text(grid, resident, f"#报修 {n}号楼楼道灯不亮") for n in (2, 3, 4, 5)
        ]
        await bot.drain()
        # Three and a half days in 5-minute ticks (response 2 h, resolution 3 d, the escalation
        # to the community at 3 d, a digest at 18:00 each day); a 429 blocks its chat for a
        # second of the monotonic clock, which moves on with each tick.
        for _ in range(int(timedelta(days=3, hours=12) / timedelta(minutes=5))):
            clock.advance(1.0)
            await bot.tick(timedelta(minutes=5))
        for _ in range(60):
            if not [i for i in await bot.storage.outbox.items() if i.status == "pending"]:
                break
            clock.advance(1.0)
            await bot.tick(timedelta(minutes=5))
        bot.sim.faults = FaultPlan()
        rows = await bot.storage.outbox.items()
        assert {i.status for i in rows} == {"sent"}, [(i.kind, i.status) for i in rows]
        failed = [c for c in bot.sim.calls if c.error is not None or c.timed_out]
        assert {c.error.error_code for c in failed if c.error is not None} >= {429, 502}
        assert any(c.timed_out for c in failed)

        sent = bot.sim.sent[started:]

        def sent_to(chat: SimChat, needle: str) -> list[str]:
            return [
                m.get("text", "")
                for m in sent
                if m["chat"]["id"] == chat.id and needle in m.get("text", "")
            ]

        for report in reports:
            assert acknowledgements(bot, grid, report) == 1
        for ticket_id in (2, 3, 4, 5):
            late = [t for t in sent_to(grid, "已超过响应时限") if f"工单 {ticket_id}" in t]
            late += [t for t in sent_to(grid, "还没有人接单") if f"工单 {ticket_id}" in t]
            assert len(late) == 1, (ticket_id, late)
            escalated = [t for t in sent_to(office, "🔺 督办") if f"工单 {ticket_id}" in t]
            assert len(escalated) == 1, (ticket_id, escalated)
        assert len(sent_to(grid, "满意吗")) == 1
        grid_digests = sent_to(grid, "日报")
        # 09:00 on 26 November + 3½ days = 21:00 on the 29th: four 18:00 digests, each once
        assert [t.split("\n")[0][-6:] for t in grid_digests] == [
            "11月26日",
            "11月27日",
            "11月28日",
            "11月29日",
        ]


async def test_removed_from_a_group_stops_sending_there(bot: Harness) -> None:
    chat = bot.group("广场舞群")
    await bot.drain()
    bot.sim.set_bot_status(chat, "kicked", by=bot.admin)
    await bot.drain()
    now = bot.clock.now()
    await bot.storage.outbox.add_many(
        [OutboxDraft(chat.id, "notice", now, text=f"n{n}") for n in range(3)], now
    )
    await bot.flush()
    items = await bot.storage.outbox.items("notice")
    assert [i.status for i in items] == ["dropped"] * 3
    binding_row = await bot.storage.db.fetch_value(
        "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND status = 'pending'", (chat.id,)
    )
    assert binding_row == 0


async def test_migrated_group_gets_its_messages(bot: Harness) -> None:
    resident = bot.sim.add_user("王阿姨")
    chat = await bot.grid("北瑞小区一网格", resident, supergroup=False)
    new_chat = bot.sim.migrate_to_supergroup(chat)  # the bot has not seen the service messages
    now = bot.clock.now()
    await bot.storage.outbox.add(OutboxDraft(chat.id, "notice", now, text="你好"), now)
    await bot.flush()
    assert [m.get("text") for m in bot.sim.bot_messages(new_chat.id)][-1] == "你好"
    binding = await bot.storage.grids.active_binding(new_chat.id)
    assert binding is not None


def test_split_text_keeps_lines_and_limits() -> None:
    from bot.fit import split as split_text

    lines = [f"{n}. 第{n}网格：解决 50.0%（1/2）" for n in range(400)]
    parts = split_text("\n".join(lines), limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "\n".join(parts).split("\n") == lines
    assert split_text("短") == ["短"]
    assert [len(p) for p in split_text("x" * 2500, limit=1000)] == [1000, 1000, 500]


async def test_a_digest_longer_than_a_message_arrives_in_parts(bot: Harness) -> None:
    chat = bot.group("街道群")
    await bot.drain()
    now = bot.clock.now()
    text = "\n".join(f"{n}. <b>第{n}社区</b>：解决 50.0%（1/2）" for n in range(300))
    await bot.storage.outbox.add(OutboxDraft(chat.id, "digest", now, text=text), now)
    await bot.flush()
    parts = [m["text"] for m in bot.sim.bot_messages(chat.id) if "社区" in m.get("text", "")]
    assert len(parts) >= 2
    assert all(len(p) <= 4096 for p in parts)
    assert (await bot.storage.outbox.items("digest"))[0].status == "sent"
