"""A large deployment's data: digests, /list, /show, the ledger and the bot's memory.

    python -m bench.scale [--grids 1000] [--tickets 1000000] [--samples 50]
                          [--db PATH | --database-url URL | --postgres [--pg-setting NAME=VALUE]]
                          [--export-rows 100000] [--no-live] [--keep DIR]

Fills a database as bench.digest_scale does (``bench.seed``: a year of tickets over ``--grids``
bound grids, plus a supervisor chat per community and street; a million tickets take about two
minutes; ``--db`` keeps the file and reuses it next time), then measures with the project's own
code, in this process. The database is an SQLite file (a temporary one, or ``--db``), or
PostgreSQL: ``--database-url`` (an existing database, seeded if it has no tickets and reused as
it is otherwise) or ``--postgres`` (a throwaway server started here as ``bench.scale_out`` starts
it, PostgreSQL's default settings unless ``--pg-setting``, stopped at the end):

* every daily digest, ``bot.digest.build_daily_digests`` (median of 3; target ≤ 3 s);
* ``/list`` in a grid: ``storage.tickets.find`` with the grid and the open statuses, page 1
  (10 a page), and the overdue filter, each then rendered by ``bot.views.list_text``, over
  ``--samples`` grids (median and p95; target ≤ 20 ms);
* ``/show``: ``tickets.get`` + ``events`` + ``co_reporters`` + ``bot.views.detail_text`` over
  ``--samples`` tickets (target ≤ 10 ms);
* an xlsx ledger of about ``--export-rows`` rows (the most recent days), ``bot.export.write_ledger``
  (target ≤ 30 s);
* the query plans of the /list and /show statements (SQLite: ``EXPLAIN QUERY PLAN``;
  PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)``, which runs the statement);

and then, unless ``--no-live``, the real ``linlitong run`` on that database against the simulator:
one grid is re-bound to a simulated group, where the admin sends /list, /show and /digest, and
the bot's clock starts just before DIGEST_TIME so that the tick builds and queues every digest.
The bot's peak RSS (``VmHWM`` of /proc/<pid>/status) is read after that (target ≤ 200 MB).
The live run first marks reminders and escalations the seed left owing as done (what a running
bot would have done over the year); otherwise its first ticks would queue tens of thousands.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.digest_scale import NOW, TZ, prepare
from bench.live import (
    bot_process,
    machine,
    ms,
    peak_rss_mb,
    percentile,
    work_folder,
)
from bench.pgserver import fresh_database, postgres_server
from bot.categories import CategoryCatalog
from bot.digest import build_daily_digests
from bot.export import write_ledger
from bot.privacy import PUBLIC
from bot.simulator import SimChat, Simulator, SimUser
from bot.texts import Texts
from bot.views import PAGE_SIZE, detail_text, list_text
from storage import Storage, TicketFilter, is_url
from storage.db import to_db_time
from storage.tickets import _filter_sql  # the exact WHERE of find(), for its query plan
from storage.vocabulary import OPEN_STATUSES

logger = logging.getLogger(__name__)

OPEN = OPEN_STATUSES
Target = Path | str  # an SQLite file, or a postgresql:// URL
TARGETS = {"digests": 3.0, "list": 0.020, "show": 0.010, "export": 30.0, "rss": 200.0}
CATALOG = CategoryCatalog.default()
TEXTS = Texts("zh")


async def timed(work: Awaitable[Any]) -> float:
    """Seconds until ``work`` (a coroutine not yet started) is done."""
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


def spread(values: Sequence[float]) -> str:
    return f"median {ms(statistics.median(values))}, p95 {ms(percentile(values, 95))}"


async def measure_digests(storage: Storage) -> float:
    timings = []
    for _ in range(3):
        work = build_daily_digests(storage, catalog=CATALOG, texts=TEXTS, tz=TZ, now=NOW)
        timings.append(await timed(work))
    median = statistics.median(timings)
    print(f"digests    median {median:.2f} s of 3 (target ≤ {TARGETS['digests']:.0f} s)")
    return median


async def list_page(storage: Storage, where: TicketFilter, name: str) -> None:
    """What /list does once it knows the grid: one page of ``find`` and its text."""
    tickets, total = await storage.tickets.find(where, limit=PAGE_SIZE, offset=0)
    list_text(
        tickets,
        total=total,
        page=1,
        scope_name=name,
        catalog=CATALOG,
        texts=TEXTS,
        tz=TZ,
        now=NOW,
        viewer=PUBLIC,
    )


def scoped(scope: str, grid_id: int) -> TicketFilter:
    """The filter /list uses in a grid for ``open`` (the default) and ``overdue``."""
    if scope == "overdue":
        return TicketFilter(grid_ids=(grid_id,), overdue_at=NOW)
    return TicketFilter(grid_ids=(grid_id,), statuses=OPEN)


async def measure_lists(storage: Storage, grid_ids: Sequence[int]) -> None:
    for scope in ("open", "overdue"):
        timings = [await timed(list_page(storage, scoped(scope, g), scope)) for g in grid_ids]
        print(
            f"/list {scope:<8} {spread(timings)} over {len(grid_ids)} grids"
            f" (target ≤ {ms(TARGETS['list'])})"
        )


async def show(storage: Storage, ticket_id: int) -> None:
    """What /show does once it knows the ticket: the ticket, its history, co-reporters, text."""
    ticket = await storage.tickets.get(ticket_id)
    assert ticket is not None
    events = await storage.tickets.events(ticket_id)
    co_reporters = await storage.tickets.co_reporters(ticket_id)
    grid = await storage.grids.grid(ticket.grid_id)
    detail_text(
        ticket,
        events,
        grid=grid,
        co_reporters=len(co_reporters),
        catalog=CATALOG,
        texts=TEXTS,
        tz=TZ,
        now=NOW,
        viewer=PUBLIC,
    )


async def measure_shows(storage: Storage, samples: int) -> None:
    last = int(await storage.db.fetch_value("SELECT MAX(id) FROM tickets"))
    ids = random.Random(1).sample(range(1, last + 1), min(samples, last))
    timings = [await timed(show(storage, t)) for t in ids]
    print(f"/show      {spread(timings)} over {len(ids)} tickets (target ≤ {ms(TARGETS['show'])})")


async def print_plans(storage: Storage, grid_id: int, ticket_id: int) -> None:
    """The plans of the statements /list and /show run: SQLite's EXPLAIN QUERY PLAN on one line
    each, PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) indented below its name."""
    statements: list[tuple[str, str, Sequence[Any]]] = []
    for scope in ("open", "overdue"):
        clauses, params = _filter_sql(scoped(scope, grid_id))
        sql_where = " WHERE " + " AND ".join(clauses)
        count = f"SELECT COUNT(*) FROM tickets t{sql_where}"  # noqa: S608 - find()'s own SQL
        page = f"SELECT t.* FROM tickets t{sql_where} ORDER BY t.id DESC LIMIT ? OFFSET ?"  # noqa: S608
        statements += [
            (f"/list {scope} count", count, params),
            (f"/list {scope} page", page, [*params, PAGE_SIZE, 0]),
        ]
    for what, sql in (
        ("ticket", "SELECT * FROM tickets WHERE id = ?"),
        ("events", "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id"),
        (
            "co_reporters",
            "SELECT user_id, name FROM ticket_reporters WHERE ticket_id = ? ORDER BY added_at",
        ),
    ):
        statements.append((f"/show {what}", sql, (ticket_id,)))
    postgres = storage.db.engine == "postgresql"
    for name, sql, args in statements:
        if postgres:
            rows = await storage.db.fetch_all("EXPLAIN (ANALYZE, BUFFERS) " + sql, args)
            print(f"plan       {name}:")
            for row in rows:
                print(f"             {row[0]}")
        else:
            rows = await storage.db.fetch_all("EXPLAIN QUERY PLAN " + sql, args)
            print(f"plan       {name}: " + " | ".join(str(r[3]) for r in rows))


async def measure_export(storage: Storage, rows: int, folder: Path) -> None:
    """The ledger of the most recent days, as many as make about ``rows`` rows."""
    total = await storage.tickets.count()
    days = max(1, math.ceil(rows / max(total, 1) * 365))
    until = NOW.astimezone(TZ).date()
    since = until - timedelta(days=days - 1)
    output = folder / "ledger.xlsx"
    started = time.perf_counter()
    written = await write_ledger(
        storage, "xlsx", output, catalog=CATALOG, tz=TZ, now=NOW, since=since, until=until
    )
    seconds = time.perf_counter() - started
    size = output.stat().st_size / 1e6
    output.unlink()
    print(
        f"export     {written} rows ({days} days) as xlsx in {seconds:.1f} s, {size:.1f} MB"
        f" (target ≤ {TARGETS['export']:.0f} s)"
    )


async def in_process(args: argparse.Namespace, target: Target, folder: Path) -> None:
    storage = await Storage.open(target)
    try:
        seeded = await prepare(storage, grids=args.grids, tickets=args.tickets)
        if seeded:
            print(f"seeded     {args.grids} grids, {args.tickets} tickets in {seeded:.1f} s")
        grids = await storage.grids.grids()
        tickets = await storage.tickets.count()
        print(f"database   {storage.db.name}: {len(grids)} grids, {tickets} tickets")
        step = max(1, len(grids) // args.samples)
        sample = [g.id for g in grids[::step]][: args.samples]
        await measure_digests(storage)
        await measure_lists(storage, sample)
        await measure_shows(storage, args.samples)
        newest = int(await storage.db.fetch_value("SELECT MAX(id) FROM tickets"))
        await print_plans(storage, sample[0], newest)
        await measure_export(storage, args.export_rows, folder)
    finally:
        await storage.close()


# -- the live bot on this database ----------------------------------------------------------------


async def settle_schedules(storage: Storage) -> None:
    """Mark as done what the seed left owing, as a bot running all year would have."""
    horizon = to_db_time(NOW + timedelta(days=1))
    async with storage.db.transaction() as conn:
        await conn.execute(
            "UPDATE tickets SET response_reminded_at = response_due WHERE status = 'new'"
            " AND response_reminded_at IS NULL AND response_due <= ?",
            (horizon,),
        )
        await conn.execute(
            "UPDATE tickets SET escalation_level = 2, escalated_at = resolution_due"
            " WHERE status IN ('new', 'accepted') AND escalation_level < 2 AND resolution_due <= ?",
            (horizon,),
        )
        # a rerun on a kept database: its digests of that day must be queued again, and the new
        # simulator numbers its updates from 1 again (the last run's would be skipped as handled)
        await conn.execute("DELETE FROM outbox WHERE dedupe_key LIKE 'digest:%'")
        await conn.execute("DELETE FROM handled_updates")


async def rebind(storage: Storage, grid_id: int, chat_id: int, title: str) -> int:
    """Bind one seeded grid to the simulated group; returns a ticket of that grid to /show."""
    grid = await storage.grids.grid(grid_id)
    assert grid is not None
    if grid.chat_id is not None and grid.chat_id != chat_id:
        await storage.grids.unbind(grid.chat_id, NOW)
    await storage.grids.bind_grid(
        chat_id=chat_id,
        title=title,
        grid=grid.name,
        community=grid.community_name,
        street=grid.street_name,
        by=None,
        now=NOW,
    )
    return int(
        await storage.db.fetch_value(
            "SELECT MAX(id) FROM tickets WHERE grid_id = ? AND status IN ('new', 'accepted')",
            (grid_id,),
        )
    )


async def live(args: argparse.Namespace, target: Target, folder: Path) -> None:
    sim = Simulator()
    admin = sim.add_user("张书记")
    group = sim.add_group("北瑞小区一网格群")
    sim.set_member(group, admin, "creator")
    sim.add_bot(group, by=admin)
    sim.queue.drop_pending()
    storage = await Storage.open(target)
    try:
        await settle_schedules(storage)
        first_grid = (await storage.grids.grids())[0].id
        ticket_id = await rebind(storage, first_grid, group.id, group.title or "")
        chats = len(await storage.grids.bindings())
    finally:
        await storage.close()
    local = NOW.astimezone(TZ)
    env_extra = {
        "CLOCK_START": (local - timedelta(seconds=args.lead)).isoformat(),
        "DIGEST_TIME": local.strftime("%H:%M"),
        "TIMEZONE": str(TZ),
        "TICK_INTERVAL": "1s",
        "QUIET_HOURS": "off",
        # the seed asked every resolved ticket's 回访 long ago: keep reminders and closing quiet
        "FOLLOWUP_REMIND": "3650d",
        "FOLLOWUP_CLOSE": "3650d",
    }
    path = target if isinstance(target, Path) else folder / "unused.db"
    if isinstance(target, str):
        env_extra["DATABASE_URL"] = target
    log = folder / "bot.log"
    async with bot_process(
        sim, folder, log, admin=admin, database=path, settings=env_extra
    ) as process:
        for command in ("/list", f"/show {ticket_id}", "/digest"):
            seconds = await ask(sim, group, admin, command)
            print(f"live       {command}: answered in {ms(seconds)}")
        started = time.monotonic()
        enough = min(args.digest_sends, chats - 1)
        attempts = await scheduled_digests(sim, group.id, enough, args.lead + 60)
        print(
            f"live       scheduled digests of {chats} chats: {attempts} sends seen"
            f" {time.monotonic() - started:.1f} s after /digest"
        )
        peak = peak_rss_mb(process.pid)
    print(f"bot RSS    peak {peak:.0f} MB (VmHWM; target ≤ {TARGETS['rss']:.0f} MB)")


async def ask(sim: Simulator, group: SimChat, admin: SimUser, command: str) -> float:
    """Send a command in the group; seconds until the bot's reply reached the simulator."""
    started = time.monotonic()
    message_id = int(sim.send_text(group, admin, command)["message_id"])

    def replied() -> list[dict[str, Any]]:
        return sim.replies_to(group.id, message_id)

    reply = (await sim.wait_for(replied, timeout=30))[0]
    at = next(
        c.at
        for c in sim.calls
        if isinstance(c.result, dict)
        and c.result.get("message_id") == reply["message_id"]
        and c.result.get("chat", {}).get("id") == group.id
    )
    return at - started


async def scheduled_digests(sim: Simulator, ours: int, enough: int, within: float) -> int:
    """Wait until the tick queued every digest and the outbox began sending them.

    The seeded chats do not exist in the simulator: their digests are refused (400) and given
    up, which is cheap; what matters is that all of them were built and queued.
    """

    def attempts() -> int:
        # after settle_schedules, digests are all the bot sends to the other chats
        return sum(
            1
            for c in sim.calls
            if c.method == "sendMessage" and str(c.params.get("chat_id")) != str(ours)
        )

    try:
        await sim.wait_for(lambda: attempts() >= enough, timeout=within)
    except TimeoutError:
        logger.warning("only %d scheduled digests were sent in %.0f s", attempts(), within)
    return attempts()


async def measure(args: argparse.Namespace, target: Target, folder: Path) -> None:
    await in_process(args, target, folder)
    if args.live:
        await live(args, target, folder)


async def run(args: argparse.Namespace, folder: Path) -> None:
    print(f"machine: {machine()}")
    if args.database_url is not None:
        if not is_url(args.database_url):
            raise SystemExit("--database-url: a postgresql://user@host:port/database URL")
        await measure(args, args.database_url, folder)
    elif args.postgres:
        settings = dict(_setting(text) for text in args.pg_setting)
        with (
            postgres_server(None, settings) as server,
            fresh_database(server, "linlitong_scale") as url,
        ):
            print(f"postgres   started here; settings {settings or 'PostgreSQL defaults'}")
            await measure(args, url, folder)
    else:
        await measure(args, args.db or folder / "scale.db", folder)


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--pg-setting {text!r}: NAME=VALUE")
    return name.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, help="reuse (or create and keep) this database file")
    where.add_argument(
        "--database-url", help="a PostgreSQL database: seeded if it has no tickets, else reused"
    )
    where.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL server, started here"
    )
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --postgres: a server setting (repeatable), e.g. shared_buffers=1GB",
    )
    parser.add_argument("--samples", type=int, default=50, help="grids for /list, tickets /show")
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--lead", type=float, default=8.0, help="bot seconds before DIGEST_TIME")
    parser.add_argument(
        "--digest-sends", type=int, default=100, help="scheduled digest sends to wait for"
    )
    parser.add_argument("--keep", type=Path, help="keep the bot's log (and the ledger) here")
    parser.add_argument("--no-live", dest="live", action="store_false", help="skip the bot run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    # the bot is stopped in the middle of its digest sends on purpose: not a server error
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    args = _parser().parse_args(argv)
    with work_folder(args.keep, "linlitong-scale-") as folder:
        asyncio.run(run(args, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
