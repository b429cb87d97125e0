"""build_application(settings): the only place that knows bot, handlers and storage together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot import classify, schedule
from bot.answers import sync as sync_answers
from bot.categories import CategoryCatalog
from bot.clock import Clock, ScaledClock, SystemClock
from bot.config import Settings
from bot.context import RUNTIME_KEY, LinliApp, LinliContext, Runtime, runtime_of
from bot.inbox import InboxWorker
from bot.outbox import OutboxSender
from bot.ratelimit import (
    PAID_BROADCAST_PER_SECOND,
    DatabaseClock,
    FloodLimiter,
    TelegramBudget,
    retry_after_seconds,
)
from bot.roles import RoleBook
from bot.texts import Texts
from bot.transport import Transport, proxy_in_environment
from bot.webhook import BadUpdate, Deliver, Healthy, WebhookServer, build_app, listen_socket
from handlers import (
    admin,
    answers,
    buttons,
    care,
    errors,
    followup,
    intake,
    membership,
    menu,
    offers,
    officer,
    reports,
    resident,
    templates,
    views,
    votes,
    web,
)
from storage import Database, Storage, handling
from storage.flood import ledger_for

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = Update.ALL_TYPES


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    background: bool = True,
    budget: TelegramBudget | None = None,
    updater: bool = True,
) -> LinliApp:
    """A fresh Application; storage opens in post_init and closes in post_shutdown.

    ``background=False`` starts neither the outbox sender nor the scheduled tick: tests then
    call ``runtime.sender.flush()`` and ``bot.schedule.tick`` themselves, with a moved clock.
    ``updater=False`` (webhook mode) builds it without PTB's Updater: updates come from
    :mod:`bot.webhook`.
    """
    runtime = Runtime(
        settings=settings,
        catalog=CategoryCatalog.load(settings.categories_file),
        clock=clock or clock_for(settings),
        texts=Texts(settings.default_language),
        background=background,
        budget=budget or budget_for(settings),
    )
    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(settings.bot_api_base_url)
        .context_types(ContextTypes(context=LinliContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                tzinfo=settings.tz,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if request is None and get_updates_request is None and uses_transport(settings):
        # LinliTong's own HTTP client (bot.transport): a fraction of httpx's CPU a request
        request, get_updates_request = Transport(), Transport(pool_size=1)
    if request is not None:
        builder.request(request)  # the builder's setters mutate it in place
    if get_updates_request is not None:
        builder.get_updates_request(get_updates_request)
    if not updater:
        builder.updater(None)
    # One flood budget for every request; a RetryAfter blocks only its own chat.
    limiter = FloodLimiter(runtime.budget)
    app: LinliApp = builder.rate_limiter(limiter).build()
    app.bot_data[RUNTIME_KEY] = runtime
    register_handlers(app)
    return app


def uses_transport(settings: Settings) -> bool:
    """bot.transport unless TELEGRAM_HTTP=httpx or a proxy is set in the environment (which
    httpx reads and bot.transport does not)."""
    return settings.telegram_http == "builtin" and not proxy_in_environment()


def budget_for(settings: Settings) -> TelegramBudget:
    """Telegram's free limits, and its paid broadcast rate when PAID_BROADCAST is on. On
    PostgreSQL the instances share it (post_init), measured on the database server's clock."""
    paid = PAID_BROADCAST_PER_SECOND if settings.paid_broadcast else 0
    if settings.database_url is not None:
        return TelegramBudget(paid_per_second=paid, clock=DatabaseClock())
    return TelegramBudget(paid_per_second=paid)


def clock_for(settings: Settings) -> Clock:
    """The wall clock, or (CLOCK_SPEED ≠ 1 or CLOCK_START set, for demos) a scaled one."""
    if settings.clock_speed == 1.0 and settings.clock_start is None:
        return SystemClock()
    return ScaledClock(settings.clock_speed, settings.clock_start)


def register_handlers(app: LinliApp) -> None:
    """Order matters: membership (-1) sees migrations first; commands (0) before intake (1);
    the reporter's "why" replies (2); untagged problems (3, handlers.offers) after all of
    them, so a tagged message or a reply that had its answer is not asked about again."""
    membership.register(app)
    admin.register(app)
    officer.register(app)
    views.register(app)
    buttons.register(app)
    followup.register(app)
    reports.register(app)
    care.register(app)  # /care and /visit, their forms (private chats)
    templates.register(app)  # /template list|add|del (ready answers)
    web.register(app)  # before resident: `/start web` (its deep link) is web's
    votes.register(app)  # /room, /vote, the poll answers (议事)
    answers.register(app)  # 💬 ready answers; before resident: `/start answers_<ticket>`
    resident.register(app)
    intake.register(app)
    offers.register(app)
    errors.register(app)


async def _post_init(app: Any) -> None:
    runtime = runtime_of(app)
    if runtime.storage_ is None:
        runtime.storage_ = await Storage.open(runtime.settings.database)
    # the offers' n-gram model trains once (~0.15 s): in a worker thread, not on the event loop
    await asyncio.to_thread(classify.corpus_model)
    await sync_answers(runtime.storage_, runtime.catalog, runtime.clock.now())  # 模板
    runtime.roles_ = RoleBook(
        app.bot, runtime.storage_, frozenset(runtime.settings.admin_ids), runtime.clock
    )
    ledger = ledger_for(runtime.storage_.db)
    if ledger is not None:  # Telegram's limits are the bot's: every instance counts there
        await runtime.budget.share(ledger)
    runtime.sender_ = OutboxSender(runtime, app.bot, runtime.budget)
    limiter = app.bot.rate_limiter
    if isinstance(limiter, FloodLimiter):
        limiter.before_visible = runtime.storage.updates.record_in_hand
    inbox = app.bot_data[INBOX_KEY] = inbox_worker(app)
    if runtime.background and app.updater is None:
        inbox.start()  # webhook mode (built without the Updater): handle what the inbox keeps
    if runtime.background:
        # post_init runs before Application.start, so the task is ours to keep and to cancel
        runtime.sender_task = asyncio.create_task(runtime.sender_.run(), name="outbox-sender")
        schedule.start(app, runtime)
    logger.info(
        "LinliTong started as @%s (reads all group messages: %s)",
        app.bot.username,
        app.bot.can_read_all_group_messages,
    )
    await menu.publish_menu(app)


async def _post_stop(app: Any) -> None:
    runtime = runtime_of(app)
    inbox = app.bot_data.get(INBOX_KEY)
    if isinstance(inbox, InboxWorker):
        await inbox.stop()  # the update in hand of each chat is finished and marked done
    task = runtime.sender_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runtime.sender_task = None


async def _post_shutdown(app: Any) -> None:
    await _close_storage(runtime_of(app))


async def _close_storage(runtime: Runtime) -> None:
    """Let go of the lead and the poller lock, then close the database (if open)."""
    storage = runtime.storage_
    if storage is None:
        return
    try:
        await schedule.resign(runtime)
        await storage.db.release_poller()
    except Exception as exc:  # a lost connection: closing it frees its locks all the same
        logger.warning("could not release the database's locks on the way out: %s", exc)
    finally:
        runtime.storage_ = None
        await storage.close()


@asynccontextmanager
async def running(
    app: LinliApp, *, polling: bool = True, poll_timeout: int = 1
) -> AsyncIterator[LinliApp]:
    """Initialize, start, poll (optionally), and on exit stop and shut down, hooks included.

    With ``polling=False`` nothing fetches updates: the caller feeds ``app.process_update``.
    """
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        poller = asyncio.create_task(poll(app, poll_timeout), name="poll") if polling else None
        try:
            yield app
        finally:
            if poller is not None:
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)  # never skip the shutdown
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def poll(app: LinliApp, poll_timeout: int) -> None:
    """Long polling that confirms an update only after it was handled.

    python-telegram-bot's Updater confirms each batch (the next ``getUpdates`` offset) as soon
    as it is queued, before the handlers run: a process killed with a backlog would lose those
    reports. Here the offset moves past an update only once it was handled, so after a crash
    Telegram delivers the unhandled ones again, and :func:`handle_update` skips any it had
    handled. A clean stop finishes the update in hand and confirms the offset.
    """
    await app.bot.delete_webhook(drop_pending_updates=False)
    offset = 0
    failures = 0
    try:
        while True:
            try:
                updates = await app.bot.get_updates(
                    offset=offset, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except (TimedOut, NetworkError) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                logger.warning("getUpdates failed (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for update in updates:
                await _handle_to_the_end(app, update)
                offset = update.update_id + 1
    finally:
        await _confirm(app, offset)


async def _handle_to_the_end(app: LinliApp, update: Update) -> None:
    """Handle one update; a stop (cancellation) waits for it instead of cutting it in half."""
    task = asyncio.ensure_future(handle_update(app, update))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _confirm(app: LinliApp, offset: int) -> None:
    """On a clean stop, tell Telegram which updates were handled, so it does not resend them."""
    if not offset:
        return
    try:
        await app.bot.get_updates(
            offset=offset, limit=1, timeout=0, allowed_updates=ALLOWED_UPDATES
        )
    except TelegramError as exc:
        logger.info("could not confirm handled updates on the way out: %s", exc)


async def handle_update(app: LinliApp, update: Update) -> bool:
    """Handle an update once, however often Telegram delivers it; False if it was a replay.

    Telegram hands out again every update not confirmed before the process died. The update's
    id is recorded in the same transaction as the first change it makes (``storage.handling``),
    or just before its first visible answer leaves (``FloodLimiter.before_visible``), so a
    replayed command is skipped instead of being carried out twice. An update that changed
    nothing and answered nothing (most group chatter) costs no write: its replay does nothing
    a person could see either.
    """
    runtime = runtime_of(app)
    if await runtime.storage.updates.seen(update.update_id):
        logger.info("update %s was handled before the restart; skipped", update.update_id)
        return False
    with handling(update.update_id, runtime.clock.now()):
        await app.process_update(update)  # handler errors go to the error handler
    return True


# -- webhook mode ---------------------------------------------------------------------------


class WebhookRefused(TelegramError):
    """Telegram would not take WEBHOOK_URL (``setWebhook`` answered Bad Request)."""


INBOX_KEY = "linlitong.inbox"  # bot_data: this instance's InboxWorker, set in post_init


def inbox_worker(app: LinliApp) -> InboxWorker:
    """A worker handling what the inbox keeps through :func:`handle_update`, one chat at a time
    (up to WEBHOOK_MAX_CONNECTIONS chats at once), looking every INBOX_POLL."""
    runtime = runtime_of(app)

    async def handle(data: dict[str, Any]) -> None:
        await handle_update(app, _update_of(app, data))

    return InboxWorker(
        runtime.storage.inbox,
        runtime.storage.db,
        handle,
        runtime.clock,
        poll=runtime.settings.inbox_poll.total_seconds(),
        chats=runtime.settings.webhook_max_connections,
    )


def inbox_of(app: LinliApp) -> InboxWorker:
    """This instance's inbox worker (set up in post_init)."""
    inbox = app.bot_data.get(INBOX_KEY)
    if not isinstance(inbox, InboxWorker):
        raise RuntimeError("the inbox worker is set up in post_init: the app is not running")
    return inbox


def _update_of(app: LinliApp, data: dict[str, Any]) -> Update:
    try:
        return Update.de_json(data, app.bot)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadUpdate(type(exc).__name__) from None


def _chat_of(update: Update) -> int:
    """Whose turn an update waits for: its chat, else its sender (inline queries, polls
    answers), else 0 (a poll's new state) — each such key's updates are handled in order."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return 0


def webhook_delivery(app: LinliApp) -> Deliver:
    """What the webhook does with an update: keep it in the inbox (committed before this returns,
    so the 200 that follows never confirms an update that could be lost) and wake the inbox
    worker, which handles it. A copy of an update already kept changes nothing; an update that
    cannot be kept (the database does not answer) raises: 500, and Telegram posts it again.
    """

    async def deliver(data: dict[str, Any]) -> None:
        update = _update_of(app, data)
        runtime = runtime_of(app)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        kept = await runtime.storage.inbox.accept(
            update.update_id, _chat_of(update), body, runtime.clock.now()
        )
        if kept:
            inbox = app.bot_data.get(INBOX_KEY)
            if isinstance(inbox, InboxWorker):
                inbox.wake()
        else:
            logger.info("update %s is in the inbox already; answered 200", update.update_id)

    return deliver


def webhook_health(app: LinliApp) -> Healthy:
    """``/healthz``: the database answers."""

    async def healthy() -> bool:
        try:
            await runtime_of(app).storage.db.ping()
        except Exception as exc:  # closed, unreachable, locked: all mean "not healthy"
            logger.warning("healthz: the database does not answer (%s)", type(exc).__name__)
            return False
        return True

    return healthy


def webhook_server(app: LinliApp, sock: socket.socket) -> WebhookServer:
    """The webhook receiver for ``app`` on a bound socket (WEBHOOK_URL's path, WEBHOOK_SECRET)."""
    settings = runtime_of(app).settings
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    receiver = build_app(
        path=urlsplit(settings.webhook_url).path or "/",
        secret=settings.webhook_secret.get_secret_value(),
        deliver=webhook_delivery(app),
        healthy=webhook_health(app),
    )
    return WebhookServer(receiver, sock)


async def receive_webhook(app: LinliApp, sock: socket.socket) -> None:
    """Serve the webhook, then ``setWebhook``; until cancelled.

    Serving starts first, so the first POST finds us listening. A cancellation (a clean stop)
    stops accepting requests and lets those in hand finish. The webhook stays set: Telegram keeps
    the updates that come meanwhile for the next start (a webhook start picks them up, a polling
    start deletes the webhook first and fetches them), where deleting it on every stop would
    leave them waiting for a getUpdates that may never come.
    """
    settings = runtime_of(app).settings
    server = webhook_server(app, sock)
    await server.start()
    try:
        await _set_webhook(app, settings)
        logger.info(
            "receiving updates by webhook on %s (port %d)", settings.webhook_listen, server.port
        )
        await asyncio.get_running_loop().create_future()  # until cancelled
    finally:
        await server.stop()


async def _set_webhook(app: LinliApp, settings: Settings) -> None:
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    try:
        await app.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            max_connections=settings.webhook_max_connections,
            drop_pending_updates=False,
        )
    except BadRequest as exc:
        raise WebhookRefused(exc.message) from None


# -- the process ------------------------------------------------------------------------------


async def serve(settings: Settings, *, webhook: bool = False) -> int:
    """Run until SIGINT or SIGTERM: polling (or the webhook), the outbox sender and the tick.

    Returns the exit status: 0 when stopped by a signal, 1 when receiving updates failed on
    something unexpected. When Telegram stops it for good (a revoked token, another instance
    polling, a refused WEBHOOK_URL) the TelegramError is raised after a clean shutdown, for the
    command line to explain in a line, as it does a failure at start-up: the process ends
    instead of hanging on. In webhook mode WEBHOOK_LISTEN is bound before anything else
    starts (:class:`bot.webhook.ListenFailed`). In polling mode the database's poller lock is
    taken before Telegram is called: :class:`AnotherPoller` when another instance holds it.
    """
    sock = await listen_socket(*settings.webhook_address) if webhook else None
    try:
        return await _serve(settings, sock)
    finally:
        if sock is not None:
            sock.close()  # uvicorn closed it already, unless start-up failed before it served


class AnotherPoller(RuntimeError):
    """Another instance polls Telegram for this database (its poller lock is taken)."""

    def __init__(self, database: str, engine: str, lock: str) -> None:
        super().__init__(f"another instance is polling {database} ({engine} lock {lock})")
        self.database = database
        self.engine = engine
        self.lock = lock


# How long a polling start asks for a taken poller lock before refusing: a process that has
# just died (a restart after a crash) may not have let go of it yet.
POLLER_WAIT_S = 2.0


async def _serve(settings: Settings, sock: socket.socket | None) -> int:
    app = build_application(settings, updater=sock is None)
    runtime = runtime_of(app)
    # Open the database first, so that a second poller is refused before it calls Telegram;
    # post_init keeps this one, post_shutdown closes it.
    runtime.storage_ = await Storage.open(settings.database)
    try:
        if sock is None:
            await _claim_poller(runtime.storage_.db)
        return await _serve_app(app, settings, sock)
    finally:
        await _close_storage(runtime)  # when start-up failed before post_shutdown could


async def _claim_poller(db: Database) -> None:
    """One poller per database: :class:`AnotherPoller` when another instance holds it."""
    if not await db.claim_poller(wait=POLLER_WAIT_S):
        raise AnotherPoller(db.name, db.engine, db.poller_lock)


async def _serve_app(app: LinliApp, settings: Settings, sock: socket.socket | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(app, polling=False):
        if sock is None:
            receiver = asyncio.create_task(poll(app, settings.poll_timeout), name="poll")
        else:
            receiver = asyncio.create_task(receive_webhook(app, sock), name="webhook")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (receiver, stopper):
            task.cancel()
        await asyncio.gather(receiver, stopper, return_exceptions=True)
    if not receiver.cancelled() and (error := receiver.exception()) is not None:
        if isinstance(error, TelegramError):
            raise error
        logger.critical("receiving updates stopped: %s", error, exc_info=error)
        return 1
    logger.info("LinliTong stopped")
    return 0


def run(settings: Settings, *, webhook: bool = False) -> int:
    """Poll Telegram (or receive its webhook) until SIGINT/SIGTERM; the process's exit status."""
    return asyncio.run(serve(settings, webhook=webhook))
