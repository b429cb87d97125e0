"""Persistence on SQLite or PostgreSQL. Never imports telegram, handlers or bot."""

from __future__ import annotations

from pathlib import Path

from storage.answers import AnswerRepository, AnswerTemplate, Draft, TemplateSpec
from storage.care import CareRepository
from storage.db import Database, SchemaTooNewError, UpdateScope, handling, is_url, open_database
from storage.grids import GridRepository, GridTakenError, UnknownUnitError
from storage.inbox import InboxItem, InboxRepository
from storage.ledger import LedgerRepository
from storage.metrics import MetricsRepository
from storage.models import ChatBinding, GridInfo, MediaItem, NewTicket, Ticket, TicketEvent
from storage.notices import NoticeRepository
from storage.offers import Acceptance, Offer, OfferCounts, OfferDraft, OfferRepository, OfferStatus
from storage.officers import OfficerRepository
from storage.outbox import OutboxDraft, OutboxItem, OutboxRepository
from storage.schedule import ScheduleRepository
from storage.tickets import EventDraft, TicketChange, TicketFilter, TicketRepository
from storage.updates import HandledUpdates
from storage.votes import VoteRepository
from storage.web import AuditEntry, WebLogin, WebRepository, WebSession

__all__ = [
    "Acceptance",
    "AnswerRepository",
    "AnswerTemplate",
    "AuditEntry",
    "CareRepository",
    "ChatBinding",
    "Database",
    "Draft",
    "EventDraft",
    "GridInfo",
    "GridRepository",
    "GridTakenError",
    "HandledUpdates",
    "InboxItem",
    "InboxRepository",
    "LedgerRepository",
    "MediaItem",
    "MetricsRepository",
    "NewTicket",
    "NoticeRepository",
    "Offer",
    "OfferCounts",
    "OfferDraft",
    "OfferRepository",
    "OfferStatus",
    "OfficerRepository",
    "OutboxDraft",
    "OutboxItem",
    "OutboxRepository",
    "ScheduleRepository",
    "SchemaTooNewError",
    "Storage",
    "TemplateSpec",
    "Ticket",
    "TicketChange",
    "TicketEvent",
    "TicketFilter",
    "TicketRepository",
    "UnknownUnitError",
    "UpdateScope",
    "VoteRepository",
    "WebLogin",
    "WebRepository",
    "WebSession",
    "handling",
    "is_url",
    "open_database",
]


class Storage:
    """The database and its repositories, opened once per process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.grids = GridRepository(db)
        self.tickets = TicketRepository(db)
        self.notices = NoticeRepository(db)
        self.offers = OfferRepository(db)
        self.officers = OfficerRepository(db)
        self.outbox = OutboxRepository(db)
        self.schedule = ScheduleRepository(db)
        self.metrics = MetricsRepository(db)
        self.ledger = LedgerRepository(db)
        self.updates = HandledUpdates(db)
        self.inbox = InboxRepository(db)
        self.web = WebRepository(db)
        self.care = CareRepository(db)
        self.votes = VoteRepository(db)
        self.answers = AnswerRepository(db)

    @classmethod
    async def open(
        cls, target: Path | str, *, migrate: bool = True, create: bool = True
    ) -> Storage:
        """SQLite at a path, PostgreSQL at a ``postgresql://`` URL (:func:`open_database`)."""
        return cls(await open_database(target, migrate=migrate, create=create))

    async def close(self) -> None:
        await self.outbox.settle()  # the marks of messages sent are written first
        await self.db.close()
