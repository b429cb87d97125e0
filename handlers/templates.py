"""/template list|add|del: the ready answers (模板) as officers see them and admins edit them.

``/template list [类别] [动作]`` (officers, staff and admins: ids, category, action, first
words, use counts; asked in a group, the list goes to the asker's private chat and the group
reads one line, as with /my), ``/template add 类别 动作 文本…`` and ``/template del N``
(ADMIN_IDS only).
The rules of a template's words are bot.categories' (the file's templates obey the same);
a change here reloads this process's templates in memory (bot.answers.book).
"""

from __future__ import annotations

import logging
from html import escape

from telegram import Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler

from bot import answers
from bot.categories import ANSWER_TEXT_MAX, AnswerError, CategoryCatalog, unbalanced_brace
from bot.context import LinliApp, LinliContext, Runtime
from bot.fit import fit, split
from bot.links import start_link
from bot.texts import Texts
from handlers.common import answer, is_anonymous_admin, is_private, role_for, texts_for
from storage import AnswerTemplate

logger = logging.getLogger(__name__)

GROUP = 0
START_PAYLOAD = "templates"  # the link of "open a chat with me first"


def register(app: LinliApp) -> None:
    app.add_handler(CommandHandler("template", on_template), group=GROUP)


def _variables() -> str:
    return " ".join("{" + v + "}" for v in answers.VARIABLES)


async def on_template(update: Update, context: LinliContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    texts = texts_for(runtime, message)
    words = (message.text or "").split(maxsplit=2)
    sub = words[1].casefold() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if sub == "list":
        await _list(message, context, texts, rest.split())
    elif sub == "add":
        await _add(message, runtime, texts, rest)
    elif sub in ("del", "delete", "rm"):
        await _delete(message, runtime, texts, rest.split())
    else:
        await answer(message, texts("answers.usage", variables=escape(_variables())))


async def _may_read(message: Message, runtime: Runtime) -> bool:
    """Officers, staff and admins: of this group's grid in a grid group, of any grid elsewhere."""
    user = message.from_user
    if runtime.roles.is_admin(user.id if user else None):
        return True
    if not is_private(message):
        binding = await runtime.storage.grids.active_binding(message.chat_id)
        if binding is not None and binding.is_grid and binding.grid_id is not None:
            grid = await runtime.storage.grids.grid(binding.grid_id)
            if grid is not None and (await role_for(runtime, message, grid)).works_tickets:
                return True
    if user is None or is_anonymous_admin(message):
        return False
    return await runtime.roles.workable_grids(user.id) != []


def _may_edit(message: Message, runtime: Runtime) -> bool:
    user = message.from_user
    return not is_anonymous_admin(message) and runtime.roles.is_admin(user.id if user else None)


def _category(word: str, catalog: CategoryCatalog) -> str | None:
    """A category key for a word (tag, alias or key; ``#`` allowed), '' for ``*``, or None."""
    word = word.strip().lstrip("#＃")
    if word == answers.EVERY:
        return ""
    found = catalog.by_word(word) or catalog.get(word)
    return found.key if found else None


def _known_categories(catalog: CategoryCatalog, texts: Texts) -> str:
    return texts("text.list_separator").join(c.tag for c in catalog)


def _known_actions(texts: Texts) -> str:
    return texts("text.list_separator").join(answers.action_name(a, texts) for a in answers.ACTIONS)


async def _list(message: Message, context: LinliContext, texts: Texts, args: list[str]) -> None:
    runtime = context.runtime
    if not await _may_read(message, runtime):
        await answer(message, texts("answers.not_allowed"))
        return
    category: str | None = None
    action: str | None = None
    for word in args:
        found_action = answers.action_of(word)
        if found_action is not None and action is None:
            action = found_action
            continue
        found = _category(word, runtime.catalog)
        if found is None:
            await answer(
                message,
                texts(
                    "answers.unknown_category",
                    word=escape(word),
                    known=escape(_known_categories(runtime.catalog, texts)),
                ),
            )
            return
        category = found
    templates = await runtime.storage.answers.list(category or None, action)
    if category == "":  # `*`: the every-category ones only
        templates = [t for t in templates if not t.category]
    if not templates:
        await answer(message, texts("answers.list_empty"))
        return
    user = message.from_user
    if is_private(message) or user is None or is_anonymous_admin(message):
        for part in _listed(templates, runtime.catalog, texts):
            await answer(message, part)
        return
    # in a group: the list is long and for officers only; it goes privately, the group reads a line
    reader = runtime.texts_for(user.language_code, private=True)
    try:
        for part in _listed(templates, runtime.catalog, reader):
            await context.bot.send_message(user.id, fit(part))
    except (Forbidden, BadRequest) as exc:  # never started a chat with us, or blocked us
        logger.info("template list not delivered to %s: %s", user.id, exc)
        link = start_link(context.bot.username, START_PAYLOAD)
        await answer(message, texts("answers.list_cannot_dm", link=link))
        return
    except TelegramError as exc:
        logger.warning("template list to %s failed: %s", user.id, exc)
        return
    await answer(message, texts("answers.list_private", count=len(templates)))


def _listed(templates: list[AnswerTemplate], catalog: CategoryCatalog, texts: Texts) -> list[str]:
    lines = [texts("answers.list_title", count=len(templates))]
    lines += [_line(t, catalog, texts) for t in templates]
    return split("\n".join(lines))


def _line(template: AnswerTemplate, catalog: CategoryCatalog, texts: Texts) -> str:
    line = texts(
        "answers.list_line",
        id=template.id,
        category=escape(answers.category_name(template.category, catalog, texts)),
        action=answers.action_name(template.action, texts),
        words=escape(answers.first_words(template.text)),
        uses=template.uses,
    )
    if template.keywords:
        shown = texts("text.list_separator").join(template.keywords)
        line += "\n" + texts("answers.list_keywords", words=escape(shown))
    return line


async def _add(message: Message, runtime: Runtime, texts: Texts, rest: str) -> None:
    if not _may_edit(message, runtime):
        await answer(message, texts("answers.admins_only"))
        return
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        await answer(message, texts("answers.usage", variables=escape(_variables())))
        return
    category_word, action_word, text = parts
    category = _category(category_word, runtime.catalog)
    if category is None:
        await answer(
            message,
            texts(
                "answers.unknown_category",
                word=escape(category_word),
                known=escape(_known_categories(runtime.catalog, texts)),
            ),
        )
        return
    action = answers.action_of(action_word)
    if action is None:
        await answer(
            message,
            texts(
                "answers.unknown_action",
                word=escape(action_word),
                known=escape(_known_actions(texts)),
            ),
        )
        return
    refused = _refusal(text, texts)
    if refused is not None:
        await answer(message, refused)
        return
    user = message.from_user
    now = runtime.clock.now()
    kept = answers.check(text)
    new_id = await runtime.storage.answers.add(
        category, action, kept, (), user.id if user else None, now
    )
    answers.book(runtime.storage).forget()
    await answer(
        message,
        texts(
            "answers.added",
            id=new_id,
            category=escape(answers.category_name(category, runtime.catalog, texts)),
            action=answers.action_name(action, texts),
            text=escape(kept),
        ),
    )


def _refusal(text: str, texts: Texts) -> str | None:
    """Why a template's text cannot be saved, in the reader's words; None when it can."""
    lone = unbalanced_brace(text)
    if lone is not None:
        return texts("answers.unbalanced_brace", brace=lone)
    unknown = answers.validate(text)
    if unknown:
        return texts(
            "answers.unknown_variable",
            names=escape(" ".join("{" + u + "}" for u in unknown)),
            allowed=escape(_variables()),
        )
    try:
        answers.check(text)
    except AnswerError:
        if not text.strip():
            return texts("answers.empty_text")
        return texts("answers.too_long", limit=ANSWER_TEXT_MAX)
    return None


async def _delete(message: Message, runtime: Runtime, texts: Texts, args: list[str]) -> None:
    if not _may_edit(message, runtime):
        await answer(message, texts("answers.admins_only"))
        return
    number = args[0].lstrip("#") if args else ""
    if not number.isdigit():
        await answer(message, texts("answers.usage", variables=escape(_variables())))
        return
    template_id = int(number)
    user = message.from_user
    by = user.id if user else None
    if not await runtime.storage.answers.delete(template_id, runtime.clock.now(), by):
        await answer(message, texts("answers.not_found", id=template_id))
        return
    answers.book(runtime.storage).forget()
    await answer(message, texts("answers.deleted", id=template_id))
