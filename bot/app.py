"""build_application(settings): the only place that knows bot, handlers and storage together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot import classify, schedule
from bot.categories import CategoryCatalog
from bot.clock import Clock, ScaledClock, SystemClock
from bot.config import Settings
from bot.context import RUNTIME_KEY, LinliApp, LinliContext, Runtime, runtime_of
from bot.outbox import OutboxSender
from bot.ratelimit import (
    PAID_BROADCAST_PER_SECOND,
    FloodLimiter,
    TelegramBudget,
    retry_after_seconds,
)
from bot.roles import RoleBook
from bot.texts import Texts
from handlers import (
    admin,
    buttons,
    errors,
    followup,
    intake,
    membership,
    menu,
    offers,
    officer,
    reports,
    resident,
    views,
)
from storage import Storage, handling

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
) -> LinliApp:
    """A fresh Application; storage opens in post_init and closes in post_shutdown.

    ``background=False`` starts neither the outbox sender nor the scheduled tick: tests then
    call ``runtime.sender.flush()`` and ``bot.schedule.tick`` themselves, with a moved clock.
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
    if request is not None:
        builder.request(request)  # the builder's setters mutate it in place
    if get_updates_request is not None:
        builder.get_updates_request(get_updates_request)
    # One flood budget for every request; a RetryAfter blocks only its own chat.
    limiter = FloodLimiter(runtime.budget)
    app: LinliApp = builder.rate_limiter(limiter).build()
    app.bot_data[RUNTIME_KEY] = runtime
    register_handlers(app)
    return app


def budget_for(settings: Settings) -> TelegramBudget:
    """Telegram's free limits, and its paid broadcast rate when PAID_BROADCAST is on."""
    paid = PAID_BROADCAST_PER_SECOND if settings.paid_broadcast else 0
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
    resident.register(app)
    intake.register(app)
    offers.register(app)
    errors.register(app)


async def _post_init(app: Any) -> None:
    runtime = runtime_of(app)
    if runtime.storage_ is None:
        runtime.storage_ = await Storage.open(runtime.settings.database_path)
    # the offers' n-gram model trains once (~0.15 s): in a worker thread, not on the event loop
    await asyncio.to_thread(classify.corpus_model)
    runtime.roles_ = RoleBook(
        app.bot, runtime.storage_, frozenset(runtime.settings.admin_ids), runtime.clock
    )
    runtime.sender_ = OutboxSender(runtime, app.bot, runtime.budget)
    limiter = app.bot.rate_limiter
    if isinstance(limiter, FloodLimiter):
        limiter.before_visible = runtime.storage.updates.record_in_hand
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
    task = runtime.sender_task
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runtime.sender_task = None


async def _post_shutdown(app: Any) -> None:
    runtime = runtime_of(app)
    if runtime.storage_ is not None:
        await runtime.storage_.close()
        runtime.storage_ = None


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


async def serve(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM: polling, the outbox sender and the scheduled tick.

    Returns the exit status: 0 when stopped by a signal, 1 when polling failed on something
    unexpected. When Telegram stops it for good (a revoked token, another instance polling)
    the TelegramError is raised after a clean shutdown, for the command line to explain in a
    line, as it does a failure at start-up: the process ends instead of hanging on.
    """
    app = build_application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(app, polling=False):
        poller = asyncio.create_task(poll(app, settings.poll_timeout), name="poll")
        stopper = asyncio.create_task(stop.wait(), name="stop")
        await asyncio.wait({poller, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (poller, stopper):
            task.cancel()
        await asyncio.gather(poller, stopper, return_exceptions=True)
    if not poller.cancelled() and (error := poller.exception()) is not None:
        if isinstance(error, TelegramError):
            raise error
        logger.critical("polling stopped: %s", error, exc_info=error)
        return 1
    logger.info("LinliTong stopped")
    return 0


def run(settings: Settings) -> int:
    """Poll Telegram until SIGINT/SIGTERM; the process's exit status."""
    return asyncio.run(serve(settings))
