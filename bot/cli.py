"""linlitong run | web | demo | export | db migrate|backup|check|copy | grid list.

Each command reads only the settings it needs, when it runs: ``--help``, ``--version`` and
``demo`` work with a broken ``.env``, and a mistyped DIGEST_TIME does not stop a backup.
Failures are one or two lines naming the setting and the fix, never a traceback, never the token.
Exit status: 0 done; 1 a failure at run time (Telegram unreachable or refusing the token, no
database yet, a failed check); 2 a configuration or usage error (a setting, an argument, an
unusable DATABASE_PATH or CATEGORIES_FILE): systemd does not restart on 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Collection, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bot.categories import CategoryError
from bot.config import DEFAULT_WEB_LISTEN, Settings, SettingsError, load_settings, split_listen
from bot.logs import RedactTokenFilter, setup_logging
from bot.texts import Language, Texts
from storage import SchemaTooNewError, Storage, is_url
from storage.copy import CopyMismatchError, CopyRefusedError, copy_database
from storage.db import DatabaseMissingError
from storage.postgres import BackupUnavailableError, PostgresUnavailableError, safe_url

if TYPE_CHECKING:  # `linlitong db …` imports no telegram machinery
    from bot.app import AnotherPoller
    from bot.web.server import SchemaBehind

EXIT_RUNTIME = 1
EXIT_CONFIG = 2
EXIT_USAGE = EXIT_CONFIG  # argparse's own status for a usage error

STORAGE_SETTINGS = frozenset({"database_path", "database_url"})
EXPORT_SETTINGS = STORAGE_SETTINGS | {"categories_file", "timezone"}
# `linlitong web`: the page's own settings and what it shares with the bot to read the same data
WEB_SETTINGS = EXPORT_SETTINGS | {
    "bot_token",
    "bot_api_base_url",
    "admin_ids",
    "language",
    "log_level",
    "log_level_libraries",
    "clock_speed",
    "clock_start",
    "web_listen",
    "web_base_url",
    "web_secret",
}


class CliError(Exception):
    """A failure told to the deployer in a line or two, and the exit status that goes with it."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    # python-telegram-bot 22: time periods (RetryAfter.retry_after …) as timedelta, no warnings
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # `linlitong` or a group such as `linlitong db` without its command
        usage: argparse.ArgumentParser = getattr(args, "group_parser", parser)
        usage.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except CliError as exc:
        _complain(exc.message)
        return exc.code
    except CategoryError as exc:
        _complain(str(exc))
        return EXIT_CONFIG
    except SchemaTooNewError as exc:
        _complain(str(exc))
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130


def _complain(message: str) -> None:
    for line in message.splitlines():
        print(f"linlitong: {line}", file=sys.stderr)


def _version() -> str:
    try:
        return version("linlitong")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    texts = Texts(_help_language())
    parser = argparse.ArgumentParser(prog="linlitong", description=texts("cli.help.linlitong"))
    parser.add_argument("--version", action="version", version=f"linlitong {_version()}")
    sub = parser.add_subparsers(title=texts("cli.help.commands"))

    run = sub.add_parser("run", help=texts("cli.help.run"))
    run.add_argument("--webhook", action="store_true", help=texts("cli.help.webhook"))
    run.set_defaults(handler=_cmd_run)

    web = sub.add_parser("web", help=texts("cli.help.web"))
    web.set_defaults(handler=_cmd_web)

    demo = sub.add_parser("demo", help=texts("cli.help.demo"))
    demo.add_argument("--keep-db", type=Path, help=texts("cli.help.keep_db"))
    demo.add_argument(
        "--web",
        nargs="?",
        const=DEFAULT_WEB_LISTEN,
        metavar="HOST:PORT",
        help=texts("cli.help.demo_web"),
    )
    demo.set_defaults(handler=_cmd_demo)

    db = _group(sub, "db", texts("cli.help.db"), texts)
    db.add_parser("migrate", help=texts("cli.help.migrate")).set_defaults(handler=_cmd_migrate)
    backup = db.add_parser("backup", help=texts("cli.help.backup"))
    backup.add_argument("path", type=Path, help=texts("cli.help.backup_path"))
    backup.set_defaults(handler=_cmd_backup)
    db.add_parser("check", help=texts("cli.help.check")).set_defaults(handler=_cmd_check)
    copy = db.add_parser("copy", help=texts("cli.help.copy"))
    copy.add_argument(
        "--to", required=True, metavar="postgresql://…", help=texts("cli.help.copy_to")
    )
    copy.set_defaults(handler=_cmd_copy)

    grid = _group(sub, "grid", texts("cli.help.grid"), texts)
    grid.add_parser("list", help=texts("cli.help.grid_list")).set_defaults(handler=_cmd_grid_list)

    export = sub.add_parser("export", help=texts("cli.help.export"))
    export.add_argument("--format", choices=("xlsx", "csv"), help=texts("cli.help.format"))
    export.add_argument("--output", type=Path, required=True, help=texts("cli.help.output"))
    export.add_argument("--grid", help=texts("cli.help.grid_name"))
    export.add_argument("--community", help=texts("cli.help.community"))
    export.add_argument("--since", help=texts("cli.help.since"))
    export.add_argument("--until", help=texts("cli.help.until"))
    export.add_argument(
        "--what",
        choices=("tickets", "care", "votes", "all"),
        default="tickets",
        help=texts("care_fig.cli_help_what") + texts("vote.cli_help_what"),
    )
    export.set_defaults(handler=_cmd_export)
    return parser


def _help_language() -> Language:
    """LANGUAGE for the help texts; zh if the settings cannot be read (``--help`` always works)."""
    try:
        settings, _ = load_settings(())
    except Exception:  # any failure to read settings must not stop --help
        return "zh"
    return settings.default_language


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    texts: Texts,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command with commands of its own; given none, it lists them."""
    group = sub.add_parser(name, help=help_text)
    group.set_defaults(group_parser=group)
    return group.add_subparsers(title=texts("cli.help.group_commands", name=name))


# -- settings and storage, as each command needs them -------------------------------------------


def _settings(needed: Collection[str] | None) -> Settings:
    """The settings; a bad one the command needs stops it (exit 2), others are mentioned."""
    try:
        settings, ignored = load_settings(needed)
    except SettingsError as exc:
        raise CliError("\n".join(exc.lines()), EXIT_CONFIG) from None
    texts = Texts(settings.default_language)
    for problem in ignored:
        _complain(texts("cli.ignored_setting", problem=problem.explain(texts)))
    return settings


async def _noop(storage: Storage) -> int:
    return 0


async def _with_storage(
    settings: Settings,
    action: Callable[[Storage], Awaitable[int]],
    *,
    migrate: bool = True,
    create: bool = False,
) -> int:
    """Open the database (DATABASE_URL, else DATABASE_PATH, made only when ``create``), run
    ``action``, close."""
    storage = await _open(settings.database, Texts(settings.default_language), migrate, create)
    try:
        return await action(storage)
    finally:
        await storage.close()


async def _open(target: Path | str, texts: Texts, migrate: bool, create: bool) -> Storage:
    try:
        return await Storage.open(target, migrate=migrate, create=create)
    except DatabaseMissingError:
        raise CliError(texts("cli.database_missing", path=target)) from None
    except PostgresUnavailableError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    except (OSError, sqlite3.Error) as exc:
        raise CliError(
            texts("cli.database_unusable", path=target, error=_reason(exc, texts)), EXIT_CONFIG
        ) from None
    except psycopg.Error as exc:
        raise CliError(texts("cli.postgres_failed", error=_first_line(exc))) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database_name(settings: Settings) -> str:
    """The database as messages show it: the file, or the URL without its password."""
    target = settings.database
    return safe_url(target) if isinstance(target, str) else str(target)


def _reason(exc: BaseException, texts: Texts) -> str:
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        return texts("cli.not_a_folder", path=exc.filename)  # a file where a folder should be
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _existing_folder(path: Path, texts: Texts) -> None:
    """Files are written only into folders that exist: a typo must not grow a tree."""
    folder = path.parent
    if not folder.is_dir():
        raise CliError(texts("cli.folder_missing", folder=folder), EXIT_CONFIG)


# -- commands -----------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(needed=None)
    texts = Texts(settings.default_language)
    if settings.bot_token is None:
        raise CliError(texts("cli.no_token"), EXIT_CONFIG)
    token = settings.token()
    webhook = args.webhook or settings.webhook_url is not None
    secrets = [token]
    if webhook:
        secrets.append(_webhook_secret(settings, texts))
    setup_logging(settings.log_level, secrets=secrets, library_level=settings.log_level_libraries)
    # Check the database before connecting anywhere: a too-new schema stops here, clearly.
    asyncio.run(_with_storage(settings, _noop, create=True))

    from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError

    # imported late: `linlitong db …` needs no telegram machinery
    from bot.app import AnotherPoller, WebhookRefused, run
    from bot.webhook import ListenFailed

    base_url = settings.bot_api_base_url  # as configured: the token is appended, not in it
    try:
        return run(settings, webhook=webhook)
    except AnotherPoller as exc:
        raise CliError(_another_poller(exc, texts)) from None
    except ListenFailed as exc:
        line = texts("cli.webhook_listen_failed", listen=exc.listen, error=exc.reason)
        raise CliError(line, EXIT_CONFIG) from None
    except WebhookRefused as exc:
        url = RedactTokenFilter(secrets).redact(settings.webhook_url or "")
        error = _redacted(exc, token)
        raise CliError(texts("cli.webhook_refused", url=url, error=error), EXIT_CONFIG) from None
    except InvalidToken:
        raise CliError(texts("cli.token_rejected", base_url=base_url)) from None
    except Conflict:
        raise CliError(texts("cli.conflict")) from None
    except NetworkError as exc:  # TimedOut included
        error = _redacted(exc, token)
        raise CliError(texts("cli.unreachable", base_url=base_url, error=error)) from None
    except TelegramError as exc:
        error = _redacted(exc, token)
        raise CliError(texts("cli.telegram_failed", base_url=base_url, error=error)) from None


def _another_poller(exc: AnotherPoller, texts: Texts) -> str:
    if exc.engine == "postgresql":
        return texts("cli.another_poller_postgresql", database=exc.database, key=exc.lock)
    return texts("cli.another_poller_sqlite", database=exc.database, lock=exc.lock)


def _webhook_secret(settings: Settings, texts: Texts) -> str:
    """Webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET (their form is checked with the other
    settings); the secret, for the log filter."""
    if settings.webhook_url is None:
        raise CliError(texts("cli.webhook_needs_url"), EXIT_CONFIG)
    if settings.webhook_secret is None:
        raise CliError(texts("cli.webhook_needs_secret"), EXIT_CONFIG)
    return settings.webhook_secret.get_secret_value()


def _redacted(exc: BaseException, token: str, limit: int = 160) -> str:
    """The error's first line, shortened, without the token (a server's whole page stays out)."""
    text = RedactTokenFilter([token]).redact(str(exc) or type(exc).__name__)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _cmd_web(args: argparse.Namespace) -> int:
    """`linlitong web`: the staff page on the bot's database, until SIGINT/SIGTERM (exit 0)."""
    settings = _settings(WEB_SETTINGS)
    texts = Texts(settings.default_language)
    if settings.bot_token is None:
        raise CliError(texts("cli.web_no_token"), EXIT_CONFIG)
    token = settings.token()
    secrets = [token]
    if settings.web_secret is not None:
        secrets.append(settings.web_secret.get_secret_value())
    setup_logging(settings.log_level, secrets=secrets, library_level=settings.log_level_libraries)

    # imported late: the other commands need neither the web nor telegram machinery
    from telegram.error import InvalidToken

    from bot.web.server import SchemaBehind, check_schema, serve_web
    from bot.webhook import ListenFailed

    async def schema_ready(storage: Storage) -> int:
        try:
            await check_schema(storage)
        except SchemaBehind as exc:
            raise CliError(_schema_behind(exc, settings, texts)) from None
        return 0

    # The bot owns the schema: a missing, empty or older database stops here, in one line.
    asyncio.run(_with_storage(settings, schema_ready, migrate=False, create=False))
    try:
        asyncio.run(serve_web(settings))
    except SchemaBehind as exc:  # migrated away meanwhile
        raise CliError(_schema_behind(exc, settings, texts)) from None
    except ListenFailed as exc:
        line = texts("cli.web_listen_failed", listen=exc.listen, error=exc.reason)
        raise CliError(line, EXIT_CONFIG) from None
    except InvalidToken:
        base_url = settings.bot_api_base_url
        raise CliError(texts("cli.token_rejected", base_url=base_url)) from None
    return 0


def _schema_behind(exc: SchemaBehind, settings: Settings, texts: Texts) -> str:
    database = _database_name(settings)
    if exc.current == 0:
        setting = "DATABASE_URL" if settings.database_url is not None else "DATABASE_PATH"
        return texts("cli.web_database_empty", database=database, setting=setting)
    return texts("cli.web_schema_old", database=database, current=exc.current, known=exc.known)


def _cmd_demo(args: argparse.Namespace) -> int:
    # The demo makes its own settings: a broken .env or environment does not stop it.
    setup_logging("WARNING")
    from bot.demo import play
    from bot.webhook import ListenFailed

    texts = Texts("zh")
    listen: str | None = args.web
    if listen is not None:
        try:
            split_listen(listen)
        except ValueError:
            raise CliError(texts("cli.demo_web_listen", listen=listen), EXIT_USAGE) from None
    try:
        return asyncio.run(play(keep_db=args.keep_db, web_listen=listen))
    except ListenFailed as exc:
        line = texts("cli.demo_web_listen_failed", listen=exc.listen, error=exc.reason)
        raise CliError(line, EXIT_CONFIG) from None


def _cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(STORAGE_SETTINGS)
    texts = Texts(settings.default_language)

    async def action(storage: Storage) -> int:
        applied = await storage.db.migrate()
        schema = await storage.db.schema_version()
        for migration in applied:
            version = f"{migration.version:04d}"
            print(
                texts("cli.migration_applied", version=version, description=migration.description)
            )
        print(texts("cli.schema_version", path=_database_name(settings), version=schema))
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False, create=True))


def _cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings(STORAGE_SETTINGS)
    texts = Texts(settings.default_language)
    target: Path = args.path
    if settings.database_url is None and target.resolve() == settings.database_path.resolve():
        raise CliError(texts("cli.backup_onto_database"), EXIT_USAGE)
    _existing_folder(target, texts)

    async def action(storage: Storage) -> int:
        try:
            await storage.db.backup_to(target)
        except (OSError, sqlite3.Error) as exc:
            raise CliError(
                texts("cli.cannot_write", path=target, error=_reason(exc, texts))
            ) from None
        except BackupUnavailableError as exc:
            raise CliError(str(exc)) from None
        print(texts("cli.backed_up", database=_database_name(settings), target=target))
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(STORAGE_SETTINGS)
    texts = Texts(settings.default_language)

    async def action(storage: Storage) -> int:
        problems = await storage.db.integrity_check()
        for problem in problems:
            print(problem)
        path = _database_name(settings)
        if problems:
            print(texts("cli.check_problems", path=path, count=len(problems)))
            return EXIT_RUNTIME
        print(texts("cli.check_ok", path=path))
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_copy(args: argparse.Namespace) -> int:
    settings = _settings(STORAGE_SETTINGS)
    texts = Texts(settings.default_language)
    url = str(args.to).strip()
    if not is_url(url):
        raise CliError(texts("cli.copy_needs_url"), EXIT_USAGE)
    if settings.database_url is not None:
        raise CliError(texts("cli.copy_from_sqlite_only"), EXIT_USAGE)

    async def action(source: Storage) -> int:
        target = await _open(url, texts, migrate=True, create=False)
        try:
            copied = await copy_database(source.db, target.db)
        except CopyRefusedError as exc:
            raise CliError(texts("cli.copy_refused", reason=str(exc)), EXIT_USAGE) from None
        except CopyMismatchError as exc:
            raise CliError(texts("cli.copy_mismatch", reason=str(exc))) from None
        finally:
            await target.close()
        for table in copied:
            print(
                texts("cli.copy_table", table=table.table, rows=table.rows, sum=table.checksum[:16])
            )
        rows = sum(t.rows for t in copied)
        print(texts("cli.copy_done", tables=len(copied), rows=rows, target=safe_url(url)))
        return 0

    return asyncio.run(_with_storage(settings, action, migrate=False))


def _cmd_grid_list(args: argparse.Namespace) -> int:
    settings = _settings(STORAGE_SETTINGS)
    texts = Texts(settings.default_language)

    async def action(storage: Storage) -> int:
        bindings = await storage.grids.bindings()
        if not bindings:
            print(texts("cli.no_bindings"))
            return 0
        header = {c: texts(f"cli.column.{c}") for c in ("chat_id", "kind", "street", "community")}
        print(_row(**header, name=texts("cli.column.name")))
        for b in bindings:
            name = b.grid_name if b.is_grid else texts("cli.supervisor_name")
            kind = texts(f"cli.kind.{b.kind}")
            street, community = b.street_name or "-", b.community_name or "-"
            print(_row(str(b.chat_id), kind, street, community, f"{name} / {b.title}"))
        return 0

    return asyncio.run(_with_storage(settings, action))


# chat id (right-aligned), kind, street, community; then grid / title as it comes
_WIDTHS = (16, 10, 10, 12)


def _row(chat_id: str, kind: str, street: str, community: str, name: str) -> str:
    """One line of ``grid list``, padded by display width: a Chinese character takes two."""
    first, *widths = _WIDTHS
    cells = [_pad(chat_id, first, right=True)]
    cells += [_pad(c, w) for c, w in zip((kind, street, community), widths, strict=True)]
    return "  ".join([*cells, name])


def _pad(text: str, width: int, *, right: bool = False) -> str:
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(0, width - used)
    return fill + text if right else text + fill


def _cmd_export(args: argparse.Namespace) -> int:
    # Imported here: the other commands need neither the ledger writers nor the categories.
    from datetime import date

    from bot.categories import CategoryCatalog
    from bot.clock import SystemClock
    from bot.export import LedgerFormat, LedgerPart, care_path, export_ledger, votes_path

    settings = _settings(EXPORT_SETTINGS)
    texts = Texts(settings.default_language)
    output: Path = args.output
    suffixes: dict[str, LedgerFormat] = {".xlsx": "xlsx", ".csv": "csv"}
    fmt: LedgerFormat | None = args.format or suffixes.get(output.suffix.lower())
    if fmt is None:
        raise CliError(texts("cli.export_format"), EXIT_USAGE)
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        text: str | None = getattr(args, name)
        try:
            days[name] = None if text is None else date.fromisoformat(text)
        except ValueError:
            raise CliError(texts("cli.bad_date", name=name, text=text), EXIT_USAGE) from None
    since, until = days["since"], days["until"]
    if since is not None and until is not None and since > until:
        raise CliError(texts("cli.dates_reversed", since=since, until=until), EXIT_USAGE)
    _existing_folder(output, texts)
    catalog = CategoryCatalog.load(settings.categories_file)

    what: LedgerPart = args.what
    # A CSV holds one table: with --what all, the care visits and the votes go to files of
    # their own.
    parts: list[tuple[LedgerPart, Path]] = [(what, output)]
    if what == "all" and fmt == "csv":
        parts = [("tickets", output), ("care", care_path(output)), ("votes", votes_path(output))]

    async def action(storage: Storage) -> int:
        now = SystemClock().now()
        for part, path in parts:
            try:
                written = await export_ledger(
                    storage,
                    fmt,
                    path,
                    catalog=catalog,
                    tz=settings.tz,
                    now=now,
                    what=part,
                    grid=args.grid,
                    community=args.community,
                    since=since,
                    until=until,
                )
            except OSError as exc:
                raise CliError(
                    texts("cli.cannot_write", path=path, error=_reason(exc, texts))
                ) from None
            if part not in ("care", "votes"):
                print(texts("cli.exported", count=written.tickets, path=path))
                if written.tickets == 0:
                    _complain(texts("cli.export_empty"))
            if written.care:
                people, visits = written.people, written.visits
                print(texts("care_fig.cli_exported", people=people, visits=visits, path=path))
                if people == 0:
                    _complain(texts("care_fig.cli_empty"))
            if written.votes_written:
                print(texts("vote.cli_exported", votes=written.votes, path=path))
        return 0

    return asyncio.run(_with_storage(settings, action))


if __name__ == "__main__":
    sys.exit(main())
