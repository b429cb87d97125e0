"""A realistic, reproducible database: streets, communities, grids and a year of tickets.

    python -m bench.seed --db PATH --grids 100 --tickets 100000 [--seed 0]

Rows go straight in, in large batches, one transaction per batch: ``executemany`` on SQLite, and
``COPY`` on PostgreSQL (``storage.postgres.copy_rows``; ``executemany`` there would send a
million statements), which then has its identity sequence moved past the ids written and its
tables vacuumed and analysed (as autovacuum would have done by the time anyone asks). Every row
satisfies the schema's CHECKs and ``Ticket.from_row``; the timeline of each ticket agrees with
its status (accepted ≤ resolved ≤ closed ≤ now). History rows (ticket_events) are not written:
nothing that reads the seeded data needs them yet. ``--db`` takes a file or a
``postgresql://`` URL.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.categories import DEFAULT_CATEGORIES, Category
from storage import Storage, is_url
from storage.db import Conn, to_db_time
from storage.postgres import copy_rows

logger = logging.getLogger(__name__)

BATCH = 20_000
SEED_CACHE_SIZE = -131_072  # KiB, i.e. 128 MB, only while seeding
YEAR = 365 * 86_400
# Fake private-supergroup ids: -100 followed by ten digits, as Telegram forms them.
SUPERGROUP_BASE = -1_002_000_000_000
OFFICER_ID_BASE = 900_000_000
RESIDENT_ID_BASE = 500_000_000

# How often each category is reported: repairs, rubbish, parking and flying-lead charging lead.
CATEGORY_WEIGHTS: dict[str, int] = {
    "repair": 22,
    "sanitation": 16,
    "parking": 13,
    "charging": 12,
    "water": 7,
    "road": 6,
    "noise": 6,
    "safety": 5,
    "consult": 4,
    "complaint": 4,
    "help": 3,
    "suggestion": 2,
}

BODIES: dict[str, tuple[str, ...]] = {
    "repair": (
        "{place}楼道灯不亮，晚上上下楼很不方便",
        "{place}水管漏水，楼下天花板已经渗水了",
        "{place}单元门门禁坏了，关不上",
        "{place}电梯经常停在半层，请尽快维修",
    ),
    "charging": (
        "{place}有人从窗户拉电线飞线充电，很危险",
        "{place}电动车停在楼道里充电，堵住了消防通道",
    ),
    "water": (
        "{place}门口下水道堵了，积水很深",
        "{place}突然停水，也没有看到通知",
        "{place}楼顶漏水，雨天屋里滴水",
    ),
    "road": (
        "{place}旁边的井盖松动了，车压过去响得厉害",
        "{place}门口路灯坏了好几天",
        "{place}门前路面塌陷一个大坑",
    ),
    "sanitation": (
        "{place}垃圾桶满了没人清运，气味很大",
        "{place}楼道里堆满杂物，影响通行",
        "{place}绿化带里有人倒建筑垃圾",
    ),
    "noise": (
        "{place}楼上装修每天早上七点就开始，太吵了",
        "{place}楼下广场舞音响声音太大，晚上十点还没停",
    ),
    "safety": (
        "{place}消防栓没有水，箱门也坏了",
        "{place}外墙瓷砖有脱落，下面常有孩子玩",
        "{place}楼道里有人堆放煤气罐",
    ),
    "help": (
        "{place}独居老人摔倒了，需要帮忙送医",
        "{place}有位老人走失了，穿灰色外套",
    ),
    "consult": (
        "请问{place}附近的社区医院疫苗接种时间",
        "想咨询一下居住证怎么办理，我住{place}",
        "{place}的老旧小区改造什么时候开始",
    ),
    "complaint": (
        "{place}物业不作为，反映了好几次都没人管",
        "{place}附近餐馆油烟直排，熏得没法开窗",
    ),
    "suggestion": (
        "建议在{place}增加几个电动车充电桩",
        "建议{place}门口加装减速带",
    ),
    "parking": (
        "{place}门口有车长期占道停车，消防车进不来",
        "{place}有僵尸车停了半年没人动",
    ),
}

STREETS = ("交道口街道", "东华门街道", "景山街道", "安定门街道", "北新桥街道", "东四街道")
COMMUNITY_WORDS = (
    "通顺", "菊儿", "福祥", "南锣", "鼓楼", "交东", "府学", "圆恩寺", "东四", "钱粮",
    "大兴", "北剪", "新太仓", "民安", "育树", "前永康", "清水苑", "官书院",
)  # fmt: skip
ESTATES = (
    "北瑞小区", "阳光花园", "金色家园", "幸福里", "和平里", "翠微苑", "枫林湾", "春晖园",
    "怡景城", "康乐小区", "锦绣华庭", "东方名苑", "丽水佳园", "百合家园", "望京新城",
    "芳草地", "青年公寓", "桂花苑", "永安里", "电力宿舍",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("建国", "秀英", "桂兰", "志强", "丽娟", "海燕", "小红", "文博", "子涵", "雨桐", "浩然")
TITLES = ("阿姨", "大爷", "先生", "女士", "师傅")
NUMERALS = "零一二三四五六七八九十"

# (share of tickets, status weights) for tickets younger than three days and for the rest.
_RECENT = ("new", "accepted", "resolved", "closed", "rejected", "duplicate")
_RECENT_WEIGHTS = (25, 35, 25, 10, 3, 2)
_OLD_WEIGHTS = (2, 5, 1, 84, 5, 3)
_SATISFACTION = ("satisfied", "basic", "unrated", "unsatisfied")
_SATISFACTION_WEIGHTS = (64, 18, 14, 4)


@dataclass(frozen=True)
class SeedGrid:
    id: int
    chat_id: int
    estates: tuple[str, ...]
    officers: tuple[tuple[int, str], ...]


def chinese_number(n: int) -> str:
    """1..99 as written in grid names: 一, 十, 十二, 二十三."""
    if not 0 < n < 100:
        raise ValueError(f"{n} is out of range")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return NUMERALS[ones]
    head = "" if tens == 1 else NUMERALS[tens]
    return head + "十" + (NUMERALS[ones] if ones else "")


def community_name(i: int) -> str:
    word = COMMUNITY_WORDS[i % len(COMMUNITY_WORDS)]
    lap = i // len(COMMUNITY_WORDS)
    return f"{word}{'' if lap == 0 else lap + 1}社区"


def _stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def seed(storage: Storage, *, grids: int, tickets: int, seed: int = 0, now: datetime) -> None:
    """Add ``grids`` bound grids (5 per community, 6 communities per street) and ``tickets``."""
    if grids < 1 or tickets < 0:
        raise ValueError("need at least one grid and a non-negative number of tickets")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    started = time.perf_counter()
    if storage.db.engine == "postgresql":
        layout = await _seed_places(storage, grids, rng, now)
        await _seed_tickets(storage, layout, tickets, rng, now)
        await storage.db.run(_after_bulk_load)
    else:
        # A big page cache while inserting: the ticket indexes are keyed at random (reporter,
        # chat, message), and with SQLite's 2 MB default most inserts would go to disk (1M
        # tickets: -25%).
        cache_size = int(await storage.db.fetch_value("PRAGMA cache_size"))
        await storage.db.fetch_all(f"PRAGMA cache_size = {SEED_CACHE_SIZE}")
        try:
            layout = await _seed_places(storage, grids, rng, now)
            await _seed_tickets(storage, layout, tickets, rng, now)
        finally:
            await storage.db.fetch_all(f"PRAGMA cache_size = {cache_size}")
    logger.info(
        "seeded %d grids and %d tickets in %.1f s", grids, tickets, time.perf_counter() - started
    )


async def _seed_places(
    storage: Storage, grids: int, rng: random.Random, now: datetime
) -> list[SeedGrid]:
    stamp = to_db_time(now)
    layout: list[SeedGrid] = []
    async with storage.db.transaction() as conn:
        for g in range(grids):
            c, n = divmod(g, 5)
            street = STREETS[(c // 6) % len(STREETS)]
            community = community_name(c)
            await conn.execute(
                "INSERT INTO streets (name, created_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (street, stamp),
            )
            await conn.execute(
                "INSERT INTO communities (name, street_id, created_at)"
                " VALUES (?, (SELECT id FROM streets WHERE name = ?), ?)"
                " ON CONFLICT (name) DO NOTHING",
                (community, street, stamp),
            )
            await conn.execute(
                "INSERT INTO grids (name, community_id, created_at)"
                " VALUES (?, (SELECT id FROM communities WHERE name = ?), ?)"
                " ON CONFLICT (community_id, name) DO NOTHING",
                (f"第{chinese_number(n + 1)}网格", community, stamp),
            )
            async with conn.execute(
                "SELECT g.id FROM grids g JOIN communities m ON m.id = g.community_id"
                " WHERE g.name = ? AND m.name = ?",
                (f"第{chinese_number(n + 1)}网格", community),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            grid_id = int(row[0])
            chat_id = SUPERGROUP_BASE - grid_id
            await conn.execute(
                "INSERT INTO chats (chat_id, title, kind, grid_id, active, bound_by, bound_at,"
                " updated_at) VALUES (?, ?, 'grid', ?, 1, NULL, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (chat_id, f"{community}{n + 1}网格群", grid_id, stamp, stamp),
            )
            async with conn.execute(
                "SELECT chat_id FROM chats WHERE grid_id = ? AND active = 1 AND kind = 'grid'",
                (grid_id,),
            ) as cursor:
                bound = await cursor.fetchone()
            officers = tuple(
                (OFFICER_ID_BASE + grid_id * 10 + k, f"网格员{rng.choice(SURNAMES)}{GIVEN[k]}")
                for k in range(rng.randint(1, 3))
            )
            layout.append(
                SeedGrid(
                    grid_id,
                    chat_id if bound is None else int(bound[0]),
                    tuple(rng.sample(ESTATES, 3)),
                    officers,
                )
            )
    return layout


class _Generator:
    """Builds ticket rows one at a time; keeps the per-chat message id counters."""

    def __init__(
        self, layout: Sequence[SeedGrid], rng: random.Random, now: int, first_id: int
    ) -> None:
        self.layout = layout
        self.rng = rng
        self.now = now
        self.first_id = first_id
        self.categories: list[Category] = [c for c in DEFAULT_CATEGORIES if c.key in BODIES]
        self.weights = [CATEGORY_WEIGHTS.get(c.key, 1) for c in self.categories]
        self.next_message: dict[int, int] = {}

    def message_id(self, chat_id: int) -> int:
        # Step 2: the receipt the bot replied with sits in between.
        current = self.next_message.get(chat_id, 1000)
        self.next_message[chat_id] = current + 2
        return current

    def place(self, grid: SeedGrid) -> tuple[str, str | None, str | None, str | None, str]:
        rng = self.rng
        estate = rng.choice(grid.estates)
        building = str(rng.randint(1, 24))
        unit = str(rng.randint(1, 6)) if rng.random() < 0.7 else None
        room = f"{rng.randint(1, 18)}0{rng.randint(1, 4)}" if rng.random() < 0.5 else None
        words = f"{estate}{building}号楼" + (f"{unit}单元" if unit else "")
        words += f"{room}室" if room else ""
        return estate, building, unit, room, words

    def reporter(self) -> tuple[int, str]:
        rng = self.rng
        surname = rng.choice(SURNAMES)
        name = surname + (rng.choice(TITLES) if rng.random() < 0.6 else rng.choice(GIVEN))
        return RESIDENT_ID_BASE + rng.randint(0, 50_000), name

    def row(self, ticket_id: int, created: int) -> tuple[object, ...]:
        rng = self.rng
        grid = rng.choice(self.layout)
        category = rng.choices(self.categories, self.weights)[0]
        estate, building, unit, room, words = self.place(grid)
        body = rng.choice(BODIES[category.key]).format(place=words)
        if rng.random() < 0.15:
            body += f"，联系电话1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
        response = int(category.response.total_seconds())
        resolution = int(category.resolution.total_seconds())
        recent = self.now - created < 3 * 86_400
        status = rng.choices(_RECENT, _RECENT_WEIGHTS if recent else _OLD_WEIGHTS)[0]
        accepted = created + int(
            response * (rng.uniform(0.05, 0.9) if rng.random() < 0.85 else rng.uniform(1, 4))
        )
        resolved = created + int(
            resolution * (rng.uniform(0.2, 0.95) if rng.random() < 0.8 else rng.uniform(1.02, 2.5))
        )
        resolved = max(resolved, accepted + 600)
        closed = resolved + rng.randint(3600, 72 * 3600)
        # A step that lies in the future has not happened yet: the ticket is where time left it.
        if status == "closed" and closed > self.now:
            status = "resolved"
        if status == "resolved" and resolved > self.now:
            status = "accepted"
        if status != "new" and accepted > self.now:
            status = "new"
        duplicate_of = None
        if status == "duplicate":
            if ticket_id > self.first_id:
                duplicate_of = ticket_id - rng.randint(1, min(200, ticket_id - self.first_id))
            else:
                status = "rejected"
        reopen_count = 0
        satisfaction = None
        if status == "closed":
            satisfaction = rng.choices(_SATISFACTION, _SATISFACTION_WEIGHTS)[0]
            reopen_count = 1 if rng.random() < 0.05 else (2 if rng.random() < 0.01 else 0)
        elif status == "accepted" and rng.random() < 0.08:
            reopen_count = 1
        officer = rng.choice(grid.officers)
        has_officer = status != "new" and (status != "rejected" or rng.random() < 0.5)
        accepted_at = accepted if status != "new" else None
        resolved_at = resolved if status in ("resolved", "closed") else None
        closed_at = (
            closed
            if status == "closed"
            else accepted
            if status in ("rejected", "duplicate")
            else None
        )
        updated = max(t for t in (created, accepted_at, resolved_at, closed_at) if t is not None)
        # 回访 an hour after the officer's done; the answer, or its absence, closes the ticket.
        followup_due = followup_asked = None
        if resolved_at is not None:
            if resolved_at + 3600 <= self.now:
                followup_asked = resolved_at + 3600
            else:
                followup_due = resolved_at + 3600
        patrol = rng.random() < 0.03
        reporter_id, reporter_name = officer if patrol else self.reporter()
        chat_id = officer[0] if patrol else grid.chat_id
        message_id = self.message_id(chat_id)
        return (
            ticket_id,
            grid.id,
            chat_id,
            message_id,
            "patrol" if patrol else "chat",
            category.key,
            f"#{category.tag} {body}",
            body,
            estate,
            building,
            unit,
            room,
            reporter_id,
            reporter_name,
            status,
            _stamp(created),
            _stamp(updated),
            _stamp(created + response),
            _stamp(created + resolution),
            None if patrol else message_id + 1,
            officer[0] if has_officer else None,
            officer[1] if has_officer else None,
            None if accepted_at is None else _stamp(accepted_at),
            None if resolved_at is None else _stamp(resolved_at),
            None if closed_at is None else _stamp(closed_at),
            reopen_count,
            satisfaction,
            duplicate_of,
            None if satisfaction is None or closed_at is None else _stamp(closed_at),
            None if followup_due is None else _stamp(followup_due),
            None if followup_asked is None else _stamp(followup_asked),
        )


_COLUMNS = (
    "id", "grid_id", "chat_id", "message_id", "source", "category", "text", "body", "estate",
    "building", "unit", "room", "reporter_id", "reporter_name", "status", "created_at",
    "updated_at", "response_due", "resolution_due", "receipt_message_id", "assignee_id",
    "assignee_name", "accepted_at", "resolved_at", "closed_at", "reopen_count", "satisfaction",
    "duplicate_of", "rated_at", "followup_due", "followup_asked_at",
)  # fmt: skip
_INSERT = (
    f"INSERT INTO tickets ({', '.join(_COLUMNS)})"  # noqa: S608 - the fixed column names
    f" VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def _after_bulk_load(conn: Conn) -> None:
    """PostgreSQL after COPY: new tickets get ids after the seeded ones; fresh statistics and
    visibility maps for the planner (autovacuum would do it, later)."""
    conn.execute(
        "SELECT setval(pg_get_serial_sequence('tickets', 'id'),"
        " (SELECT COALESCE(MAX(id), 0) + 1 FROM tickets), false)"
    )
    conn.execute("VACUUM (ANALYZE) tickets")
    conn.execute("ANALYZE")


async def _seed_tickets(
    storage: Storage, layout: Sequence[SeedGrid], tickets: int, rng: random.Random, now: datetime
) -> None:
    end = int(now.timestamp()) - 60
    start = end - YEAR
    first_id = int(await storage.db.fetch_value("SELECT COALESCE(MAX(id), 0) FROM tickets")) + 1
    generator = _Generator(layout, rng, end + 60, first_id)
    # Continue each chat's message ids after what is stored, so UNIQUE(chat_id, message_id) holds.
    for chat_id, last in await storage.db.fetch_all(
        "SELECT chat_id, MAX(message_id) FROM tickets GROUP BY chat_id"
    ):
        generator.next_message[int(chat_id)] = int(last) + 2
    step = YEAR / max(tickets, 1)
    for offset in range(0, tickets, BATCH):
        # created_at rises with the id over the year, as it does in a running bot.
        rows = [
            generator.row(first_id + i, start + int((i + rng.random()) * step))
            for i in range(offset, min(offset + BATCH, tickets))
        ]
        if storage.db.engine == "postgresql":
            await storage.db.run(
                functools.partial(copy_rows, table="tickets", columns=_COLUMNS, rows=rows)
            )
        else:
            async with storage.db.transaction() as conn:
                await conn.executemany(_INSERT, rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument(
        "--db",
        required=True,
        help="database file (created if absent) or postgresql:// URL (an existing database)",
    )
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    return parser


async def _main(args: argparse.Namespace) -> None:
    target: Path | str = args.db if is_url(args.db) else Path(args.db)
    storage = await Storage.open(target)
    try:
        started = time.perf_counter()
        await seed(
            storage,
            grids=args.grids,
            tickets=args.tickets,
            seed=args.seed,
            now=datetime.now(UTC),
        )
        took = time.perf_counter() - started
    finally:
        await storage.close()
    name = storage.db.name
    print(f"seeded {args.grids} grids and {args.tickets} tickets into {name} in {took:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    asyncio.run(_main(_parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
