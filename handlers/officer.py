"""Grid officers work tickets with short commands: take, assign, progress, note, done, …

Most commands have one shape: a ticket (its number, or a reply to its report or receipt), maybe
some words, and one run of steps (``run_command``): find the ticket, check that the sender works
its grid, check the words, ``bot.tickets.act``, post to the reporter, answer, refresh the
receipt. ``COMMANDS`` is that table. /assign (a person), /dup (two tickets), /log (a report) and
/officer (a person, admins only) have their own few lines and reuse the same steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import Enum
from html import escape
from typing import Any, Final

from telegram import ChatMember, Message, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot import tickets
from bot.context import LinliApp, LinliContext, Runtime
from bot.parsing import parse_report
from bot.tickets import Action, Actor, IntakeMessage, Ticket
from handlers.common import (
    PUBLIC_POSTS,
    PublicPost,
    Target,
    actor_of,
    answer,
    command_words,
    deed_values,
    is_private,
    officer_target,
    perform,
    post_to_reporter,
    refresh_receipt,
    refuse_status,
    replied_person,
    reply,
    role_for,
    tag_list,
    texts_for,
    ticket_number,
)
from storage import GridInfo

logger = logging.getLogger(__name__)

GROUP = 0
Callback = Callable[[Update, LinliContext], Coroutine[Any, Any, None]]


class Words(Enum):
    """What a command takes after the ticket."""

    NONE = "none"  # /take 12
    REQUIRED = "required"  # /progress 12 已联系物业 (refused without, with an example)
    OPTIONAL = "optional"  # /done 12 [换了灯泡] (shown after the public sentence, ``：换了灯泡``)


class Reply(Enum):
    """When the officer is answered."""

    ALWAYS = "always"
    UNLESS_POSTED_HERE = "unless_posted_here"  # the public post in his own chat is the answer
    INSTEAD_OF_COMMAND = "instead_of_command"  # a group must not read it: the command is deleted


@dataclass(frozen=True)
class OfficerCommand:
    """One officer command: ``/name`` does ``action`` on a ticket.

    ``reply`` and ``public`` are catalogue keys: the answer to the officer and the post replying
    to the resident's report. Both are given ``id``, ``name`` (who acted, or the assignee),
    ``count`` (times reopened), and the words as ``text`` and ``reason``.
    """

    name: str
    action: Action
    words: Words
    reply: str
    public: str | None = None
    reply_when: Reply = Reply.ALWAYS


COMMANDS: Final = (
    OfficerCommand("take", Action.TAKE, Words.NONE, "officer.taken"),
    OfficerCommand(
        "progress",
        Action.PROGRESS,
        Words.REQUIRED,
        "officer.progress_posted",
        PUBLIC_POSTS[Action.PROGRESS].key,
        Reply.UNLESS_POSTED_HERE,
    ),
    OfficerCommand(
        "note", Action.NOTE, Words.REQUIRED, "officer.noted", reply_when=Reply.INSTEAD_OF_COMMAND
    ),
    OfficerCommand(
        "done",
        Action.DONE,
        Words.OPTIONAL,
        "officer.done",
        PUBLIC_POSTS[Action.DONE].key,
        Reply.UNLESS_POSTED_HERE,
    ),
    OfficerCommand(
        "reject",
        Action.REJECT,
        Words.REQUIRED,
        "officer.rejected",
        PUBLIC_POSTS[Action.REJECT].key,
        Reply.UNLESS_POSTED_HERE,
    ),
    OfficerCommand(
        "reopen",
        Action.REOPEN,
        Words.OPTIONAL,
        "officer.reopened",
        PUBLIC_POSTS[Action.REOPEN].key,
    ),
)
ASSIGN: Final = OfficerCommand("assign", Action.ASSIGN, Words.NONE, "officer.assigned")


def register(app: LinliApp) -> None:
    for command in COMMANDS:
        app.add_handler(CommandHandler(command.name, runner(command)), group=GROUP)
    special: tuple[tuple[str, Callback], ...] = (
        (ASSIGN.name, on_assign),
        ("dup", on_dup),
        ("log", on_log),
        ("officer", on_name_officer),
        ("unofficer", on_unname_officer),
    )
    for name, callback in special:
        app.add_handler(CommandHandler(name, callback), group=GROUP)


def runner(command: OfficerCommand) -> Callback:
    async def run(update: Update, context: LinliContext) -> None:
        await run_command(update, context, command)

    return run


async def run_command(update: Update, context: LinliContext, command: OfficerCommand) -> None:
    begun = await _begin(update, context, command)
    if begun is not None:
        await _act(context, command, *begun)


async def _begin(
    update: Update, context: LinliContext, command: OfficerCommand
) -> tuple[Message, Target, str] | None:
    """The ticket (the sender works its grid) and the words; or None, the sender answered."""
    target = await officer_target(update, context, command.name)
    message = update.effective_message
    if target is None or message is None:
        return None
    words = "" if command.words is Words.NONE else command_words(target.rest)
    if command.words is Words.REQUIRED and not words:
        texts = texts_for(context.runtime, message)
        await answer(
            message,
            texts(
                "officer.need_text",
                what=texts(f"officer.what.{command.name}"),
                command=command.name,
                id=target.ticket.id,
                example=texts(f"officer.example.{command.name}"),
            ),
        )
        return None
    return message, target, words


async def _act(
    context: LinliContext,
    command: OfficerCommand,
    message: Message,
    target: Target,
    words: str,
    assignee: Actor | None = None,
) -> None:
    """``handlers.common.perform`` (``bot.tickets.act``, the post to the reporter); then refuse
    politely, or answer the officer and refresh the receipt."""
    public = (
        None
        if command.public is None
        else PublicPost(command.public, words_after=command.words is Words.OPTIONAL)
    )
    performed = await perform(
        context,
        command.action,
        target.ticket,
        target.actor,
        words,
        public=public,
        assignee=assignee,
    )
    ticket = performed.outcome.ticket
    if not performed.outcome.moved:
        await refuse_status(message, context.runtime, ticket, command.action)
        return
    who = (assignee or target.actor).name
    await _tell(context, command, message, ticket, who, words, performed.posted)
    await refresh_receipt(context, ticket, before=target.ticket)


async def _tell(
    context: LinliContext,
    command: OfficerCommand,
    message: Message,
    ticket: Ticket,
    who: str,
    words: str,
    posted: Message | None,
) -> None:
    """Answer the officer when he should (the post to the reporter went already)."""
    texts = texts_for(context.runtime, message)
    values = deed_values(texts, ticket, who, words, words_after=command.words is Words.OPTIONAL)
    text = texts(command.reply, **values)
    if command.reply_when is Reply.INSTEAD_OF_COMMAND:
        await _answer_hiding_command(context, message, text)
    elif command.reply_when is Reply.ALWAYS or posted is None or posted.chat_id != message.chat_id:
        await answer(message, text)


async def _answer_hiding_command(context: LinliContext, message: Message, text: str) -> None:
    """Residents must not read internal notes: in a group the command is deleted if the bot
    may, and the answer goes on its own; if it may not, a tip says to write them in private."""
    if is_private(message):
        await answer(message, text)
        return
    if await _delete(context, message):
        thread = message.message_thread_id if message.is_topic_message else None
        await context.bot.send_message(message.chat_id, text, message_thread_id=thread)
        return
    tip = texts_for(context.runtime, message)("officer.note_hint")
    await answer(message, text + "\n" + tip)


async def _delete(context: LinliContext, message: Message) -> bool:
    """Delete a message if the bot is an admin of the chat (others cannot delete)."""
    if context.bot.id not in await context.runtime.roles.chat_admins(message.chat_id):
        return False
    try:
        return await message.delete()
    except TelegramError as exc:
        logger.info("could not delete message %s: %s", message.message_id, exc)
        return False


# -- the commands that do not fit the table ---------------------------------------------------


async def on_assign(update: Update, context: LinliContext) -> None:
    """/assign N, replying to the person (or /assign N USER_ID): the ticket is theirs."""
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    args = list(context.args or [])
    if not args or ticket_number(args[0]) is None:
        await reply(message, runtime, "officer.need_ticket", command=ASSIGN.name)
        return
    begun = await _begin(update, context, ASSIGN)
    if begun is None:
        return
    message, target, _ = begun
    assignee = await _assignee(message, context, target)
    if assignee is None:
        await reply(message, runtime, "officer.assign_need_person", id=target.ticket.id)
        return
    await _act(context, ASSIGN, message, target, "", assignee)


async def _assignee(message: Message, context: LinliContext, target: Target) -> Actor | None:
    """The person replied to, or the user id after the ticket number."""
    if target.rest and (user_id := ticket_number(target.rest[0])) is not None:
        return await _member(context, target.grid.chat_id, user_id)
    return replied_person(message)


async def _member(context: LinliContext, chat_id: int | None, user_id: int) -> Actor | None:
    """A person by user id, if they are in the chat (the only way to know the id is real)."""
    if chat_id is None:
        return None
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return None  # "user not found": a mistyped or foreign id
    if member.status in (ChatMember.LEFT, ChatMember.BANNED) or member.user.is_bot:
        return None
    return Actor(user_id, member.user.full_name)


async def on_dup(update: Update, context: LinliContext) -> None:
    """/dup DUPLICATE ORIGINAL: close the first as the same problem as the second."""
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    args = list(context.args or [])
    numbers = [ticket_number(a) for a in args[:2]]
    if len(args) < 2 or None in numbers:
        await reply(message, runtime, "officer.dup_usage")
        return
    target = await officer_target(update, context, "dup")
    if target is None:
        return
    original_id = numbers[1]
    assert original_id is not None
    await _merge(message, context, target, original_id)


async def _merge(message: Message, context: LinliContext, target: Target, original_id: int) -> None:
    """Close ``target.ticket`` as a duplicate of ``original_id`` (both must be workable)."""
    runtime = context.runtime
    duplicate = target.ticket
    if original_id == duplicate.id:
        await reply(message, runtime, "officer.dup_same")
        return
    original = await runtime.storage.tickets.get(original_id)
    if original is None:
        await reply(message, runtime, "officer.not_found", id=original_id)
        return
    grid = await runtime.storage.grids.grid(original.grid_id)
    if grid is None or not (await role_for(runtime, message, grid)).works_tickets:
        await reply(message, runtime, "officer.not_allowed", id=original_id)
        return
    merged = await tickets.mark_duplicate(
        runtime.storage, duplicate, original, target.actor, runtime.clock.now()
    )
    if merged is None:
        await reply(message, runtime, "officer.dup_refused", id=duplicate.id, original=original_id)
        return
    await post_to_reporter(
        context, merged, runtime.texts("officer.dup_public", id=merged.id, original=original_id)
    )
    await refresh_receipt(context, merged)
    await reply(message, runtime, "officer.dup_done", id=merged.id, original=original_id)


async def on_log(update: Update, context: LinliContext) -> None:
    """民情日记: an officer records what he found on patrol as a ticket he handles himself."""
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    text = (message.text or "").partition(" ")[2].strip()
    parsed = parse_report(text, runtime.catalog)
    if not parsed.is_report or parsed.needs_detail:
        await reply(message, runtime, "officer.log_need_tag", tags=tag_list(runtime))
        return
    grid = await _patrol_grid(message, runtime)
    if grid is None:
        return
    actor = actor_of(message, runtime.texts)
    intake = IntakeMessage(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=text,
        reporter_id=actor.user_id,
        reporter_name=actor.name,
        sent_at=message.date,
    )
    now = runtime.clock.now()
    result = await tickets.open_patrol(runtime.storage, runtime.catalog, grid, parsed, intake, now)
    category = runtime.catalog[result.category].tag
    await reply(message, runtime, "officer.logged", id=result.id, category=category)


async def _patrol_grid(message: Message, runtime: Runtime) -> GridInfo | None:
    if not is_private(message):
        binding = await runtime.storage.grids.active_binding(message.chat_id)
        if binding is None or binding.grid_id is None:
            await reply(message, runtime, "officer.grid_only")
            return None
        grid = await runtime.storage.grids.grid(binding.grid_id)
        assert grid is not None
        if not (await role_for(runtime, message, grid)).works_tickets:
            await reply(message, runtime, "officer.not_allowed", id="-")
            return None
        return grid
    user = message.from_user
    assert user is not None
    grids = await runtime.roles.workable_grids(user.id)
    own: list[GridInfo] = grids if grids is not None else await runtime.storage.grids.grids()
    if len(own) == 1:
        return own[0]
    await reply(message, runtime, "officer.log_pick_grid" if own else "officer.grid_only")
    return None


async def on_name_officer(update: Update, context: LinliContext) -> None:
    await _name_officer(update, context, add=True)


async def on_unname_officer(update: Update, context: LinliContext) -> None:
    await _name_officer(update, context, add=False)


async def _name_officer(update: Update, context: LinliContext, *, add: bool) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    user = update.effective_user
    command = "officer" if add else "unofficer"
    if not runtime.roles.is_admin(user.id if user else None):
        await reply(message, runtime, "admin.only_admins")
        return
    binding = (
        None if is_private(message) else await runtime.storage.grids.active_binding(message.chat_id)
    )
    if binding is None or binding.grid_id is None:
        await reply(message, runtime, "officer.grid_only")
        return
    person = await _person(message, context, add=add)
    if person is None:
        await reply(message, runtime, "officer.name_usage", command=command)
        return
    name, grid = escape(person.name), escape(binding.grid_name or "")
    assert person.user_id is not None
    if add:
        new = await runtime.storage.officers.name(
            binding.grid_id,
            person.user_id,
            person.name,
            by=user.id if user else None,
            now=runtime.clock.now(),
        )
        await reply(
            message, runtime, "officer.named" if new else "officer.already", name=name, grid=grid
        )
    else:
        removed = await runtime.storage.officers.remove(binding.grid_id, person.user_id)
        await reply(
            message, runtime, "officer.unnamed" if removed else "officer.not_named", name=name
        )


async def _person(message: Message, context: LinliContext, *, add: bool) -> Actor | None:
    args = list(context.args or [])
    if args and (user_id := ticket_number(args[0])) is not None:
        found = await _member(context, message.chat_id, user_id)
        if found is None and not add:  # someone who left can still be removed
            return Actor(user_id, str(user_id))
        return found
    return replied_person(message)
