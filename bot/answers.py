"""Ready answers (模板 / 快捷回复): the words of a template, its variables, the shipped defaults,
the automatic answer on opening, and the templates in memory (no telegram).

A template answers a ticket of one category (or of every category) for one action: ``open``
(受理: on opening, the automatic answer when its ``keywords`` match; by hand with 接单),
``progress`` (进展), ``done`` (办结), ``reject`` (退回). Its text may hold the variables of
:data:`VARIABLES` in braces; anything else in braces is refused when a template is saved or
loaded (``{{`` and ``}}`` are literal braces). Templates come from the categories file's
``[answers]`` and the shipped defaults (their words and the rules of a template's text live in
bot.categories, which checks the file; re-exported here), synced into the database at start by
:func:`sync` so that each has an id and a use count, and from ``/template add``.

The automatic answer must not slow intake: :class:`AnswerBook` keeps the templates in force in
memory (loaded at start, reloaded when this process changes them and at most a minute after
another did), and a category none of whose ``open`` templates has keywords is answered from
memory without a read.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.categories import (
    ANSWER_ACTION_WORDS as ACTION_WORDS,
)
from bot.categories import (
    ANSWER_ACTIONS as ACTIONS,
)
from bot.categories import (
    ANSWER_VARIABLES as VARIABLES,
)
from bot.categories import (
    DEFAULT_ANSWERS,
    DEFAULT_CONSULT_ANSWERS,
    AnswerError,
    CategoryCatalog,
    unbalanced_brace,
)
from bot.categories import EVERY_CATEGORY as EVERY
from bot.categories import answer_action as action_of
from bot.categories import checked_answer as check
from bot.categories import unknown_variables as validate
from bot.receipts import location_text
from storage import Storage, Ticket
from storage.answers import (
    EVERY_CATEGORY,
    AnswerTemplate,
    TemplateSpec,
    answer_automatically_in,
)
from storage.db import Conn
from storage.officers import officer_names_in
from storage.outbox import OutboxDraft
from storage.tickets import OnOpened

if TYPE_CHECKING:
    from bot.texts import Texts

__all__ = [
    "ACTIONS",
    "ACTION_KEYS",
    "ACTION_WORDS",
    "EVERY",
    "VARIABLES",
    "AnswerBook",
    "AnswerError",
    "Template",
    "action_name",
    "action_of",
    "auto_key",
    "auto_message",
    "book",
    "category_name",
    "check",
    "defaults",
    "file_templates",
    "first_words",
    "on_opening",
    "pick_auto",
    "render",
    "sync",
    "unbalanced_brace",
    "validate",
]

Template = AnswerTemplate  # a template in force, with its id (what the 💬 flow offers)
REFRESH = timedelta(minutes=1)  # the book reloads at most this long after another process


class Keyed(Protocol):
    """What :func:`pick_auto` reads of a template (stored or not)."""

    @property
    def category(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def keywords(self) -> tuple[str, ...]: ...


T = TypeVar("T", bound=Keyed)


def render(
    text: str,
    ticket: Ticket,
    catalog: CategoryCatalog,
    tz: ZoneInfo,
    officer_name: str,
    texts: Texts,
) -> str:
    """The template's text with the ticket's values (plain text, not HTML): {位置} the
    ticket's location or texts("answers.no_place"), {网格员} ``officer_name`` or
    texts("answers.officer_generic"), {办结时限} the resolution deadline in ``tz``."""
    category = catalog.get(ticket.category)
    number, kind, place, officer, deadline = VARIABLES  # the names, in their order
    values = {
        number: str(ticket.id),
        kind: category.tag if category else ticket.category,
        place: location_text(ticket, texts) or texts("answers.no_place"),
        officer: officer_name.strip() or texts("answers.officer_generic"),
        deadline: texts.moment(ticket.resolution_due, tz),
    }
    return text.format_map(values)


def pick_auto(templates: Iterable[T], category: str, report: str) -> T | None:
    """The automatic answer for a report of ``category``: among the ``open`` templates of that
    category (or of every category) with keywords, the one whose keywords found in the report
    cover most characters; a tie goes to the category's own, then to the first given. None
    when no keyword is found."""
    plain = report.casefold()
    best: T | None = None
    best_score = (0, False)
    for template in templates:
        if template.action != "open" or not template.keywords:
            continue
        if template.category not in (category, EVERY_CATEGORY):
            continue
        covered = sum(len(word) for word in set(template.keywords) if word.casefold() in plain)
        score = (covered, template.category == category)
        if covered and score > best_score:
            best, best_score = template, score
    return best


def auto_message(
    template: AnswerTemplate,
    ticket: Ticket,
    catalog: CategoryCatalog,
    tz: ZoneInfo,
    officers: Sequence[str],
    texts: Texts,
) -> OutboxDraft:
    """The automatic answer's message: in the ticket's group, replying to the report, saying
    it is automatic and that the ticket is still followed; once per ticket (its dedupe key)."""
    name = texts("text.list_separator").join(n for n in officers if n.strip())
    body = render(template.text, ticket, catalog, tz, name, texts)
    return OutboxDraft(
        chat_id=ticket.chat_id,
        kind="answer",
        not_before=ticket.created_at,
        text=texts("answers.auto", text=escape(body), ticket_id=ticket.id),
        payload={"reply_to": ticket.message_id, "thread_id": ticket.thread_id},
        ticket_id=ticket.id,
        dedupe_key=auto_key(ticket.id),
    )


def auto_key(ticket_id: int) -> str:
    return f"answer:auto:{ticket_id}"


# -- how a template is named in lists (/template list, /stats, the 💬 choice) ------------------

ACTION_KEYS: dict[str, str] = {
    "open": "answers.action_open",
    "progress": "answers.action_progress",
    "done": "answers.action_done",
    "reject": "answers.action_reject",
}
WORDS_SHOWN = 24  # characters of a template's text in a list


def action_name(action: str, texts: Texts) -> str:
    """受理 / 进展 / 办结 / 退回 (open / progress / done / reject in English)."""
    key = ACTION_KEYS.get(action)
    return texts(key) if key else action


def category_name(category: str, catalog: CategoryCatalog, texts: Texts) -> str:
    """A template's category as people read it: its tag, or 全部类别 for every category."""
    if category == EVERY_CATEGORY:
        return texts("answers.every")
    found = catalog.get(category)
    return found.tag if found else category


def first_words(text: str, size: int = WORDS_SHOWN) -> str:
    """The start of a template's text on one line, ``…`` when cut (plain text)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


# -- the defaults (their words: bot.categories.DEFAULT_ANSWERS) --------------------------------


def defaults(catalog: CategoryCatalog) -> tuple[TemplateSpec, ...]:
    """The shipped templates (bot.categories.DEFAULT_ANSWERS) for the categories in
    ``catalog`` and for every category, each with a stable ``file_key``
    (``default|<category or *>|<action>|<n>``); 咨询's automatic answers when it is there."""
    specs: list[TemplateSpec] = []
    for key, pairs in DEFAULT_ANSWERS.items():
        if key != EVERY and catalog.get(key) is None:
            continue
        category = EVERY_CATEGORY if key == EVERY else key
        for n, (action, text) in _numbered(pairs):
            specs.append(TemplateSpec(f"default|{key}|{action}|{n}", category, action, text))
    if catalog.get("consult") is not None:
        for n, (text, words) in enumerate(DEFAULT_CONSULT_ANSWERS, start=1):
            key = f"default|consult|open|{n}"
            specs.append(TemplateSpec(key, "consult", "open", text, words))
    return tuple(specs)


def _numbered(pairs: Sequence[tuple[str, str]]) -> Iterable[tuple[int, tuple[str, str]]]:
    """Each pair with its number among those of its action (1, 2 … per action)."""
    seen: dict[str, int] = {}
    for action, text in pairs:
        seen[action] = seen.get(action, 0) + 1
        yield seen[action], (action, text)


def file_templates(catalog: CategoryCatalog) -> tuple[TemplateSpec, ...]:
    """What is synced at start: the defaults (unless the file's ``[answers]`` replaces them)
    and the file's templates, keyed ``file|key:<its key>`` when the file names one, else
    ``file|text:<hash of category, action and text>`` (bot.categories.AnswerEntry.key): not by
    position, so reordering the file, or dropping a template an admin removed, moves no use
    count and brings back nothing that was removed."""
    shipped = () if catalog.answers_replace_defaults else defaults(catalog)
    own = tuple(
        TemplateSpec(f"file|{entry.key}", entry.category, entry.action, entry.text, entry.keywords)
        for entry in catalog.answers
    )
    return (*shipped, *own)


# -- the templates in memory ------------------------------------------------------------------


class AnswerBook:
    """The templates in force, in memory, for the automatic answer (one per Storage)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._loaded_at: datetime | None = None
        self._templates: tuple[AnswerTemplate, ...] = ()
        self._keyed: dict[str, tuple[AnswerTemplate, ...]] = {}  # category → open with keywords

    @property
    def templates(self) -> tuple[AnswerTemplate, ...]:
        return self._templates

    async def load(self, now: datetime) -> None:
        """Read the templates in force now (start, a change by this process, each minute)."""
        self._set(await self._storage.answers.active(), now)

    def forget(self) -> None:
        """Read again at the next use (this process changed the templates)."""
        self._loaded_at = None

    def _set(self, templates: Sequence[AnswerTemplate], now: datetime) -> None:
        self._templates = tuple(templates)
        keyed: dict[str, list[AnswerTemplate]] = {}
        for template in self._templates:
            if template.action == "open" and template.keywords:
                keyed.setdefault(template.category, []).append(template)
        self._keyed = {category: tuple(found) for category, found in keyed.items()}
        self._loaded_at = now

    def _fresh(self, now: datetime) -> bool:
        loaded = self._loaded_at
        return loaded is not None and loaded <= now < loaded + REFRESH

    async def refresh(self, now: datetime) -> None:
        """Read the templates again when the book is older than a minute."""
        if not self._fresh(now):
            await self.load(now)

    @property
    def has_keywords(self) -> bool:
        return bool(self._keyed)

    def keyed(self, category: str) -> tuple[AnswerTemplate, ...]:
        """The ``open`` templates with keywords for ``category`` and for every category, as
        last read (no read: also called in the engine's thread)."""
        return (*self._keyed.get(category, ()), *self._keyed.get(EVERY_CATEGORY, ()))

    async def candidates(self, category: str, now: datetime) -> tuple[AnswerTemplate, ...]:
        """The ``open`` templates with keywords for ``category`` (and every category); from
        memory, read again only when the book is older than a minute."""
        await self.refresh(now)
        return self.keyed(category)

    async def pick(self, category: str, report: str, now: datetime) -> AnswerTemplate | None:
        """The automatic answer for a report (:func:`pick_auto` over :meth:`candidates`)."""
        found = await self.candidates(category, now)
        return pick_auto(found, category, report) if found else None


_BOOKS: weakref.WeakKeyDictionary[Storage, AnswerBook] = weakref.WeakKeyDictionary()


def book(storage: Storage) -> AnswerBook:
    """The in-memory templates of this process's database."""
    found = _BOOKS.get(storage)
    if found is None:
        found = _BOOKS[storage] = AnswerBook(storage)
    return found


async def sync(storage: Storage, catalog: CategoryCatalog, now: datetime) -> None:
    """At start: the file's and default templates into the database, then into memory."""
    await storage.answers.sync_file(file_templates(catalog), now)
    await book(storage).load(now)


async def on_opening(
    storage: Storage, catalog: CategoryCatalog, tz: ZoneInfo, texts: Texts, now: datetime
) -> OnOpened | None:
    """What a new ticket owes besides its receipt, queued in its opening transaction
    (storage.tickets.OnOpened): when an ``open`` template of its category has keywords found
    in the report, its automatic answer in the group (replying to the report) and the use, once
    per ticket — so neither a replay nor a crash between two transactions can double or lose
    it. Decided from memory (the book is read again when older than a minute); None when no
    template has keywords at all. {网格员} is the grid's officers' names."""
    current = book(storage)
    await current.refresh(now)
    if not current.has_keywords:
        return None

    def then(conn: Conn, ticket: Ticket) -> None:
        template = pick_auto(current.keyed(ticket.category), ticket.category, ticket.text)
        if template is None:
            return
        officers = officer_names_in(conn, ticket.grid_id)
        message = auto_message(template, ticket, catalog, tz, officers, texts)
        answer_automatically_in(
            conn, template.id, ticket_id=ticket.id, grid_id=ticket.grid_id, message=message, now=now
        )

    return then
