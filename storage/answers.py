"""Ready answers (模板 / 快捷回复): the templates, each use of one, and the 💬 flow's drafts.

Templates come from two places: the categories file and the shipped defaults (``source =
'file'``, each with a stable ``file_key``; :meth:`AnswerRepository.sync_file` upserts them at
start and marks the ones gone ``deleted_at``) and ``/template add`` (``source = 'chat'``). A
deleted template keeps its row, so its uses still count. A use is one row of ``answer_uses``;
the automatic answer on opening queues its message and records its use in one transaction,
under the dedupe key ``answer:auto:<ticket id>``, so a replay or a restart does both once. A
draft (a preview or a ForceReply prompt of the 💬 flow) is used once (``UPDATE … WHERE used_at IS
NULL``): to send, by :meth:`AnswerRepository.sending`, a hook run in the ticket's move
(storage.tickets.OnMoved) that uses the draft and records the template's use in the move's own
transaction — a draft used already, forgotten (↩️返回) or changed since it was read (another
template picked on the same message) undoes the move — so a double press or a replay moves the
ticket once, and a crash before that commit leaves the draft unused, to send again. The post
to the resident is the caller's direct send after that commit, as for the officer commands: a
crash between the commit and the post loses the post (the ticket moved, the draft used; the
receipt shows the new status). :meth:`claim_draft` uses one by itself, outside any move (改一改:
a crash before its prompt is sent leaves the officer to press 💬 again).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import AsyncConn, Conn, Database, Row, from_db_time, time_at, to_db_time
from storage.models import Ticket
from storage.outbox import OutboxDraft, queue_in
from storage.tickets import OnMoved

EVERY_CATEGORY = ""  # a template's category meaning every category ("*" in the file)
PREVIEW, PROMPT = "preview", "prompt"  # a draft's kind: a preview with [发送], a ForceReply prompt


@dataclass(frozen=True)
class TemplateSpec:
    """A template of the categories file or of the shipped defaults, as synced at start."""

    file_key: str  # stable: "<origin>|<category>|<action>|<n>"
    category: str  # a category key, or EVERY_CATEGORY
    action: str  # open | progress | done | reject
    text: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerTemplate:
    id: int
    category: str  # a category key, or EVERY_CATEGORY
    action: str
    text: str
    keywords: tuple[str, ...]
    source: str  # 'file' | 'chat'
    file_key: str | None
    created_by: int | None
    created_at: datetime
    deleted_at: datetime | None = None
    uses: int = 0  # filled by list() and top(); 0 elsewhere

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @classmethod
    def from_row(cls, row: Row, uses: int = 0) -> AnswerTemplate:
        return cls(
            id=row["id"],
            category=row["category"],
            action=row["action"],
            text=row["text"],
            keywords=tuple(json.loads(row["keywords"])),
            source=row["source"],
            file_key=row["file_key"],
            created_by=row["created_by"],
            created_at=time_at(row, "created_at"),
            deleted_at=from_db_time(row["deleted_at"]),
            uses=uses,
        )


@dataclass(frozen=True)
class Draft:
    """A preview or a ForceReply prompt of the 💬 flow (its private chat and message)."""

    id: int
    chat_id: int
    message_id: int
    user_id: int
    ticket_id: int
    action: str
    template_id: int | None
    text: str
    created_at: datetime
    used_at: datetime | None
    kind: str = PROMPT  # PREVIEW (sent by its [发送]) or PROMPT (sent by a reply to it)

    @classmethod
    def from_row(cls, row: Row) -> Draft:
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            user_id=row["user_id"],
            ticket_id=row["ticket_id"],
            action=row["action"],
            template_id=row["template_id"],
            text=row["text"],
            created_at=time_at(row, "created_at"),
            used_at=from_db_time(row["used_at"]),
            kind=row["kind"],
        )


@dataclass(frozen=True)
class SyncResult:
    added: int = 0
    changed: int = 0
    removed: int = 0


class AnswerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- templates ------------------------------------------------------------------------------

    async def sync_file(self, templates: Sequence[TemplateSpec], now: datetime) -> SyncResult:
        """Make the file/default templates in the database exactly ``templates`` (by
        ``file_key``): new ones added, changed ones updated (a deleted one comes back), the
        ones no longer given marked deleted. One transaction."""
        return await self._db.atomic(lambda conn: _sync(conn, templates, now))

    async def add(
        self,
        category: str,
        action: str,
        text: str,
        keywords: Sequence[str],
        by: int | None,
        now: datetime,
    ) -> int:
        """A template written in the chat (/template add); its id."""
        return await self._db.atomic(
            lambda conn: int(
                conn.execute(
                    "INSERT INTO answer_templates (category, action, text, keywords, source,"
                    " created_by, created_at) VALUES (?, ?, ?, ?, 'chat', ?, ?) RETURNING id",
                    (category, action, text, _keywords(keywords), by, to_db_time(now)),
                ).fetchone()[0]
            )
        )

    async def delete(self, template_id: int, now: datetime, by: int | None = None) -> bool:
        """Mark a template deleted (its uses still count); False if none or deleted already.
        A file or default template deleted ``by`` someone stays deleted at the next start."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE answer_templates SET deleted_at = ?, deleted_by = ?"
                " WHERE id = ? AND deleted_at IS NULL",
                (to_db_time(now), by, template_id),
            )
            return cursor.rowcount > 0

    async def get(self, template_id: int) -> AnswerTemplate | None:
        """A template by id, deleted or not (``deleted_at`` says)."""
        row = await self._db.fetch_one(
            "SELECT * FROM answer_templates WHERE id = ?", (template_id,)
        )
        return None if row is None else AnswerTemplate.from_row(row)

    async def list(
        self, category: str | None = None, action: str | None = None
    ) -> builtins.list[AnswerTemplate]:
        """The templates in force with their use counts (all time), by category, action, id.
        ``category`` given: that category's and the every-category ones."""
        where, params = _filter(category, action)
        rows = await self._db.fetch_all(
            f"SELECT {_WITH_USES} WHERE t.deleted_at IS NULL{where}"
            f" GROUP BY {_GROUP} ORDER BY t.category, t.action, t.id",
            params,
        )
        return [AnswerTemplate.from_row(row, int(row["uses"])) for row in rows]

    async def top(
        self, category: str, action: str, limit: int = 3
    ) -> builtins.list[AnswerTemplate]:
        """The ``limit`` templates in force for a category (every-category ones included) and
        action, used most first, then the oldest."""
        where, params = _filter(category, action)
        rows = await self._db.fetch_all(
            f"SELECT {_WITH_USES} WHERE t.deleted_at IS NULL{where}"
            f" GROUP BY {_GROUP} ORDER BY COUNT(u.id) DESC, t.id LIMIT ?",
            (*params, limit),
        )
        return [AnswerTemplate.from_row(row, int(row["uses"])) for row in rows]

    async def active(self) -> builtins.list[AnswerTemplate]:
        """Every template in force (the in-memory book's refresh), by id."""
        rows = await self._db.fetch_all(
            "SELECT * FROM answer_templates WHERE deleted_at IS NULL ORDER BY id"
        )
        return [AnswerTemplate.from_row(row) for row in rows]

    # -- uses -----------------------------------------------------------------------------------

    async def record_use(
        self,
        template_id: int,
        *,
        ticket_id: int,
        grid_id: int,
        action: str,
        auto: bool,
        by: int | None,
        now: datetime,
    ) -> None:
        """One use of a template on a ticket (a send of the 💬 flow)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                _USE, (template_id, ticket_id, grid_id, action, int(auto), by, to_db_time(now))
            )

    async def answer_automatically(
        self, template_id: int, *, ticket_id: int, grid_id: int, message: OutboxDraft, now: datetime
    ) -> bool:
        """:func:`answer_automatically_in` in a transaction of its own."""
        return await self._db.atomic(
            lambda conn: answer_automatically_in(
                conn, template_id, ticket_id=ticket_id, grid_id=grid_id, message=message, now=now
            )
        )

    async def uses(
        self,
        start: datetime,
        end: datetime,
        grid_ids: Collection[int] | None = None,
        limit: int = 5,
    ) -> builtins.list[tuple[AnswerTemplate, int]]:
        """The templates used most in ``[start, end)`` in those grids (None: every grid), with
        their counts, most first, then by id; deleted templates included (they were used)."""
        where, params = "", ()  # type: tuple[str, Sequence[Any]]
        if grid_ids is not None:
            ids = list(grid_ids)
            if not ids:
                return []
            where, params = f" AND u.grid_id IN ({', '.join('?' for _ in ids)})", ids
        rows = await self._db.fetch_all(
            f"SELECT t.*, COUNT(u.id) AS uses FROM answer_uses u"  # noqa: S608 - fixed SQL
            " JOIN answer_templates t ON t.id = u.template_id"
            f" WHERE u.used_at >= ? AND u.used_at < ?{where}"
            f" GROUP BY {_GROUP} ORDER BY COUNT(u.id) DESC, t.id LIMIT ?",
            (to_db_time(start), to_db_time(end), *params, limit),
        )
        return [(AnswerTemplate.from_row(row, int(row["uses"])), int(row["uses"])) for row in rows]

    # -- drafts of the 💬 flow --------------------------------------------------------------------

    async def draft(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        ticket_id: int,
        action: str,
        template_id: int | None,
        text: str,
        now: datetime,
        *,
        kind: str = PROMPT,
    ) -> Draft:
        """Keep a preview or prompt (``kind``) sent as ``message_id`` in ``chat_id`` (one per
        message: the same message again replaces an unused draft's text, template, action)."""
        if kind not in (PREVIEW, PROMPT):
            raise ValueError(f"a draft is a {PREVIEW} or a {PROMPT}, not {kind!r}")
        row = await self._db.atomic(
            lambda conn: conn.execute(
                "INSERT INTO answer_drafts (chat_id, message_id, user_id, ticket_id, action,"
                " template_id, text, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id, message_id) DO UPDATE SET action = excluded.action,"
                " template_id = excluded.template_id, text = excluded.text,"
                " ticket_id = excluded.ticket_id, user_id = excluded.user_id,"
                " kind = excluded.kind, created_at = excluded.created_at"
                " WHERE answer_drafts.used_at IS NULL RETURNING *",
                (
                    chat_id,
                    message_id,
                    user_id,
                    ticket_id,
                    action,
                    template_id,
                    text,
                    to_db_time(now),
                    kind,
                ),
            ).fetchone()
        )
        if row is None:  # the message's draft was used already: it stays as it was
            found = await self.find_draft(chat_id, message_id)
            assert found is not None
            return found
        return Draft.from_row(row)

    async def find_draft(self, chat_id: int, message_id: int) -> Draft | None:
        """The draft kept for a message, used or not (a reply to a used prompt: 已发送过)."""
        row = await self._db.fetch_one(
            "SELECT * FROM answer_drafts WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return None if row is None else Draft.from_row(row)

    async def claim_draft(
        self, chat_id: int, message_id: int, user_id: int, now: datetime
    ) -> Draft | None:
        """Use a draft once: the draft if this call used it (its ``user_id`` must be
        ``user_id``), None if there is none, it is another's, or it was used already."""
        row = await self._db.atomic(
            lambda conn: conn.execute(
                "UPDATE answer_drafts SET used_at = ? WHERE chat_id = ? AND message_id = ?"
                " AND user_id = ? AND used_at IS NULL RETURNING *",
                (to_db_time(now), chat_id, message_id, user_id),
            ).fetchone()
        )
        return None if row is None else Draft.from_row(row)

    def sending(self, draft: Draft, *, by: int, now: datetime) -> OnMoved:
        """The hook for the ticket's move that sends ``draft`` (storage.tickets.OnMoved): in
        the move's transaction it uses the draft (only ``by``'s, once, and only as read: the
        same words and template) and records its template's use on the ticket as moved; a
        draft used already (a double press, a replay), forgotten or changed undoes the move."""

        async def then(conn: AsyncConn, ticket: Ticket) -> bool:
            return await use_draft_in(conn, draft, by=by, ticket=ticket, now=now)

        return then

    async def void_draft(self, chat_id: int, message_id: int, user_id: int) -> bool:
        """Forget an unused draft of ``user_id`` (a preview left with ↩️返回): its message
        sends nothing any more. False when there was none to forget."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM answer_drafts WHERE chat_id = ? AND message_id = ? AND user_id = ?"
                " AND used_at IS NULL",
                (chat_id, message_id, user_id),
            )
            return cursor.rowcount > 0

    async def forget_drafts(self, *, made_before: datetime, used_before: datetime) -> int:
        """The tick's pruning: drafts made before ``made_before`` (used or not) and those used
        before ``used_before``; how many went."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM answer_drafts WHERE created_at < ? OR used_at < ?",
                (to_db_time(made_before), to_db_time(used_before)),
            )
            return cursor.rowcount


async def use_draft_in(
    conn: AsyncConn, draft: Draft, *, by: int, ticket: Ticket, now: datetime
) -> bool:
    """Inside the caller's transaction (a ticket's move): use ``draft`` once (it must be
    ``by``'s, and still as read: a preview's message re-picked meanwhile holds other words)
    and record its template's use on ``ticket``; False when it was used already, is gone
    (↩️返回, pruned) or was changed since ``draft`` was read."""
    stamp = to_db_time(now)
    cursor = await conn.execute(
        "UPDATE answer_drafts SET used_at = ? WHERE id = ? AND user_id = ? AND used_at IS NULL"
        " AND kind = ? AND ticket_id = ? AND action = ? AND template_id IS ? AND text = ?",
        (
            stamp,
            draft.id,
            by,
            draft.kind,
            draft.ticket_id,
            draft.action,
            draft.template_id,
            draft.text,
        ),
    )
    if cursor.rowcount == 0:
        return False
    if draft.template_id is not None:
        await conn.execute(
            _USE, (draft.template_id, ticket.id, ticket.grid_id, draft.action, 0, by, stamp)
        )
    return True


_GROUP = (
    "t.id, t.category, t.action, t.text, t.keywords, t.source, t.file_key, t.created_by,"
    " t.created_at, t.deleted_at, t.deleted_by"
)
_WITH_USES = (
    f"{_GROUP}, COUNT(u.id) AS uses FROM answer_templates t"
    " LEFT JOIN answer_uses u ON u.template_id = t.id"
)
_USE = (
    "INSERT INTO answer_uses (template_id, ticket_id, grid_id, action, auto, used_by, used_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _keywords(words: Sequence[str]) -> str:
    return json.dumps(list(words), ensure_ascii=False)


def _filter(category: str | None, action: str | None) -> tuple[str, list[Any]]:
    where, params = "", []  # type: tuple[str, list[Any]]
    if category is not None:
        where += " AND t.category IN (?, ?)"
        params += [category, EVERY_CATEGORY]
    if action is not None:
        where += " AND t.action = ?"
        params.append(action)
    return where, params


def _sync(conn: Conn, templates: Sequence[TemplateSpec], now: datetime) -> SyncResult:
    stamp = to_db_time(now)
    known = {
        row["file_key"]: row
        for row in conn.execute(
            "SELECT * FROM answer_templates WHERE file_key IS NOT NULL"
        ).fetchall()
    }
    added = changed = removed = 0
    given: set[str] = set()
    for spec in templates:
        given.add(spec.file_key)
        keywords = _keywords(spec.keywords)
        row = known.get(spec.file_key)
        if row is None:
            # another instance starting at the same time may have added it: then it is there
            added += conn.execute(
                "INSERT INTO answer_templates (category, action, text, keywords, source,"
                " file_key, created_at) VALUES (?, ?, ?, ?, 'file', ?, ?)"
                " ON CONFLICT (file_key) DO NOTHING",
                (spec.category, spec.action, spec.text, keywords, spec.file_key, stamp),
            ).rowcount
            continue
        # removed by someone (/template del): it stays removed; by an earlier sync: it is back
        deleted = row["deleted_at"] if row["deleted_by"] is not None else None
        now_is = (row["category"], row["action"], row["text"], row["keywords"], row["deleted_at"])
        if now_is != (spec.category, spec.action, spec.text, keywords, deleted):
            conn.execute(
                "UPDATE answer_templates SET category = ?, action = ?, text = ?, keywords = ?,"
                " deleted_at = ? WHERE id = ?",
                (spec.category, spec.action, spec.text, keywords, deleted, row["id"]),
            )
            changed += 1
    for key, row in known.items():  # no longer in the file: removed (by the sync)
        if key not in given and row["deleted_at"] is None:
            conn.execute(
                "UPDATE answer_templates SET deleted_at = ? WHERE id = ?", (stamp, row["id"])
            )
            removed += 1
    return SyncResult(added, changed, removed)


def answer_automatically_in(
    conn: Conn,
    template_id: int,
    *,
    ticket_id: int,
    grid_id: int,
    message: OutboxDraft,
    now: datetime,
) -> bool:
    """Queue the automatic answer on opening and record its use (auto), inside the caller's
    transaction (the ticket's own: storage.tickets.OnOpened), once per ticket: False (nothing
    done) when ``message``'s dedupe key was queued before."""
    if not queue_in(conn, message, now):
        return False
    conn.execute(_USE, (template_id, ticket_id, grid_id, "open", 1, None, to_db_time(now)))
    return True
