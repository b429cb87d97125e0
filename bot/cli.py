"""linlitong run | demo | db migrate|backup|check | grid list."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.categories import CategoryError
from bot.config import Settings
from bot.logs import setup_logging
from storage import SchemaTooNewError, Storage

EXIT_USAGE = 2

NO_TOKEN = """\
BOT_TOKEN is not set, so LinliTong cannot connect to Telegram.

  1. In Telegram, talk to @BotFather, send /newbot and follow the steps; it gives you a token.
  2. Send /setprivacy to @BotFather, choose your bot, choose Disable (or make the bot an admin
     of each grid group), so that it can read residents' tagged messages.
  3. Put the token in .env (copy .env.example) or the environment: BOT_TOKEN=123456:ABC...

To try LinliTong without a token or a network, run:  linlitong demo
"""  # noqa: S105 - help text, not a password


def main(argv: Sequence[str] | None = None) -> int:
    # python-telegram-bot 22: time periods (RetryAfter.retry_after …) as timedelta, no warnings
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"linlitong: invalid settings:\n{_settings_errors(exc)}", file=sys.stderr)
        return EXIT_USAGE
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, settings)
    except CategoryError as exc:
        print(f"linlitong: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SchemaTooNewError as exc:
        print(f"linlitong: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _settings_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]).upper() or "settings"
        lines.append(f"  {name}: {error['msg']}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linlitong", description="邻里通 LinliTong: grid governance bot for Telegram"
    )
    sub = parser.add_subparsers(title="commands")

    run = sub.add_parser("run", help="run the bot (long polling)")
    run.set_defaults(handler=_cmd_run)

    demo = sub.add_parser("demo", help="play an offline scene against the built-in simulator")
    demo.add_argument("--keep-db", type=Path, help="keep the demo database at this path")
    demo.set_defaults(handler=_cmd_demo)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(title="db commands")
    db.add_parser("migrate", help="apply pending migrations").set_defaults(handler=_cmd_migrate)
    backup = db.add_parser("backup", help="online backup, safe while the bot runs")
    backup.add_argument("path", type=Path)
    backup.set_defaults(handler=_cmd_backup)
    db.add_parser("check", help="integrity and foreign-key check").set_defaults(handler=_cmd_check)

    grid = sub.add_parser("grid", help="grid bindings").add_subparsers(title="grid commands")
    grid.add_parser("list", help="list bound chats").set_defaults(handler=_cmd_grid_list)

    export = sub.add_parser("export", help="write the ledger (台账) of tickets as xlsx or csv")
    export.add_argument("--format", choices=("xlsx", "csv"), help="default: the output's suffix")
    export.add_argument("--output", type=Path, required=True, help="file to write")
    export.add_argument("--grid", help="only this grid (by name)")
    export.add_argument("--community", help="only this community (by name)")
    export.add_argument("--since", help="opened on or after this local day, YYYY-MM-DD")
    export.add_argument("--until", help="opened on or before this local day, YYYY-MM-DD")
    export.set_defaults(handler=_cmd_export)
    return parser


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.bot_token is None:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings.log_level, secrets=[settings.token()])
    from telegram.error import InvalidToken

    from bot.app import run  # imported late: `linlitong db …` needs no telegram machinery

    # Check the database before connecting anywhere: a too-new schema stops here, clearly.
    asyncio.run(_with_storage(settings, _noop))
    try:
        return run(settings)
    except InvalidToken:
        print(
            "linlitong: Telegram rejected BOT_TOKEN (revoked or mistyped). Ask @BotFather for the"
            " current token (/token) and put it in .env.",
            file=sys.stderr,
        )
        return 1


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging("WARNING")
    from bot.demo import play

    return asyncio.run(play(keep_db=args.keep_db))


async def _noop(storage: Storage) -> int:
    return 0


async def _with_storage(
    settings: Settings, action: Callable[[Storage], Awaitable[int]], *, migrate: bool = True
) -> int:
    storage = await Storage.open(settings.database_path, migrate=migrate)
    try:
        return await action(storage)
    finally:
        await storage.close()


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def action(storage: Storage) -> int:
        applied = await storage.db.migrate()
        version = await storage.db.schema_version()
        for migration in applied:
            print(f"applied {migration.version:04d}: {migration.description}")
        print(f"{settings.database_path}: schema version {version}")
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    target: Path = args.path
    if target.resolve() == settings.database_path.resolve():
        print("linlitong: the backup must not overwrite the database itself", file=sys.stderr)
        return EXIT_USAGE

    async def action(storage: Storage) -> int:
        await storage.db.backup_to(target)
        print(f"backed up {settings.database_path} to {target}")
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_path.exists():
        print(f"linlitong: no database at {settings.database_path}", file=sys.stderr)
        return 1

    async def action(storage: Storage) -> int:
        problems = await storage.db.integrity_check()
        for problem in problems:
            print(problem)
        print(f"{settings.database_path}: {'ok' if not problems else f'{len(problems)} problems'}")
        return 0 if not problems else 1

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_grid_list(args: argparse.Namespace, settings: Settings) -> int:
    async def action(storage: Storage) -> int:
        bindings = await storage.grids.bindings()
        if not bindings:
            print("no chats are bound yet: send /bind GRID COMMUNITY [STREET] in a group")
            return 0
        print(f"{'chat id':>16}  {'kind':<10}  {'street':<10}  {'community':<12}  grid / title")
        for b in bindings:
            name = b.grid_name if b.is_grid else "(supervisor)"
            print(
                f"{b.chat_id:>16}  {b.kind:<10}  {b.street_name or '-':<10}  "
                f"{b.community_name or '-':<12}  {name} / {b.title}"
            )
        return 0

    return asyncio.run(_with_storage(settings, action))


def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the other commands need neither the ledger writers nor the categories.
    from datetime import date

    from bot.categories import CategoryCatalog
    from bot.clock import SystemClock
    from bot.export import LedgerFormat, write_ledger

    output: Path = args.output
    suffixes: dict[str, LedgerFormat] = {".xlsx": "xlsx", ".csv": "csv"}
    fmt: LedgerFormat | None = args.format or suffixes.get(output.suffix.lower())
    if fmt is None:
        print(
            "linlitong: give --format xlsx|csv or an output ending in .xlsx or .csv",
            file=sys.stderr,
        )
        return EXIT_USAGE
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        text: str | None = getattr(args, name)
        try:
            days[name] = None if text is None else date.fromisoformat(text)
        except ValueError:
            print(f"linlitong: --{name} {text!r} is not a date like 2026-11-26", file=sys.stderr)
            return EXIT_USAGE
    since, until = days["since"], days["until"]
    if since is not None and until is not None and since > until:
        print(f"linlitong: --since {since} is after --until {until}", file=sys.stderr)
        return EXIT_USAGE
    catalog = CategoryCatalog.load(settings.categories_file)

    async def action(storage: Storage) -> int:
        output.parent.mkdir(parents=True, exist_ok=True)
        count = await write_ledger(
            storage,
            fmt,
            output,
            catalog=catalog,
            tz=settings.tz,
            now=SystemClock().now(),
            grid=args.grid,
            community=args.community,
            since=since,
            until=until,
        )
        print(f"wrote {count} tickets to {output}")
        if count == 0:
            print("linlitong: no ticket matched the filters", file=sys.stderr)
        return 0

    return asyncio.run(_with_storage(settings, action))


if __name__ == "__main__":
    sys.exit(main())
