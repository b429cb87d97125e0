"""What several handlers share: who is acting, which ticket a command means, how to answer."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from html import escape
from typing import Final, Generic, TypeVar, cast

from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from bot import callbacks, tickets
from bot.callbacks import (
    AnswerPress,
    CarePress,
    OfferPress,
    Outdated,
    PagePress,
    Parsed,
    Press,
    RatingPress,
    TicketPress,
)
from bot.context import LinliContext, Runtime
from bot.fit import fit, fit_plain, plain
from bot.keyboards import receipt_keyboard
from bot.parsing.contacts import mask_sensitive
from bot.receipts import receipt_text
from bot.roles import Role
from bot.texts import Texts
from bot.tickets import Action, Actor, Outcome, Status, Ticket, replied_ticket
from storage import GridInfo, Offer
from storage.tickets import OnMoved

logger = logging.getLogger(__name__)

P = TypeVar("P", TicketPress, PagePress, RatingPress, OfferPress, CarePress, AnswerPress)

_NUMBER = re.compile(r"^(?:no\.?|#|＃|工单)?(\d{1,12})号?$", re.IGNORECASE)


def ticket_number(word: str) -> int | None:
    """``12``, ``#12``, ``１２``, ``No.12``, ``工单12`` -> 12."""
    match = _NUMBER.match(unicodedata.normalize("NFKC", word).strip())
    return int(match.group(1)) if match else None


def actor_of(message: Message, texts: Texts | None = None) -> Actor:
    """The person behind a message; an anonymous admin is recorded as the group, in the words
    of ``texts`` (pass ``runtime.texts``: the name is stored, and shown to everyone)."""
    if message.sender_chat is not None and message.sender_chat.id == message.chat_id:
        name = (texts or Texts())("actor.anonymous_admin", title=message.chat.title or "")
        return Actor(None, name)
    user = message.from_user
    return Actor(user.id, user.full_name) if user else Actor(None, "")


def is_anonymous_admin(message: Message) -> bool:
    return message.sender_chat is not None and message.sender_chat.id == message.chat_id


def is_private(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


def texts_for(runtime: Runtime, message: Message, user: User | None = None) -> Texts:
    """The catalogue for a reply to ``message``: in a private chat under LANGUAGE=auto, the
    Telegram language of its sender (or ``user``); in a group, the default language."""
    person = user or message.from_user
    return runtime.texts_for(person.language_code if person else None, is_private(message))


def texts_for_press(runtime: Runtime, query: CallbackQuery) -> Texts:
    """The catalogue for a pop-up: only the presser sees it, so under LANGUAGE=auto it speaks
    her language, in a group too."""
    return runtime.texts_for(query.from_user.language_code, private=True)


async def answer(
    message: Message, text: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Reply to a command, fitted to Telegram's limits; None if Telegram refused (logged).

    If Telegram refuses the formatted reply, the same words go again as plain text, so the
    person who asked is not left without an answer.
    """
    reply = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    try:
        return await message.reply_text(
            fit(text), reply_parameters=reply, reply_markup=reply_markup
        )
    except BadRequest as exc:
        logger.warning("answer in chat %s refused (%s); sent as plain text", message.chat_id, exc)
    except TelegramError as exc:
        logger.warning("answer in chat %s failed: %s", message.chat_id, exc)
        return None
    try:
        return await message.reply_text(
            fit_plain(plain(text)), parse_mode=None, reply_parameters=reply
        )
    except TelegramError as exc:
        logger.warning("plain answer in chat %s failed too: %s", message.chat_id, exc)
        return None


async def reply(message: Message, runtime: Runtime, key: str, /, **values: object) -> None:
    """Answer ``message`` with one catalogue text, in the language its sender reads."""
    await answer(message, texts_for(runtime, message)(key, **values))


async def pop_up(query: CallbackQuery, text: str | None = None) -> bool:
    """Answer a button press; False if Telegram no longer knows the query (old or forged)."""
    try:
        await query.answer(text)
    except TelegramError as exc:
        logger.info("callback query not answered: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class Decision:
    """What ``authorize_press`` decided about one button press.

    ``refusal`` is the texts key of the pop-up to answer with (None: go ahead). An allowed press
    carries what the check already read: the ticket (and a merge's target), for a page the
    grids the list covers (None: every grid), for a 登记提示 the offer.
    """

    refusal: str | None = None
    ticket: Ticket | None = None
    other: Ticket | None = None
    grid_ids: tuple[int, ...] | None = ()
    offer: Offer | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


INVALID = Decision("popup.invalid")
NOT_ALLOWED = Decision("popup.not_allowed")


async def answer_not_a_press(query: CallbackQuery, runtime: Runtime, parsed: Parsed) -> None:
    """A button of another release gets a polite "expired"; forged or garbled data "invalid"."""
    key = "popup.outdated" if isinstance(parsed, Outdated) else "popup.invalid"
    logger.info("callback data %r from %s refused: %s", query.data, query.from_user.id, key)
    await pop_up(query, texts_for_press(runtime, query)(key))


@dataclass(frozen=True)
class Pressed(Generic[P]):
    """A press its presser may make: the query, the typed press, what the check found, and the
    catalogue for her pop-ups."""

    query: CallbackQuery
    press: P
    decision: Decision
    popups: Texts


async def pressed(update: Update, context: LinliContext, kind: type[P]) -> Pressed[P] | None:
    """Parse and check a press of one kind (``authorize_press``); anything else, or a refusal,
    is answered with its pop-up here, and None returned. Every button handler starts here."""
    query = update.callback_query
    if query is None:
        return None
    runtime = context.runtime
    press = callbacks.parse(query.data)
    if not isinstance(press, kind):
        await answer_not_a_press(query, runtime, press)
        return None
    popups = texts_for_press(runtime, query)
    decision = await authorize_press(context, query, cast(Press, press))
    if decision.refusal is not None:
        await pop_up(query, popups(decision.refusal))
        return None
    return Pressed(query, press, decision, popups)


async def authorize_press(context: LinliContext, query: CallbackQuery, press: Press) -> Decision:
    """The one permission check for every button press, whatever its kind.

    Keyed on the person pressing (``query.from_user``; never the message's author, which is the
    bot), the chat of the message the press came from, and the ticket's grid:

    * the press must be one of the buttons on that message (Telegram sends the message as it is
      now), and the message must be the right one: a ticket's receipt for 接单/办结/合并, that
      ticket's 回访 question for a rating, a list (not a receipt) for a page;
    * 接单/办结/合并: the presser works tickets in the ticket's grid (and, to merge, the other's);
    * a page: in a group, the presser works tickets in the group's grid; in private, the chat is
      the presser's own and he works at least one grid;
    * a rating: the presser reported the ticket (or joined it with +1);
    * a 登记提示 (offer): the message must be that offer's question and the choice one of its
      categories; the presser wrote the message it asks about, or works tickets in its grid;
    * 关爱走访: only in the presser's own private chat with the bot; to record a visit, the
      presser works tickets in the person's grid (the roster is staff's only);
    * 💬 ready answers: on the ticket's receipt (the choice then goes to the presser's private
      chat), or, for its other steps, in the presser's own private chat; either way the
      presser works tickets in the ticket's grid (checked again at every step: one who
      stopped working the grid is refused at 发送).

    Roles come from ``bot.roles`` (chat admins via getChatAdministrators, which works when the
    bot is a plain member, named officers, office-chat staff, ADMIN_IDS).
    """
    message = query.message
    if message is None or not _carries(message, query.data):
        return INVALID
    if isinstance(press, TicketPress):
        return await _authorize_ticket(context.runtime, query, message, press)
    if isinstance(press, PagePress):
        return await _authorize_page(context.runtime, query, message)
    if isinstance(press, OfferPress):
        return await _authorize_offer(context.runtime, query, message, press)
    if isinstance(press, CarePress):
        return await _authorize_care(context.runtime, query, message, press)
    if isinstance(press, AnswerPress):
        return await _authorize_answer(context.runtime, query, message, press)
    return await _authorize_rating(context.runtime, query, message, press)


async def _authorize_care(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage, press: CarePress
) -> Decision:
    if message.chat.id != query.from_user.id:  # the roster is read in private only
        return Decision("care.press_private")
    if press.step != "visit":
        return Decision()
    person = await runtime.storage.care.get(press.value)
    grid = None if person is None else await runtime.storage.grids.grid(person.grid_id)
    if grid is None or not (await runtime.roles.role(query.from_user.id, grid)).works_tickets:
        return Decision("care.not_yours")
    return Decision()


def _carries(message: MaybeInaccessibleMessage, data: str | None) -> bool:
    """Whether the message has a button with this data. A message too old for Telegram to show
    (date 0: no content) cannot say; the checks by kind still apply."""
    if not message.is_accessible or not isinstance(message, Message):
        return True
    markup = message.reply_markup
    rows = markup.inline_keyboard if markup is not None else ()
    return data is not None and any(b.callback_data == data for row in rows for b in row)


async def works(runtime: Runtime, user_id: int, ticket: Ticket) -> bool:
    """Whether the person works tickets (officer, staff, admin) in the ticket's grid."""
    grid = await runtime.storage.grids.grid(ticket.grid_id)
    return grid is not None and (await runtime.roles.role(user_id, grid)).works_tickets


def _on_receipt(ticket: Ticket | None, message: MaybeInaccessibleMessage) -> bool:
    return (
        ticket is not None
        and ticket.chat_id == message.chat.id
        and (
            ticket.receipt_message_id == message.message_id
            # pressed before the sender stored the receipt's id: the message Telegram shows
            # carries this very button, and only the bot can put buttons on its messages
            or (ticket.receipt_message_id is None and message.is_accessible)
        )
    )


async def _authorize_ticket(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage, press: TicketPress
) -> Decision:
    ticket = await runtime.storage.tickets.get(press.ticket_id)
    if ticket is None or not _on_receipt(ticket, message):
        return INVALID
    if not await works(runtime, query.from_user.id, ticket):
        return NOT_ALLOWED
    if press.other_id is None:
        return Decision(ticket=ticket)
    other = await runtime.storage.tickets.get(press.other_id)
    if other is None:
        return INVALID
    if not await works(runtime, query.from_user.id, other):
        return NOT_ALLOWED
    return Decision(ticket=ticket, other=other)


async def _authorize_answer(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage, press: AnswerPress
) -> Decision:
    ticket = await runtime.storage.tickets.get(press.ticket_id)
    if ticket is None:
        return INVALID
    if press.step == "ask":
        if not _on_receipt(ticket, message):
            return INVALID
    elif message.chat.id != query.from_user.id:  # previews and prompts: one's own chat only
        return INVALID
    if not await works(runtime, query.from_user.id, ticket):
        return NOT_ALLOWED
    return Decision(ticket=ticket)


async def _authorize_page(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage
) -> Decision:
    if not message.is_accessible or not isinstance(message, Message):
        return Decision("popup.outdated")  # a list too old to show: ask for a fresh /list
    user_id = query.from_user.id
    if is_private(message):
        if message.chat_id != user_id:
            return NOT_ALLOWED
        grids = await runtime.roles.workable_grids(user_id)
        if grids == []:
            return NOT_ALLOWED
        return Decision(grid_ids=None if grids is None else tuple(g.id for g in grids))
    if await runtime.storage.tickets.by_receipt(message.chat_id, message.message_id):
        return INVALID  # receipts carry no pages
    binding = await runtime.storage.grids.active_binding(message.chat_id)
    grid_id = binding.grid_id if binding is not None else None
    grid = await runtime.storage.grids.grid(grid_id) if grid_id is not None else None
    if grid is None or not (await runtime.roles.role(user_id, grid)).works_tickets:
        return NOT_ALLOWED
    return Decision(grid_ids=(grid.id,))


async def _authorize_rating(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage, press: RatingPress
) -> Decision:
    ticket = await runtime.storage.tickets.get(press.ticket_id)
    question = await runtime.storage.outbox.by_message(message.chat.id, message.message_id)
    on_question = (
        ticket is not None
        and question is not None
        and question.kind == "followup"  # the 回访 question bot.schedule queued
        and question.ticket_id == ticket.id
    )
    if ticket is None or not on_question:
        return INVALID
    if not await runtime.storage.tickets.is_reporter(ticket.id, query.from_user.id):
        return Decision("popup.not_reporter")
    return Decision(ticket=ticket)


async def _authorize_offer(
    runtime: Runtime, query: CallbackQuery, message: MaybeInaccessibleMessage, press: OfferPress
) -> Decision:
    offer = await runtime.storage.offers.get(press.offer_id)
    on_question = (
        offer is not None
        and offer.chat_id == message.chat.id
        and offer.offer_message_id == message.message_id
        and press.choice < len(offer.categories)
    )
    if offer is None or not on_question:
        return INVALID
    user_id = query.from_user.id
    if offer.writer_id is not None and offer.writer_id == user_id:
        return Decision(offer=offer)
    grid = await runtime.storage.grids.grid(offer.grid_id)
    if grid is not None and (await runtime.roles.role(user_id, grid)).works_tickets:
        return Decision(offer=offer)
    return Decision("popup.offer_not_yours")


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
            await answer(message, texts_for(runtime, message)("officer.not_found", id=number))
        return ticket, args[1:]
    replied = message.reply_to_message
    if replied is not None:
        ticket = await replied_ticket(runtime.storage, message.chat_id, replied.message_id)
        if ticket is not None:
            return ticket, args
    await answer(message, texts_for(runtime, message)("officer.need_ticket", command=command))
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
        await answer(message, texts_for(runtime, message)("officer.not_allowed", id=ticket.id))
        return None
    return Target(ticket, grid, rest, role, actor_of(message, runtime.texts))


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
            fit(text),
            chat_id=ticket.chat_id,
            message_id=ticket.receipt_message_id,
            reply_markup=receipt_keyboard(ticket, runtime.texts),
        )
    except TelegramError as exc:
        logger.info("receipt of ticket %s not updated: %s", ticket.id, exc)


async def post_to_reporter(context: LinliContext, ticket: Ticket, text: str) -> Message | None:
    """Post in the ticket's group as a reply to the resident's report, so she is notified."""
    if (ticket.chat_id > 0 and ticket.source == "patrol") or ticket.message_id <= 0:
        return None  # nobody to tell: an officer's own finding, or a ticket the bot opened
    try:
        return await context.bot.send_message(
            ticket.chat_id,
            fit(text),
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


# -- what officer commands and buttons share -------------------------------------------------

TEXT_LIMIT = 1000  # an officer's words (progress, reason, note) are cut here (Telegram: 4096)
HINTED = (Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.DUPLICATE)  # officer.hint.*


def command_words(rest: list[str], limit: int = TEXT_LIMIT) -> str:
    """The words after a command's ticket number, as one text."""
    return " ".join(rest).strip()[:limit]


def said(texts: Texts, words: str) -> str:
    """An officer's optional words after a public sentence (``：换了灯泡``), masked; or nothing."""
    return texts("officer.said", text=escape(mask_sensitive(words))) if words else ""


def replied_person(message: Message) -> Actor | None:
    """The (human) author of the message this one replies to."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.is_bot:
        return None
    return Actor(replied.from_user.id, replied.from_user.full_name)


def tag_list(runtime: Runtime) -> str:
    """Every category's tag, as residents type them: ``#报修 #环境 …``."""
    return " ".join(f"#{c.tag}" for c in runtime.catalog)


def wrong_status(texts: Texts, ticket: Ticket, action: Action) -> str:
    """The polite "not now": the ticket's status, what was refused, and what to do instead."""
    hint = texts(f"officer.hint.{ticket.status}", id=ticket.id) if ticket.status in HINTED else ""
    return texts(
        "officer.wrong_status",
        id=ticket.id,
        status=texts.status(ticket.status),
        action=texts(f"officer.action.{action}"),
        hint=hint,
    )


async def refuse_status(message: Message, runtime: Runtime, ticket: Ticket, action: Action) -> None:
    """Answer ``message`` with the polite "not now" (``wrong_status``)."""
    await answer(message, wrong_status(texts_for(runtime, message), ticket, action))


@dataclass(frozen=True)
class PublicPost:
    """How an action is told to the resident, replying to her report: the catalogue key, and
    whether the officer's words follow its sentence (``：换了灯泡``; optional words) or are
    its text. The key is given ``id``, ``name`` (who acted, or the assignee), ``count`` (times
    reopened), and the words as ``text`` and ``reason``."""

    key: str
    words_after: bool = False


# the posts of the officer commands (handlers.officer) and of 💬 ready answers (handlers.answers)
PUBLIC_POSTS: Final[dict[Action, PublicPost]] = {
    Action.PROGRESS: PublicPost("officer.progress_public"),
    Action.DONE: PublicPost("officer.done_public", words_after=True),
    Action.REJECT: PublicPost("officer.rejected_public"),
    Action.REOPEN: PublicPost("officer.reopened_public", words_after=True),
}


def deed_values(
    texts: Texts, ticket: Ticket, name: str, words: str, *, words_after: bool
) -> dict[str, object]:
    """The values of an action's post and of the officer's answer (see ``PublicPost``)."""
    shown = said(texts, words) if words_after else escape(mask_sensitive(words))
    count = ticket.reopen_count
    return {"id": ticket.id, "name": escape(name), "count": count, "text": shown, "reason": shown}


@dataclass(frozen=True)
class Performed:
    """What ``perform`` did: the outcome, and the post to the resident (None: none, or it
    could not go)."""

    outcome: Outcome
    posted: Message | None = None


async def perform(
    context: LinliContext,
    action: Action,
    ticket: Ticket,
    actor: Actor,
    words: str,
    *,
    public: PublicPost | None,
    assignee: Actor | None = None,
    then: OnMoved | None = None,
) -> Performed:
    """One officer action, as a command does it and a ready answer too: ``bot.tickets.act``
    (the lifecycle check, then the guarded move), then, moved, the post replying to the
    resident's report: a direct send after the move commits, so a crash in between keeps the
    move and loses the post. ``then`` runs in the move's transaction and may undo it
    (storage.tickets.OnMoved: a ready answer's draft is used there). The caller answers the
    officer and refreshes the receipt."""
    runtime = context.runtime
    outcome = await tickets.act(
        runtime.storage,
        action,
        ticket,
        actor,
        runtime.clock.now(),
        words,
        assignee=assignee,
        followup_after=runtime.settings.followup_delay,
        then=then,
    )
    if not outcome.moved or public is None:
        return Performed(outcome)
    values = deed_values(
        runtime.texts,
        outcome.ticket,
        (assignee or actor).name,
        words,
        words_after=public.words_after,
    )
    posted = await post_to_reporter(context, outcome.ticket, runtime.texts(public.key, **values))
    return Performed(outcome, posted)


async def announce_done(context: LinliContext, ticket: Ticket, words: str) -> Message | None:
    """Tell the reporter her ticket is resolved (she is asked to rate it later); the receipt
    shows it. The post, or None where it could not go (or there is no group to post in)."""
    texts = context.runtime.texts
    text = texts("officer.done_public", id=ticket.id, text=said(texts, words))
    posted = await post_to_reporter(context, ticket, text)
    await refresh_receipt(context, ticket)
    return posted
