"""议事 in Telegram: ``/room`` (who lives where), ``/vote`` (start, list, show, close, proxy)
and the answers to the bot's native polls.

* **Who**: every command checks its sender (``handlers.common.role_for``: an anonymous admin
  of the grid's group counts as its officer). Starting, closing, recording a proxy, confirming
  or setting someone else's room and ``/room add`` need someone who works the grid
  (``bot.roles``: officer, staff, admin); anyone else hears one polite line.
* **Privacy**: names of who lives where, and of who answered what, are read only by the
  grid's officers in their private chat (``/room list``, ``/vote show``); a group sees
  counts. A room given or set in a group goes to the sender's private chat; the group reads a
  neutral line (or, when the private chat was never started, that line and the deep link
  ``t.me/<bot>?start=room``). ``/vote proxy`` is done in private only.
* **Replies**: an officer's command replying to someone's message acts on that person; in a
  forum topic, a reply to the topic's first message names nobody.
* **Polls**: a ``poll_answer`` goes to ``bot.votes.answer`` (``option_ids`` [] = a
  retraction); an answer of an anonymous admin (``voter_chat``) is nobody's household and
  is not counted; ``poll`` updates (the poll's state) are ignored.
* **Rules** are ``bot.votes``'s and the line's words ``bot.parsing.vote``'s: this module reads
  words and shows results. A line that does not parse gets one polite reply with an example.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from html import escape

from telegram import ChatMember, Message, Update, User
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, PollAnswerHandler, PollHandler, filters

from bot import votes
from bot.care import Actor
from bot.context import LinliApp, LinliContext, Runtime
from bot.fit import split
from bot.links import start_link
from bot.parsing.vote import (
    WITHDRAW,
    Label,
    VoteLineError,
    choice_of,
    parse_label,
    parse_labels,
    parse_scope,
    parse_vote_line,
    read_vote_command,
    room_subcommand,
    vote_number,
)
from bot.roles import ASK_GROUPS
from bot.texts import Texts
from handlers.common import (
    actor_of,
    answer,
    is_anonymous_admin,
    is_private,
    replied_person,
    role_for,
    texts_for,
)
from storage import GridInfo
from storage.vocabulary import MemberStatus
from storage.votes import HouseholdLine, Vote

logger = logging.getLogger(__name__)

GROUP = 0
LIST_VOTES = 10  # /vote list shows the newest this many
MAX_PARTS = 10  # a long /room list or /vote show comes in at most this many messages
USER_ID_DIGITS = 6  # /room 3-2-501 123456789: a user id (a room number has at most 5 digits)
ROOM_PAYLOAD = "room"  # t.me/<bot>?start=room: the private chat opens with /room's usage
_START_ROOM = re.compile(rf"^/start(?:@\w+)?\s+{ROOM_PAYLOAD}\s*$")
NOTE_LIMIT = 200  # a proxy's note
EXAMPLES = {
    "show": "votes.example_show",
    "close": "votes.example_close",
    "proxy": "votes.example_proxy",
}


def register(app: LinliApp) -> None:
    """Before handlers.resident: its /start must not take ``/start room`` first."""
    messages = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("room", on_room, filters=messages), group=GROUP)
    app.add_handler(
        CommandHandler(
            "start",
            on_start_room,
            filters=filters.ChatType.PRIVATE & messages & filters.Regex(_START_ROOM),
        ),
        group=GROUP,
    )
    app.add_handler(CommandHandler("vote", on_vote, filters=messages), group=GROUP)
    app.add_handler(PollAnswerHandler(on_poll_answer), group=GROUP)
    app.add_handler(PollHandler(on_poll), group=GROUP)


# -- small helpers ----------------------------------------------------------------------------


async def _grid_of_chat(runtime: Runtime, chat_id: int) -> GridInfo | None:
    """The grid a group is bound to (None: not a grid's group)."""
    binding = await runtime.storage.grids.active_binding(chat_id)
    if binding is None or not binding.is_grid or binding.grid_id is None:
        return None
    return await runtime.storage.grids.grid(binding.grid_id)


async def _works(runtime: Runtime, message: Message, grid: GridInfo) -> bool:
    return (await role_for(runtime, message, grid)).works_tickets


def _actor(runtime: Runtime, message: Message) -> Actor:
    found = actor_of(message, runtime.texts)
    return Actor(found.user_id, found.name)


def _is_help(word: str) -> bool:
    return word.strip().casefold() in {"help", "?", "？", "帮助", "说明"}


def _bad_line(texts: Texts, error: VoteLineError, example_key: str) -> str:
    """What is wrong (the parser's key), and how to write it."""
    values = {k: escape(v) if isinstance(v, str) else v for k, v in error.values.items()}
    return texts("votes.bad_line", why=texts(error.key, **values), example=texts(example_key))


def _status_word(texts: Texts, status: MemberStatus) -> str:
    key = (
        "votes.room_confirmed_word"
        if status is MemberStatus.CONFIRMED
        else "votes.room_claimed_word"
    )
    return texts(key)


def _room_link(context: LinliContext) -> str:
    """The deep link that opens the private chat with /room's usage (``/start room``)."""
    return escape(start_link(context.bot.username, ROOM_PAYLOAD))


def _own_texts(runtime: Runtime, user: User) -> Texts:
    """The catalogue for what goes to the person's private chat."""
    return runtime.texts_for(user.language_code, private=True)


def _replied(message: Message) -> Actor | None:
    """The person a command replies to; in a forum topic every message replies to the topic's
    first message, which names nobody (the officer then means himself)."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    found = replied_person(message)
    return None if found is None else Actor(found.user_id, found.name)


def _user_id_word(word: str) -> int | None:
    """A Telegram user id written after a room (``/room 3-2-501 123456789``): digits only, at
    least :data:`USER_ID_DIGITS` of them (a room has at most five)."""
    folded = unicodedata.normalize("NFKC", word).strip()
    if len(folded) < USER_ID_DIGITS or not folded.isascii() or not folded.isdigit():
        return None
    return int(folded)


async def _tell(context: LinliContext, user_id: int, text: str) -> bool:
    """``text`` in the person's private chat; False when it cannot go there (she never
    started the chat, or blocked the bot)."""
    try:
        for part in split(text):
            await context.bot.send_message(user_id, part)
    except (Forbidden, BadRequest) as exc:
        logger.info("private message to %s not delivered: %s", user_id, exc)
        return False
    except TelegramError as exc:
        logger.warning("private message to %s failed: %s", user_id, exc)
        return False
    return True


async def _privately(
    message: Message, context: LinliContext, texts: Texts, detail: str, done: str
) -> None:
    """In private, ``detail`` is the answer. In a group the detail (names, rooms) goes to the
    sender's private chat and the group reads ``done`` and that it went there — or, when it
    cannot go there, only ``done`` and how to open the private chat."""
    if is_private(message):
        await answer(message, detail)
        return
    user = message.from_user
    sent = (
        user is not None
        and not is_anonymous_admin(message)
        and await _tell(context, user.id, detail)
    )
    key = "votes.room_group_done" if sent else "votes.room_group_no_dm"
    await answer(message, texts(key, done=done, link=_room_link(context)))


async def _tied_grids(runtime: Runtime, user_id: int) -> list[tuple[GridInfo, str, MemberStatus]]:
    """The grids where the person is tied to a room: (grid, label, status) each."""
    found: list[tuple[GridInfo, str, MemberStatus]] = []
    for grid in await runtime.storage.grids.grids():
        tied = await runtime.storage.votes.household_of(grid.id, user_id)
        if tied is not None:
            found.append((grid, tied[0].label, tied[1].status))
    return found


async def _member_grids(runtime: Runtime, user_id: int) -> list[GridInfo] | None:
    """The bound grids whose group the person is in (asked of Telegram, cached); None when
    there are too many grid groups to ask (she is asked to write in her group)."""
    bound = [g for g in await runtime.storage.grids.grids() if g.chat_id is not None]
    if len(bound) > ASK_GROUPS:
        return None
    return [g for g in bound if g.chat_id and await runtime.roles.is_member(g.chat_id, user_id)]


async def _member(context: LinliContext, chat_id: int | None, user_id: int) -> Actor | None:
    """A person by user id, if she is in the chat (the only way to know the id is real)."""
    if chat_id is None:
        return None
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return None  # "user not found": a mistyped or foreign id
    if member.status in (ChatMember.LEFT, ChatMember.BANNED) or member.user.is_bot:
        return None
    return Actor(user_id, member.user.full_name)


def _grid_name(grid: GridInfo) -> str:
    return escape(f"{grid.community_name} {grid.name}")


# -- /room ------------------------------------------------------------------------------------


async def on_start_room(update: Update, context: LinliContext) -> None:
    """``/start room``: the deep link of the group's messages about rooms; /room's usage."""
    message = update.effective_message
    if message is None:
        return
    await answer(message, texts_for(context.runtime, message)("votes.room_start"))


async def on_room(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    args = list(context.args or [])
    if args and _is_help(args[0]):
        await answer(message, texts("votes.room_usage"))
        return
    sub = room_subcommand(args[0]) if args else None
    words = args[1:] if sub is not None else args
    if is_private(message):
        await _room_private(message, context, texts, sub, words)
    else:
        await _room_group(message, context, texts, sub, words)


def _for_someone(words: list[str]) -> tuple[list[str], int] | None:
    """``3-2-501 123456789``: the room's words and the user id after them."""
    if len(words) < 2:
        return None
    user_id = _user_id_word(words[-1])
    return None if user_id is None else (words[:-1], user_id)


async def _room_group(
    message: Message, context: LinliContext, texts: Texts, sub: str | None, words: list[str]
) -> None:
    runtime = context.runtime
    grid = await _grid_of_chat(runtime, message.chat_id)
    if grid is None:
        await answer(message, texts("votes.unbound"))
        return
    if sub == "list":
        await _room_counts(message, runtime, texts, grid, words)
        return
    officer = await _works(runtime, message, grid)
    if sub == "add":
        if not officer:
            await answer(message, texts("votes.room_officers_only"))
            return
        await _room_add(message, runtime, texts, grid, words)
        return
    user = message.from_user
    person = _replied(message)
    if person is not None and (person.user_id is None or (user and person.user_id == user.id)):
        person = None
    if sub == "del":
        await _room_del(message, context, texts, grid, words, person, officer)
        return
    named = _for_someone(words)
    if named is not None:
        if not officer:
            await answer(message, texts("votes.room_officers_only"))
            return
        found = await _member(context, grid.chat_id, named[1])
        if found is None:
            await answer(message, texts("votes.room_no_such_person", id=named[1]))
            return
        person, words = found, named[0]
    if person is not None and person.user_id is not None and officer:
        await _room_for(message, context, texts, grid, person, words)
        return
    if user is None or is_anonymous_admin(message):
        await answer(message, texts("votes.room_anonymous"))
        return
    if not words:
        tied = await runtime.storage.votes.household_of(grid.id, user.id)
        if tied is None:
            await answer(message, texts("votes.room_none", link=_room_link(context)))
        else:
            status = _status_word(texts, tied[1].status)
            await answer(
                message, texts("votes.room_mine_group", status=status, link=_room_link(context))
            )
        return
    await _tie_self(message, context, texts, grid, user, words, officer)


def _label_of(words: Sequence[str]) -> Label | None:
    """``3-2-501``, or what was written with spaces (``3号楼 2单元 501``)."""
    return parse_label("".join(words)) or (parse_label(words[0]) if words else None)


async def _bad_label(message: Message, texts: Texts, words: Sequence[str], example: str) -> None:
    error = VoteLineError("vote.error_label", word=" ".join(words)[:40])
    await answer(message, _bad_line(texts, error, example))


async def _tie_self(
    message: Message,
    context: LinliContext,
    texts: Texts,
    grid: GridInfo,
    user: User,
    words: list[str],
    officer: bool,
) -> None:
    """The sender ties herself to a room (an officer's own room is confirmed at once). The
    room itself is told in private, never in the group."""
    runtime = context.runtime
    label = _label_of(words)
    if label is None:
        await _bad_label(message, texts, words, "votes.room_example")
        return
    status = MemberStatus.CONFIRMED if officer else MemberStatus.CLAIMED
    tied = await votes.tie(
        runtime.care_desk,
        grid_id=grid.id,
        user_id=user.id,
        user_name=user.full_name,
        label=label,
        status=status,
        set_by=user.id,
        now=runtime.clock.now(),
    )
    own = _own_texts(runtime, user)
    key = "votes.room_tied_confirmed" if officer else "votes.room_tied"
    detail = own(key, label=escape(tied.household.label))
    if tied.moved_from is not None:
        detail += own("votes.room_moved", before=escape(tied.moved_from.label))
    if tied.contested:  # the household has a confirmed member: an officer must confirm her
        detail += own("votes.room_claim_pending", label=escape(tied.household.label))
        if not tied.repeat:  # the same claim again tells nobody again
            await _tell_officers(context, grid, user, tied.household.label)
    if tied.household.removed:  # a claim does not bring a removed household back
        detail += own("votes.room_claim_removed", label=escape(tied.household.label))
    # open votes she answered whose list (fixed at their start) leaves this household out
    for vote in await runtime.storage.votes.answered_outside(grid.id, user.id, tied.household.id):
        detail += own(
            "votes.room_outside_vote",
            id=vote.id,
            question=escape(vote.question),
            label=escape(tied.household.label),
        )
    logger.info("room: user %s tied in grid %s (%s)", user.id, grid.id, status)
    done = texts("votes.done_tied" if officer else "votes.done_claimed")
    await _privately(message, context, texts, detail, done)


async def _tell_officers(context: LinliContext, grid: GridInfo, user: User, label: str) -> None:
    """The grid's named officers hear privately of a claim to check (a household that has a
    confirmed member)."""
    runtime = context.runtime
    text = runtime.texts(
        "votes.room_claim_to_officer",
        name=escape(user.full_name),
        grid=_grid_name(grid),
        label=escape(label),
    )
    for officer_id, _name in await runtime.storage.officers.of_grid(grid.id):
        if officer_id != user.id:
            await _tell(context, officer_id, text)


async def _room_for(
    message: Message,
    context: LinliContext,
    texts: Texts,
    grid: GridInfo,
    person: Actor,
    words: list[str],
) -> None:
    """An officer for a resident (replying to her message, or naming her user id): ``/room
    3-2-501`` sets her room, ``/room`` confirms the one she claimed. Her name and room go to
    the officer in private; the group reads that it is done."""
    runtime = context.runtime
    user = message.from_user
    assert person.user_id is not None
    officer = user.id if user else None
    own = _own_texts(runtime, user) if user else texts
    name = escape(person.name)
    now = runtime.clock.now()
    if not words:
        confirmed = await runtime.storage.votes.confirm(grid.id, person.user_id, officer or 0, now)
        if confirmed is None:
            await answer(message, texts("votes.room_nothing_to_confirm"))
            return
        logger.info("room: user %s confirmed in grid %s by %s", person.user_id, grid.id, officer)
        detail = own("votes.room_confirmed", name=name, label=escape(confirmed.household.label))
        detail += await _others_unconfirmed(runtime, own, grid, confirmed.household.label)
        await _privately(message, context, texts, detail, texts("votes.done_confirmed"))
        return
    label = _label_of(words)
    if label is None:
        await _bad_label(message, texts, words, "votes.room_example")
        return
    tied = await votes.tie(
        runtime.care_desk,
        grid_id=grid.id,
        user_id=person.user_id,
        user_name=person.name,
        label=label,
        status=MemberStatus.CONFIRMED,
        set_by=officer,
        now=now,
    )
    detail = own("votes.room_set", name=name, label=escape(tied.household.label))
    if tied.moved_from is not None:
        detail += own("votes.room_moved", before=escape(tied.moved_from.label))
    detail += await _others_unconfirmed(runtime, own, grid, tied.household.label)
    logger.info("room: user %s set in grid %s by %s", person.user_id, grid.id, officer)
    await _privately(message, context, texts, detail, texts("votes.done_set"))


async def _others_unconfirmed(runtime: Runtime, texts: Texts, grid: GridInfo, label: str) -> str:
    """For the officer who just confirmed someone: the household's members still unconfirmed
    (their answers no longer count until he confirms them too), or nothing."""
    names = [
        escape(m.user_name or str(m.user_id))
        for line in await runtime.storage.votes.households(grid.id, label)
        if line.household.label == label
        for m in line.members
        if m.status is not MemberStatus.CONFIRMED
    ]
    if not names:
        return ""
    return texts("votes.room_others_unconfirmed", names=texts("text.list_separator").join(names))


async def _room_del(
    message: Message,
    context: LinliContext,
    texts: Texts,
    grid: GridInfo,
    words: list[str],
    person: Actor | None,
    officer: bool,
) -> None:
    """``/room del`` in a group: alone, the sender unties herself; replying to someone (an
    officer), she is untied; with a room (an officer), the household leaves the roster."""
    runtime = context.runtime
    user = message.from_user
    if words:
        if not officer:
            await answer(message, texts("votes.room_officers_only"))
            return
        await _remove_household(message, context, texts, grid, words)
        return
    if person is not None and person.user_id is not None:
        if not officer:
            await answer(message, texts("votes.room_officers_only"))
            return
        own = _own_texts(runtime, user) if user else texts
        by = user.id if user else None
        detail = await _untie(runtime, own, grid, person.user_id, escape(person.name), by)
        if detail is None:
            await answer(message, texts("votes.room_nothing_to_untie"))
            return
        await _privately(message, context, texts, detail, texts("votes.done_untied"))
        return
    if user is None or is_anonymous_admin(message):
        await answer(message, texts("votes.room_anonymous"))
        return
    detail = await _untie(runtime, _own_texts(runtime, user), grid, user.id, None, user.id)
    if detail is None:
        await answer(message, texts("votes.room_none", link=_room_link(context)))
        return
    await _privately(message, context, texts, detail, texts("votes.done_untied"))


async def _untie(
    runtime: Runtime,
    texts: Texts,
    grid: GridInfo,
    user_id: int,
    name: str | None,
    by: int | None,
) -> str | None:
    """Untie a person in a grid (``by``: who): what to tell (privately), or None when she
    had no room."""
    tied = await runtime.storage.votes.household_of(grid.id, user_id)
    if tied is None or not await votes.untie(
        runtime.care_desk, grid_id=grid.id, user_id=user_id, by=by, now=runtime.clock.now()
    ):
        return None
    logger.info("room: user %s untied in grid %s", user_id, grid.id)
    label = escape(tied[0].label)
    if name is None:
        return texts("votes.room_untied_self", grid=_grid_name(grid), label=label)
    return texts("votes.room_untied", name=name, label=label)


async def _remove_household(
    message: Message, context: LinliContext, texts: Texts, grid: GridInfo, words: list[str]
) -> None:
    """``/room del 3-2-502``: the household takes no part in votes started from now on; the
    people still tied to it are named to the officer privately, with how to untie them.
    ``/room del 123456789``: the person of that user id is untied."""
    runtime = context.runtime
    user = message.from_user
    officer = user.id if user else None
    own = _own_texts(runtime, user) if user else texts
    user_id = _user_id_word(words[0]) if len(words) == 1 else None
    if user_id is not None:
        tied = await runtime.storage.votes.household_of(grid.id, user_id)
        name = escape(tied[1].user_name or str(user_id)) if tied else str(user_id)
        detail = await _untie(runtime, own, grid, user_id, name, officer)
        if detail is None:
            await answer(message, texts("votes.room_nothing_to_untie"))
            return
        await _privately(message, context, texts, detail, texts("votes.done_untied"))
        return
    label = _label_of(words)
    if label is None:
        await _bad_label(message, texts, words, "votes.room_del_example")
        return
    removed = await votes.remove_household(
        runtime.care_desk, grid_id=grid.id, label=label, by=officer, now=runtime.clock.now()
    )
    if removed is None:
        await answer(message, texts("votes.room_not_listed", label=escape(label.text)))
        return
    logger.info("room: household %s removed in grid %s by %s", removed.id, grid.id, officer)
    done = texts("votes.room_removed", label=escape(removed.label))
    residents = [
        m
        for line in await runtime.storage.votes.households(grid.id, removed.label, removed=True)
        if line.household.id == removed.id
        for m in line.members
    ]
    if not residents:
        await answer(message, done)
        return
    names = own("text.list_separator").join(
        escape(m.user_name or str(m.user_id)) + f" ({m.user_id})" for m in residents
    )
    detail = own(
        "votes.room_removed_residents",
        label=escape(removed.label),
        count=len(residents),
        names=names,
    )
    if is_private(message):
        await answer(message, f"{done}\n{detail}")
        return
    # the group reads the removal and a count; the names go to the officer's private chat
    told = (
        user is not None
        and not is_anonymous_admin(message)
        and await _tell(context, user.id, detail)
    )
    tail = "" if told else "\n" + texts("votes.room_removed_residents_group", count=len(residents))
    await answer(message, done + tail)


async def _room_add(
    message: Message, runtime: Runtime, texts: Texts, grid: GridInfo, words: list[str]
) -> None:
    if not words:
        await answer(message, texts("votes.room_add_usage"))
        return
    try:
        labels = parse_labels(words)
    except VoteLineError as error:
        await answer(message, _bad_line(texts, error, "votes.room_add_example"))
        return
    officer = message.from_user.id if message.from_user else None
    added = await votes.add_households(
        runtime.care_desk, grid_id=grid.id, labels=labels, by=officer, now=runtime.clock.now()
    )
    await answer(
        message,
        texts(
            "votes.room_added",
            added=added,
            known=len(labels) - added,
            labels=escape(texts("text.list_separator").join(label.text for label in labels)),
        ),
    )


def _counts(lines: Sequence[HouseholdLine]) -> tuple[int, int, int]:
    """Households, people tied to them, those not yet confirmed."""
    members = [m for line in lines for m in line.members]
    unconfirmed = sum(1 for m in members if m.status is not MemberStatus.CONFIRMED)
    return len(lines), len(members), unconfirmed


def _prefix(texts: Texts, words: list[str]) -> tuple[str, str | None]:
    """``/room list 3-2``: the label prefix (``''``: all) and, if the words named none, the
    refusal."""
    if not words:
        return "", None
    scope = parse_scope(" ".join(words))
    if scope is None:
        return "", texts("vote.error_where", value=escape(" ".join(words)[:40]))
    return scope, None


async def _room_counts(
    message: Message, runtime: Runtime, texts: Texts, grid: GridInfo, words: list[str]
) -> None:
    """In a group: how many households and people, no names."""
    prefix, refusal = _prefix(texts, words)
    if refusal is not None:
        await answer(message, refusal)
        return
    households, members, unconfirmed = _counts(
        await runtime.storage.votes.households(grid.id, prefix)
    )
    await answer(
        message,
        texts(
            "votes.room_counts",
            households=households,
            members=members,
            unconfirmed=unconfirmed,
        ),
    )


async def _room_private(
    message: Message, context: LinliContext, texts: Texts, sub: str | None, words: list[str]
) -> None:
    runtime = context.runtime
    user = message.from_user
    if user is None:
        return
    if sub == "del" and not words:
        await _untie_everywhere(message, runtime, texts, user)
        return
    named = _for_someone(words) if sub is None else None
    if sub is not None or named is not None:
        grids = await runtime.roles.workable_grids(user.id)
        if grids is not None and not grids:
            await answer(message, texts("votes.room_officers_only"))
            return
        if sub == "list":
            await _room_list(message, runtime, texts, grids, words)
            return
        if named is not None:
            await _room_for_id(message, context, texts, grids, named)
            return
        if grids is None or len(grids) != 1:
            await answer(message, texts("votes.room_add_in_group"))
            return
        if sub == "add":
            await _room_add(message, runtime, texts, grids[0], words)
        else:
            await _remove_household(message, context, texts, grids[0], words)
        return
    if not words:
        tied = await _tied_grids(runtime, user.id)
        if not tied:
            await answer(message, texts("votes.room_none_private"))
            return
        lines = [texts("votes.room_mine_head")]
        lines += [
            texts(
                "votes.room_mine_line",
                grid=_grid_name(grid),
                label=escape(label),
                status=_status_word(texts, status),
            )
            for grid, label, status in tied
        ]
        await answer(message, "\n".join(lines))
        return
    candidates = await _member_grids(runtime, user.id)
    if candidates is None or len(candidates) > 1:
        await answer(message, texts("votes.room_in_group"))
        return
    if not candidates:
        await answer(message, texts("votes.room_no_group"))
        return
    grid = candidates[0]
    officer = (await runtime.roles.role(user.id, grid)).works_tickets
    await _tie_self(message, context, texts, grid, user, words, officer)


async def _untie_everywhere(message: Message, runtime: Runtime, texts: Texts, user: User) -> None:
    """``/room del`` in private: she leaves every room she gave."""
    lines: list[str] = []
    for grid in await runtime.storage.grids.grids():
        line = await _untie(runtime, texts, grid, user.id, None, user.id)
        if line is not None:
            lines.append(line)
    await answer(message, "\n".join(lines) if lines else texts("votes.room_none_private"))


async def _room_for_id(
    message: Message,
    context: LinliContext,
    texts: Texts,
    grids: list[GridInfo] | None,
    named: tuple[list[str], int],
) -> None:
    """``/room 3-2-501 123456789`` in an officer's private chat: the one grid of his whose
    group the person is in."""
    words, user_id = named
    runtime = context.runtime
    if grids is None:
        grids = [g for g in await runtime.storage.grids.grids() if g.chat_id is not None]
    found: list[tuple[GridInfo, Actor]] = []
    for grid in grids[:ASK_GROUPS]:
        person = await _member(context, grid.chat_id, user_id)
        if person is not None:
            found.append((grid, person))
    if not found:
        await answer(message, texts("votes.room_no_such_person", id=user_id))
        return
    if len(found) > 1:
        await answer(message, texts("votes.room_add_in_group"))
        return
    grid, person = found[0]
    await _room_for(message, context, texts, grid, person, words)


async def _room_list(
    message: Message,
    runtime: Runtime,
    texts: Texts,
    grids: list[GridInfo] | None,
    words: list[str],
) -> None:
    """For officers in private: each household of their grids, its members, the unconfirmed
    marked; a big roster comes in several messages."""
    prefix, refusal = _prefix(texts, words)
    if refusal is not None:
        await answer(message, refusal)
        return
    every = await runtime.storage.grids.grids() if grids is None else grids
    parts: list[str] = []
    for grid in every:
        # households off the roster are listed (marked) while someone is still tied to them
        lines = [
            line
            for line in await runtime.storage.votes.households(grid.id, prefix, removed=True)
            if not line.household.removed or line.members
        ]
        if not lines:
            continue
        _all, members, unconfirmed = _counts(lines)
        households = sum(1 for line in lines if not line.household.removed)
        parts.append(
            texts(
                "votes.room_list_head",
                grid=_grid_name(grid),
                households=households,
                members=members,
                unconfirmed=unconfirmed,
            )
        )
        for line in lines:
            people = texts("text.list_separator").join(
                escape(m.user_name or str(m.user_id))
                + (
                    ""
                    if m.status is MemberStatus.CONFIRMED
                    else texts("votes.room_unconfirmed_mark")
                )
                for m in line.members
            )
            mark = texts("votes.room_removed_mark") if line.household.removed else ""
            parts.append(
                texts(
                    "votes.room_list_line",
                    label=escape(line.household.label) + mark,
                    members=people or texts("votes.room_list_nobody"),
                )
            )
    if not parts:
        await answer(message, texts("votes.room_list_empty"))
        return
    await _answer_long(message, texts, "\n".join(parts))


async def _answer_long(message: Message, texts: Texts, text: str) -> None:
    """A long answer in several messages (at line ends), at most :data:`MAX_PARTS`."""
    parts = split(text)
    for part in parts[:MAX_PARTS]:
        await answer(message, part)
    if len(parts) > MAX_PARTS:
        await answer(message, texts("votes.too_long", parts=len(parts) - MAX_PARTS))


# -- /vote ------------------------------------------------------------------------------------


async def on_vote(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    args = list(context.args or [])
    if not args or _is_help(args[0]):
        await answer(message, texts("votes.usage"))
        return
    sub = read_vote_command(args)
    if sub is None:
        await _start(message, context, texts)
    elif sub == "proxy" and not is_private(message):
        await answer(message, texts("votes.proxy_private"))  # it names a household's choice
    elif sub == "list":
        await _list(message, runtime, texts)
    else:
        vote = await _numbered(message, runtime, texts, sub, args[1:])
        if vote is None:
            return
        if sub == "show":
            await _show(message, runtime, texts, vote)
        elif sub == "close":
            await _close(message, runtime, texts, vote)
        else:
            await _proxy(message, runtime, texts, vote, args[2:])


async def _start(message: Message, context: LinliContext, texts: Texts) -> None:
    runtime = context.runtime
    if is_private(message):
        await answer(message, texts("votes.group_only"))
        return
    grid = await _grid_of_chat(runtime, message.chat_id)
    if grid is None:
        await answer(message, texts("votes.unbound"))
        return
    if not await _works(runtime, message, grid):
        await answer(message, texts("votes.officers_only"))
        return
    now = runtime.clock.now()
    try:
        line = parse_vote_line(message.text or "", now, runtime.settings.tz, runtime.catalog)
    except VoteLineError as error:
        await answer(message, _bad_line(texts, error, "votes.example"))
        return
    started = await votes.start(
        runtime.care_desk,
        grid_id=grid.id,
        chat_id=message.chat_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        line=line,
        actor=_actor(runtime, message),
        now=now,
        source=(message.chat_id, message.message_id),
    )
    if started is None:
        where = escape(line.scope) if line.scope else texts("votes.scope_all")
        await answer(message, texts("votes.no_households", scope=where))
        return
    runtime.wake_sender()  # the poll
    vote = started.vote
    logger.info("vote %s started in grid %s: %s households", vote.id, grid.id, vote.eligible)
    await answer(
        message,
        texts(
            "votes.started",
            id=vote.id,
            question=escape(vote.question),
            eligible=vote.eligible,
            scope=escape(vote.scope) if vote.scope else texts("votes.scope_all"),
            rule=votes.rule_text(texts, vote),
            deadline=texts.moment(vote.deadline, runtime.settings.tz),
            link=_room_link(context),
        ),
    )


async def _visible_grids(runtime: Runtime, message: Message) -> list[int] | None:
    """The grids whose votes the sender may list here: a group's own grid; in private the
    grids she works (None: every grid) and those she lives in."""
    user = message.from_user
    if not is_private(message):
        grid = await _grid_of_chat(runtime, message.chat_id)
        return [] if grid is None else [grid.id]
    if user is None:
        return []
    works = await runtime.roles.workable_grids(user.id)
    if works is None:
        return None
    ids = {g.id for g in works}
    ids |= {grid.id for grid, _label, _status in await _tied_grids(runtime, user.id)}
    return sorted(ids)


async def _list(message: Message, runtime: Runtime, texts: Texts) -> None:
    grid_ids = await _visible_grids(runtime, message)
    if grid_ids == []:
        key = "votes.list_none_private" if is_private(message) else "votes.unbound"
        await answer(message, texts(key))
        return
    found = await runtime.storage.votes.list_votes(grid_ids, limit=LIST_VOTES)
    if not found:
        await answer(message, texts("votes.list_empty"))
        return
    tz = runtime.settings.tz
    lines = [texts("votes.list_head")]
    for vote in found:
        if vote.is_open:
            state = texts("votes.list_open", deadline=texts.moment(vote.deadline, tz))
        elif vote.result is not None and vote.result.get("passed"):
            state = texts("votes.list_passed")
        else:
            state = texts("votes.list_failed")
        lines.append(
            texts("votes.list_line", id=vote.id, question=escape(vote.question), state=state)
        )
    await answer(message, "\n".join(lines))


async def _numbered(
    message: Message, runtime: Runtime, texts: Texts, sub: str, words: list[str]
) -> Vote | None:
    """The vote a subcommand names, if the sender may see it here; told otherwise (the same
    words whether it does not exist or is another grid's)."""
    number = vote_number(words[0]) if words else None
    if number is None:
        await answer(message, texts("votes.need_number", usage=texts(EXAMPLES[sub])))
        return None
    vote = await runtime.storage.votes.get(number)
    visible = await _visible_grids(runtime, message)
    if vote is None or (visible is not None and vote.grid_id not in visible):
        await answer(message, texts("votes.not_found", id=number))
        return None
    return vote


async def _officer_of(message: Message, runtime: Runtime, vote: Vote) -> bool:
    grid = await runtime.storage.grids.grid(vote.grid_id)
    return grid is not None and await _works(runtime, message, grid)


async def _show(message: Message, runtime: Runtime, texts: Texts, vote: Vote) -> None:
    """The count so far; household detail and splits only for officers in private."""
    found = await votes.current(runtime.care_desk, vote.id)
    if found is None:
        await answer(message, texts("votes.not_found", id=vote.id))
        return
    vote, result = found
    tz = runtime.settings.tz
    if is_private(message) and await _officer_of(message, runtime, vote):
        body = votes.detail_text(texts, vote, result, closed=not vote.is_open)
    elif not vote.is_open:
        body = votes.result_text(texts, vote, result)
    else:
        lines = [texts("votes.show_title", id=vote.id, question=escape(vote.question))]
        lines += [
            texts("vote.count_line", option=escape(option), count=count)
            for option, count in zip(result.options, result.counts, strict=True)
        ]
        lines.append(texts("vote.result_turnout", voted=result.voted, eligible=result.eligible))
        body = "\n".join(lines)
    tail = (
        texts(
            "votes.show_open",
            deadline=texts.moment(vote.deadline, tz),
            rule=votes.rule_text(texts, vote),
        )
        if vote.is_open
        else texts("votes.show_closed", at=texts.moment(vote.closed_at or vote.deadline, tz))
    )
    await _answer_long(message, texts, f"{body}\n{tail}")


async def _close(message: Message, runtime: Runtime, texts: Texts, vote: Vote) -> None:
    if not await _officer_of(message, runtime, vote):
        await answer(message, texts("votes.officers_only"))
        return
    if not vote.is_open:
        await _already_closed(message, runtime, texts, vote)
        return
    closed = await votes.close(
        runtime.care_desk, vote, runtime.clock.now(), _actor(runtime, message)
    )
    if closed is None:
        current = await runtime.storage.votes.get(vote.id)
        await _already_closed(message, runtime, texts, current or vote)
        return
    runtime.wake_sender()  # stop_poll, the result, the detail to the starter
    logger.info(
        "vote %s closed by %s", vote.id, message.from_user.id if message.from_user else None
    )
    await answer(message, texts("votes.closed", id=vote.id))


async def _already_closed(message: Message, runtime: Runtime, texts: Texts, vote: Vote) -> None:
    at = texts.moment(vote.closed_at or vote.deadline, runtime.settings.tz)
    await answer(message, texts("votes.already_closed", id=vote.id, at=at))


async def _proxy(
    message: Message, runtime: Runtime, texts: Texts, vote: Vote, words: list[str]
) -> None:
    """``/vote proxy 3 3-2-502 同意 电话确认``: an officer records a household's answer."""
    if not await _officer_of(message, runtime, vote):
        await answer(message, texts("votes.officers_only"))
        return
    if not vote.is_open:
        await _already_closed(message, runtime, texts, vote)
        return
    late = votes.refusal(vote, runtime.clock.now())  # the deadline came before the tick
    if late is not None:
        await answer(message, texts(late, id=vote.id))
        return
    options = texts("text.list_separator").join(escape(o) for o in vote.options)
    if len(words) < 2:
        await answer(message, texts("votes.proxy_usage", id=vote.id, options=options))
        return
    label = parse_label(words[0])
    if label is None:
        error = VoteLineError("vote.error_label", word=words[0][:40])
        await answer(message, _bad_line(texts, error, "votes.example_proxy"))
        return
    choice = choice_of(words[1], vote.options)
    if choice is None:
        await answer(
            message,
            texts("votes.proxy_bad_option", word=escape(words[1][:40]), options=options),
        )
        return
    option = None if choice == WITHDRAW else choice
    assert option is None or isinstance(option, int)
    note = " ".join(words[2:]).strip()[:NOTE_LIMIT]
    done = await votes.proxy(
        runtime.care_desk,
        vote,
        label,
        option,
        actor=_actor(runtime, message),
        note=note,
        now=runtime.clock.now(),
    )
    if done is None:
        current = await runtime.storage.votes.get(vote.id)
        if current is not None and not current.is_open:
            await _already_closed(message, runtime, texts, current)
        else:
            await answer(
                message, texts("votes.proxy_not_eligible", id=vote.id, label=escape(label.text))
            )
        return
    logger.info("vote %s: proxy for household %s", vote.id, done.household.household_id)
    if option is None:
        await answer(message, texts("votes.proxy_withdrawn", id=vote.id, label=escape(label.text)))
        return
    await answer(
        message,
        texts(
            "votes.proxy_recorded",
            id=vote.id,
            label=escape(label.text),
            option=escape(vote.options[option]),
        ),
    )


# -- the polls --------------------------------------------------------------------------------


async def on_poll_answer(update: Update, context: LinliContext) -> None:
    """A tap on one of our polls (``option_ids`` [] = she took her answer back)."""
    poll_answer = update.poll_answer
    if poll_answer is None:
        return
    if poll_answer.voter_chat is not None or poll_answer.user is None:
        logger.info("poll %s: an answer as a chat, not counted", poll_answer.poll_id)
        return
    runtime = context.runtime
    user = poll_answer.user
    answered = await votes.answer(
        runtime.care_desk,
        poll_id=poll_answer.poll_id,
        user_id=user.id,
        user_name=user.full_name,
        option_ids=list(poll_answer.option_ids),
        now=runtime.clock.now(),
    )
    if answered is None:
        return
    if answered.notified:
        runtime.wake_sender()  # the untied notice, or the split flag to the starter
    logger.info(
        "vote %s: answer by %s (%s)",
        answered.vote.id,
        user.id,
        "counted" if answered.household is not None else "not counted",
    )


async def on_poll(update: Update, context: LinliContext) -> None:
    """A poll's new state (votes, closing): what counts is the answers; nothing to do."""
