"""Grid officers work tickets with short commands: take, assign, progress, note, done, …"""

from __future__ import annotations

import logging
from html import escape

from telegram import ChatMember, Message, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot import tickets
from bot.context import LinliApp, LinliContext, Runtime
from bot.parsing import mask_sensitive, parse_report
from bot.tickets import Actor, IntakeMessage, Ticket
from handlers.common import (
    Target,
    actor_of,
    answer,
    is_private,
    officer_target,
    post_to_reporter,
    refresh_receipt,
    role_for,
    ticket_number,
)
from storage import GridInfo

logger = logging.getLogger(__name__)

GROUP = 0
TEXT_LIMIT = 1000  # a progress note or reason longer than this is cut (Telegram allows 4096)

ACTION_NAMES = {
    "take": ("接单", "take it"),
    "assign": ("指派", "assign it"),
    "progress": ("更新进展", "post progress"),
    "done": ("办结", "resolve it"),
    "reject": ("退回", "return it"),
    "reopen": ("重办", "reopen it"),
    "escalate": ("上报", "escalate it"),
}
HINTS = {
    "resolved": (
        "如果问题没有解决，可以 /reopen {id} 重办。",
        "Use /reopen {id} if it is not fixed.",
    ),
    "closed": ("如需重新处理，请 /reopen {id}。", "Use /reopen {id} to handle it again."),
    "rejected": ("如需重新处理，请 /reopen {id}。", "Use /reopen {id} to handle it again."),
    "duplicate": ("请处理它合并到的原工单。", "Work the original ticket instead."),
    "new": ("", ""),
    "accepted": ("", ""),
}


def register(app: LinliApp) -> None:
    for name, callback in (
        ("take", on_take),
        ("assign", on_assign),
        ("progress", on_progress),
        ("note", on_note),
        ("done", on_done),
        ("reject", on_reject),
        ("dup", on_dup),
        ("reopen", on_reopen),
        ("log", on_log),
        ("officer", on_name_officer),
        ("unofficer", on_unname_officer),
    ):
        app.add_handler(CommandHandler(name, callback), group=GROUP)


def _words(rest: list[str]) -> str:
    return " ".join(rest).strip()[:TEXT_LIMIT]


async def refuse_status(message: Message, runtime: Runtime, ticket: Ticket, action: str) -> None:
    zh = runtime.texts.language == "zh"
    hint = HINTS.get(ticket.status, ("", ""))[0 if zh else 1].format(id=ticket.id)
    await answer(
        message,
        runtime.texts(
            "officer.wrong_status",
            id=ticket.id,
            status=runtime.texts.status(ticket.status),
            action=ACTION_NAMES[action][0 if zh else 1],
            hint=hint,
        ),
    )


async def _moved(
    message: Message, runtime: Runtime, before: Ticket, after: Ticket | None, action: str
) -> Ticket | None:
    """The ticket after a transition, or a polite refusal (reading the status anew)."""
    if after is not None:
        return after
    current = await runtime.storage.tickets.get(before.id) or before
    await refuse_status(message, runtime, current, action)
    return None


async def _need_text(
    message: Message,
    runtime: Runtime,
    command: str,
    ticket: Ticket,
    what: tuple[str, str],
    example: tuple[str, str],
) -> None:
    zh = runtime.texts.language == "zh"
    await answer(
        message,
        runtime.texts(
            "officer.need_text",
            what=what[0 if zh else 1],
            command=command,
            id=ticket.id,
            example=example[0 if zh else 1],
        ),
    )


async def _pre(message: Message, runtime: Runtime, target: Target, action: str) -> bool:
    if tickets.allowed(action, target.ticket.status):
        return True
    await refuse_status(message, runtime, target.ticket, action)
    return False


async def on_take(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "take")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    if not await _pre(message, runtime, target, "take"):
        return
    after = await tickets.take(runtime.storage, target.ticket, target.actor, runtime.clock.now())
    if (ticket := await _moved(message, runtime, target.ticket, after, "take")) is not None:
        await answer(
            message, runtime.texts("officer.taken", id=ticket.id, name=escape(target.actor.name))
        )
        await refresh_receipt(context, ticket, before=target.ticket)


async def on_assign(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    args = list(context.args or [])
    number = ticket_number(args[0]) if args else None
    if number is None:
        await answer(message, runtime.texts("officer.need_ticket", command="assign"))
        return
    target = await officer_target(update, context, "assign")
    if target is None:
        return
    assignee = await _assignee(message, context, target)
    if assignee is None:
        await answer(message, runtime.texts("officer.assign_need_person", id=target.ticket.id))
        return
    if not await _pre(message, runtime, target, "assign"):
        return
    after = await tickets.assign(
        runtime.storage, target.ticket, target.actor, assignee, runtime.clock.now()
    )
    if (ticket := await _moved(message, runtime, target.ticket, after, "assign")) is not None:
        await answer(
            message, runtime.texts("officer.assigned", id=ticket.id, name=escape(assignee.name))
        )
        await refresh_receipt(context, ticket, before=target.ticket)


async def _assignee(message: Message, context: LinliContext, target: Target) -> Actor | None:
    """The person replied to, or the user id after the ticket number."""
    if target.rest and (user_id := ticket_number(target.rest[0])) is not None:
        return await _member(context, target.grid.chat_id, user_id)
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return Actor(replied.from_user.id, replied.from_user.full_name)
    return None


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


async def on_progress(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "progress")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    text = _words(target.rest)
    if not text:
        await _need_text(
            message,
            runtime,
            "progress",
            target.ticket,
            ("进展", "update"),
            ("已联系物业，明天上午维修", "repair booked for tomorrow"),
        )
        return
    if not await _pre(message, runtime, target, "progress"):
        return
    after = await tickets.progress(
        runtime.storage, target.ticket, target.actor, text, runtime.clock.now()
    )
    if (ticket := await _moved(message, runtime, target.ticket, after, "progress")) is None:
        return
    public = runtime.texts(
        "officer.progress_public",
        id=ticket.id,
        text=escape(mask_sensitive(text)),
        name=escape(target.actor.name),
    )
    posted = await post_to_reporter(context, ticket, public)
    if posted is None or posted.chat_id != message.chat_id:
        await answer(message, runtime.texts("officer.progress_posted"))
    await refresh_receipt(context, ticket, before=target.ticket)


async def on_note(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "note")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    text = _words(target.rest)
    if not text:
        await _need_text(
            message,
            runtime,
            "note",
            target.ticket,
            ("备注", "note"),
            ("住户白天不在家，晚上再去", "nobody home by day"),
        )
        return
    await tickets.note(runtime.storage, target.ticket, target.actor, text, runtime.clock.now())
    reply = runtime.texts("officer.noted", id=target.ticket.id)
    if not is_private(message):
        # residents must not read internal notes: remove the command where the bot may
        if await _delete(context, message):
            thread = message.message_thread_id if message.is_topic_message else None
            await context.bot.send_message(message.chat_id, reply, message_thread_id=thread)
            return
        reply += "\n" + runtime.texts("officer.note_hint")
    await answer(message, reply)


async def _delete(context: LinliContext, message: Message) -> bool:
    """Delete a message if the bot is an admin of the chat (others cannot delete)."""
    if context.bot.id not in await context.runtime.roles.chat_admins(message.chat_id):
        return False
    try:
        return await message.delete()
    except TelegramError as exc:
        logger.info("could not delete message %s: %s", message.message_id, exc)
        return False


async def on_done(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "done")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    if not await _pre(message, runtime, target, "done"):
        return
    text = _words(target.rest)
    after = await tickets.done(
        runtime.storage,
        target.ticket,
        target.actor,
        text,
        runtime.clock.now(),
        runtime.settings.followup_delay,
    )
    if (ticket := await _moved(message, runtime, target.ticket, after, "done")) is not None:
        await announce_done(context, ticket, text)
        if is_private(message) or message.chat_id != ticket.chat_id:
            await answer(message, runtime.texts("officer.done", id=ticket.id))


async def announce_done(context: LinliContext, ticket: Ticket, text: str) -> None:
    runtime = context.runtime
    suffix = f"：{escape(mask_sensitive(text))}" if text else ""
    await post_to_reporter(
        context, ticket, runtime.texts("officer.done_public", id=ticket.id, text=suffix)
    )
    await refresh_receipt(context, ticket)


async def on_reject(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "reject")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    reason = _words(target.rest)
    if not reason:
        await _need_text(
            message,
            runtime,
            "reject",
            target.ticket,
            ("退回原因", "reason"),
            ("属于物业公司职责，已转告物业", "the landlord's duty"),
        )
        return
    if not await _pre(message, runtime, target, "reject"):
        return
    after = await tickets.reject(
        runtime.storage, target.ticket, target.actor, reason, runtime.clock.now()
    )
    if (ticket := await _moved(message, runtime, target.ticket, after, "reject")) is not None:
        public = runtime.texts(
            "officer.rejected_public", id=ticket.id, reason=escape(mask_sensitive(reason))
        )
        await post_to_reporter(context, ticket, public)
        await refresh_receipt(context, ticket, before=target.ticket)
        if message.chat_id != ticket.chat_id:
            await answer(message, runtime.texts("officer.rejected", id=ticket.id))


async def on_dup(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    args = list(context.args or [])
    numbers = [ticket_number(a) for a in args[:2]]
    if len(args) < 2 or None in numbers:
        await answer(message, runtime.texts("officer.dup_usage"))
        return
    target = await officer_target(update, context, "dup")
    if target is None:
        return
    original_id = numbers[1]
    assert original_id is not None
    await merge(message, context, target, original_id)


async def merge(message: Message, context: LinliContext, target: Target, original_id: int) -> bool:
    """Close ``target.ticket`` as a duplicate of ``original_id`` (both must be workable)."""
    runtime = context.runtime
    duplicate = target.ticket
    if original_id == duplicate.id:
        await answer(message, runtime.texts("officer.dup_same"))
        return False
    original = await runtime.storage.tickets.get(original_id)
    if original is None:
        await answer(message, runtime.texts("officer.not_found", id=original_id))
        return False
    grid = await runtime.storage.grids.grid(original.grid_id)
    if grid is None or not (await role_for(runtime, message, grid)).works_tickets:
        await answer(message, runtime.texts("officer.not_allowed", id=original_id))
        return False
    merged = await tickets.mark_duplicate(
        runtime.storage, duplicate, original, target.actor, runtime.clock.now()
    )
    if merged is None:
        await answer(
            message, runtime.texts("officer.dup_refused", id=duplicate.id, original=original_id)
        )
        return False
    await post_to_reporter(
        context, merged, runtime.texts("officer.dup_public", id=merged.id, original=original_id)
    )
    await refresh_receipt(context, merged)
    await answer(message, runtime.texts("officer.dup_done", id=merged.id, original=original_id))
    return True


async def on_reopen(update: Update, context: LinliContext) -> None:
    target = await officer_target(update, context, "reopen")
    message = update.effective_message
    if target is None or message is None:
        return
    runtime = context.runtime
    if not await _pre(message, runtime, target, "reopen"):
        return
    reason = _words(target.rest)
    after = await tickets.reopen(
        runtime.storage, target.ticket, target.actor, reason, runtime.clock.now()
    )
    if (ticket := await _moved(message, runtime, target.ticket, after, "reopen")) is None:
        return
    await answer(
        message, runtime.texts("officer.reopened", id=ticket.id, count=ticket.reopen_count)
    )
    suffix = f"：{escape(mask_sensitive(reason))}" if reason else ""
    await post_to_reporter(
        context, ticket, runtime.texts("officer.reopened_public", id=ticket.id, reason=suffix)
    )
    await refresh_receipt(context, ticket, before=target.ticket)


async def on_log(update: Update, context: LinliContext) -> None:
    """民情日记: an officer records what he found on patrol as a ticket he handles himself."""
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    text = (message.text or "").partition(" ")[2].strip()
    parsed = parse_report(text, runtime.catalog)
    tags = " ".join(f"#{c.tag}" for c in runtime.catalog)
    if not parsed.is_report or parsed.needs_detail:
        await answer(message, runtime.texts("officer.log_need_tag", tags=tags))
        return
    grid = await _patrol_grid(message, runtime)
    if grid is None:
        return
    actor = actor_of(message)
    now = runtime.clock.now()
    intake = IntakeMessage(
        chat_id=message.chat_id,
        message_id=message.message_id,
        text=text,
        reporter_id=actor.user_id,
        reporter_name=actor.name,
        sent_at=message.date,
    )
    result = await tickets.open_patrol(runtime.storage, runtime.catalog, grid, parsed, intake, now)
    category = runtime.catalog[result.category].tag
    await answer(message, runtime.texts("officer.logged", id=result.id, category=category))


async def _patrol_grid(message: Message, runtime: Runtime) -> GridInfo | None:
    if not is_private(message):
        binding = await runtime.storage.grids.active_binding(message.chat_id)
        if binding is None or binding.grid_id is None:
            await answer(message, runtime.texts("officer.grid_only"))
            return None
        grid = await runtime.storage.grids.grid(binding.grid_id)
        assert grid is not None
        if not (await role_for(runtime, message, grid)).works_tickets:
            await answer(message, runtime.texts("officer.not_allowed", id="-"))
            return None
        return grid
    user = message.from_user
    assert user is not None
    grids = await runtime.roles.workable_grids(user.id)
    own: list[GridInfo] = grids if grids is not None else await runtime.storage.grids.grids()
    if len(own) == 1:
        return own[0]
    await answer(message, runtime.texts("officer.log_pick_grid" if own else "officer.grid_only"))
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
        await answer(message, runtime.texts("admin.only_admins"))
        return
    binding = (
        None if is_private(message) else await runtime.storage.grids.active_binding(message.chat_id)
    )
    if binding is None or binding.grid_id is None:
        await answer(message, runtime.texts("officer.grid_only"))
        return
    person = await _person(message, context, add=add)
    if person is None:
        await answer(message, runtime.texts("officer.name_usage", command=command))
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
        await answer(
            message,
            runtime.texts("officer.named" if new else "officer.already", name=name, grid=grid),
        )
    else:
        removed = await runtime.storage.officers.remove(binding.grid_id, person.user_id)
        await answer(
            message, runtime.texts("officer.unnamed" if removed else "officer.not_named", name=name)
        )


async def _person(message: Message, context: LinliContext, *, add: bool) -> Actor | None:
    args = list(context.args or [])
    if args and (user_id := ticket_number(args[0])) is not None:
        found = await _member(context, message.chat_id, user_id)
        if found is None and not add:  # someone who left can still be removed
            return Actor(user_id, str(user_id))
        return found
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return Actor(replied.from_user.id, replied.from_user.full_name)
    return None
