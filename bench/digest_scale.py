"""How long do all the daily digests of a large deployment take to build?

    python -m bench.digest_scale [--grids 1000] [--tickets 1000000] [--db PATH] [--repeat 3]

Fills a database with ``bench.seed`` (a year of tickets; 5 grids per community, 6 communities
per street, every grid chat bound), adds what the seed leaves out (``rated_at`` for rated
tickets, one supervisor chat per community and per street), then times
``bot.digest.build_daily_digests`` for every chat at 18:00 local time. The target: 1,000 grids
and 1,000,000 tickets in at most 3 seconds. With ``--db`` an already seeded file is reused.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.seed import seed
from bot.categories import CategoryCatalog
from bot.digest import build_daily_digests, build_stats_text
from bot.texts import Texts
from storage import Storage
from storage.db import to_db_time
from storage.metrics import MetricsRepository

logger = logging.getLogger(__name__)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 18:00 in Asia/Shanghai
TZ = ZoneInfo("Asia/Shanghai")
TARGET_SECONDS = 3.0
COMMUNITY_CHAT_BASE = -1_003_000_000_000
STREET_CHAT_BASE = -1_004_000_000_000


async def prepare(storage: Storage, *, grids: int, tickets: int) -> float:
    """Seed an empty database; return the seconds it took (0 when it was seeded already)."""
    if await storage.tickets.count() > 0:
        return 0.0
    started = time.perf_counter()
    await seed(storage, grids=grids, tickets=tickets, seed=0, now=NOW)
    stamp = to_db_time(NOW)
    async with storage.db.transaction() as conn:
        # The seed sets satisfaction without rated_at: rate when the ticket was closed.
        await conn.execute(
            "UPDATE tickets SET rated_at = closed_at"
            " WHERE satisfaction IS NOT NULL AND rated_at IS NULL"
        )
        await conn.execute(
            "INSERT INTO chats (chat_id, title, kind, community_id, active, bound_at, updated_at)"
            " SELECT ? - id, name || '督办群', 'supervisor', id, 1, ?, ? FROM communities"
            " WHERE true ON CONFLICT DO NOTHING",  # WHERE: so SQLite parses ON CONFLICT
            (COMMUNITY_CHAT_BASE, stamp, stamp),
        )
        await conn.execute(
            "INSERT INTO chats (chat_id, title, kind, street_id, active, bound_at, updated_at)"
            " SELECT ? - id, name || '督办群', 'supervisor', id, 1, ?, ? FROM streets"
            " WHERE true ON CONFLICT DO NOTHING",
            (STREET_CHAT_BASE, stamp, stamp),
        )
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        path = args.db or Path(scratch) / "digest_scale.db"
        storage = await Storage.open(path)
        try:
            seeded = await prepare(storage, grids=args.grids, tickets=args.tickets)
            if seeded:
                print(f"seeded {args.grids} grids, {args.tickets} tickets in {seeded:.1f} s")
            return await measure(storage, repeat=args.repeat)
        finally:
            await storage.close()


async def measure(storage: Storage, *, repeat: int) -> float:
    tickets = await storage.tickets.count()
    chats = len(await storage.grids.bindings())
    catalog, texts = CategoryCatalog.default(), Texts("zh")
    timings = []
    messages = []
    for _ in range(repeat):
        started = time.perf_counter()
        messages = await build_daily_digests(storage, catalog=catalog, texts=texts, tz=TZ, now=NOW)
        timings.append(time.perf_counter() - started)
    best, median = min(timings), statistics.median(timings)
    kinds = {"grid": 0, "supervisor": 0}
    for binding in await storage.grids.bindings():
        kinds[binding.kind] += 1
    longest = max((len(m.text) for m in messages), default=0)
    print(
        f"{len(messages)} digests ({kinds['grid']} grid chats, {kinds['supervisor']} supervisor"
        f" chats of {chats} active) over {tickets} tickets:"
        f" best {best:.2f} s, median {median:.2f} s of {repeat}"
        f" (target ≤ {TARGET_SECONDS:.0f} s); longest text {longest} characters"
    )
    grids = await storage.grids.grids()
    started = time.perf_counter()
    await build_stats_text(storage, grids, scope="all", days=30, texts=texts, now=NOW)
    print(f"/stats 30 over all {len(grids)} grids: {time.perf_counter() - started:.2f} s")
    plans = await MetricsRepository(storage.db).query_plans()
    print("rates query plan:", " | ".join(plans["rates"]))
    return median


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.digest_scale", description=__doc__)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse (or create and keep) this database file")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (the median counts)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    median = asyncio.run(run(_parser().parse_args(argv)))
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
