"""Persistence on aiosqlite. Never imports telegram, handlers or bot."""

from __future__ import annotations

from pathlib import Path

from storage.db import Database, SchemaTooNewError
from storage.grids import GridRepository, GridTakenError, UnknownUnitError
from storage.models import ChatBinding, MediaItem, NewTicket, Ticket, TicketEvent
from storage.notices import NoticeRepository
from storage.tickets import TicketChange, TicketRepository

__all__ = [
    "ChatBinding",
    "Database",
    "GridRepository",
    "GridTakenError",
    "MediaItem",
    "NewTicket",
    "NoticeRepository",
    "SchemaTooNewError",
    "Storage",
    "Ticket",
    "TicketChange",
    "TicketEvent",
    "TicketRepository",
    "UnknownUnitError",
]


class Storage:
    """The database and its repositories, opened once per process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.grids = GridRepository(db)
        self.tickets = TicketRepository(db)
        self.notices = NoticeRepository(db)

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Storage:
        return cls(await Database.open(path, migrate=migrate))

    async def close(self) -> None:
        await self.db.close()
