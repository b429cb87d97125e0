"""What several handlers share: who is acting, which ticket a command means, how to answer."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from html import escape

from telegram import CallbackQuery, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import LinliContext, Runtime
from bot.keyboards import receipt_keyboard
from bot.receipts import receipt_text
from bot.roles import Role
from bot.tickets import Actor, Ticket
from storage import GridInfo

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"^(?:no\.?|#|＃|工单)?(\d{1,12})号?$", re.IGNORECASE)


def ticket_number(word: str) -> int | None:
    """``12``, ``#12``, ``１２``, ``No.12``, ``工单12`` -> 12."""
    match = _NUMBER.match(unicodedata.normalize("NFKC", word).strip())
    return int(match.group(1)) if match else None


def actor_of(message: Message) -> Actor:
    """The person behind a message; an anonymous admin is recorded as the group."""
    if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
        return Actor(None, f"{message.chat.title or ''}（匿名管理员）")
    user = message.from_user
    return Actor(user.id, user.full_name) if user else Actor(None, "")


def is_anonymous_admin(message: Message) -> bool:
    return message.sender_chat is not None and message.sender_chat.id == message.chat_id


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


async def answer(message: Message, text: str) -> Message | None:
    """Reply to a command; None if Telegram refused (logged, never raised)."""
    try:
        return await message.reply_text(
            text,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )
    except TelegramError as exc:
        logger.warning("answer in chat %s failed: %s", message.chat_id, exc)
        return None


async def pop_up(query: CallbackQuery, text: str | None = None) -> bool:
    """Answer a button press; False if Telegram no longer knows the query (old or forged)."""
    try:
        await query.answer(text)
    except TelegramError as exc:
        logger.info("callback query not answered: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class Target:
    """The ticket a command is about, the rest of its words, and the acting user's role."""

    ticket: Ticket
    grid: GridInfo
    rest: list[str]
    role: Role
    actor: Actor


async def ticket_from_command(
    message: Message, context: LinliContext, command: str
) -> tuple[Ticket | None, list[str]]:
    """A leading ticket number, or the ticket whose report or receipt the command replies to.

    Replies to the user with what is missing and returns ``(None, …)`` when there is none.
    """
    runtime = context.runtime
    args = list(context.args or [])
    if args and (number := ticket_number(args[0])) is not None:
        ticket = await runtime.storage.tickets.get(number)
        if ticket is None:
            await answer(message, runtime.texts("officer.not_found", id=number))
        return ticket, args[1:]
    replied = message.reply_to_message
    if replied is not None:
        ticket = await runtime.storage.tickets.by_message(message.chat_id, replied.message_id)
        ticket = ticket or await runtime.storage.tickets.by_receipt(
            message.chat_id, replied.message_id
        )
        if ticket is not None:
            return ticket, args
    await answer(message, runtime.texts("officer.need_ticket", command=command))
    return None, args


async def role_for(runtime: Runtime, message: Message, grid: GridInfo) -> Role:
    if is_anonymous_admin(message) and message.chat_id == grid.chat_id:
        return Role.OFFICER  # only the group's admins can post as the group
    user = message.from_user
    return await runtime.roles.role(user.id if user else None, grid)


async def officer_target(update: Update, context: LinliContext, command: str) -> Target | None:
    """The ticket of an officer command, checked against the sender's role for its grid."""
    message = update.effective_message
    if message is None:
        return None
    runtime = context.runtime
    ticket, rest = await ticket_from_command(message, context, command)
    if ticket is None:
        return None
    grid = await runtime.storage.grids.grid(ticket.grid_id)
    if grid is None:
        return None
    role = await role_for(runtime, message, grid)
    if not role.works_tickets:
        await answer(message, runtime.texts("officer.not_allowed", id=ticket.id))
        return None
    return Target(ticket, grid, rest, role, actor_of(message))


def _shown(ticket: Ticket) -> tuple[object, ...]:
    """What of a ticket its receipt shows beyond the report itself."""
    return (ticket.status, ticket.assignee_name, ticket.duplicate_of)


async def refresh_receipt(
    context: LinliContext, ticket: Ticket, before: Ticket | None = None, *, updated: bool = False
) -> None:
    """Show the ticket's new status (and the buttons that still make sense) on its receipt.

    Skipped when nothing it shows changed: an edit to the same text is refused by Telegram and
    would still spend the group's budget.
    """
    if ticket.receipt_message_id is None:
        return
    if before is not None and _shown(before) == _shown(ticket):
        return
    runtime = context.runtime
    text = receipt_text(
        ticket,
        catalog=runtime.catalog,
        texts=runtime.texts,
        tz=runtime.settings.tz,
        files=len(await runtime.storage.tickets.media(ticket.id)),
        album=ticket.media_group_id is not None,
        updated=updated,
    )
    try:
        await context.bot.edit_message_text(
            text,
            chat_id=ticket.chat_id,
            message_id=ticket.receipt_message_id,
            reply_markup=receipt_keyboard(ticket, runtime.texts),
        )
    except TelegramError as exc:
        logger.info("receipt of ticket %s not updated: %s", ticket.id, exc)


async def post_to_reporter(context: LinliContext, ticket: Ticket, text: str) -> Message | None:
    """Post in the ticket's group as a reply to the resident's report, so she is notified."""
    if ticket.chat_id > 0 and ticket.source == "patrol":
        return None
    try:
        return await context.bot.send_message(
            ticket.chat_id,
            text,
            message_thread_id=ticket.thread_id,
            reply_parameters=ReplyParameters(ticket.message_id, allow_sending_without_reply=True),
        )
    except TelegramError as exc:
        logger.warning(
            "could not post to chat %s for ticket %s: %s", ticket.chat_id, ticket.id, exc
        )
        return None


def html(text: str) -> str:
    return escape(text, quote=False)
