"""The words a ticket's life is told in, stored as these strings (see DESIGN.md "Statuses").

Storage may import this module and bot re-exports it (``bot.tickets``), so both sides name a
status, a history row's kind, a rating or an officer's action the same way. Each member *is* its
string (``StrEnum``): ``Status.NEW == "new"`` and it is written to and read from the database as is.
SQL text may still spell them out inside its own strings.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class Status(StrEnum):
    """Where a ticket stands; the CHECK constraint of ``tickets.status`` allows exactly these."""

    NEW = "new"  # 待受理
    ACCEPTED = "accepted"  # 处理中
    RESOLVED = "resolved"  # 已办结, waiting for the reporter's 回访
    CLOSED = "closed"  # 已关闭
    REJECTED = "rejected"  # 已退回
    DUPLICATE = "duplicate"  # merged into another ticket


OPEN_STATUSES: tuple[Status, ...] = (Status.NEW, Status.ACCEPTED)


@unique
class Action(StrEnum):
    """What an officer does to a ticket (a command or a button); each is also its event's kind."""

    TAKE = "take"
    ASSIGN = "assign"
    PROGRESS = "progress"
    NOTE = "note"
    DONE = "done"
    REJECT = "reject"
    DUPLICATE = "duplicate"
    REOPEN = "reopen"
    ESCALATE = "escalate"


@unique
class EventKind(StrEnum):
    """The kind of one history row (``ticket_events.kind``)."""

    OPENED = "opened"
    EDITED = "edited"
    MEDIA_ADDED = "media_added"
    CO_REPORTER = "co_reporter"
    TAKE = "take"
    ASSIGN = "assign"
    PROGRESS = "progress"
    NOTE = "note"
    DONE = "done"
    REJECT = "reject"
    DUPLICATE = "duplicate"
    MERGED = "merged"  # on the original, when a duplicate joins it
    REOPEN = "reopen"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    FOLLOWUP_ASKED = "followup_asked"
    FOLLOWUP_REMINDED = "followup_reminded"
    RATED = "rated"
    CLOSED = "closed"  # closed unrated by the schedule
    FEEDBACK = "feedback"  # the reporter's "why" after 不满意


@unique
class Satisfaction(StrEnum):
    """The 回访 answer (``tickets.satisfaction``); ``unrated`` when nobody answered (未评价)."""

    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意
    UNRATED = "unrated"  # 未评价


@unique
class AuditAction(StrEnum):
    """What the staff web page records in its audit log (``web_audit.action``)."""

    LOGIN = "login"  # a login link used: a session opened
    LOGIN_REFUSED = "login_refused"  # a link unknown, used already, expired or forged
    LOGOUT = "logout"
    VIEW_TICKET = "view_ticket"
    VIEW_PHOTO = "view_photo"
    DOWNLOAD = "download"  # the ledger, as xlsx or csv
    VIEW_AUDIT = "view_audit"
    ACCESS_ENDED = "access_ended"  # a session whose grants no longer hold (role ended)
