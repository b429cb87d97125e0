"""`linlitong web`: the staff page served by uvicorn inside our own event loop.

The bot owns the schema: the page opens the database without migrating or creating it (a missing
one is :class:`storage.db.DatabaseMissingError`, an empty or older one :class:`SchemaBehind`).
uvicorn runs with ``lifespan="off"``, no logging configuration of its own (our handlers and token
filter), no access log (a login link's query holds its token) and no signal handlers: SIGINT and
SIGTERM stop it here, letting the requests in hand finish. Behind nginx on the same machine the
browser's address comes from X-Forwarded-For, trusted from 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from datetime import timedelta

import uvicorn
from starlette.applications import Starlette
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.clock import Clock, ScaledClock, SystemClock
from bot.config import Settings
from bot.web.app import build_web_app, web_runtime
from bot.web.overview import OverviewCache
from bot.webhook import QuietServer, listen_socket
from storage import Storage
from storage.db import load_migrations

logger = logging.getLogger(__name__)

FORGET_EVERY = timedelta(hours=1)  # expired logins and sessions are dropped this often
GRACE_SECONDS = 10  # a stop waits this long for the requests in hand
TRUSTED_PROXY = "127.0.0.1"  # the nginx on this machine: its X-Forwarded-For is believed


class SchemaBehind(RuntimeError):
    """The database's schema is older than this release's (0: no tables at all)."""

    def __init__(self, database: str, current: int, known: int) -> None:
        super().__init__(f"{database} is at schema {current}; this release needs {known}")
        self.database = database
        self.current = current
        self.known = known


async def open_storage(settings: Settings) -> Storage:
    """The bot's database as it is: not created, not migrated, at this release's schema."""
    storage = await Storage.open(settings.database, migrate=False, create=False)
    try:
        await check_schema(storage)
    except BaseException:
        await storage.close()
        raise
    return storage


async def check_schema(storage: Storage) -> None:
    """:class:`SchemaBehind` unless the database has every migration this release knows (a newer
    one was refused on opening: SchemaTooNewError)."""
    known = max(m.version for m in load_migrations(storage.db.engine))
    current = await storage.db.schema_version()
    if current < known:
        raise SchemaBehind(storage.db.name, current, known)


def build_bot(settings: Settings) -> Bot:
    """The page's own Bot (roles, photos): the token, BOT_API_BASE_URL, and the file address
    beside it (``…/bot`` → ``…/file/bot``)."""
    base_url = settings.bot_api_base_url
    return Bot(settings.token(), base_url=base_url, base_file_url=file_url(base_url))


def file_url(base_url: str) -> str:
    return base_url.removesuffix("bot") + "file/bot"


def clock_for(settings: Settings) -> Clock:
    """The bot's business clock rule (bot.app.clock_for), so links expire alike on both sides."""
    if settings.clock_speed == 1.0 and settings.clock_start is None:
        return SystemClock()
    return ScaledClock(settings.clock_speed, settings.clock_start)


async def serve_web(
    settings: Settings,
    *,
    bot: Bot | None = None,
    clock: Clock | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve the page on WEB_LISTEN until SIGINT or SIGTERM (then return).

    ``bot``: given, it is the caller's (tests: the simulator's transport); otherwise one is built
    and initialised here (a rejected token raises ``InvalidToken``; Telegram unreachable is only
    logged: the page starts, and roles are asked at each request). ``ready`` is set once
    connections are accepted. Raises ``DatabaseMissingError``, :class:`SchemaBehind`,
    ``SchemaTooNewError`` or :class:`bot.webhook.ListenFailed` before serving.
    """
    storage = await open_storage(settings)
    try:
        sock = await listen_socket(*settings.web_address)
        try:
            await _serve_on(settings, storage, sock, bot, clock or clock_for(settings), ready)
        finally:
            sock.close()  # uvicorn closed it already, unless start-up failed before it served
    finally:
        await storage.close()


async def _serve_on(
    settings: Settings,
    storage: Storage,
    sock: socket.socket,
    bot: Bot | None,
    clock: Clock,
    ready: asyncio.Event | None,
) -> None:
    own = bot is None
    web_bot = bot or build_bot(settings)
    if own:
        await _initialise(web_bot)
    try:
        web = web_runtime(settings, storage, web_bot, clock)
        app = build_web_app(web)
        app.state.overview = OverviewCache()  # bot.web.pages reads it; kept fresh by _serve
        await _serve(app, sock, storage, clock, ready)
    finally:
        if own:
            await web_bot.shutdown()


async def _initialise(bot: Bot) -> None:
    try:
        await bot.initialize()
    except InvalidToken:
        raise
    except TelegramError as exc:
        logger.warning(
            "Telegram does not answer now (%s); the page starts and asks again at each request",
            type(exc).__name__,
        )


async def _serve(
    app: Starlette,
    sock: socket.socket,
    storage: Storage,
    clock: Clock,
    ready: asyncio.Event | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    server = QuietServer(_config(app))
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    forgetting = asyncio.create_task(_forget_expired(storage, clock), name="web-forget")
    cache: OverviewCache = app.state.overview
    figures = asyncio.create_task(
        cache.keep_fresh(storage.db, app.state.web.settings.tz, clock), name="web-figures"
    )
    try:
        started = asyncio.create_task(server.serving.wait())
        await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if serving.done():
            serving.result()  # raises what stopped it
            raise RuntimeError("the web server stopped at start-up")
        host, port = sock.getsockname()[:2]
        logger.info("staff web page listening on %s:%d", host, port)
        if ready is not None:
            ready.set()
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        forgetting.cancel()
        figures.cancel()
        server.should_exit = True
        await asyncio.gather(serving, forgetting, figures, return_exceptions=True)
    serving.result()
    logger.info("staff web page stopped")


def _config(app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,  # our logging set-up, our token filter
        access_log=False,  # GET /login?t=… would write the link's token
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=TRUSTED_PROXY,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


async def _forget_expired(storage: Storage, clock: Clock) -> None:
    """Every FORGET_EVERY: drop logins and sessions long expired; one failure is only logged."""
    while True:
        try:
            forgotten = await storage.web.forget_expired(clock.now())
            if forgotten:
                logger.info("web: forgot %d expired logins and sessions", forgotten)
        except Exception as exc:  # the database away for a moment: next time
            logger.warning("web: could not forget expired sessions (%s)", type(exc).__name__)
        await asyncio.sleep(FORGET_EVERY.total_seconds())
