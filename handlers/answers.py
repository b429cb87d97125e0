"""💬 ready answers: an officer answers a ticket in one tap, from its receipt.

The 💬 on an open ticket's receipt (``v1|an|<ticket>``) sends the presser, privately (never
in the group), the actions the ticket's status allows (``bot.tickets.allowed``) with each
action's three templates used most (``storage.answers.top``). A template's button turns that
message into a preview (the variables filled: the very post the resident will read) with
[发送] [改一改] [返回]; the preview is a draft (``answer_drafts``: its chat and message).

* [发送] performs the action as the officer command does (``handlers.common.perform``:
  ``bot.tickets.act``, then the post replying to the report, a direct send; the receipt
  refreshed); the draft is used, and the template's use recorded, inside the ticket's move
  (``storage.answers.sending``, a storage.tickets.OnMoved hook): a crash before the move
  commits moves nothing and leaves the draft to send again; a crash between that commit and
  the post loses the post, as for the officer commands (the ticket moved, the draft used; the
  receipt shows the new status). A double press or a replayed update finds the draft used and
  moves nothing ("已经发送过了"); a draft forgotten (返回) or re-picked meanwhile moves nothing
  either ("按钮已失效": nothing was sent). The preview becomes "已发送 ✓". The ticket is the
  draft's, whatever the press says.
* [改一改] uses the preview's draft (by itself, outside any move: a crash before the prompt
  leaves the officer to press 💬 again) and sends a new private message with the text (in
  ``<code>``: a tap copies it) and a ForceReply; that prompt is a draft too (kind ``prompt``),
  and the officer's reply to it is the text sent, once, as [发送] would. Only a reply to a
  prompt is taken: a reply to an unused preview or to a choice is answered with one line (press
  改一改, then reply to its message) and sends nothing.
* [返回] shows the choice again and forgets the preview's draft: a 发送 of that preview still
  on another device sends nothing.
* The private chat not started yet (Telegram: Forbidden): the press is answered with the
  deep link ``t.me/<bot>?start=answers_<ticket>`` and an alert; /start with it sends the
  choice at once.

Who may press is ``handlers.common.authorize_press`` (the presser works the ticket's grid, at
every step; previews and prompts only in her own private chat); a reply to a prompt is checked
the same way here. That reply is read in group -1, before the commands' group 0 where an open
/care form (a ConversationHandler) would take any text: a reply to one of our prompts is
handled there and stops the update (ApplicationHandlerStop), as is a reply to one of our
unused previews or choices (answered with the one line); anything else passes on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from html import escape
from typing import Final

from telegram import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message, Update, User
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import answers, callbacks
from bot.callbacks import AnswerAction, AnswerPress
from bot.context import LinliApp, LinliContext, Runtime
from bot.fit import fit
from bot.keyboards import AnswerChoice, answer_choice_keyboard, answer_preview_keyboard
from bot.links import start_link
from bot.parsing.contacts import mask_sensitive
from bot.receipts import location_text
from bot.texts import Texts
from bot.tickets import Action, Actor, Outcome, Status, Ticket, allowed
from handlers.common import (
    PUBLIC_POSTS,
    TEXT_LIMIT,
    Performed,
    PublicPost,
    answer,
    deed_values,
    perform,
    pop_up,
    pressed,
    refresh_receipt,
    texts_for,
    ticket_number,
    works,
    wrong_status,
)
from storage.answers import PREVIEW, PROMPT, Draft
from storage.tickets import OnMoved

logger = logging.getLogger(__name__)

GROUP = 0
# a reply to a prompt is read before group 0 (commands, an open /care form's text states)
PROMPTS_GROUP = -1
START_PAYLOAD = "answers"  # t.me/<bot>?start=answers_<ticket>: the choice follows /start
_START = re.compile(rf"^/start(?:@\w+)?\s+{START_PAYLOAD}(?:_(\d{{1,12}}))?\s*$")
TOP = 3  # templates offered per action
LABEL_CHARS = 24  # a template's button shows its first words
BODY_CHARS = 120  # the report's words in the choice's header
PLACEHOLDER_CHARS = 64  # Telegram's limit for input_field_placeholder

# the ready answers' actions (bot.answers.ACTIONS) as ticket actions: 受理 is 接单
ACTIONS: Final[dict[AnswerAction, Action]] = {
    "open": Action.TAKE,
    "progress": Action.PROGRESS,
    "done": Action.DONE,
    "reject": Action.REJECT,
}
# 受理 by hand posts the officer's words with the 接单; the others post as their commands do
POSTS: Final[dict[AnswerAction, PublicPost]] = {
    "open": PublicPost("abtn.open_public"),
    "progress": PUBLIC_POSTS[Action.PROGRESS],
    "done": PUBLIC_POSTS[Action.DONE],
    "reject": PUBLIC_POSTS[Action.REJECT],
}
# their posts put a full stop after the words (已办结：…。 / 已退回：…。): the words' own goes
STOPPED: Final = frozenset({"done", "reject"})


def register(app: LinliApp) -> None:
    """Before handlers.resident: its /start must not take ``/start answers_<ticket>`` first."""
    app.add_handler(
        CallbackQueryHandler(on_answer_button, pattern=callbacks.is_press(AnswerPress)),
        group=GROUP,
    )
    app.add_handler(
        CommandHandler(
            "start",
            on_start,
            filters=filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.Regex(_START),
        ),
        group=GROUP,
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & filters.REPLY
            & filters.TEXT
            & ~filters.COMMAND
            & filters.UpdateType.MESSAGE,
            on_prompt_reply,
        ),
        group=PROMPTS_GROUP,
    )


def answer_action(word: str) -> AnswerAction | None:
    for action in ACTIONS:
        if action == word:
            return action
    return None


def may_answer(action: AnswerAction, ticket: Ticket) -> bool:
    """受理 while the ticket is new; the others as the lifecycle allows."""
    if action == "open":
        return ticket.status == Status.NEW
    return allowed(ACTIONS[action], ticket.status)


def _actor(user: User) -> Actor:
    return Actor(user.id, user.full_name)


def _render(runtime: Runtime, text: str, ticket: Ticket, officer: str) -> str:
    """A template's words for this ticket (plain text), as the resident will read them."""
    return answers.render(
        text, ticket, runtime.catalog, runtime.settings.tz, officer, runtime.texts
    )[:TEXT_LIMIT]


def spoken(action: AnswerAction, words: str) -> str:
    """The words as they go into the action's post: no full stop of their own where the post
    puts one after them (``已办结：灯已换好。``, not ``灯已换好。。``)."""
    words = words.strip()
    return words.rstrip("。．.").rstrip() if action in STOPPED else words


def public_text(
    runtime: Runtime, action: AnswerAction, ticket: Ticket, name: str, words: str
) -> str:
    """The post replying to the resident's report (in the group's language)."""
    post = POSTS[action]
    said = spoken(action, words)
    values = deed_values(runtime.texts, ticket, name, said, words_after=post.words_after)
    return runtime.texts(post.key, **values)


# -- the choice ---------------------------------------------------------------------------------


async def choice(
    runtime: Runtime, ticket: Ticket, texts: Texts, officer: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The private message of 💬: the ticket in one line, and per allowed action its templates
    used most (an action with none: a button to write one's own words)."""
    category = runtime.catalog.get(ticket.category)
    header = texts(
        "abtn.choice",
        id=ticket.id,
        category=escape(category.tag if category else ticket.category),
        place=escape(location_text(ticket, texts) or texts("abtn.no_place")),
        status=texts.status(ticket.status),
        body=escape(answers.first_words(mask_sensitive(ticket.body or ticket.text), BODY_CHARS)),
    )
    choices = []
    for action in ACTIONS:
        if not may_answer(action, ticket):
            continue
        top = await runtime.storage.answers.top(ticket.category, action, TOP)
        labelled = [
            (t.id, answers.first_words(_render(runtime, t.text, ticket, officer), LABEL_CHARS))
            for t in top
        ]
        choices.append(AnswerChoice(action, answers.action_name(action, texts), labelled))
    if not choices:
        return texts("abtn.nothing", id=ticket.id, status=texts.status(ticket.status)), None
    return header, answer_choice_keyboard(ticket.id, choices, texts)


# -- the presses --------------------------------------------------------------------------------


async def on_answer_button(update: Update, context: LinliContext) -> None:
    got = await pressed(update, context, AnswerPress)
    if got is None:
        return
    query, press, ticket, popups = got.query, got.press, got.decision.ticket, got.popups
    if ticket is None:
        await pop_up(query, popups("popup.invalid"))
        return
    match press.step:
        case "ask":
            await _ask(context, query, ticket, popups)
        case "back":
            await _back(context, query, ticket, popups)
        case "pick":
            await _preview(context, query, ticket, press.template_id, popups)
        case "write":
            assert press.action is not None
            await _write(context, query, ticket, press.action, popups)
        case "send":
            await _send(context, query, press, popups)
        case "edit":
            await _edit(context, query, popups)


async def _ask(context: LinliContext, query: CallbackQuery, ticket: Ticket, popups: Texts) -> None:
    """The choice goes to the presser's private chat; the group sees nothing."""
    user = query.from_user
    text, markup = await choice(context.runtime, ticket, popups, user.full_name)
    if markup is None:  # no longer open: nothing to answer, and nothing to send privately
        await pop_up(
            query, popups("abtn.popup_nothing", id=ticket.id, status=popups.status(ticket.status))
        )
        return
    try:
        await context.bot.send_message(user.id, fit(text), reply_markup=markup)
    except Forbidden:
        link = start_link(context.bot.username, f"{START_PAYLOAD}_{ticket.id}")
        try:
            await query.answer(popups("abtn.start_first"), show_alert=True, url=link)
        except TelegramError as exc:
            logger.info("callback query not answered: %s", exc)
        return
    except TelegramError as exc:
        logger.warning("ready answers for ticket %s not sent to %s: %s", ticket.id, user.id, exc)
        await pop_up(query, popups("popup.invalid"))
        return
    await pop_up(query, popups("abtn.popup_private"))


async def _back(context: LinliContext, query: CallbackQuery, ticket: Ticket, popups: Texts) -> None:
    """The choice again; the preview's draft is forgotten (a stale 发送 sends nothing)."""
    user, message = query.from_user, query.message
    assert message is not None
    await context.runtime.storage.answers.void_draft(message.chat.id, message.message_id, user.id)
    text, markup = await choice(context.runtime, ticket, popups, user.full_name)
    await _edit_pressed(query, text, markup)
    await pop_up(query)


async def _preview(
    context: LinliContext, query: CallbackQuery, ticket: Ticket, template_id: int, popups: Texts
) -> None:
    """The message becomes the preview: the post as the resident will read it; a draft."""
    runtime = context.runtime
    template = await runtime.storage.answers.get(template_id)
    action = answer_action(template.action) if template is not None else None
    if (
        template is None
        or template.deleted
        or action is None
        or template.category not in ("", ticket.category)
    ):
        await pop_up(query, popups("abtn.popup_template_gone"))
        return
    if not may_answer(action, ticket):
        await pop_up(
            query, popups("popup.wrong_status", id=ticket.id, status=popups.status(ticket.status))
        )
        return
    user, message = query.from_user, query.message
    assert message is not None
    words = _render(runtime, template.text, ticket, user.full_name)
    await runtime.storage.answers.draft(
        message.chat.id,
        message.message_id,
        user.id,
        ticket.id,
        action,
        template.id,
        words,
        runtime.clock.now(),
        kind=PREVIEW,
    )
    public = public_text(runtime, action, ticket, user.full_name, words)
    text = popups(
        "abtn.preview", action=answers.action_name(action, popups), id=ticket.id, public=public
    )
    await _edit_pressed(query, text, answer_preview_keyboard(ticket.id, template.id, popups))
    await pop_up(query)


async def _send(
    context: LinliContext, query: CallbackQuery, press: AnswerPress, popups: Texts
) -> None:
    """[发送]: the preview's draft, once, used in the ticket's move; the action, as its command
    does it. The ticket is the draft's (a press naming another is refused)."""
    runtime = context.runtime
    user, message = query.from_user, query.message
    assert message is not None
    draft = await _draft_of(runtime, message.chat.id, message.message_id, user.id, PREVIEW)
    if isinstance(draft, str):
        await pop_up(query, popups(draft))
        return
    if draft.ticket_id != press.ticket_id or (draft.template_id or 0) != press.template_id:
        await pop_up(query, popups("popup.invalid"))  # not this preview's button: forged
        return
    got = await _workable(runtime, draft, user.id)
    if isinstance(got, str):
        await pop_up(query, popups(got))
        return
    ticket, action = got
    hook = runtime.storage.answers.sending(draft, by=user.id, now=runtime.clock.now())
    done = await carry_out(context, ticket, action, draft.text, _actor(user), hook)
    why = None if done.outcome.moved else await _unsent(runtime, draft)
    if why is not None:  # a double press (the other one sent it), or 返回 / a re-pick meanwhile
        await pop_up(query, popups(why))
        return
    text = _told(runtime, popups, action, done, user.full_name, draft.text)
    await _edit_pressed(query, text, None)
    after = done.outcome.ticket
    if done.outcome.moved:
        await pop_up(
            query, popups("abtn.popup_sent", id=after.id, status=popups.status(after.status))
        )
    else:
        await pop_up(query)


async def _draft_of(
    runtime: Runtime, chat_id: int, message_id: int, user_id: int, kind: str
) -> Draft | str:
    """The unused draft of that kind kept for a message of this person; else the pop-up's key:
    "已经发送过了" for a used one, "按钮已失效" when there is none (forgotten by 返回, pruned)
    or it is not this person's preview."""
    draft = await runtime.storage.answers.find_draft(chat_id, message_id)
    if draft is None or draft.kind != kind or draft.user_id != user_id:
        return "popup.invalid"
    if draft.used_at is not None:
        return "abtn.popup_used"
    return draft


async def _workable(
    runtime: Runtime, draft: Draft, user_id: int
) -> tuple[Ticket, AnswerAction] | str:
    """The draft's ticket and action, if the person still works that ticket's grid; else the
    pop-up's key."""
    ticket = await runtime.storage.tickets.get(draft.ticket_id)
    action = answer_action(draft.action)
    if ticket is None or action is None:
        return "popup.invalid"
    if not await works(runtime, user_id, ticket):
        return "popup.not_allowed"
    return ticket, action


async def _unsent(runtime: Runtime, draft: Draft) -> str | None:
    """Why the move with ``draft``'s hook may have been undone, as a pop-up's key: the draft
    used ("已经发送过了"), or gone or changed since it was read (返回, another template picked
    on the same message: "按钮已失效", nothing was sent). None: the draft is as read and
    unused, so the lifecycle refused the move (the caller says the status)."""
    found = await runtime.storage.answers.find_draft(draft.chat_id, draft.message_id)
    if found is not None and found.used_at is not None:
        return "abtn.popup_used"
    if found is None or replace(found, created_at=draft.created_at) != draft:
        return "popup.invalid"
    return None


async def _edit(context: LinliContext, query: CallbackQuery, popups: Texts) -> None:
    """[改一改]: the preview's draft moves to a new prompt (ForceReply) with its words."""
    runtime = context.runtime
    user, message = query.from_user, query.message
    assert message is not None
    found = await _draft_of(runtime, message.chat.id, message.message_id, user.id, PREVIEW)
    got = found if isinstance(found, str) else await _workable(runtime, found, user.id)
    if isinstance(got, str):
        await pop_up(query, popups(got))
        return
    draft = await runtime.storage.answers.claim_draft(
        message.chat.id, message.message_id, user.id, runtime.clock.now()
    )
    if draft is None:  # used or forgotten since it was read
        assert not isinstance(found, str)
        await pop_up(query, popups(await _unsent(runtime, found) or "abtn.popup_used"))
        return
    ticket, action = got
    try:  # the preview keeps its words, not its buttons: the prompt is the way on
        await query.edit_message_reply_markup(None)
    except TelegramError as exc:
        logger.info("preview's buttons not removed: %s", exc)
    await _prompt(context, user, ticket, action, draft.template_id, draft.text, popups)
    await pop_up(query)


async def _write(
    context: LinliContext,
    query: CallbackQuery,
    ticket: Ticket,
    action: AnswerAction,
    popups: Texts,
) -> None:
    """An action with no template: a prompt for one's own words."""
    if not may_answer(action, ticket):
        await pop_up(
            query, popups("popup.wrong_status", id=ticket.id, status=popups.status(ticket.status))
        )
        return
    await _prompt(context, query.from_user, ticket, action, None, "", popups)
    await pop_up(query)


async def _prompt(
    context: LinliContext,
    user: User,
    ticket: Ticket,
    action: AnswerAction,
    template_id: int | None,
    words: str,
    texts: Texts,
) -> None:
    """A private message with the words (a tap copies them) and a ForceReply; a draft."""
    runtime = context.runtime
    label = answers.action_name(action, texts)
    if words:
        text = texts("abtn.prompt", action=label, id=ticket.id, text=escape(words))
    else:
        text = texts("abtn.prompt_own", action=label, id=ticket.id)
    placeholder = texts("abtn.placeholder", action=label)[:PLACEHOLDER_CHARS]
    try:
        sent = await context.bot.send_message(
            user.id,
            fit(text),
            reply_markup=ForceReply(input_field_placeholder=placeholder),
        )
    except TelegramError as exc:
        logger.warning("prompt for ticket %s not sent to %s: %s", ticket.id, user.id, exc)
        return
    await runtime.storage.answers.draft(
        sent.chat_id,
        sent.message_id,
        user.id,
        ticket.id,
        action,
        template_id,
        words,
        runtime.clock.now(),
        kind=PROMPT,
    )


async def _edit_pressed(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    try:
        await query.edit_message_text(fit(text), reply_markup=markup)
    except TelegramError as exc:
        logger.info("ready answer message not edited: %s", exc)


# -- the reply to a prompt ----------------------------------------------------------------------


async def on_prompt_reply(update: Update, context: LinliContext) -> None:
    """The officer's words, replying to a prompt: sent once, as [发送] would. A reply to one
    of our prompts ends here (ApplicationHandlerStop: an open /care form does not also take it
    as its answer); any other reply passes on to the other handlers."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.reply_to_message is None:
        return
    replied = message.reply_to_message
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return
    runtime = context.runtime
    draft = await runtime.storage.answers.find_draft(message.chat_id, replied.message_id)
    if draft is not None and draft.kind == PROMPT:
        await _reply_to_prompt(context, message, user, draft)
        raise ApplicationHandlerStop
    if _unused_preview(draft, user.id) or (draft is None and _is_choice(replied)):
        # words replying to a preview or to the choice: not what is sent; say how
        await answer(message, texts_for(runtime, message)("abtn.reply_hint"))
        raise ApplicationHandlerStop
    # any other reply (to a used preview, to the care form's question…) passes on


def _unused_preview(draft: Draft | None, user_id: int) -> bool:
    return (
        draft is not None
        and draft.kind == PREVIEW
        and draft.user_id == user_id
        and draft.used_at is None
    )


def _is_choice(message: Message) -> bool:
    """The message shows the 💬 choice: its buttons pick a template or one's own words (sent
    by 💬 or /start answers_<ticket>, or a preview turned back by 返回). Not stored: its
    buttons, as Telegram gives the replied message, tell."""
    markup = message.reply_markup
    if markup is None:
        return False
    for row in markup.inline_keyboard:
        for button in row:
            parsed = callbacks.parse(button.callback_data)
            if isinstance(parsed, AnswerPress) and parsed.step in ("pick", "write"):
                return True
    return False


async def _reply_to_prompt(
    context: LinliContext, message: Message, user: User, draft: Draft
) -> None:
    runtime = context.runtime
    texts = texts_for(runtime, message)
    ticket = await runtime.storage.tickets.get(draft.ticket_id)
    action = answer_action(draft.action)
    if draft.user_id != user.id or ticket is None or action is None:
        await answer(message, texts("abtn.not_yours"))
        return
    if draft.used_at is not None:
        await answer(message, texts("abtn.already_sent", id=ticket.id))
        return
    if not await works(runtime, user.id, ticket):
        await answer(message, texts("officer.not_allowed", id=ticket.id))
        return
    words = (message.text or "").strip()[:TEXT_LIMIT]
    hook = runtime.storage.answers.sending(draft, by=user.id, now=runtime.clock.now())
    done = await carry_out(context, ticket, action, words, _actor(user), hook)
    if not done.outcome.moved and await _unsent(runtime, draft) is not None:
        await answer(message, texts("abtn.already_sent", id=ticket.id))  # a replay, a double
        return
    await answer(message, _told(runtime, texts, action, done, user.full_name, words))


# -- doing it -----------------------------------------------------------------------------------


async def carry_out(
    context: LinliContext,
    ticket: Ticket,
    action: AnswerAction,
    words: str,
    actor: Actor,
    then: OnMoved,
) -> Performed:
    """The action with these words, as its officer command does it (``perform``), and the
    receipt refreshed; ``then`` (``storage.answers.sending``) uses the draft and records the
    template's use inside the move, or undoes it when the draft was used already."""
    runtime = context.runtime
    current = await runtime.storage.tickets.get(ticket.id) or ticket
    if not may_answer(action, current):  # 受理 only while new (接单 would take it again)
        return Performed(Outcome(current, moved=False))
    said = spoken(action, words)
    done = await perform(
        context, ACTIONS[action], current, actor, said, public=POSTS[action], then=then
    )
    if done.outcome.moved:
        await refresh_receipt(context, done.outcome.ticket, before=current)
    return done


def _told(
    runtime: Runtime, texts: Texts, action: AnswerAction, done: Performed, name: str, words: str
) -> str:
    """What the officer reads after a send: the post as sent, or why nothing moved."""
    ticket = done.outcome.ticket
    if not done.outcome.moved:
        return wrong_status(texts, ticket, ACTIONS[action])
    public = public_text(runtime, action, ticket, name, words)
    return texts(
        "abtn.sent", action=answers.action_name(action, texts), id=ticket.id, public=public
    )


# -- /start answers_<ticket> --------------------------------------------------------------------


async def on_start(update: Update, context: LinliContext) -> None:
    """The deep link of a 💬 pressed before the private chat was started: the choice now."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    match = _START.match(message.text or "")
    number = ticket_number(match.group(1)) if match and match.group(1) else None
    ticket = await runtime.storage.tickets.get(number) if number is not None else None
    if ticket is None:
        await answer(message, texts("abtn.started"))
        return
    if not await works(runtime, user.id, ticket):
        await answer(message, texts("officer.not_allowed", id=ticket.id))
        return
    text, markup = await choice(runtime, ticket, texts, user.full_name)
    await answer(message, text, reply_markup=markup)
