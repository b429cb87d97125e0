"""The staff page's server time on a big database: the overview and the first page of tickets.

    python -m bench.web --db /tmp/scale.db [--repeat 20]
    python -m bench.web --database-url postgresql://…/db

The database is ``bench.scale``'s (1,000 grids, 1,000,000 tickets; ``python -m bench.seed --db
/tmp/scale.db --grids 1000 --tickets 1000000`` makes one in ~2.5 minutes); it is migrated to this
release first (the page's tables), then two people log in through the real login form: a
deployment admin (every grid) and a named officer of one grid. Each page is asked ``--repeat``
times in this process through the ASGI app itself (httpx's ASGITransport: no sockets, so what is
measured is the server's work — routing, session, scope, SQL, templates); the first answer of
each is left out of the figures (cold caches) and printed apart. Telegram is never asked: an
admin's and a named officer's grants hold without it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from telegram import Bot

from bot.clock import SystemClock
from bot.config import Settings
from bot.web import tokens
from bot.web.access import Grant, GrantKind, dump_grants
from bot.web.app import build_web_app, web_runtime
from storage import Storage

ADMIN_ID = 900_000_001
OFFICER_ID = 900_000_002
TARGET_MS = 200.0
BENCH_TOKEN = "123456:bench-token-never-sent-anywhere"  # noqa: S105 (no Telegram here)
PAGES = (
    ("overview", "/"),
    ("tickets, first page", "/tickets"),
    ("tickets, open + overdue", "/tickets?status=open&overdue=1"),
    ("tickets, text search", "/tickets?q=%E6%A5%BC%E9%81%93"),
)


async def _client(
    storage: Storage, settings: Settings, user_id: int, grants: list[Grant]
) -> httpx.AsyncClient:
    clock = SystemClock()
    now = clock.now()
    login_id = tokens.new_login_id()
    await storage.web.create_login(
        login_id, user_id, f"bench {user_id}", dump_grants(grants), now, now + tokens.LOGIN_TTL
    )
    bot = Bot(settings.token())  # never called: these grants need no Telegram answer
    app = build_web_app(web_runtime(settings, storage, bot, clock))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
    )
    token = tokens.sign(login_id, settings.web_key())
    answer = await client.post("/login", data={"t": token})
    if answer.status_code != 303 or "linlitong_session" not in client.cookies:
        raise SystemExit(f"login failed: {answer.status_code}")
    return client


async def _time(client: httpx.AsyncClient, path: str, repeat: int) -> tuple[float, list[float]]:
    def once_ms(start: float) -> float:
        return (time.perf_counter() - start) * 1000

    start = time.perf_counter()
    first = await client.get(path)
    cold = once_ms(start)
    if first.status_code != 200:
        raise SystemExit(f"{path}: HTTP {first.status_code}")
    warm: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = await client.get(path)
        warm.append(once_ms(start))
        answer.raise_for_status()
    return cold, warm


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _main(args: argparse.Namespace) -> int:
    target: Path | str = args.database_url or args.db
    storage = await Storage.open(target, migrate=True, create=False)
    try:
        grids = await storage.grids.grids()
        if not grids:
            raise SystemExit("the database has no grids: seed it with python -m bench.seed")
        tickets = await storage.db.fetch_value("SELECT COUNT(*) FROM tickets", ())
        grid = grids[0]
        await storage.officers.name(
            grid.id, OFFICER_ID, "bench officer", by=None, now=SystemClock().now()
        )
        settings = Settings(
            _env_file=None,
            bot_token=BENCH_TOKEN,
            database_path=args.db or Path("unused.db"),
            database_url=args.database_url,
            admin_ids=[ADMIN_ID],
        )
        people = (
            ("admin, every grid", ADMIN_ID, [Grant(GrantKind.ADMIN)]),
            (f"officer, one grid ({grid.name})", OFFICER_ID, [Grant(GrantKind.GRID, grid.id)]),
        )
        print(
            f"{storage.db.name}: {len(grids):,} grids, {tickets:,} tickets; {args.repeat} runs each"
        )
        print(
            f"{'who':<34} {'page':<26} {'cold ms':>8} {'median':>8} {'p95':>8}"
            f"  ≤ {TARGET_MS:.0f} ms"
        )
        missed = 0
        for who, user_id, grants in people:
            client = await _client(storage, settings, user_id, grants)
            try:
                for name, path in PAGES:
                    cold, warm = await _time(client, path, args.repeat)
                    median = statistics.median(warm)
                    targeted = name in ("overview", "tickets, first page")
                    missed += targeted and median > TARGET_MS
                    mark = ("MISSED" if median > TARGET_MS else "met") if targeted else "—"
                    print(
                        f"{who:<34} {name:<26} {cold:8.1f} {median:8.1f} {_p95(warm):8.1f}  {mark}"
                    )
            finally:
                await client.aclose()
        return 1 if missed else 0
    finally:
        await storage.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--db", type=Path, help="an SQLite database made by bench.seed / bench.scale"
    )
    where.add_argument("--database-url", help="a PostgreSQL database seeded the same way")
    parser.add_argument("--repeat", type=int, default=20)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
