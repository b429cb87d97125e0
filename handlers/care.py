"""关爱走访 in Telegram: ``/care`` (list, add, show, edit, pause, resume, end, round) and
``/visit``, in private chats with the people who work a grid.

* **Who**: every command and press checks the sender's role in the person's grid
  (``bot.roles``: officer, staff or admin works it); anyone else hears the same polite line
  whether or not the number exists. In a group, ``/care`` and ``/visit`` get one line asking
  for a private chat, and nothing of the roster.
* **Forms**: ``/care add``, ``/care edit N`` and ``/visit N`` (and the 📝 button on a reminder)
  ask their missing answers one question at a time, with buttons (``bot.callbacks.CarePress``).
  One ConversationHandler keyed per user and chat holds the one form a person has open; its
  questions are the form's own ``step``. The state lives in memory: a form interrupted by a
  restart is lost, and a press on its old buttons gets a polite pop-up. /cancel or 取消 ends
  a form, and so does FORM_TIMEOUT without an answer.
* **One-line forms** (``/care add 曹大爷 3号楼2单元101 高风险``, ``/visit 7 正常 精神不错``)
  go straight through the same save as the forms, asking only what they lack.
* **Rules** are ``bot.care``'s: this module reads words and shows results. Names, addresses
  and notes are never logged; log lines carry numbers only.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any, Literal
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import care
from bot.callbacks import CarePress, encode, parse
from bot.context import LinliApp, LinliContext, Runtime
from bot.fit import fit, visible_length
from bot.parsing.care import (
    FIELD_LIMIT,
    NAME_LIMIT,
    NOTE_LIMIT,
    clean,
    outcome_of,
    parse_add,
    parse_visit,
    person_number,
    way_of,
)
from bot.parsing.care_command import (
    FIELDS,
    MAX_ROUND,
    Field,
    field_of,
    is_cancel,
    is_done,
    is_skip,
    parse_round,
    subcommand,
)
from bot.texts import SYSTEM_ACTOR, Texts
from handlers.common import answer, pop_up, pressed, texts_for
from storage import GridInfo
from storage.care import CareDue, CareEvent, CarePerson, CareVisit, RecordedVisit, RosterLine
from storage.vocabulary import CareEventKind, CareStatus, DueKind, VisitOutcome, VisitWay

logger = logging.getLogger(__name__)

GROUP = 0
FORM_TIMEOUT = timedelta(minutes=30)  # a form nobody answers for this long is dropped
ACTIVE = 1  # the one state of an open form; which question it asks is the form's ``step``
END = ConversationHandler.END
FORM_KEY = "care_form"  # chat_data (a private chat: one person's) -> the open Form
LIST_LINES = 50  # /care shows at most this many people (overdue first), then a count
LIST_ROOM = 3500  # UTF-16 units for /care's lines (Telegram: 4,096 with the heading)
OFFICER_BUTTONS = 8  # the grid's officers offered as visitor
GRID_BUTTONS = 40  # grids offered as buttons (more: the grid's name may be typed)
PHOTO_LIMIT = 10  # photos kept of one visit
RECENT = 5  # visits and history rows /care show lists

Step = Literal[
    "grid",
    "name",
    "address",
    "tier",
    "visitor",
    "contact",
    "notes",
    "field",
    "value",
    "way",
    "outcome",
    "note",
    "photos",
]
Kind = Literal["add", "edit", "visit"]

WAYS: tuple[VisitWay, ...] = tuple(VisitWay)
OUTCOMES: tuple[VisitOutcome, ...] = tuple(VisitOutcome)
WAY_KEYS: dict[VisitWay, str] = {
    VisitWay.HOME: "care_cmd.way_home",
    VisitWay.CALL: "care_cmd.way_call",
    VisitWay.PROXY: "care_cmd.way_proxy",
    VisitWay.VOLUNTEER: "care_cmd.way_volunteer",
    VisitWay.DEVICE: "care_cmd.way_device",
}
OUTCOME_KEYS: dict[VisitOutcome, str] = {
    VisitOutcome.NORMAL: "care_cmd.outcome_normal",
    VisitOutcome.CONCERN: "care_cmd.outcome_concern",
    VisitOutcome.UNSEEN: "care_cmd.outcome_unseen",
    VisitOutcome.REFUSED: "care_cmd.outcome_refused",
}
STATUS_KEYS: dict[CareStatus, str] = {
    CareStatus.ACTIVE: "care_cmd.status_active",
    CareStatus.PAUSED: "care_cmd.status_paused",
    CareStatus.ENDED: "care_cmd.status_ended",
}
FIELD_KEYS: dict[Field, str] = {
    "name": "care_cmd.field_name",
    "address": "care_cmd.field_address",
    "tier": "care_cmd.field_tier",
    "visitor": "care_cmd.field_visitor",
    "contact": "care_cmd.field_contact",
    "notes": "care_cmd.field_notes",
}
FIELD_LIMITS: dict[Field, int] = {
    "name": NAME_LIMIT,
    "address": FIELD_LIMIT,
    "contact": FIELD_LIMIT,
    "notes": NOTE_LIMIT,
}
EVENT_KEYS: dict[CareEventKind, str] = {
    CareEventKind.ADDED: "care_cmd.event_added",
    CareEventKind.EDITED: "care_cmd.event_edited",
    CareEventKind.PAUSED: "care_cmd.event_paused",
    CareEventKind.RESUMED: "care_cmd.event_resumed",
    CareEventKind.ENDED: "care_cmd.event_ended",
    CareEventKind.VISITED: "care_cmd.event_visited",
    CareEventKind.REMINDED: "care_cmd.event_reminded",
    CareEventKind.ESCALATED: "care_cmd.event_escalated",
    CareEventKind.ROUND: "care_cmd.event_round",
}
DUE_KEYS: dict[DueKind, str] = {
    DueKind.CYCLE: "care_cmd.due_cycle",
    DueKind.ROUND: "care_cmd.due_round",
}
_NOTED_EVENTS = frozenset({CareEventKind.PAUSED, CareEventKind.ENDED, CareEventKind.ROUND})


@dataclass
class Form:
    """One person's open form: what is known so far and the question asked now."""

    kind: Kind
    step: Step | None = None
    message_id: int | None = None  # the question whose buttons answer ``step``
    grids: dict[int, str] = field(default_factory=dict)  # grids offered: id -> label
    grid_id: int | None = None
    # /care add (and the new value of /care edit)
    name: str = ""
    address: str | None = None
    tier: str | None = None
    visitors: list[tuple[int, str]] = field(default_factory=list)  # offered; [0] = the sender
    visitor: tuple[int, str] | None = None
    contact: str | None = None
    notes: str | None = None
    # /care edit and /visit
    person_id: int | None = None
    person_name: str = ""
    changing: Field | None = None
    value: str | None = None
    way: VisitWay | None = None
    outcome: VisitOutcome | None = None
    note: str | None = None
    photos: list[str] = field(default_factory=list)
    photos_done: bool = False


def register(app: LinliApp) -> None:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    app.add_handler(
        CommandHandler(
            ["care", "visit"],
            on_group_command,
            filters=~filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
        ),
        group=GROUP,
    )
    with warnings.catch_warnings():
        # per_message=False is meant: a form spans several messages (its questions, the
        # person's answers), and its buttons are checked against the form's own question
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        forms: ConversationHandler[LinliContext] = ConversationHandler(
            entry_points=[
                CommandHandler("care", on_care, filters=private),
                CommandHandler("visit", on_visit, filters=private),
                CallbackQueryHandler(on_visit_button, pattern=_is_step("visit")),
            ],
            states={
                ACTIVE: [
                    CallbackQueryHandler(on_form_button, pattern=_is_form_step),
                    MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_form_text),
                    MessageHandler(private & filters.PHOTO, on_form_photo),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, on_form_timeout)],
            },
            fallbacks=[CommandHandler("cancel", on_cancel, filters=private)],
            allow_reentry=True,
            per_chat=True,
            per_user=True,
            conversation_timeout=FORM_TIMEOUT.total_seconds(),
            name="care_forms",
        )
    app.add_handler(forms, group=GROUP)
    # outside a form: its old buttons (a restart, a timeout, a finished form), a stray /cancel
    app.add_handler(CallbackQueryHandler(on_stale_button, pattern=_is_form_step), group=GROUP)
    app.add_handler(CommandHandler("cancel", on_no_form, filters=private), group=GROUP)


def _is_step(step: str) -> Callable[[object], bool]:
    def check(data: object) -> bool:
        press = parse(data)
        return isinstance(press, CarePress) and press.step == step

    return check


def _is_form_step(data: object) -> bool:
    press = parse(data)
    return isinstance(press, CarePress) and press.step != "visit"


# -- small helpers ----------------------------------------------------------------------------


def _texts(runtime: Runtime, user: User | None) -> Texts:
    """Everything here is read in a private chat: the person's own language (LANGUAGE=auto)."""
    return runtime.texts_for(user.language_code if user else None, private=True)


def _me(user: User) -> care.Actor:
    return care.Actor(user.id, user.full_name)


def _form(context: LinliContext) -> Form | None:
    data = context.chat_data
    form = data.get(FORM_KEY) if data is not None else None
    return form if isinstance(form, Form) else None


def _keep(context: LinliContext) -> object:
    """A command that opens no form: an open form stays open (None), else no conversation."""
    return None if _form(context) is not None else END


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


def _button(text: str, press: CarePress) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(press))


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


async def _send(
    context: LinliContext,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    reply_to: Message | None = None,
) -> Message | None:
    """A reply to ``reply_to`` (a command or an answer), or a message to the chat (a press)."""
    if reply_to is not None:
        return await answer(reply_to, text, reply_markup=markup)
    try:
        return await context.bot.send_message(chat_id, fit(text), reply_markup=markup)
    except TelegramError as exc:
        logger.warning("care: message to chat %s failed: %s", chat_id, exc)
        return None


async def _retire(context: LinliContext, chat_id: int, form: Form) -> None:
    """Take the buttons off the form's last question (answered, or the form is over)."""
    if form.message_id is None:
        return
    message_id, form.message_id = form.message_id, None
    try:
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except TelegramError as exc:
        logger.debug("care: buttons of message %s stay: %s", message_id, exc)


async def _every(runtime: Runtime, grids: list[GridInfo] | None) -> list[GridInfo]:
    return await runtime.storage.grids.grids() if grids is None else grids


async def _works(runtime: Runtime, user_id: int, grid: GridInfo) -> bool:
    return (await runtime.roles.role(user_id, grid)).works_tickets


async def _person(
    runtime: Runtime, user_id: int, number: int
) -> tuple[CarePerson, GridInfo] | None:
    """Person ``number`` and her grid, if she exists and the user works her grid."""
    person = await runtime.storage.care.get(number)
    grid = None if person is None else await runtime.storage.grids.grid(person.grid_id)
    if person is None or grid is None or not await _works(runtime, user_id, grid):
        return None
    return person, grid


async def _named_person(
    message: Message, context: LinliContext, user: User, word: str | None, usage: str
) -> tuple[CarePerson, GridInfo] | None:
    """The person a command's first word names; the sender is told what is wrong otherwise
    (the same words whether the number does not exist or is not the sender's to see)."""
    runtime = context.runtime
    texts = _texts(runtime, user)
    number = person_number(word) if word else None
    if number is None:
        await answer(message, texts("care_cmd.need_number", usage=usage))
        return None
    found = await _person(runtime, user.id, number)
    if found is None:
        await answer(message, texts("care_cmd.no_person", id=number))
    return found


def _when(
    texts: Texts,
    person: CarePerson,
    due: CareDue | None,
    now: datetime,
    tz: ZoneInfo,
    next_key: str = "care_cmd.when_next",
) -> str:
    """When the person is next owed a visit: a list line's words (``next_key``: a reply's)."""
    if person.status is not CareStatus.ACTIVE:
        return texts(STATUS_KEYS[person.status])
    if due is None:
        return texts("care_cmd.when_none")
    if due.window_end < now:
        days = max(1, math.ceil((now - due.window_end) / timedelta(days=1)))
        return texts("care_cmd.when_overdue", days=days)
    if due.due_at <= now:
        return texts("care_cmd.when_due", date=_local(due.window_end, tz))
    return texts(next_key, date=_local(due.due_at, tz))


async def _next_due(runtime: Runtime, texts: Texts, person: CarePerson) -> str:
    dues = await runtime.storage.care.dues_of(person.id)
    due = min(dues, key=lambda d: d.window_end) if dues else None
    now, tz = runtime.clock.now(), runtime.settings.tz
    return _when(texts, person, due, now, tz, "care_cmd.next_visit")


# -- groups -----------------------------------------------------------------------------------


async def on_group_command(update: Update, context: LinliContext) -> None:
    """The roster is never shown in a group: one line, no names, whatever the words."""
    message = update.effective_message
    if message is not None:
        await answer(message, texts_for(context.runtime, message)("care_cmd.private_only"))


# -- /care ------------------------------------------------------------------------------------


async def on_care(update: Update, context: LinliContext) -> object:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return _keep(context)
    args = list(context.args or [])
    sub = subcommand(args[0]) if args else "list"
    words = args[1:]
    if sub is None and person_number(args[0]) is not None:
        sub, words = "show", args  # /care 7
    if sub is None:
        await answer(message, _texts(context.runtime, user)("care_cmd.usage"))
        return _keep(context)
    if sub == "add":
        return await _start_add(update, context, message, user, words)
    if sub == "edit":
        return await _start_edit(update, context, message, user, words)
    if sub == "list":
        await _list(message, context, user)
    elif sub == "show":
        await _show(message, context, user, words)
    elif sub == "round":
        await _round(message, context, user, words)
    else:
        await _status(message, context, user, sub, words)
    return _keep(context)


async def _list(message: Message, context: LinliContext, user: User) -> None:
    """The people the sender looks after, and those of the grids he works; overdue first."""
    runtime = context.runtime
    texts = _texts(runtime, user)
    grids = await runtime.roles.workable_grids(user.id)
    lines: dict[int, RosterLine] = {}
    if grids is None or grids:
        ids = None if grids is None else [g.id for g in grids]
        for line in await runtime.storage.care.roster(ids, limit=100_000):
            lines[line.person.id] = line
    seen: dict[int, bool] = {}
    for line in await runtime.storage.care.roster(None, visitor_id=user.id, limit=100_000):
        grid_id = line.person.grid_id
        if line.person.id in lines:
            continue
        if grid_id not in seen:  # his own people, in a grid he may no longer work
            grid = await runtime.storage.grids.grid(grid_id)
            seen[grid_id] = grid is not None and await _works(runtime, user.id, grid)
        if seen[grid_id]:
            lines[line.person.id] = line
    if not lines and not grids and grids is not None:
        await answer(message, texts("care_cmd.staff_only"))
        return
    if not lines:
        await answer(message, texts("care_cmd.list_empty"))
        return
    now, tz = runtime.clock.now(), runtime.settings.tz
    far = datetime.max.replace(tzinfo=now.tzinfo)
    ordered = sorted(
        lines.values(),
        key=lambda line: (
            line.person.status is not CareStatus.ACTIVE,
            line.due.window_end if line.due is not None else far,
            line.person.id,
        ),
    )
    overdue = sum(
        1
        for line in ordered
        if line.person.status is CareStatus.ACTIVE
        and line.due is not None
        and line.due.window_end < now
    )
    shown: list[str] = []
    room = LIST_ROOM
    for line in ordered[:LIST_LINES]:
        person = line.person
        text = texts(
            "care_cmd.list_line",
            id=person.id,
            name=escape(person.name),
            tier=escape(person.tier),
            when=_when(texts, person, line.due, now, tz),
        )
        room -= visible_length(text) + 1
        if room < 0:
            break
        shown.append(text)
    parts = [texts("care_cmd.list_head", count=len(ordered), overdue=overdue), *shown]
    if len(shown) < len(ordered):
        parts.append(texts("care_cmd.list_more", more=len(ordered) - len(shown)))
    parts.append(texts("care_cmd.list_foot"))
    await answer(message, "\n".join(parts))


async def _show(message: Message, context: LinliContext, user: User, words: list[str]) -> None:
    found = await _named_person(message, context, user, words[0] if words else None, "/care show 7")
    if found is None:
        return
    person, grid = found
    runtime = context.runtime
    texts = _texts(runtime, user)
    dues = await runtime.storage.care.dues_of(person.id)
    visits = await runtime.storage.care.visits_of(person.id, limit=RECENT)
    events = await runtime.storage.care.events_of(person.id, limit=RECENT)
    await answer(message, _detail(runtime, texts, person, grid, dues, visits, events))


def _status_text(texts: Texts, person: CarePerson) -> str:
    status = texts(STATUS_KEYS[person.status])
    if person.status_note:
        return texts("care_cmd.status_with_note", status=status, note=escape(person.status_note))
    return status


def _detail(
    runtime: Runtime,
    texts: Texts,
    person: CarePerson,
    grid: GridInfo,
    dues: list[CareDue],
    visits: list[CareVisit],
    events: list[CareEvent],
) -> str:
    """/care show: everything the roster says, for staff in private (the contact unmasked)."""
    now, tz = runtime.clock.now(), runtime.settings.tz
    none = texts("care_cmd.none")
    lines = [
        texts(
            "care_cmd.show_head",
            id=person.id,
            name=escape(person.name),
            tier=escape(person.tier),
            status=_status_text(texts, person),
        ),
        texts("care_cmd.show_grid", community=escape(grid.community_name), grid=escape(grid.name)),
        texts("care_cmd.show_visitor", visitor=escape(person.visitor_name or none)),
        texts("care_cmd.show_address", address=escape(person.address or none)),
        texts("care_cmd.show_contact", contact=escape(person.contact or none)),
        texts("care_cmd.show_notes", notes=escape(person.notes or none)),
    ]
    if dues:
        lines.append(texts("care_cmd.show_dues"))
        for due in dues:
            late = (
                texts("care_cmd.show_due_late", when=_when(texts, person, due, now, tz))
                if due.window_end < now
                else ""
            )
            lines.append(
                texts(
                    "care_cmd.show_due",
                    kind=texts(DUE_KEYS[due.kind]),
                    due=texts.moment(due.due_at, tz),
                    until=texts.moment(due.window_end, tz),
                    late=late,
                )
            )
    else:
        lines.append(texts("care_cmd.show_no_dues"))
    lines.append(texts("care_cmd.show_visits") if visits else texts("care_cmd.show_no_visits"))
    for visit in visits:
        lines.append(
            texts(
                "care_cmd.show_visit",
                at=texts.moment(visit.visited_at, tz),
                way=texts(WAY_KEYS[visit.way]),
                outcome=texts(OUTCOME_KEYS[visit.outcome]),
                visitor=escape(visit.visitor_name or none),
                note=texts("care_cmd.note_suffix", note=escape(visit.note)) if visit.note else "",
                photos=texts("care_cmd.photos_suffix", count=len(visit.photos))
                if visit.photos
                else "",
                ticket=texts("care_cmd.ticket_suffix", id=visit.ticket_id)
                if visit.ticket_id
                else "",
            )
        )
    if events:
        lines.append(texts("care_cmd.show_events"))
    for event in events:
        actor = (
            texts("actor.system")
            if event.actor_id is None and event.actor_name == SYSTEM_ACTOR
            else event.actor_name
        )
        note = _event_note(texts, event)
        lines.append(
            texts(
                "care_cmd.show_event",
                at=texts.moment(event.at, tz),
                what=texts(EVENT_KEYS[event.kind]),
                actor=escape(actor or none),
                note=texts("care_cmd.note_suffix", note=note) if note else "",
            )
        )
    return "\n".join(lines)


def _event_note(texts: Texts, event: CareEvent) -> str:
    """What a history row's note says, in words (escaped)."""
    if event.kind is CareEventKind.VISITED:
        words = event.note.split()
        try:
            outcome, way = VisitOutcome(words[0]), VisitWay(words[1])
        except (IndexError, ValueError):
            return ""
        return f"{texts(WAY_KEYS[way])} · {texts(OUTCOME_KEYS[outcome])}"
    if event.kind is CareEventKind.EDITED:
        names: list[str] = []
        for column in event.note.split(","):  # the columns it changed: visitor_id, notes, …
            changed = field_of(column.removesuffix("_id").removesuffix("_name") or column)
            word = texts(FIELD_KEYS[changed]) if changed is not None else ""
            if word and word not in names:
                names.append(word)
        return texts("text.list_separator").join(names)
    if event.kind in _NOTED_EVENTS:
        return escape(event.note)
    return ""


async def _status(
    message: Message, context: LinliContext, user: User, sub: str, words: list[str]
) -> None:
    """/care pause N 住院, /care resume N, /care end N 原因."""
    runtime = context.runtime
    texts = _texts(runtime, user)
    found = await _named_person(
        message, context, user, words[0] if words else None, f"/care {sub} 7"
    )
    if found is None:
        return
    person, _grid = found
    reason = " ".join(words[1:]).strip()
    if len(reason) > FIELD_LIMIT:
        await answer(message, texts("care_cmd.too_long", limit=FIELD_LIMIT))
        return
    desk, me, now = runtime.care_desk, _me(user), runtime.clock.now()
    status = texts(STATUS_KEYS[person.status])
    if sub == "pause":
        paused = await care.pause(desk, person, reason, me, now)
        if paused is None:
            await answer(message, texts("care_cmd.pause_refused", id=person.id, status=status))
            return
        shown = texts("care_cmd.reason_suffix", reason=escape(reason)) if reason else ""
        await answer(message, texts("care_cmd.paused", id=person.id, reason=shown))
    elif sub == "resume":
        resumed = await care.resume(desk, person, me, now)
        if resumed is None:
            await answer(message, texts("care_cmd.resume_refused", id=person.id, status=status))
            return
        when = await _next_due(runtime, texts, resumed)
        await answer(message, texts("care_cmd.resumed", id=person.id, when=when))
    else:
        if not reason:
            await answer(message, texts("care_cmd.end_reason", id=person.id))
            return
        ended = await care.end(desk, person, reason, me, now)
        if ended is None:
            await answer(message, texts("care_cmd.end_refused", id=person.id))
            return
        await answer(message, texts("care_cmd.ended", id=person.id, reason=escape(reason)))
    logger.info("care %s: %s by %s", person.id, sub, user.id)


async def _round(message: Message, context: LinliContext, user: User, words: list[str]) -> None:
    """/care round 高温 高风险 [3d]: everyone of the tier in the sender's grids owes a visit."""
    runtime = context.runtime
    texts = _texts(runtime, user)
    grids = await runtime.roles.workable_grids(user.id)
    if grids == []:
        await answer(message, texts("care_cmd.staff_only"))
        return
    tiers = texts("text.list_separator").join(t.name for t in runtime.catalog.tiers)
    line = parse_round(words, runtime.catalog)
    tier = runtime.catalog.tier(line.tier) if line.tier else None
    if tier is None:
        await answer(message, texts("care_cmd.round_usage", tiers=escape(tiers)))
        return
    if line.deadline is not None and not timedelta(0) < line.deadline <= MAX_ROUND:
        await answer(message, texts("care_cmd.round_bad_deadline", days=MAX_ROUND.days))
        return
    name = line.name or texts("care_cmd.round_default")
    started, people = await care.start_round(
        runtime.care_desk,
        name=name,
        tier=tier,
        grid_ids=None if grids is None else [g.id for g in grids],
        deadline=line.deadline,
        actor=_me(user),
        now=runtime.clock.now(),
    )
    logger.info("care round %s: %s people, by %s", started.id, len(people), user.id)
    key = "care_cmd.round_started" if people else "care_cmd.round_nobody"
    await answer(
        message,
        texts(
            key,
            name=escape(started.name),
            tier=escape(tier.name),
            count=len(people),
            deadline=texts.moment(started.deadline, runtime.settings.tz),
        ),
    )


# -- the forms: /care add, /care edit N, /visit N -----------------------------------------------


async def _start_add(
    update: Update, context: LinliContext, message: Message, user: User, words: list[str]
) -> object:
    runtime = context.runtime
    texts = _texts(runtime, user)
    grids = await _every(runtime, await runtime.roles.workable_grids(user.id))
    if not grids:
        await answer(message, texts("care_cmd.staff_only"))
        return _keep(context)
    form = Form("add")
    if words:  # the one-line form: saved at once when it has the tier (and the grid)
        if len(words[0]) > NAME_LIMIT or len(" ".join(words)) > NAME_LIMIT + 2 * FIELD_LIMIT:
            await answer(message, texts("care_cmd.too_long", limit=NAME_LIMIT))
            return _keep(context)
        line = parse_add(words, runtime.catalog)
        form.name, form.address, form.tier = line.name, line.address, line.tier
        form.contact, form.notes, form.visitor = line.contact, "", (user.id, user.full_name)
    if len(grids) == 1:
        form.grid_id = grids[0].id
    else:
        several = len({g.community_id for g in grids}) > 1
        form.grids = {
            g.id: f"{g.community_name} {g.name}" if several else g.name
            for g in grids[:GRID_BUTTONS]
        }
        form.grids.update({g.id: g.name for g in grids[GRID_BUTTONS:]})  # typed, not shown
    return await _begin(update, context, form, message)


async def _start_edit(
    update: Update, context: LinliContext, message: Message, user: User, words: list[str]
) -> object:
    runtime = context.runtime
    texts = _texts(runtime, user)
    found = await _named_person(message, context, user, words[0] if words else None, "/care edit 7")
    if found is None:
        return _keep(context)
    person, grid = found
    if person.status is CareStatus.ENDED:
        await answer(message, texts("care_cmd.edit_ended", id=person.id))
        return _keep(context)
    form = Form("edit", grid_id=grid.id, person_id=person.id, person_name=person.name)
    rest = words[1:]
    if rest:  # /care edit 7 地址 3号楼2单元102
        changing = field_of(rest[0])
        if changing is None:
            await answer(
                message,
                texts("care_cmd.unknown_field", word=escape(rest[0][:NAME_LIMIT]), id=person.id),
            )
            return _keep(context)
        form.changing = changing
        value = " ".join(rest[1:]).strip()
        refusal = _take_value(runtime, texts, form, value) if value else None
        if refusal is not None:
            await answer(message, refusal)
            return _keep(context)
    return await _begin(update, context, form, message)


def _take_value(runtime: Runtime, texts: Texts, form: Form, value: str) -> str | None:
    """A new value for the field /care edit changes; the polite refusal if it will not do."""
    if form.changing == "tier":
        tier = runtime.catalog.tier(value)
        if tier is None:
            return _unknown_tier(runtime, texts, value)
        form.tier = tier.name
    elif form.changing == "visitor":
        return None  # the visitor is chosen by button
    elif form.changing is not None:
        limit = FIELD_LIMITS[form.changing]
        if len(value) > limit:
            return texts("care_cmd.too_long", limit=limit)
        form.value = value
    return None


def _unknown_tier(runtime: Runtime, texts: Texts, word: str) -> str:
    tiers = texts("text.list_separator").join(t.name for t in runtime.catalog.tiers)
    return texts("care_cmd.unknown_tier", word=escape(word[:NAME_LIMIT]), tiers=escape(tiers))


async def on_visit(update: Update, context: LinliContext) -> object:
    """/visit 7 正常 精神不错 records at once; /visit 7 asks the way, outcome, note, photos."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return _keep(context)
    runtime = context.runtime
    texts = _texts(runtime, user)
    line = parse_visit(list(context.args or []))
    if line.person_id is None:
        await answer(message, texts("care_cmd.visit_usage"))
        return _keep(context)
    found = await _named_person(message, context, user, str(line.person_id), "/visit 7")
    if found is None:
        return _keep(context)
    person, grid = found
    if person.status is not CareStatus.ACTIVE:
        await answer(message, _inactive(texts, person))
        return _keep(context)
    form = Form("visit", grid_id=grid.id, person_id=person.id, person_name=person.name)
    form.way, form.outcome, form.note = line.way, line.outcome, line.note or None
    if line.outcome is not None:  # the one-line form: nothing more to ask
        form.way, form.note, form.photos_done = line.way or VisitWay.HOME, line.note, True
    return await _begin(update, context, form, message)


def _inactive(texts: Texts, person: CarePerson) -> str:
    return texts("care_cmd.visit_inactive", id=person.id, status=_status_text(texts, person))


async def on_visit_button(update: Update, context: LinliContext) -> object:
    """📝 on a reminder: the /visit form for that person (the press is checked first)."""
    got = await pressed(update, context, CarePress)  # private, and he works her grid
    user = update.effective_user
    if got is None or user is None:
        return _keep(context)
    runtime = context.runtime
    found = await _person(runtime, user.id, got.press.value)
    if found is None:
        await pop_up(got.query, got.popups("care.not_yours"))
        return _keep(context)
    person, grid = found
    if person.status is not CareStatus.ACTIVE:
        await pop_up(got.query, _inactive(got.popups, person))
        return _keep(context)
    await pop_up(got.query)
    form = Form("visit", grid_id=grid.id, person_id=person.id, person_name=person.name)
    return await _begin(update, context, form, None)


async def _begin(
    update: Update, context: LinliContext, form: Form, message: Message | None
) -> object:
    """Save a form that already has everything (a one-line command: an open form stays open),
    or make it the person's open form and ask its first question."""
    chat = update.effective_chat
    if chat is None:
        return _keep(context)
    if _missing(form) is None:
        source = (chat.id, message.message_id) if message is not None else None
        await _save(update, context, form, source, message)
        return _keep(context)
    old = _form(context)
    if old is not None:
        await _retire(context, chat.id, old)
    if context.chat_data is not None:
        context.chat_data[FORM_KEY] = form
    return await _ask(update, context, form, message)


def _missing(form: Form) -> Step | None:
    """The form's next question, or None: everything is known."""
    if form.kind == "add":
        return _first_unanswered(
            ("grid", form.grid_id),
            ("name", form.name or None),
            ("address", form.address),
            ("tier", form.tier),
            ("visitor", form.visitor),
            ("contact", form.contact),
            ("notes", form.notes),
        )
    if form.kind == "edit":
        if form.changing is None:
            return "field"
        if form.changing == "tier":
            return "tier" if form.tier is None else None
        if form.changing == "visitor":
            return "visitor" if form.visitor is None else None
        return "value" if form.value is None else None
    return _first_unanswered(
        ("way", form.way),
        ("outcome", form.outcome),
        ("note", form.note),
        ("photos", form.photos_done or None),
    )


def _first_unanswered(*questions: tuple[Step, object]) -> Step | None:
    """The first of ``questions`` (in order) whose answer is still None."""
    return next((step for step, answer in questions if answer is None), None)


async def _ask(
    update: Update, context: LinliContext, form: Form, reply_to: Message | None
) -> object:
    """Ask the form's next question (the last one's buttons taken off), or save it."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return END
    await _retire(context, chat.id, form)
    step = _missing(form)
    if step is None:
        if context.chat_data is not None:
            context.chat_data.pop(FORM_KEY, None)
        source_message = reply_to or update.effective_message
        source = (chat.id, source_message.message_id) if source_message is not None else None
        await _save(update, context, form, source, reply_to)
        return END
    form.step = step
    text, markup = await _question(context.runtime, _texts(context.runtime, user), form, user)
    sent = await _send(context, chat.id, text, markup, reply_to)
    form.message_id = sent.message_id if sent is not None else None
    return ACTIVE


async def _question(
    runtime: Runtime, texts: Texts, form: Form, user: User
) -> tuple[str, InlineKeyboardMarkup]:
    """The words and buttons of the form's question (``form.step``)."""
    cancel = _button(texts("care_cmd.button_cancel"), CarePress("cancel"))
    skip = _button(texts("care_cmd.button_skip"), CarePress("skip"))
    who = texts("care_cmd.who", id=form.person_id, name=escape(form.person_name))
    step = form.step
    choices: list[InlineKeyboardButton] = []
    width, last = 2, [cancel]
    if step == "grid":
        text = texts("care_cmd.ask_grid")
        shown = list(form.grids.items())[:GRID_BUTTONS]
        choices = [_button(label, CarePress("grid", grid_id)) for grid_id, label in shown]
    elif step == "name":
        text = texts("care_cmd.ask_name")
    elif step == "address":
        text = texts("care_cmd.ask_address", name=escape(form.name))
    elif step == "tier":
        text = texts("care_cmd.ask_tier", name=escape(form.name or form.person_name))
        if form.kind == "edit":
            text = texts("care_cmd.ask_new_tier", who=who)
        choices = [
            _button(t.name, CarePress("tier", n)) for n, t in enumerate(runtime.catalog.tiers)
        ]
        width = 3
    elif step == "visitor":
        form.visitors = await _visitors(runtime, form, user)
        text = (
            texts("care_cmd.ask_visitor")
            if form.kind == "add"
            else texts("care_cmd.ask_new_visitor", who=who)
        )
        choices = [
            _button(texts("care_cmd.button_me") if n == 0 else name, CarePress("visitor", n))
            for n, (_id, name) in enumerate(form.visitors)
        ]
        if form.kind == "add":
            last = [skip, cancel]
    elif step == "contact":
        text, last = texts("care_cmd.ask_contact"), [skip, cancel]
    elif step == "notes":
        text, last = texts("care_cmd.ask_notes"), [skip, cancel]
    elif step == "field":
        text = texts("care_cmd.ask_field", who=who)
        choices = [
            _button(texts(FIELD_KEYS[f]), CarePress("field", n)) for n, f in enumerate(FIELDS)
        ]
        width = 3
    elif step == "value":
        assert form.changing is not None
        text = texts("care_cmd.ask_value", who=who, field=texts(FIELD_KEYS[form.changing]))
    elif step == "way":
        text = texts("care_cmd.ask_way", who=who)
        choices = [_button(texts(WAY_KEYS[w]), CarePress("way", n)) for n, w in enumerate(WAYS)]
        width = 3
    elif step == "outcome":
        text = texts("care_cmd.ask_outcome", who=who)
        choices = [
            _button(texts(OUTCOME_KEYS[o]), CarePress("outcome", n)) for n, o in enumerate(OUTCOMES)
        ]
    elif step == "note":
        text, last = texts("care_cmd.ask_note"), [skip, cancel]
    else:
        text, last = texts("care_cmd.ask_photos"), [skip, cancel]
    return text, InlineKeyboardMarkup([*_rows(choices, width), last])


async def _visitors(runtime: Runtime, form: Form, user: User) -> list[tuple[int, str]]:
    """Who may be named visitor: the sender first, then the grid's officers."""
    people = [(user.id, user.full_name)]
    grid = await runtime.storage.grids.grid(form.grid_id) if form.grid_id is not None else None
    if grid is not None:
        for user_id, name in await runtime.roles.officers_of(grid):
            if user_id != user.id and len(people) <= OFFICER_BUTTONS:
                people.append((user_id, name))
    return people


# -- answers: buttons, words, photos -------------------------------------------------------------


def _fits(form: Form, press: CarePress, tiers: int) -> bool:
    """Whether the press answers the question the form asks now."""
    step, value = press.step, press.value
    if step == "cancel":
        return True
    if step == "skip":
        return form.step in ("contact", "notes", "note", "photos") or (
            form.step == "visitor" and form.kind == "add"
        )
    if step != form.step:
        return False
    sizes = {
        "tier": tiers,
        "visitor": len(form.visitors),
        "way": len(WAYS),
        "outcome": len(OUTCOMES),
        "field": len(FIELDS),
    }
    if step == "grid":
        return value in form.grids
    return value < sizes.get(step, 0)


async def _expired(query: CallbackQuery, texts: Texts) -> None:
    """A button of a form that is no longer open: a pop-up, and the dead buttons go."""
    await pop_up(query, texts("care_cmd.expired"))
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError as exc:
        logger.debug("care: stale buttons stay: %s", exc)


async def on_form_button(update: Update, context: LinliContext) -> object:
    got = await pressed(update, context, CarePress)  # the one permission check
    if got is None:
        return None
    query, press = got.query, got.press
    form = _form(context)
    runtime = context.runtime
    message = query.message
    if (
        form is None
        or message is None
        or message.message_id != form.message_id
        or not _fits(form, press, len(runtime.catalog.tiers))
    ):
        await _expired(query, got.popups)
        return None
    await pop_up(query)
    if press.step == "cancel":
        return await _cancel(update, context, form, None)
    step = form.step
    if press.step == "grid":
        form.grid_id = press.value
    elif press.step == "tier":
        form.tier = runtime.catalog.tiers[press.value].name
    elif press.step == "visitor":
        form.visitor = form.visitors[press.value]
    elif press.step == "way":
        form.way = WAYS[press.value]
    elif press.step == "outcome":
        form.outcome = OUTCOMES[press.value]
    elif press.step == "field":
        form.changing = FIELDS[press.value]
    elif step == "visitor":  # 跳过: the sender visits
        form.visitor = form.visitors[0]
    elif step == "contact":
        form.contact = ""
    elif step == "notes":
        form.notes = ""
    elif step == "note":
        form.note = ""
    else:  # photos: 跳过, or 完成 after some
        form.photos_done = True
    return await _ask(update, context, form, None)


async def on_form_text(update: Update, context: LinliContext) -> object:
    """Words typed while a form is open answer its question (and nothing else reads them)."""
    raise ApplicationHandlerStop(await _form_text(update, context))


async def _form_text(update: Update, context: LinliContext) -> object:
    message, user = update.effective_message, update.effective_user
    form = _form(context)
    if message is None or user is None or form is None:
        return END
    runtime = context.runtime
    texts = _texts(runtime, user)
    text = (message.text or "").strip()
    if is_cancel(text):
        return await _cancel(update, context, form, message)
    refusal = _take_text(runtime, texts, form, text)
    if refusal is not None:
        await answer(message, refusal)
        return None
    return await _ask(update, context, form, message)


def _take_text(runtime: Runtime, texts: Texts, form: Form, text: str) -> str | None:
    """What typed words answer; the polite refusal when they do not."""
    step = form.step
    if not text:
        return texts("care_cmd.need_text")
    limits: dict[Step, int] = {
        "name": NAME_LIMIT,
        "address": FIELD_LIMIT,
        "contact": FIELD_LIMIT,
        "notes": NOTE_LIMIT,
        "note": NOTE_LIMIT,
    }
    if step in ("contact", "notes", "note") and is_skip(text):
        text = ""
    elif step in limits and len(text) > limits[step]:
        return texts("care_cmd.too_long", limit=limits[step])
    if step == "name":
        form.name = clean(text, NAME_LIMIT)
    elif step == "address":
        form.address = clean(text, FIELD_LIMIT)
    elif step == "contact":
        form.contact = clean(text, FIELD_LIMIT)
    elif step == "notes":
        form.notes = text
    elif step == "note":
        form.note = text
    elif step == "value":
        return _take_value(runtime, texts, form, text)
    elif step == "tier":
        tier = runtime.catalog.tier(text)
        if tier is None:
            return _unknown_tier(runtime, texts, text)
        form.tier = tier.name
    elif step == "way" and (way := way_of(text)) is not None:
        form.way = way
    elif step == "outcome" and (outcome := outcome_of(text)) is not None:
        form.outcome = outcome
    elif step == "field" and (changing := field_of(text)) is not None:
        form.changing = changing
    elif step == "visitor" and form.kind == "add" and is_skip(text):
        form.visitor = form.visitors[0] if form.visitors else None
    elif step == "grid" and (found := _grid_named(form, text)) is not None:
        form.grid_id = found
    elif step == "photos" and (is_done(text) or is_skip(text)):
        form.photos_done = True
    elif step == "photos":
        return texts("care_cmd.photos_hint")
    else:
        return texts("care_cmd.press_a_button")
    return None


def _grid_named(form: Form, text: str) -> int | None:
    folded = " ".join(text.split()).casefold()
    for grid_id, label in form.grids.items():
        if folded in (label.casefold(), label.split(" ")[-1].casefold()):
            return grid_id
    return None


async def on_form_photo(update: Update, context: LinliContext) -> object:
    """Photos of a visit: the largest size of each is kept; 完成 (or 跳过) moves on."""
    raise ApplicationHandlerStop(await _form_photo(update, context))


async def _form_photo(update: Update, context: LinliContext) -> object:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    form = _form(context)
    if message is None or user is None or chat is None or form is None:
        return END
    texts = _texts(context.runtime, user)
    if form.step != "photos":
        await answer(message, texts("care_cmd.press_a_button"))
        return None
    if message.photo and len(form.photos) < PHOTO_LIMIT:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        form.photos.append(largest.file_id)
    if len(form.photos) == 1:  # the first (of an album, too): one answer, with 完成
        await _retire(context, chat.id, form)
        markup = InlineKeyboardMarkup(
            [
                [
                    _button(texts("care_cmd.button_done"), CarePress("skip")),
                    _button(texts("care_cmd.button_cancel"), CarePress("cancel")),
                ]
            ]
        )
        sent = await _send(context, chat.id, texts("care_cmd.photos_got"), markup, message)
        form.message_id = sent.message_id if sent is not None else None
    return None


async def _cancel(
    update: Update, context: LinliContext, form: Form, message: Message | None
) -> object:
    chat, user = update.effective_chat, update.effective_user
    if context.chat_data is not None:
        context.chat_data.pop(FORM_KEY, None)
    if chat is not None:
        await _retire(context, chat.id, form)
        await _send(
            context, chat.id, _texts(context.runtime, user)("care_cmd.cancelled"), None, message
        )
    return END


async def on_cancel(update: Update, context: LinliContext) -> object:
    form = _form(context)
    if form is None:
        await on_no_form(update, context)
        return END
    return await _cancel(update, context, form, update.effective_message)


async def on_no_form(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is not None:
        await answer(message, _texts(context.runtime, update.effective_user)("care_cmd.no_form"))


async def on_form_timeout(update: Update, context: LinliContext) -> None:
    """FORM_TIMEOUT without an answer: the form is dropped, and the person told."""
    chat = update.effective_chat
    form = _form(context)
    if form is None or chat is None or context.chat_data is None:
        return
    context.chat_data.pop(FORM_KEY, None)
    await _retire(context, chat.id, form)
    texts = _texts(context.runtime, update.effective_user)
    minutes = int(FORM_TIMEOUT.total_seconds() // 60)
    await _send(context, chat.id, texts("care_cmd.timed_out", minutes=minutes))


async def on_stale_button(update: Update, context: LinliContext) -> None:
    """A form's button with no form open (a restart, a timeout, a finished form)."""
    got = await pressed(update, context, CarePress)
    if got is not None:
        await _expired(got.query, got.popups)


# -- saving -------------------------------------------------------------------------------------


async def _save(
    update: Update,
    context: LinliContext,
    form: Form,
    source: tuple[int, int] | None,
    reply_to: Message | None,
) -> None:
    """Do what the form asked for, through ``bot.care``; the sender's role is checked again."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    runtime = context.runtime
    texts = _texts(runtime, user)
    if form.kind == "add":
        text = await _save_add(runtime, texts, form, user)
    elif form.kind == "edit":
        text = await _save_edit(runtime, texts, form, user)
    else:
        text = await _save_visit(runtime, texts, form, user, source)
    await _send(context, chat.id, text, None, reply_to)


async def _save_add(runtime: Runtime, texts: Texts, form: Form, user: User) -> str:
    grid = await runtime.storage.grids.grid(form.grid_id) if form.grid_id is not None else None
    tier = runtime.catalog.tier(form.tier) if form.tier is not None else None
    if grid is None or tier is None or not await _works(runtime, user.id, grid):
        return texts("care_cmd.staff_only")
    visitor = form.visitor or (user.id, user.full_name)
    person = await care.add(
        runtime.care_desk,
        grid_id=grid.id,
        name=form.name,
        address=form.address or "",
        tier=tier,
        visitor=care.Actor(*visitor),
        actor=_me(user),
        now=runtime.clock.now(),
        contact=form.contact or "",
        notes=form.notes or "",
    )
    logger.info("care %s added to grid %s by %s", person.id, grid.id, user.id)
    return texts(
        "care_cmd.added",
        id=person.id,
        name=escape(person.name),
        tier=escape(person.tier),
        visitor=escape(person.visitor_name),
        when=await _next_due(runtime, texts, person),
    )


async def _save_edit(runtime: Runtime, texts: Texts, form: Form, user: User) -> str:
    found = await _person(runtime, user.id, form.person_id or 0)
    if found is None:
        return texts("care_cmd.no_person", id=form.person_id)
    person, _grid = found
    changes: dict[str, Any] = {}
    if form.changing == "tier":
        changes["tier"] = runtime.catalog.tier(form.tier or "")
    elif form.changing == "visitor" and form.visitor is not None:
        changes["visitor"] = care.Actor(*form.visitor)
    elif form.changing is not None:
        changes[form.changing] = form.value or ""
    if not changes or any(v is None for v in changes.values()):
        return texts("care_cmd.cancelled")
    edited = await care.edit(
        runtime.care_desk, person, actor=_me(user), now=runtime.clock.now(), **changes
    )
    if edited is None:
        return texts("care_cmd.edit_ended", id=person.id)
    logger.info("care %s edited (%s) by %s", person.id, form.changing, user.id)
    assert form.changing is not None
    return texts(
        "care_cmd.edited",
        id=edited.id,
        field=texts(FIELD_KEYS[form.changing]),
        when=await _next_due(runtime, texts, edited),
    )


async def _save_visit(
    runtime: Runtime, texts: Texts, form: Form, user: User, source: tuple[int, int] | None
) -> str:
    found = await _person(runtime, user.id, form.person_id or 0)
    if found is None:
        return texts("care_cmd.no_person", id=form.person_id)
    person, grid = found
    assert form.outcome is not None
    recorded = await care.record_visit(
        runtime.care_desk,
        person,
        outcome=form.outcome,
        way=form.way or VisitWay.HOME,
        note=form.note or "",
        actor=_me(user),
        now=runtime.clock.now(),
        grid_chat_id=grid.chat_id,
        photos=form.photos,
        source=source,
    )
    if recorded is None:
        current = await runtime.storage.care.get(person.id)
        return _inactive(texts, current or person)
    runtime.wake_sender()  # a ticket's receipt, an office alarm
    logger.info(
        "care %s visited (%s) by %s: visit %s%s",
        person.id,
        form.outcome,
        user.id,
        recorded.visit.id,
        "" if recorded.created else ", recorded before",
    )
    return await _visited(runtime, texts, recorded)


async def _visited(runtime: Runtime, texts: Texts, recorded: RecordedVisit) -> str:
    visit, person = recorded.visit, recorded.person
    if not recorded.created:
        return texts("care_cmd.visited_before", id=person.id)
    parts = [
        texts(
            "care_cmd.visited",
            id=person.id,
            way=texts(WAY_KEYS[visit.way]),
            outcome=texts(OUTCOME_KEYS[visit.outcome]),
            photos=texts("care_cmd.photos_suffix", count=len(visit.photos)) if visit.photos else "",
        )
    ]
    if recorded.ticket is not None:
        key = (
            "care_cmd.visited_ticket"
            if recorded.ticket.chat_id < 0
            else "care_cmd.visited_ticket_no_group"
        )
        parts.append(texts(key, ticket=recorded.ticket.id))
    if visit.outcome is VisitOutcome.UNSEEN:
        parts.append(texts("care_cmd.visited_unseen", times=person.missed_in_row))
        if recorded.escalated:
            parts.append(texts("care_cmd.visited_escalated"))
    parts.append(await _next_due(runtime, texts, person))
    return "\n".join(parts)
