"""登记提示 (offers): an untagged message that reads like a problem gets one quiet question with
a button per likely category; the writer (or an officer of the grid) presses one and the ticket
opens as if the message had carried that tag. ``/offers off|on`` per group, officers only.

The rules are ``bot.offers`` (and ``bot.classify``); this module decides which messages are a
resident's own words, asks, and turns presses and the command into those calls.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import answers, callbacks, offers
from bot.callbacks import OfferPress
from bot.context import LinliApp, LinliContext, Runtime
from bot.fit import fit
from bot.metrics import format_duration
from bot.offers import Answer
from bot.tickets import IntakeMessage, MediaItem
from handlers.common import (
    answer,
    is_private,
    pop_up,
    pressed,
    role_for,
    texts_for,
)
from storage import Offer

logger = logging.getLogger(__name__)

GROUP = 0  # the buttons and /offers, with the other commands
# Untagged messages are read after intake (1: a tagged message is a ticket already) and after
# the reporter's "why" replies (2): a message answered there is not asked about here.
MESSAGES_GROUP = 3


def register(app: LinliApp) -> None:
    app.add_handler(
        CallbackQueryHandler(on_offer_button, pattern=callbacks.is_press(OfferPress)),
        group=GROUP,
    )
    app.add_handler(CommandHandler("offers", on_offers_command), group=GROUP)
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & (filters.TEXT | filters.CAPTION)
            & ~filters.COMMAND
            & filters.UpdateType.MESSAGE,
            on_group_message,
        ),
        group=MESSAGES_GROUP,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & (filters.TEXT | filters.CAPTION)
            & filters.UpdateType.EDITED_MESSAGE,
            on_group_edit,
        ),
        group=MESSAGES_GROUP,
    )


# -- hearing ---------------------------------------------------------------------------------------


def own_words(message: Message) -> bool:
    """A person writing in her own name: not a bot, not a channel or an anonymous admin (the
    group's own voice is its admins'), not a forward of someone else's words."""
    user = message.from_user
    return (
        user is not None
        and not user.is_bot
        and message.sender_chat is None
        and not message.is_automatic_forward
        and message.forward_origin is None
    )


async def in_a_thread(runtime: Runtime, message: Message) -> bool:
    """A reply to the bot, to a report or to a message already asked about: "+1", photos and
    the "why" have their own rules there. A forum topic's own root is no reply."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return False
    if replied.from_user is not None and replied.from_user.is_bot:
        return True
    storage = runtime.storage
    return (
        await storage.tickets.by_message(message.chat_id, replied.message_id) is not None
        or await storage.offers.by_message(message.chat_id, replied.message_id) is not None
    )


async def on_group_message(update: Update, context: LinliContext) -> None:
    message = update.message
    if message is None or not own_words(message):
        return
    runtime = context.runtime
    text = message.text or message.caption or ""
    reading = offers.hear(text, runtime.catalog)  # pure and cheap: most messages end here
    if reading is None or await in_a_thread(runtime, message):
        return
    storage = runtime.storage
    binding = await storage.grids.active_binding(message.chat_id)
    if binding is None or not binding.is_grid or binding.grid_id is None:
        return
    if not await storage.offers.enabled(message.chat_id):
        return
    grid = await storage.grids.grid(binding.grid_id)
    if grid is None or (await role_for(runtime, message, grid)).works_tickets:
        return  # an officer's own words: he works the grid's tickets himself
    offer = await offers.make_offer(
        storage,
        binding,
        _intake(message, text),
        reading,
        runtime.clock.now(),
        runtime.settings.offer_interval,
    )
    if offer is None:
        return  # the group was asked a moment ago, or this message was (a redelivery)
    asked = await _ask(message, runtime, offer)
    if asked is None:
        await storage.offers.withdraw(offer.id)
    else:
        await storage.offers.set_message(offer.id, asked.message_id)
        logger.info("offer %s made in chat %s", offer.id, message.chat_id)


def _intake(message: Message, text: str) -> IntakeMessage:
    user = message.from_user
    return IntakeMessage(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=text,
        reporter_id=user.id if user else None,
        reporter_name=user.full_name if user else "",
        sent_at=message.date,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        media_group_id=message.media_group_id,
        media=_media(message),
    )


def _media(message: Message) -> tuple[MediaItem, ...]:
    if message.photo:
        largest = message.photo[-1]
        return (MediaItem(message.message_id, "photo", largest.file_id, largest.file_unique_id),)
    for kind in ("video", "document", "animation"):
        item = getattr(message, kind)
        if item is not None:
            return (MediaItem(message.message_id, kind, item.file_id, item.file_unique_id),)
    return ()


async def _ask(message: Message, runtime: Runtime, offer: Offer) -> Message | None:
    """The question, quietly (no notification), as a reply that does not quote the message."""
    texts = runtime.texts  # a group reads the default language
    buttons = [
        InlineKeyboardButton(
            texts("offer.button", tag=runtime.catalog[key].tag),
            callback_data=callbacks.encode(OfferPress(offer.id, choice)),
        )
        for choice, key in enumerate(offer.categories)
        if runtime.catalog.get(key) is not None
    ]
    try:
        return await message.reply_text(
            fit(texts("offer.ask")),
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
            reply_markup=InlineKeyboardMarkup([buttons]),
            disable_notification=True,
        )
    except TelegramError as exc:
        logger.warning("offer in chat %s not sent: %s", message.chat_id, exc)
        return None


async def on_group_edit(update: Update, context: LinliContext) -> None:
    """An edit that added a tag made the message a ticket (intake, group 1): its open offer is
    answered by that ticket, and the question goes."""
    message = update.edited_message
    if message is None:
        return
    storage = context.runtime.storage
    offer = await storage.offers.by_message(message.chat_id, message.message_id)
    if offer is None or offer.message_id != message.message_id:
        return
    ticket = await storage.tickets.by_message(message.chat_id, message.message_id)
    if ticket is not None and await storage.offers.settle(
        offer.id, ticket.id, context.runtime.clock.now()
    ):
        await _remove_question(context, offer)


# -- answering -------------------------------------------------------------------------------------


async def on_offer_button(update: Update, context: LinliContext) -> None:
    got = await pressed(update, context, OfferPress)  # the writer, or the grid's officers
    if got is None:
        return
    query, press, offer, texts = got.query, got.press, got.decision.offer, got.popups
    runtime = context.runtime
    if offer is None:
        await pop_up(query, texts("popup.invalid"))
        return
    now = runtime.clock.now()
    # 咨询 and the like: an automatic answer when a template's keywords match (from memory),
    # queued in the ticket's own transaction
    then = await answers.on_opening(
        runtime.storage, runtime.catalog, runtime.settings.tz, runtime.texts, now
    )
    outcome = await offers.accept(
        runtime.storage, runtime.catalog, offer, press.choice, query.from_user.id, now, then
    )
    ticket = outcome.ticket
    if outcome.answer == Answer.OPENED and ticket is not None:
        runtime.wake_sender()  # the receipt, replying to the resident's message, was queued
        await pop_up(query, texts("popup.offer_opened", id=ticket.id))
    elif outcome.answer == Answer.ANSWERED and ticket is not None:
        await pop_up(query, texts("popup.offer_answered", id=ticket.id))
    elif outcome.answer == Answer.UNBOUND:
        await pop_up(query, texts("popup.offer_unbound"))
        return
    elif outcome.answer == Answer.UNKNOWN:
        await pop_up(query, texts("popup.invalid"))
        return
    else:
        await pop_up(query, texts("popup.offer_expired"))
    await _remove_question(context, offer)


async def _remove_question(context: LinliContext, offer: Offer) -> None:
    """The question is answered: it goes (the receipt replies to the message itself); if
    Telegram will not delete it, its buttons go."""
    if offer.offer_message_id is None:
        return
    try:
        await context.bot.delete_message(offer.chat_id, offer.offer_message_id)
        return
    except TelegramError as exc:
        logger.info("offer %s question not deleted: %s", offer.id, exc)
    try:
        await context.bot.edit_message_reply_markup(
            offer.chat_id, offer.offer_message_id, reply_markup=None
        )
    except TelegramError as exc:
        logger.info("offer %s question not cleared: %s", offer.id, exc)


# -- /offers off|on --------------------------------------------------------------------------------


async def on_offers_command(update: Update, context: LinliContext) -> None:
    """/offers off|on: a grid's officers silence or restore the questions in their group;
    /offers alone says which it is."""
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    storage = runtime.storage
    binding = None if is_private(message) else await storage.grids.active_binding(message.chat_id)
    grid = None
    if binding is not None and binding.is_grid and binding.grid_id is not None:
        grid = await storage.grids.grid(binding.grid_id)
    if grid is None:
        await answer(message, texts("offers.grid_only"))
        return
    if not (await role_for(runtime, message, grid)).works_tickets:
        await answer(message, texts("offers.not_allowed"))
        return
    word = (context.args or [""])[0].strip().lower()
    now = runtime.clock.now()
    if word in ("on", "开", "打开", "开启"):
        await storage.offers.set_enabled(message.chat_id, True, now)
        every = format_duration(runtime.settings.offer_interval, texts)
        await answer(message, texts("offers.turned_on", interval=every))
    elif word in ("off", "关", "关闭"):
        await storage.offers.set_enabled(message.chat_id, False, now)
        await answer(message, texts("offers.turned_off"))
    elif await storage.offers.enabled(message.chat_id):
        await answer(message, texts("offers.status_on"))
    else:
        await answer(message, texts("offers.status_off"))
