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


# -- 关爱走访 (bot.care) ------------------------------------------------------------------------


@unique
class CareStatus(StrEnum):
    """Where a person on the roster stands (``care_people.status``)."""

    ACTIVE = "active"  # visited on the tier's cadence
    PAUSED = "paused"  # 暂停 (in hospital, away): nothing falls due
    ENDED = "ended"  # 结束 (moved, passed away): kept for the record


@unique
class DueKind(StrEnum):
    """What one row of ``care_dues`` owes."""

    CYCLE = "cycle"  # the next regular visit of the tier's cadence
    ROUND = "round"  # an extra round (heat wave, holiday) with its own deadline


@unique
class DueStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # a visit settled it (on time if at or before its window's end)
    MISSED = "missed"  # closed unvisited past its window (paused, ended, re-planned): late
    CANCELLED = "cancelled"  # closed before its window ended, or made moot by an early visit:
    # counted nowhere


@unique
class VisitWay(StrEnum):
    """How a visit was made (Chinese practice accepts several)."""

    HOME = "home"  # 上门
    CALL = "call"  # 电话/视频
    PROXY = "proxy"  # 亲属邻里代看
    VOLUNTEER = "volunteer"  # 志愿者结对
    DEVICE = "device"  # 智能设备


@unique
class VisitOutcome(StrEnum):
    NORMAL = "normal"  # 正常
    CONCERN = "concern"  # 异常需跟进: opens a 求助 ticket at once
    UNSEEN = "unseen"  # 未见到: settles nothing; twice in a row goes to the office
    REFUSED = "refused"  # 拒访: the visitor went; the person declined

    @property
    def settles(self) -> bool:
        """Whether a visit with this outcome settles what was due (the person was reached)."""
        return self is not VisitOutcome.UNSEEN


@unique
class CareEventKind(StrEnum):
    """The kind of one roster history row (``care_events.kind``)."""

    ADDED = "added"
    EDITED = "edited"
    PAUSED = "paused"
    RESUMED = "resumed"
    ENDED = "ended"
    VISITED = "visited"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    ROUND = "round"  # an extra round made the person due


# -- 议事 (bot.votes) -------------------------------------------------------------------------


@unique
class VoteStatus(StrEnum):
    """Where a household vote stands (``votes.status``)."""

    OPEN = "open"  # the poll takes answers until its deadline or /vote close
    CLOSED = "closed"  # counted: the finals and the result are recorded


@unique
class VoteEventKind(StrEnum):
    """The kind of one vote history row (``vote_events.kind``)."""

    STARTED = "started"
    POLL_SENT = "poll_sent"
    ANSWERED = "answered"  # a member's answer (counted for her household at close)
    RETRACTED = "retracted"  # a member took her answer back
    PROXY = "proxy"  # an officer recorded (or withdrew) a household's answer
    NOT_COUNTED = "not_counted"  # an answer of someone tied to no eligible household
    SPLIT = "split"  # members of one household answered differently
    CLOSED = "closed"
    POLL_STOPPED = "poll_stopped"


@unique
class MemberStatus(StrEnum):
    """How a person's tie to a household was made (``household_members.status``)."""

    CLAIMED = "claimed"  # she said so herself (/room 3-2-501)
    CONFIRMED = "confirmed"  # an officer set or confirmed it
