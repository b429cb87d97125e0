"""Daily digests and /stats on a seeded example: grid, community and street chats, zh and en."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.categories import CategoryCatalog
from bot.digest import (
    DigestMessage,
    Standing,
    build_daily_digests,
    build_stats_text,
    dedupe_key,
    local_day,
    supervisor_digest_text,
)
from bot.metrics import Rate, Rates
from bot.texts import Texts
from storage import Storage
from tests.test_metrics import Grid, add_ticket, bind_grid

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai, DIGEST_TIME
TODAY = date(2026, 11, 26)
CATALOG = CategoryCatalog.default()
ZH, EN = Texts("zh"), Texts("en")
PHONE = "13987654321"


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    one: Grid  # 通顺社区 第一网格
    two: Grid  # 通顺社区 第二网格
    three: Grid  # 通顺社区 第三网格, its chat unbound
    baodong: Grid  # 宝东社区 第一网格, same street
    community_chat: int
    street_chat: int
    unbound_supervisor: int
    t3: int  # grid one's most overdue ticket (its body holds a phone number)
    t4: int
    t3_message: int


async def world(storage: Storage) -> World:
    one = await bind_grid(storage, -1001000000001, "第一网格")
    two = await bind_grid(storage, -1001000000002, "第二网格")
    three = await bind_grid(storage, -1001000000003, "第三网格")
    baodong = await bind_grid(storage, -1001000000004, "第一网格", community="宝东社区")
    await storage.grids.unbind(three.chat_id, utc(2))
    for chat_id, name in (
        (-1001000000010, "通顺社区"),
        (-1001000000011, "交通街道"),
        (-1001000000012, "宝东社区"),
    ):
        await storage.grids.bind_supervisor(
            chat_id=chat_id, title=name, name=name, by=1, now=utc(2)
        )
    await storage.grids.unbind(-1001000000012, utc(3))

    # Grid one, on Nov 26 local (Nov 25 16:00 – Nov 26 16:00 UTC):
    # T1 repair opened today, not yet acted on (response due 03:00 UTC, passed: R den).
    await add_ticket(storage, one, created=utc(26, 1), response_due=utc(26, 3),
                     resolution_due=utc(29, 1),
                     body="3号楼楼道灯不亮，电话13812345678")  # fmt: skip
    # T2 charging opened and resolved today, in time: R num, S num.
    await add_ticket(storage, one, category="charging", created=utc(26, 2),
                     response_due=utc(26, 2, 30), resolution_due=utc(27, 2), status="resolved",
                     accepted=utc(26, 2, 10), resolved=utc(26, 5))  # fmt: skip
    # T3 repair overdue since Nov 23, acted on in time: R num, S den.
    t3 = await add_ticket(storage, one, created=utc(20), response_due=utc(20, 2),
                          resolution_due=utc(23), status="accepted", accepted=utc(20, 1),
                          body=f"5号楼水管漏水 联系 {PHONE}")  # fmt: skip
    # T4 water overdue since Nov 23 noon, never acted on: R den, S den. HTML in the body.
    t4 = await add_ticket(storage, one, category="water", created=utc(21),
                          response_due=utc(21, 1), resolution_due=utc(23, 12),
                          body="楼下<积水>&很深")  # fmt: skip
    # T5 road opened yesterday evening local time, response due in the period: R den.
    await add_ticket(storage, one, category="road", created=utc(25, 10),
                     response_due=utc(25, 14),
                     resolution_due=datetime(2026, 12, 2, tzinfo=UTC))  # fmt: skip
    # Grid two: twelve tickets overdue since early November (deadlines before the period,
    # never acted on: no rate counts them) and one done in time and rated satisfied.
    for i in range(12):
        await add_ticket(storage, two, created=utc(1, i), response_due=utc(1, i + 2),
                         resolution_due=utc(4, i), body=f"第{i}件事")  # fmt: skip
    await add_ticket(storage, two, created=utc(22), response_due=utc(22, 2),
                     resolution_due=utc(25), status="closed", accepted=utc(22, 1),
                     resolved=utc(24), satisfaction="satisfied", rated=utc(24, 5))  # fmt: skip
    # 宝东社区: acted in time, resolved late.
    await add_ticket(storage, baodong, created=utc(20), response_due=utc(20, 2),
                     resolution_due=utc(21), status="resolved", accepted=utc(20, 1),
                     resolved=utc(22))  # fmt: skip
    t3_message = await storage.db.fetch_value("SELECT message_id FROM tickets WHERE id = ?", (t3,))
    return World(
        one,
        two,
        three,
        baodong,
        -1001000000010,
        -1001000000011,
        -1001000000012,
        t3,
        t4,
        int(t3_message),
    )


def ticket_number(line: str) -> int:
    match = re.match(r"<b>(\d+)</b>", line)
    assert match is not None, line
    return int(match[1])


async def digests(storage: Storage, texts: Texts = ZH) -> dict[int, DigestMessage]:
    built = await build_daily_digests(storage, catalog=CATALOG, texts=texts, tz=TZ, now=NOW)
    by_chat = {m.chat_id: m for m in built}
    assert len(by_chat) == len(built), "one digest per chat"
    return by_chat


async def test_one_digest_per_active_chat_with_stable_dedupe_keys(storage: Storage) -> None:
    w = await world(storage)
    first = await digests(storage)
    assert set(first) == {
        w.one.chat_id,
        w.two.chat_id,
        w.baodong.chat_id,
        w.community_chat,
        w.street_chat,
    }  # grid three's chat and the 宝东社区 supervisor chat were unbound
    assert all(m.kind == "digest" for m in first.values())
    assert first[w.one.chat_id].dedupe_key == f"digest:{w.one.chat_id}:2026-11-26"
    assert {m.dedupe_key for m in first.values()} == {dedupe_key(chat, TODAY) for chat in first}
    again = await digests(storage)
    assert again == first  # same moment, same messages: the outbox can queue them idempotently


async def test_digests_of_some_chats_only_are_the_same_texts(storage: Storage) -> None:
    w = await world(storage)
    every = await digests(storage)
    for chat_id in (w.one.chat_id, w.community_chat, w.street_chat):
        only = await build_daily_digests(
            storage, catalog=CATALOG, texts=ZH, tz=TZ, now=NOW, chat_ids=[chat_id]
        )
        assert only == [every[chat_id]]
    unbound = await build_daily_digests(
        storage, catalog=CATALOG, texts=ZH, tz=TZ, now=NOW, chat_ids=[w.three.chat_id]
    )
    assert unbound == []


async def test_grid_digest_counts_by_category_overdue_list_and_rates(storage: Storage) -> None:
    w = await world(storage)
    text = (await digests(storage))[w.one.chat_id].text
    lines = text.splitlines()
    assert lines[0] == "📰 <b>第一网格</b>（通顺社区）日报 · 11月26日"
    assert lines[1] == "今日：新增 2 · 办结 1 · 待办 4 · 超时 2"
    # Categories in the catalogue's order, only those with something to say.
    assert lines[2:6] == [
        "#报修：新增 1 · 办结 0 · 待办 2 · 超时 1",
        "#充电：新增 1 · 办结 1 · 待办 0 · 超时 0",
        "#积水：新增 0 · 办结 0 · 待办 1 · 超时 1",
        "#路面：新增 0 · 办结 0 · 待办 1 · 超时 0",
    ]
    assert "#环境" not in text
    assert "⏰ 超时工单（2 个）：" in lines
    overdue = [line for line in lines if line.startswith("<b>")]
    assert [ticket_number(line) for line in overdue] == [w.t3, w.t4]
    assert overdue[0].startswith(
        f"<b>{w.t3}</b> [报修] 5号楼水管漏水 联系 139****4321 · 已 6天10小时"
    )
    assert "超时 3天10小时" in overdue[0]
    assert overdue[0].endswith(f'<a href="https://t.me/c/1000000001/{w.t3_message}">原消息</a>')
    assert "楼下&lt;积水&gt;&amp;很深" in overdue[1]
    assert PHONE not in text and "13812345678" not in text  # masked, and T1 is not listed
    assert "……还有" not in text
    assert lines[-4:] == [
        "📊 近 7 天：",
        "响应率：40.0%（2/5）",
        "解决率：33.3%（1/3）",
        "满意率：—（0/0）",
    ]


async def test_grid_digest_lists_ten_overdue_and_counts_the_rest(storage: Storage) -> None:
    w = await world(storage)
    text = (await digests(storage))[w.two.chat_id].text
    assert "今日：新增 0 · 办结 0 · 待办 12 · 超时 12" in text
    assert "⏰ 超时工单（12 个）：" in text
    listed = [line for line in text.splitlines() if line.startswith("<b>")]
    assert len(listed) == 10
    assert "第0件事" in listed[0] and "第9件事" in listed[9]  # most overdue first
    assert "……还有 2 个，发送 /list overdue 查看全部" in text
    assert "解决率：100.0%（1/1）" in text and "满意率：100.0%（1/1）" in text


async def test_a_quiet_grid_still_gets_its_digest(storage: Storage) -> None:
    w = await world(storage)
    text = (await digests(storage))[w.baodong.chat_id].text
    assert "今日：新增 0 · 办结 0 · 待办 0 · 超时 0" in text
    assert "今日没有新工单，也没有待办工单" in text
    assert "超时工单" not in text
    assert "解决率：0.0%（0/1）" in text


async def test_community_digest_ranks_every_grid(storage: Storage) -> None:
    w = await world(storage)
    text = (await digests(storage))[w.community_chat].text
    lines = text.splitlines()
    assert lines[0] == "🏆 <b>通顺社区</b> 各网格排名 · 近 7 天 · 11月26日"
    ranked = [line for line in lines if re.match(r"\d+\. ", line)]
    assert ranked == [
        "1. <b>第二网格</b>：解决 100.0%（1/1） · 响应 100.0%（1/1） · 满意 100.0%（1/1）"
        " · 超时 12",
        "2. <b>第一网格</b>：解决 33.3%（1/3） · 响应 40.0%（2/5） · 满意 —（0/0） · 超时 2",
        "3. <b>第三网格</b>：解决 —（0/0） · 响应 —（0/0） · 满意 —（0/0） · 超时 0",
    ]  # grid three's chat is unbound, but the grid is still the community's
    assert lines[-1] == "合计：解决 50.0%（2/4） · 响应 50.0%（3/6） · 满意 100.0%（1/1） · 超时 14"
    assert "宝东" not in text


async def test_street_digest_ranks_communities_with_their_grids_summed(storage: Storage) -> None:
    w = await world(storage)
    text = (await digests(storage))[w.street_chat].text
    lines = text.splitlines()
    assert lines[0] == "🏆 <b>交通街道</b> 各社区排名 · 近 7 天 · 11月26日"
    assert [line for line in lines if re.match(r"\d+\. ", line)] == [
        "1. <b>通顺社区</b>：解决 50.0%（2/4） · 响应 50.0%（3/6） · 满意 100.0%（1/1） · 超时 14",
        "2. <b>宝东社区</b>：解决 0.0%（0/1） · 响应 100.0%（1/1） · 满意 —（0/0） · 超时 0",
    ]
    assert lines[-1] == "合计：解决 40.0%（2/5） · 响应 57.1%（4/7） · 满意 100.0%（1/1） · 超时 14"


async def test_english_digests(storage: Storage) -> None:
    w = await world(storage)
    built = await digests(storage, EN)
    grid = built[w.one.chat_id].text
    assert grid.splitlines()[0] == "📰 Daily digest of <b>第一网格</b> (通顺社区) · Nov 26"
    assert "Today: 2 new · 1 resolved · 4 open · 2 overdue" in grid
    assert "#报修: 1 new · 0 resolved · 2 open · 1 overdue" in grid
    assert "⏰ Overdue tickets (2):" in grid
    assert "open 6d 10h · 3d 10h late" in grid
    assert "Response rate: 40.0% (2/5)" in grid
    assert "Satisfaction rate: — (0/0)" in grid
    community = built[w.community_chat].text
    assert "1. <b>第二网格</b>: resolution 100.0% (1/1)" in community
    assert "Total: resolution 50.0% (2/4)" in community
    assert "communities ranked" in built[w.street_chat].text


async def test_names_are_escaped_in_supervisor_digests() -> None:
    text = supervisor_digest_text(
        level="community",
        name="<社区>",
        standings=[Standing("A&B", Rates(Rate(1, 1), Rate(0, 0), Rate(0, 0)), 0)],
        day=TODAY,
        texts=ZH,
    )
    assert "<b>&lt;社区&gt;</b>" in text and "<b>A&amp;B</b>" in text
    empty = supervisor_digest_text(level="street", name="街", standings=[], day=TODAY, texts=ZH)
    assert empty.endswith("还没有社区。")


async def test_no_bindings_no_digests(storage: Storage) -> None:
    assert await build_daily_digests(storage, catalog=CATALOG, texts=ZH, tz=TZ, now=NOW) == []


def test_local_day_is_the_day_in_the_time_zone() -> None:
    day, start, end = local_day(datetime(2026, 11, 25, 17, tzinfo=UTC), TZ)  # 01:00 on the 26th
    assert day == TODAY
    assert start == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    with pytest.raises(ValueError, match="aware"):
        local_day(datetime(2026, 11, 25), TZ)  # naive on purpose


async def test_stats_for_one_grid_and_for_several(storage: Storage) -> None:
    w = await world(storage)
    grids = {g.id: g for g in await storage.grids.grids()}
    one = await build_stats_text(
        storage, [grids[w.one.id]], scope="第一网格", days=7, texts=ZH, now=NOW
    )
    assert one.splitlines()[:6] == [
        "📊 <b>第一网格</b> · 近 7 天",
        "响应率：40.0%（2/5）",
        "解决率：33.3%（1/3）",
        "满意率：—（0/0）",
        # Acted on in the period: T3 after 1h, T2 after 10m -> (10m + 1h) / 2.
        "响应用时中位数：35分钟（2 个工单）",
        "办结用时中位数：3小时0分钟（1 个工单）",
    ]
    assert "各网格排名" not in one
    assert "口径：" in one
    both = await build_stats_text(
        storage,
        [grids[w.one.id], grids[w.two.id]],
        scope="通顺社区",
        days=30,
        texts=EN,
        now=NOW,
    )
    lines = both.splitlines()
    assert lines[0] == "📊 <b>通顺社区</b> · last 30 days"
    # 30 days: T2 10m, T3 1h, grid two's closed one 1h; resolved: T2 3h, that one 2d -> 25h 30m.
    assert "Median time to first response: 1h 0m (3 tickets)" in lines
    assert "Median time to resolution: 1d 1h (2 tickets)" in lines
    assert "Grids ranked:" in lines
    # Over 30 days grid two's twelve forgotten tickets fall due: 1/13 ranks below 1/3.
    assert [line for line in lines if re.match(r"\d+\. ", line)] == [
        "1. <b>第一网格</b>: resolution 33.3% (1/3) · response 40.0% (2/5) · satisfaction — (0/0)",
        "2. <b>第二网格</b>: resolution 7.7% (1/13) · response 7.7% (1/13)"
        " · satisfaction 100.0% (1/1)",
    ]
