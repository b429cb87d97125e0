"""关爱走访: the roster, its visits and what falls due (``care_*`` tables, migration 0011).

Each write is one transaction with its history row (``care_events``) and its messages (the
outbox), run in one hand-over (:meth:`Database.atomic`). What is owed lives in ``care_dues``: at
most one open ``cycle`` due per person (a partial unique index), one ``round`` due per person
and round. The tick's claims are guarded updates (``… WHERE reminded_at IS NULL``,
``… AND escalation_level = ?``), so two ticks or a restart never double a reminder or an alarm;
a visit recorded from a message is kept once per message (``UNIQUE(source_chat_id,
source_message_id)``), so a replayed update records nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from storage.db import Conn, Database, Row, from_db_time, time_at, to_db_time
from storage.models import NewTicket, Ticket
from storage.outbox import OutboxDraft, queue_in
from storage.tickets import open_in as open_ticket_in
from storage.vocabulary import (
    CareEventKind,
    CareStatus,
    DueKind,
    DueStatus,
    VisitOutcome,
    VisitWay,
)


def _time(row: Row, column: str) -> datetime | None:
    return from_db_time(row[column])


@dataclass(frozen=True)
class CarePerson:
    id: int
    grid_id: int
    name: str
    address: str
    tier: str
    visitor_id: int | None
    visitor_name: str
    contact: str
    notes: str
    status: CareStatus
    status_note: str
    missed_in_row: int
    last_visit_at: datetime | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> CarePerson:
        return cls(
            id=row["id"],
            grid_id=row["grid_id"],
            name=row["name"],
            address=row["address"],
            tier=row["tier"],
            visitor_id=row["visitor_id"],
            visitor_name=row["visitor_name"],
            contact=row["contact"],
            notes=row["notes"],
            status=CareStatus(row["status"]),
            status_note=row["status_note"],
            missed_in_row=row["missed_in_row"],
            last_visit_at=_time(row, "last_visit_at"),
            created_by=row["created_by"],
            created_at=time_at(row, "created_at"),
            updated_at=time_at(row, "updated_at"),
        )


@dataclass(frozen=True)
class CareDue:
    id: int
    person_id: int
    grid_id: int
    kind: DueKind
    round_id: int | None
    due_at: datetime
    window_end: datetime
    period: timedelta
    status: DueStatus
    done_at: datetime | None
    visit_id: int | None
    reminded_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> CareDue:
        return cls(
            id=row["id"],
            person_id=row["person_id"],
            grid_id=row["grid_id"],
            kind=DueKind(row["kind"]),
            round_id=row["round_id"],
            due_at=time_at(row, "due_at"),
            window_end=time_at(row, "window_end"),
            period=timedelta(seconds=row["period_seconds"]),
            status=DueStatus(row["status"]),
            done_at=_time(row, "done_at"),
            visit_id=row["visit_id"],
            reminded_at=_time(row, "reminded_at"),
            escalation_level=row["escalation_level"],
            escalated_at=_time(row, "escalated_at"),
            created_at=time_at(row, "created_at"),
        )

    @property
    def on_time(self) -> bool:
        return self.done_at is not None and self.done_at <= self.window_end


@dataclass(frozen=True)
class CareVisit:
    id: int
    person_id: int
    grid_id: int
    visited_at: datetime
    visitor_id: int | None
    visitor_name: str
    way: VisitWay
    outcome: VisitOutcome
    note: str
    photos: tuple[str, ...]
    ticket_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> CareVisit:
        return cls(
            id=row["id"],
            person_id=row["person_id"],
            grid_id=row["grid_id"],
            visited_at=time_at(row, "visited_at"),
            visitor_id=row["visitor_id"],
            visitor_name=row["visitor_name"],
            way=VisitWay(row["way"]),
            outcome=VisitOutcome(row["outcome"]),
            note=row["note"],
            photos=tuple(json.loads(row["photos"] or "[]")),
            ticket_id=row["ticket_id"],
        )


@dataclass(frozen=True)
class CareRound:
    id: int
    name: str
    tier: str
    started_by: int | None
    started_by_name: str
    started_at: datetime
    deadline: datetime
    people: int

    @classmethod
    def from_row(cls, row: Row) -> CareRound:
        return cls(
            id=row["id"],
            name=row["name"],
            tier=row["tier"],
            started_by=row["started_by"],
            started_by_name=row["started_by_name"],
            started_at=time_at(row, "started_at"),
            deadline=time_at(row, "deadline"),
            people=row["people"],
        )


@dataclass(frozen=True)
class CareEvent:
    id: int
    person_id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    kind: CareEventKind
    note: str

    @classmethod
    def from_row(cls, row: Row) -> CareEvent:
        return cls(
            id=row["id"],
            person_id=row["person_id"],
            at=time_at(row, "at"),
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            kind=CareEventKind(row["kind"]),
            note=row["note"],
        )


@dataclass(frozen=True)
class CareEventDraft:
    kind: CareEventKind
    actor_id: int | None
    actor_name: str
    at: datetime
    note: str = ""


@dataclass(frozen=True)
class PersonDraft:
    grid_id: int
    name: str
    address: str
    tier: str
    visitor_id: int | None
    visitor_name: str
    contact: str = ""
    notes: str = ""


@dataclass(frozen=True)
class DueDraft:
    """A visit owed: from ``due_at``, on time until ``window_end``; the street hears of it one
    ``period`` after the community did."""

    due_at: datetime
    window_end: datetime
    period: timedelta
    kind: DueKind = DueKind.CYCLE
    round_id: int | None = None


@dataclass(frozen=True)
class VisitDraft:
    person_id: int
    visited_at: datetime
    visitor_id: int | None
    visitor_name: str
    way: VisitWay
    outcome: VisitOutcome
    note: str = ""
    photos: tuple[str, ...] = ()
    source_chat_id: int | None = None
    source_message_id: int | None = None


@dataclass(frozen=True)
class RecordedVisit:
    visit: CareVisit
    created: bool  # False: this message recorded it before (a replayed update)
    person: CarePerson  # as it is after the visit
    settled: tuple[int, ...] = ()  # the dues it settled
    ticket: Ticket | None = None  # 异常需跟进: the ticket it opened
    escalated: bool = False  # the second 未见到 in a row: the office was told


@dataclass(frozen=True)
class RosterLine:
    person: CarePerson
    due: CareDue | None  # the earliest open due (None: paused, ended, or nothing owed)


@dataclass(frozen=True)
class DueWithPerson:
    due: CareDue
    person: CarePerson


@dataclass(frozen=True)
class CareCounts:
    """探访按期率 of one grid over a period: dues settled within their window ÷ dues that fell
    due (window ended in the period, or settled in the period)."""

    on_time: int = 0
    fell_due: int = 0

    def __add__(self, other: CareCounts) -> CareCounts:
        return CareCounts(self.on_time + other.on_time, self.fell_due + other.fell_due)


_PERSON_COLUMNS = frozenset(
    {"name", "address", "tier", "visitor_id", "visitor_name", "contact", "notes"}
)

_INSERT_EVENT = (
    "INSERT INTO care_events (person_id, at, actor_id, actor_name, kind, note)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)

_INSERT_DUE = (
    "INSERT INTO care_dues (person_id, grid_id, kind, round_id, due_at, window_end,"
    " period_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)

_DUE_WITH_PERSON = (
    "SELECT d.*, p.id AS p_id, p.grid_id AS p_grid_id, p.name AS p_name, p.address AS p_address,"
    " p.tier AS p_tier, p.visitor_id AS p_visitor_id, p.visitor_name AS p_visitor_name,"
    " p.contact AS p_contact, p.notes AS p_notes, p.status AS p_status,"
    " p.status_note AS p_status_note, p.missed_in_row AS p_missed_in_row,"
    " p.last_visit_at AS p_last_visit_at, p.created_by AS p_created_by,"
    " p.created_at AS p_created_at, p.updated_at AS p_updated_at"
    " FROM care_dues d JOIN care_people p ON p.id = d.person_id"
)


class _Prefixed:
    """A joined row's ``p_`` columns as a row of their own."""

    def __init__(self, row: Row, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getitem__(self, key: str) -> Any:
        return self._row[self._prefix + key]


def _person_of_join(row: Row) -> CarePerson:
    return CarePerson.from_row(_Prefixed(row, "p_"))  # type: ignore[arg-type]


def _event_in(conn: Conn, person_id: int, event: CareEventDraft) -> None:
    conn.execute(
        _INSERT_EVENT,
        (person_id, to_db_time(event.at), event.actor_id, event.actor_name, event.kind, event.note),
    )


def _due_in(conn: Conn, person_id: int, grid_id: int, due: DueDraft, now: datetime) -> bool:
    cursor = conn.execute(
        _INSERT_DUE,
        (
            person_id,
            grid_id,
            due.kind,
            due.round_id,
            to_db_time(due.due_at),
            to_db_time(due.window_end),
            int(due.period.total_seconds()),
            to_db_time(now),
        ),
    )
    return cursor.rowcount > 0


def _person_in(conn: Conn, person_id: int) -> CarePerson | None:
    row = conn.execute("SELECT * FROM care_people WHERE id = ?", (person_id,)).fetchone()
    return None if row is None else CarePerson.from_row(row)


def _close_open_in(conn: Conn, person_id: int, now: datetime, kind: DueKind | None = None) -> None:
    """Close what a person owes (paused, ended, re-planned): a due whose window has ended
    unvisited stays in the figures as missed; one still within its window counts nowhere."""
    stamp = to_db_time(now)
    only = "" if kind is None else " AND kind = ?"
    extra: tuple[Any, ...] = () if kind is None else (kind,)
    conn.execute(
        "UPDATE care_dues SET status = CASE WHEN window_end <= ? THEN 'missed'"  # noqa: S608
        " ELSE 'cancelled' END WHERE person_id = ? AND status = 'open'" + only,
        (stamp, person_id, *extra),
    )


def _queue_all(conn: Conn, messages: Sequence[OutboxDraft], now: datetime) -> None:
    for draft in messages:
        queue_in(conn, draft, now)


def _grid_filter(grid_ids: Sequence[int] | None, column: str) -> tuple[str, tuple[Any, ...]]:
    """`` AND <column> IN (…)`` for some grids, nothing for every grid (None)."""
    if grid_ids is None:
        return "", ()
    return (
        f" AND {column} IN (SELECT value FROM json_each(?))",  # noqa: S608 - fixed SQL
        (json.dumps(sorted(set(grid_ids))),),
    )


class CareRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the roster -------------------------------------------------------------------------

    async def add(
        self, draft: PersonDraft, first_due: DueDraft, event: CareEventDraft
    ) -> CarePerson:
        """A person on the roster with their first due and history row, in one transaction."""

        def work(conn: Conn) -> CarePerson:
            stamp = to_db_time(event.at)
            row = conn.execute(
                "INSERT INTO care_people (grid_id, name, address, tier, visitor_id, visitor_name,"
                " contact, notes, created_by, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    draft.grid_id,
                    draft.name,
                    draft.address,
                    draft.tier,
                    draft.visitor_id,
                    draft.visitor_name,
                    draft.contact,
                    draft.notes,
                    event.actor_id,
                    stamp,
                    stamp,
                ),
            ).fetchone()
            person = CarePerson.from_row(row)
            _due_in(conn, person.id, person.grid_id, first_due, event.at)
            _event_in(conn, person.id, event)
            return person

        return await self._db.atomic(work)

    async def get(self, person_id: int) -> CarePerson | None:
        row = await self._db.fetch_one("SELECT * FROM care_people WHERE id = ?", (person_id,))
        return None if row is None else CarePerson.from_row(row)

    async def roster(
        self,
        grid_ids: Sequence[int] | None,
        *,
        visitor_id: int | None = None,
        include_ended: bool = False,
        limit: int = 200,
    ) -> list[RosterLine]:
        """The people of some grids (None: every grid), or of one visitor; the most overdue
        first (earliest open due), then those with nothing owed, by number."""
        where, params = _grid_filter(grid_ids, "p.grid_id")
        if visitor_id is not None:
            where += " AND p.visitor_id = ?"
            params += (visitor_id,)
        if not include_ended:
            where += " AND p.status <> 'ended'"
        rows = await self._db.fetch_all(
            "SELECT p.* FROM care_people p WHERE 1 = 1" + where + " ORDER BY p.id",  # noqa: S608
            params,
        )
        people = [CarePerson.from_row(r) for r in rows]
        earliest: dict[int, CareDue] = {}
        if people:
            found = await self._db.fetch_all(
                "SELECT * FROM care_dues WHERE status = 'open'"
                " AND person_id IN (SELECT value FROM json_each(?)) ORDER BY window_end, id",
                (json.dumps([p.id for p in people]),),
            )
            for due in map(CareDue.from_row, found):
                earliest.setdefault(due.person_id, due)
        lines = [RosterLine(p, earliest.get(p.id)) for p in people]
        far = datetime.max.replace(tzinfo=lines[0].person.created_at.tzinfo) if lines else None
        lines.sort(
            key=lambda line: (
                line.person.status is not CareStatus.ACTIVE,
                line.due.window_end if line.due is not None else far,
                line.person.id,
            )
        )
        return lines[:limit]

    async def dues_of(self, person_id: int, *, open_only: bool = True) -> list[CareDue]:
        rows = await self._db.fetch_all(
            "SELECT * FROM care_dues WHERE person_id = ?"  # noqa: S608 - fixed SQL
            + (" AND status = 'open'" if open_only else "")
            + " ORDER BY due_at, id",
            (person_id,),
        )
        return [CareDue.from_row(r) for r in rows]

    async def visits_of(self, person_id: int, limit: int = 10) -> list[CareVisit]:
        """The latest visits first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM care_visits WHERE person_id = ? ORDER BY visited_at DESC, id DESC"
            " LIMIT ?",
            (person_id, limit),
        )
        return [CareVisit.from_row(r) for r in rows]

    async def events_of(self, person_id: int, limit: int = 20) -> list[CareEvent]:
        rows = await self._db.fetch_all(
            "SELECT * FROM care_events WHERE person_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (person_id, limit),
        )
        return [CareEvent.from_row(r) for r in rows]

    async def edit(
        self,
        person_id: int,
        changes: Mapping[str, Any],
        event: CareEventDraft,
        replan: DueDraft | None = None,
    ) -> CarePerson | None:
        """Change what the roster says of a person (not ended); with ``replan`` (a new tier),
        the open regular due is replaced. None: no such person, or ended."""
        unknown = set(changes) - _PERSON_COLUMNS
        if unknown:
            raise ValueError(f"not a roster field: {sorted(unknown)}")

        def work(conn: Conn) -> CarePerson | None:
            columns = sorted(changes)
            sets = ", ".join(f"{c} = ?" for c in [*columns, "updated_at"])
            cursor = conn.execute(
                f"UPDATE care_people SET {sets} WHERE id = ? AND status <> 'ended'",  # noqa: S608
                (*(changes[c] for c in columns), to_db_time(event.at), person_id),
            )
            if cursor.rowcount == 0:
                return None
            person = _person_in(conn, person_id)
            assert person is not None
            if replan is not None and person.status is CareStatus.ACTIVE:
                _close_open_in(conn, person_id, event.at, DueKind.CYCLE)
                _due_in(conn, person_id, person.grid_id, replan, event.at)
            _event_in(conn, person_id, event)
            return person

        return await self._db.atomic(work)

    async def set_status(
        self,
        person_id: int,
        *,
        to: CareStatus,
        note: str,
        event: CareEventDraft,
        next_due: DueDraft | None = None,
    ) -> CarePerson | None:
        """Pause, resume or end: from any other status except ended (ended is for good).
        Leaving active cancels what was owed; resuming owes ``next_due``. None: refused."""

        def work(conn: Conn) -> CarePerson | None:
            cursor = conn.execute(
                "UPDATE care_people SET status = ?, status_note = ?, updated_at = ?"
                " WHERE id = ? AND status <> 'ended' AND status <> ?",
                (to, note, to_db_time(event.at), person_id, to),
            )
            if cursor.rowcount == 0:
                return None
            if to is CareStatus.ACTIVE:
                if next_due is not None:
                    person = _person_in(conn, person_id)
                    assert person is not None
                    _due_in(conn, person_id, person.grid_id, next_due, event.at)
            else:
                _close_open_in(conn, person_id, event.at)
            _event_in(conn, person_id, event)
            return _person_in(conn, person_id)

        return await self._db.atomic(work)

    # -- visits -----------------------------------------------------------------------------

    async def record_visit(
        self,
        draft: VisitDraft,
        event: CareEventDraft,
        *,
        next_due: DueDraft | None,
        ticket: NewTicket | None = None,
        receipt: bool = True,
        settles_before: datetime | None = None,
        alarm_after_missed: int = 0,
        alarm: Sequence[OutboxDraft] = (),
        notices: Sequence[OutboxDraft] = (),
    ) -> RecordedVisit | None:
        """A visit with everything it changes, in one transaction:

        * reached (正常, 异常需跟进, 拒访): the person's open dues due before ``settles_before``
          (the end of the visit's local day: a visit on the due date settles it) are settled;
          a regular due not due yet is made moot (cancelled: an early visit neither counts
          as on time nor as missed), and ``next_due`` (the next regular visit) is owed;
        * 未见到: nothing is settled; the person's run of misses grows, and when it reaches
          ``alarm_after_missed`` the open dues go to escalation level 1 with the ``alarm``
          messages (the community's office);
        * ``ticket`` (异常需跟进): opened here, as a ticket of no message (its message id is the
          visit's id negated, unique in its chat), linked to the visit, with its receipt;
        * ``notices``: queued with the visit (the office told of a concern that has no group).

        None: no such person, or not active. A visit already recorded from the same message is
        returned as it was (``created`` False) and changes nothing.
        """

        def work(conn: Conn) -> RecordedVisit | None:
            if draft.source_chat_id is not None:
                kept = conn.execute(
                    "SELECT * FROM care_visits WHERE source_chat_id = ? AND source_message_id = ?",
                    (draft.source_chat_id, draft.source_message_id),
                ).fetchone()
                if kept is not None:
                    person = _person_in(conn, draft.person_id)
                    assert person is not None
                    return RecordedVisit(CareVisit.from_row(kept), False, person)
            person = _person_in(conn, draft.person_id)
            if person is None or person.status is not CareStatus.ACTIVE:
                return None
            stamp = to_db_time(draft.visited_at)
            row = conn.execute(
                "INSERT INTO care_visits (person_id, grid_id, visited_at, visitor_id,"
                " visitor_name, way, outcome, note, photos, source_chat_id, source_message_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    person.id,
                    person.grid_id,
                    stamp,
                    draft.visitor_id,
                    draft.visitor_name,
                    draft.way,
                    draft.outcome,
                    draft.note,
                    json.dumps(list(draft.photos)),
                    draft.source_chat_id,
                    draft.source_message_id,
                ),
            ).fetchone()
            visit = CareVisit.from_row(row)
            settled: tuple[int, ...] = ()
            escalated = False
            if draft.outcome.settles:
                cutoff = to_db_time(settles_before or draft.visited_at)
                settled = tuple(
                    r["id"]
                    for r in conn.execute(
                        "UPDATE care_dues SET status = 'done', done_at = ?, visit_id = ?"
                        " WHERE person_id = ? AND status = 'open' AND due_at < ? RETURNING id",
                        (stamp, visit.id, person.id, cutoff),
                    ).fetchall()
                )
                conn.execute(
                    "UPDATE care_dues SET status = 'cancelled' WHERE person_id = ?"
                    " AND status = 'open' AND kind = 'cycle' AND due_at >= ?",
                    (person.id, cutoff),
                )
                if next_due is not None:
                    _due_in(conn, person.id, person.grid_id, next_due, draft.visited_at)
                conn.execute(
                    "UPDATE care_people SET missed_in_row = 0, last_visit_at = ?, updated_at = ?"
                    " WHERE id = ?",
                    (stamp, stamp, person.id),
                )
            else:
                missed = conn.execute(
                    "UPDATE care_people SET missed_in_row = missed_in_row + 1, updated_at = ?"
                    " WHERE id = ? RETURNING missed_in_row",
                    (stamp, person.id),
                ).fetchone()[0]
                if alarm_after_missed and missed == alarm_after_missed:
                    raised = conn.execute(
                        "UPDATE care_dues SET escalation_level = 1, escalated_at = ?"
                        " WHERE person_id = ? AND status = 'open' AND escalation_level = 0",
                        (stamp, person.id),
                    ).rowcount
                    if raised:
                        _queue_all(conn, alarm, draft.visited_at)
                        escalated = True
            _queue_all(conn, notices, draft.visited_at)
            opened: Ticket | None = None
            if ticket is not None:
                opened, _ = open_ticket_in(
                    conn, replace(ticket, message_id=-visit.id), receipt, None
                )
                conn.execute(
                    "UPDATE care_visits SET ticket_id = ? WHERE id = ?", (opened.id, visit.id)
                )
                visit = replace(visit, ticket_id=opened.id)
            _event_in(conn, person.id, event)
            after = _person_in(conn, person.id)
            assert after is not None
            return RecordedVisit(visit, True, after, settled, opened, escalated)

        return await self._db.atomic(work)

    # -- rounds -----------------------------------------------------------------------------

    async def start_round(
        self,
        *,
        name: str,
        tier: str,
        grid_ids: Sequence[int] | None,
        started_by: int | None,
        started_by_name: str,
        now: datetime,
        deadline: datetime,
    ) -> tuple[CareRound, list[int]]:
        """An extra round: every active person of ``tier`` in the grids (None: all) owes a
        visit from now until ``deadline``; each gets a due and a history row — except those
        still owing a round's visit (a second tap, another officer's round). Returns the round
        and the people it covers."""
        where, params = _grid_filter(grid_ids, "grid_id")

        def work(conn: Conn) -> tuple[CareRound, list[int]]:
            people = conn.execute(
                "SELECT id, grid_id FROM care_people WHERE status = 'active' AND tier = ?"  # noqa: S608 - fixed SQL
                " AND NOT EXISTS (SELECT 1 FROM care_dues d WHERE d.person_id = care_people.id"
                " AND d.kind = 'round' AND d.status = 'open')" + where + " ORDER BY id",
                (tier, *params),
            ).fetchall()
            row = conn.execute(
                "INSERT INTO care_rounds (name, tier, started_by, started_by_name, started_at,"
                " deadline, people) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    name,
                    tier,
                    started_by,
                    started_by_name,
                    to_db_time(now),
                    to_db_time(deadline),
                    len(people),
                ),
            ).fetchone()
            round_ = CareRound.from_row(row)
            due = DueDraft(now, deadline, deadline - now, DueKind.ROUND, round_.id)
            event = CareEventDraft(CareEventKind.ROUND, started_by, started_by_name, now, name)
            for person in people:
                _due_in(conn, person["id"], person["grid_id"], due, now)
                _event_in(conn, person["id"], event)
            return round_, [p["id"] for p in people]

        return await self._db.atomic(work)

    # -- what the tick asks -----------------------------------------------------------------

    async def reminders_due(self, until: datetime, limit: int = 500) -> list[DueWithPerson]:
        """Open dues of active people due by ``until`` whose visitor was not reminded yet."""
        rows = await self._db.fetch_all(
            _DUE_WITH_PERSON + " WHERE d.status = 'open' AND d.reminded_at IS NULL"
            " AND d.due_at <= ? AND p.status = 'active' ORDER BY d.due_at, d.id LIMIT ?",
            (to_db_time(until), limit),
        )
        return [DueWithPerson(CareDue.from_row(r), _person_of_join(r)) for r in rows]

    async def escalations_due(self, now: datetime, limit: int = 500) -> list[DueWithPerson]:
        """Open dues past their window not yet told to the community (level 0), and those the
        community was told of one period ago not yet told to the street (level 1) — in grids
        with an office chat to tell (the others wait until /supervise binds one)."""
        rows = await self._db.fetch_all(
            _DUE_WITH_PERSON + " WHERE d.status = 'open' AND p.status = 'active' AND ("  # noqa: S608 - fixed SQL
            "(d.escalation_level = 0 AND d.window_end <= ?) OR (d.escalation_level = 1"
            " AND unixepoch(d.escalated_at) + d.period_seconds <= unixepoch(?)))"
            # only where an office chat can hear it: the others would be read first every tick
            " AND EXISTS (SELECT 1 FROM grids g JOIN communities m ON m.id = g.community_id"
            " JOIN chats c ON c.active = 1 AND c.kind = 'supervisor' AND (c.community_id ="
            " g.community_id OR (c.street_id IS NOT NULL AND c.street_id = m.street_id))"
            " WHERE g.id = d.grid_id)"
            " ORDER BY d.window_end, d.id LIMIT ?",
            (to_db_time(now), to_db_time(now), limit),
        )
        return [DueWithPerson(CareDue.from_row(r), _person_of_join(r)) for r in rows]

    async def claim_reminder(
        self, due_id: int, event: CareEventDraft, messages: Sequence[OutboxDraft]
    ) -> bool:
        """Remind the visitor of one due, once."""
        return await self._claim(
            due_id, "reminded_at IS NULL", (), {"reminded_at": event.at}, event, messages
        )

    async def claim_escalation(
        self,
        due_id: int,
        *,
        from_level: int,
        to_level: int,
        event: CareEventDraft,
        messages: Sequence[OutboxDraft],
    ) -> bool:
        """Raise a missed due from ``from_level`` to ``to_level``; False if done or raised."""
        return await self._claim(
            due_id,
            "escalation_level = ?",
            (from_level,),
            {"escalation_level": to_level, "escalated_at": event.at},
            event,
            messages,
        )

    async def _claim(
        self,
        due_id: int,
        guard: str,
        guard_params: Sequence[Any],
        changes: Mapping[str, Any],
        event: CareEventDraft,
        messages: Sequence[OutboxDraft],
    ) -> bool:
        columns = sorted(changes)
        sets = ", ".join(f"{c} = ?" for c in columns)
        values = [
            to_db_time(v) if isinstance(v, datetime) else v for v in (changes[c] for c in columns)
        ]

        def work(conn: Conn) -> bool:
            row = conn.execute(
                f"UPDATE care_dues SET {sets} WHERE id = ? AND status = 'open'"  # noqa: S608
                f" AND ({guard}) RETURNING person_id",
                (*values, due_id, *guard_params),
            ).fetchone()
            if row is None:
                return False
            _event_in(conn, row["person_id"], event)
            _queue_all(conn, messages, event.at)
            return True

        return await self._db.atomic(work)

    # -- figures ----------------------------------------------------------------------------

    async def counts(
        self, start: datetime, end: datetime, grid_ids: Sequence[int] | None = None
    ) -> dict[int, CareCounts]:
        """探访按期率 per grid over [start, end): the dues (not cancelled) that fell due in the
        period — each in exactly one period: the moment it was settled on time, else the end
        of its window (missed, or settled late); on time = settled by the window's end."""
        where, params = _grid_filter(grid_ids, "grid_id")
        s, e = to_db_time(start), to_db_time(end)
        rows = await self._db.fetch_all(
            "SELECT grid_id, SUM(CASE WHEN status = 'done' AND done_at <= window_end"  # noqa: S608 - fixed SQL
            " THEN 1 ELSE 0 END) AS on_time, COUNT(*) AS fell_due FROM care_dues"
            " WHERE status <> 'cancelled' AND ((status = 'done' AND done_at <= window_end"
            " AND done_at >= ? AND done_at < ?) OR (NOT (status = 'done' AND done_at <="
            " window_end) AND window_end >= ? AND window_end < ?))" + where + " GROUP BY grid_id",
            (s, e, s, e, *params),
        )
        return {r["grid_id"]: CareCounts(int(r["on_time"] or 0), int(r["fell_due"])) for r in rows}

    async def people_by_grid(self, grid_ids: Sequence[int] | None = None) -> dict[int, int]:
        """How many people each grid has on its roster (active or paused: not ended); grids
        with nobody are left out. Whether the figures should speak of care at all."""
        where, params = _grid_filter(grid_ids, "grid_id")
        rows = await self._db.fetch_all(
            "SELECT grid_id, COUNT(*) AS people FROM care_people"  # noqa: S608 - fixed SQL
            " WHERE status <> 'ended'" + where + " GROUP BY grid_id",
            params,
        )
        return {r["grid_id"]: int(r["people"]) for r in rows}

    async def overdue(
        self, now: datetime, grid_ids: Sequence[int] | None = None, limit: int = 50
    ) -> list[DueWithPerson]:
        """Open dues past their window, the longest overdue first."""
        where, params = _grid_filter(grid_ids, "d.grid_id")
        rows = await self._db.fetch_all(
            _DUE_WITH_PERSON + " WHERE d.status = 'open' AND p.status = 'active'"
            " AND d.window_end <= ?" + where + " ORDER BY d.window_end, d.id LIMIT ?",
            (to_db_time(now), *params, limit),
        )
        return [DueWithPerson(CareDue.from_row(r), _person_of_join(r)) for r in rows]

    async def ledger(
        self, grid_ids: Sequence[int] | None = None
    ) -> list[tuple[CarePerson, list[CareVisit]]]:
        """Every person of the grids with their visits (oldest first), for the ledger."""
        where, params = _grid_filter(grid_ids, "grid_id")
        people = await self._db.fetch_all(
            "SELECT * FROM care_people WHERE 1 = 1" + where + " ORDER BY id",  # noqa: S608
            params,
        )
        visits = await self._db.fetch_all(
            "SELECT * FROM care_visits WHERE 1 = 1" + where + " ORDER BY visited_at, id",  # noqa: S608
            params,
        )
        by_person: dict[int, list[CareVisit]] = {}
        for row in visits:
            visit = CareVisit.from_row(row)
            by_person.setdefault(visit.person_id, []).append(visit)
        return [(p, by_person.get(p.id, [])) for p in map(CarePerson.from_row, people)]
