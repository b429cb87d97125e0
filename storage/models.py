"""Rows as frozen dataclasses; repositories return these and nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from storage.db import Row, from_db_time
from storage.vocabulary import OPEN_STATUSES, Satisfaction, Status


def _time(row: Row, key: str) -> datetime:
    value = from_db_time(row[key])
    if value is None:
        raise ValueError(f"{key} is empty")
    return value


@dataclass(frozen=True)
class ChatBinding:
    chat_id: int
    title: str
    kind: str  # 'grid' | 'supervisor'
    active: bool
    grid_id: int | None
    grid_name: str | None
    community_id: int | None
    community_name: str | None
    street_id: int | None
    street_name: str | None
    bound_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> ChatBinding:
        return cls(
            chat_id=row["chat_id"],
            title=row["title"],
            kind=row["kind"],
            active=bool(row["active"]),
            grid_id=row["grid_id"],
            grid_name=row["grid_name"],
            community_id=row["community_id"],
            community_name=row["community_name"],
            street_id=row["street_id"],
            street_name=row["street_name"],
            bound_at=_time(row, "bound_at"),
        )

    @property
    def is_grid(self) -> bool:
        return self.kind == "grid"


@dataclass(frozen=True)
class MediaItem:
    """A file a resident sent with a report (photo, video or document)."""

    message_id: int
    kind: str
    file_id: str
    file_unique_id: str


@dataclass(frozen=True)
class NewTicket:
    """Everything needed to open a ticket; the id and status are the database's."""

    grid_id: int
    chat_id: int
    message_id: int
    category: str
    text: str
    body: str
    reporter_id: int | None
    reporter_name: str
    created_at: datetime
    response_due: datetime
    resolution_due: datetime
    thread_id: int | None = None
    media_group_id: str | None = None
    source: str = "chat"
    labels: tuple[str, ...] = ()
    estate: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    media: tuple[MediaItem, ...] = field(default=())
    status: Status = Status.NEW
    assignee_id: int | None = None
    assignee_name: str | None = None
    accepted_at: datetime | None = None


@dataclass(frozen=True)
class Ticket:
    id: int
    grid_id: int
    chat_id: int
    message_id: int
    thread_id: int | None
    media_group_id: str | None
    source: str
    category: str
    labels: tuple[str, ...]
    text: str
    body: str
    estate: str | None
    building: str | None
    unit: str | None
    room: str | None
    reporter_id: int | None
    reporter_name: str
    status: Status
    created_at: datetime
    updated_at: datetime
    response_due: datetime
    resolution_due: datetime
    receipt_message_id: int | None
    assignee_id: int | None = None
    assignee_name: str | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopen_count: int = 0
    satisfaction: Satisfaction | None = None
    duplicate_of: int | None = None
    rated_at: datetime | None = None
    followup_due: datetime | None = None
    followup_asked_at: datetime | None = None
    followup_reminded_at: datetime | None = None
    response_reminded_at: datetime | None = None
    response_overdue_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def from_row(cls, row: Row) -> Ticket:
        return cls(
            id=row["id"],
            grid_id=row["grid_id"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            thread_id=row["thread_id"],
            media_group_id=row["media_group_id"],
            source=row["source"],
            category=row["category"],
            labels=tuple(json.loads(row["labels"])),
            text=row["text"],
            body=row["body"],
            estate=row["estate"],
            building=row["building"],
            unit=row["unit"],
            room=row["room"],
            reporter_id=row["reporter_id"],
            reporter_name=row["reporter_name"],
            status=Status(row["status"]),
            created_at=_time(row, "created_at"),
            updated_at=_time(row, "updated_at"),
            response_due=_time(row, "response_due"),
            resolution_due=_time(row, "resolution_due"),
            receipt_message_id=row["receipt_message_id"],
            assignee_id=row["assignee_id"],
            assignee_name=row["assignee_name"],
            accepted_at=from_db_time(row["accepted_at"]),
            resolved_at=from_db_time(row["resolved_at"]),
            closed_at=from_db_time(row["closed_at"]),
            reopen_count=row["reopen_count"],
            satisfaction=None if row["satisfaction"] is None else Satisfaction(row["satisfaction"]),
            duplicate_of=row["duplicate_of"],
            rated_at=from_db_time(row["rated_at"]),
            followup_due=from_db_time(row["followup_due"]),
            followup_asked_at=from_db_time(row["followup_asked_at"]),
            followup_reminded_at=from_db_time(row["followup_reminded_at"]),
            response_reminded_at=from_db_time(row["response_reminded_at"]),
            response_overdue_at=from_db_time(row["response_overdue_at"]),
            escalation_level=row["escalation_level"],
            escalated_at=from_db_time(row["escalated_at"]),
        )


@dataclass(frozen=True)
class TicketEvent:
    id: int
    ticket_id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    kind: str
    from_status: str | None
    to_status: str | None
    note: str

    @classmethod
    def from_row(cls, row: Row) -> TicketEvent:
        return cls(
            id=row["id"],
            ticket_id=row["ticket_id"],
            at=_time(row, "at"),
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            kind=row["kind"],
            from_status=row["from_status"],
            to_status=row["to_status"],
            note=row["note"],
        )


@dataclass(frozen=True)
class GridInfo:
    """A grid with its community, street and the group chat bound to it (if any)."""

    id: int
    name: str
    community_id: int
    community_name: str
    street_id: int | None
    street_name: str | None
    chat_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> GridInfo:
        return cls(
            id=row["id"],
            name=row["name"],
            community_id=row["community_id"],
            community_name=row["community_name"],
            street_id=row["street_id"],
            street_name=row["street_name"],
            chat_id=row["chat_id"],
        )
