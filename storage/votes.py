"""议事: households, who lives where, votes, their polls and answers (migration 0012).

Each change is one transaction with its history row (``vote_events``) and its messages (the
outbox), run in one hand-over (:meth:`Database.atomic`):

* ``start``: the vote, the snapshot of its eligible households, the outbox row of kind
  ``poll`` (payload ``{vote_id, question, options, thread_id}``) — once per /vote message
  (``UNIQUE(source_chat_id, source_message_id)``: a replayed update returns the vote as it is);
* ``answer`` / ``proxy``: one more row of ``vote_answers`` (every answer is kept; the count at
  close reads the latest), the notices the caller drafted (dedupe keys: once per vote);
* ``close``: guarded by ``status = 'open'`` (exactly one closer, whether /vote close or the
  tick, whichever instance); the caller's count runs inside the transaction over the answers as
  they are, then the finals, the result, a ``stop_poll`` row per poll and the result message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum, unique
from typing import Any

from storage.db import Conn, Database, Row, from_db_time, time_at, to_db_time
from storage.outbox import OutboxDraft, queue_in
from storage.vocabulary import MemberStatus, VoteEventKind, VoteStatus

# -- rows -----------------------------------------------------------------------------------


@unique
class HouseholdEventKind(StrEnum):
    """The kind of one row of a grid's room history (``household_events.kind``)."""

    TIE = "tie"  # she claimed a room (/room 3-2-501)
    MOVE = "move"  # she claimed another room: moved (note: the old label)
    SET = "set"  # an officer set her room (confirmed)
    CONFIRM = "confirm"  # an officer confirmed the room she claimed
    UNTIE = "untie"  # she lives in none of the grid's households any more
    ADD = "add"  # an officer added the household (/room add), or brought a removed one back
    REMOVE = "remove"  # an officer removed the household: no new vote counts it


@dataclass(frozen=True)
class Household:
    id: int
    grid_id: int
    label: str  # 3-2-501 / 3-501
    building: str
    unit: str | None
    room: str
    created_by: int | None
    created_at: datetime
    vouched: bool = False  # an officer added it, or set or confirmed a member of it
    removed_at: datetime | None = None  # an officer removed it: no new vote counts it

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> Household:
        return cls(
            id=row[prefix + "id"],
            grid_id=row[prefix + "grid_id"],
            label=row[prefix + "label"],
            building=row[prefix + "building"],
            unit=row[prefix + "unit"],
            room=row[prefix + "room"],
            created_by=row[prefix + "created_by"],
            created_at=time_at(row, prefix + "created_at"),
            vouched=row[prefix + "vouched"] == 1,
            removed_at=from_db_time(row[prefix + "removed_at"]),
        )


@dataclass(frozen=True)
class HouseholdEvent:
    """One change of who lives where: ``user_id`` whom (None: the household itself),
    ``actor_id`` who made it."""

    id: int
    grid_id: int
    household_id: int | None
    label: str
    kind: HouseholdEventKind
    user_id: int | None
    user_name: str
    actor_id: int | None
    note: str
    at: datetime

    @classmethod
    def from_row(cls, row: Row) -> HouseholdEvent:
        return cls(
            id=row["id"],
            grid_id=row["grid_id"],
            household_id=row["household_id"],
            label=row["label"] or "",
            kind=HouseholdEventKind(row["kind"]),
            user_id=row["user_id"],
            user_name=row["user_name"],
            actor_id=row["actor_id"],
            note=row["note"],
            at=time_at(row, "at"),
        )


@dataclass(frozen=True)
class Member:
    id: int
    grid_id: int
    household_id: int
    user_id: int
    user_name: str
    status: MemberStatus
    set_by: int | None
    set_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Member:
        return cls(
            id=row["id"],
            grid_id=row["grid_id"],
            household_id=row["household_id"],
            user_id=row["user_id"],
            user_name=row["user_name"],
            status=MemberStatus(row["status"]),
            set_by=row["set_by"],
            set_at=time_at(row, "set_at"),
        )


@dataclass(frozen=True)
class Vote:
    id: int
    grid_id: int
    chat_id: int
    thread_id: int | None
    question: str
    options: tuple[str, ...]  # the first is the one the rule counts (同意)
    rule_num: int
    rule_den: int
    rule_strict: bool  # True: more than num/den of the eligible; False: at least
    quorum_num: int | None
    quorum_den: int | None
    scope: str  # '' every household of the grid, else a label prefix (3-2)
    deadline: datetime
    status: VoteStatus
    started_by: int | None
    started_by_name: str
    started_at: datetime
    eligible: int  # households in the snapshot
    closed_at: datetime | None
    closed_by: int | None  # None: closed by its deadline (or still open)
    closed_by_name: str
    result: dict[str, Any] | None  # see bot.votes.Tally.as_result
    source_chat_id: int | None
    source_message_id: int | None

    @property
    def is_open(self) -> bool:
        return self.status is VoteStatus.OPEN

    @classmethod
    def from_row(cls, row: Row) -> Vote:
        result = row["result"]
        return cls(
            id=row["id"],
            grid_id=row["grid_id"],
            chat_id=row["chat_id"],
            thread_id=row["thread_id"],
            question=row["question"],
            options=tuple(json.loads(row["options"])),
            rule_num=row["rule_num"],
            rule_den=row["rule_den"],
            rule_strict=row["rule_strict"] == 1,
            quorum_num=row["quorum_num"],
            quorum_den=row["quorum_den"],
            scope=row["scope"],
            deadline=time_at(row, "deadline"),
            status=VoteStatus(row["status"]),
            started_by=row["started_by"],
            started_by_name=row["started_by_name"],
            started_at=time_at(row, "started_at"),
            eligible=row["eligible"],
            closed_at=from_db_time(row["closed_at"]),
            closed_by=row["closed_by"],
            closed_by_name=row["closed_by_name"],
            result=None if result is None else json.loads(result),
            source_chat_id=row["source_chat_id"],
            source_message_id=row["source_message_id"],
        )


@dataclass(frozen=True)
class VotePoll:
    id: int
    vote_id: int
    poll_id: str
    chat_id: int
    message_id: int
    sent_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> VotePoll:
        return cls(
            id=row["id"],
            vote_id=row["vote_id"],
            poll_id=row["poll_id"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            sent_at=time_at(row, "sent_at"),
        )


@dataclass(frozen=True)
class VoteHousehold:
    """One eligible household of a vote (the snapshot at start), with its final at close."""

    vote_id: int
    household_id: int
    label: str
    final_option: int | None = None
    final_user_id: int | None = None
    final_name: str = ""
    final_proxy: bool = False
    final_note: str = ""
    final_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> VoteHousehold:
        return cls(
            vote_id=row["vote_id"],
            household_id=row["household_id"],
            label=row["label"],
            final_option=row["final_option"],
            final_user_id=row["final_user_id"],
            final_name=row["final_name"],
            final_proxy=row["final_proxy"] == 1,
            final_note=row["final_note"],
            final_at=from_db_time(row["final_at"]),
        )


@dataclass(frozen=True)
class VoteAnswer:
    """One answer as given: a member's (``proxy_household_id`` None) or an officer's for a
    household (``user_id`` = the officer). ``option`` None: retracted / withdrawn."""

    id: int
    vote_id: int
    user_id: int | None
    user_name: str
    option: int | None
    proxy_household_id: int | None
    note: str
    answered_at: datetime
    poll_id: str | None

    @property
    def is_proxy(self) -> bool:
        return self.proxy_household_id is not None

    @classmethod
    def from_row(cls, row: Row) -> VoteAnswer:
        return cls(
            id=row["id"],
            vote_id=row["vote_id"],
            user_id=row["user_id"],
            user_name=row["user_name"],
            option=row["option"],
            proxy_household_id=row["proxy_household_id"],
            note=row["note"],
            answered_at=time_at(row, "answered_at"),
            poll_id=row["poll_id"],
        )


@dataclass(frozen=True)
class VoteEvent:
    id: int
    vote_id: int
    kind: VoteEventKind
    actor_id: int | None
    actor_name: str
    note: str
    at: datetime

    @classmethod
    def from_row(cls, row: Row) -> VoteEvent:
        return cls(
            id=row["id"],
            vote_id=row["vote_id"],
            kind=VoteEventKind(row["kind"]),
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            note=row["note"],
            at=time_at(row, "at"),
        )


# -- what callers hand in -------------------------------------------------------------------


@dataclass(frozen=True)
class VoteDraft:
    grid_id: int
    chat_id: int
    thread_id: int | None
    question: str
    options: tuple[str, ...]
    rule_num: int
    rule_den: int
    rule_strict: bool
    quorum_num: int | None
    quorum_den: int | None
    scope: str
    deadline: datetime
    started_by: int | None
    started_by_name: str
    source_chat_id: int | None = None
    source_message_id: int | None = None


@dataclass(frozen=True)
class StartedVote:
    vote: Vote
    created: bool  # False: this /vote message started it before (a replayed update)


@dataclass(frozen=True)
class Tie:
    """Where a person now lives, and whether that moved her (``moved_from``: her old room).
    ``confirmed``: the household's other members an officer confirmed; ``contested``: she
    claimed a room that has one — her answers do not count until an officer confirms her (tell
    her, and the grid's officers)."""

    household: Household
    member: Member
    moved_from: Household | None = None
    confirmed: tuple[Member, ...] = ()
    repeat: bool = False  # she was tied there already, with the same status (nothing changed)

    @property
    def contested(self) -> bool:
        return self.member.status is MemberStatus.CLAIMED and bool(self.confirmed)


@dataclass(frozen=True)
class HouseholdLine:
    household: Household
    members: tuple[Member, ...]


@dataclass(frozen=True)
class VoteState:
    """Everything the count reads, as it is inside the closing transaction: the vote, its
    eligible households, the current members of those households, every answer, its polls."""

    vote: Vote
    households: tuple[VoteHousehold, ...]
    members: tuple[Member, ...]
    answers: tuple[VoteAnswer, ...]
    polls: tuple[VotePoll, ...]


@dataclass(frozen=True)
class Final:
    """A household's answer at close (what ``vote_households`` keeps)."""

    household_id: int
    option: int | None
    user_id: int | None = None
    name: str = ""
    proxy: bool = False
    note: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Closing:
    """What the caller's count decided: each household's final, the result (JSON-able), the
    messages to queue after the stop_poll rows (the result in the group, …)."""

    finals: Sequence[Final]
    result: Mapping[str, Any]
    messages: Sequence[OutboxDraft] = ()
    note: str = ""  # the closed event's note


@dataclass(frozen=True)
class Answered:
    """What one poll answer did. ``household``: the eligible household it speaks for now (None:
    the person is tied to no eligible household: kept, not counted unless she ties herself
    before the close); ``split``: members of that household now answer differently."""

    vote: Vote
    answer: VoteAnswer
    household: VoteHousehold | None
    split: bool = False
    notified: bool = False  # the untied notice or the split flag was queued now (first time)
    set_aside: str | None = None  # kept, not counted: "late" (at or past the deadline),
    # "unconfirmed" (a claimed member of a household with a confirmed one)


@dataclass(frozen=True)
class Proxied:
    vote: Vote
    answer: VoteAnswer
    household: VoteHousehold


@dataclass(frozen=True)
class LedgerVote:
    """One vote for the 议事 sheet: the vote, its grid's names, its households with finals."""

    vote: Vote
    grid_name: str
    community_name: str
    households: tuple[VoteHousehold, ...]


# -- SQL helpers ----------------------------------------------------------------------------

_INSERT_EVENT = (
    "INSERT INTO vote_events (vote_id, kind, actor_id, actor_name, note, at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _event_in(
    conn: Conn,
    vote_id: int,
    kind: VoteEventKind,
    actor_id: int | None,
    actor_name: str,
    at: datetime,
    note: str = "",
) -> None:
    conn.execute(_INSERT_EVENT, (vote_id, kind, actor_id, actor_name, note, to_db_time(at)))


def _vote_in(conn: Conn, vote_id: int) -> Vote | None:
    row = conn.execute("SELECT * FROM votes WHERE id = ?", (vote_id,)).fetchone()
    return None if row is None else Vote.from_row(row)


def _open_vote_locked_in(conn: Conn, vote_id: int) -> Vote | None:
    """The vote if it is open, its row locked to the transaction's end (a no-op UPDATE: on
    PostgreSQL a close in progress is waited for and its status read afterwards, and a close
    that comes later waits for this transaction, then counts what it wrote; SQLite's BEGIN
    IMMEDIATE already lets one writer in at a time). None: no such vote, or closed."""
    row = conn.execute(
        "UPDATE votes SET status = status WHERE id = ? AND status = 'open' RETURNING *",
        (vote_id,),
    ).fetchone()
    return None if row is None else Vote.from_row(row)


def _household_event_in(
    conn: Conn,
    grid_id: int,
    household: Household | None,
    kind: HouseholdEventKind,
    user_id: int | None,
    user_name: str,
    actor_id: int | None,
    at: datetime,
    note: str = "",
) -> None:
    conn.execute(
        "INSERT INTO household_events (grid_id, household_id, kind, user_id, user_name,"
        " actor_id, note, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            grid_id,
            None if household is None else household.id,
            kind,
            user_id,
            user_name,
            actor_id,
            note,
            to_db_time(at),
        ),
    )


def _eligible_in(conn: Conn, grid_id: int, scope: str) -> list[Row]:
    """The grid's households a new vote counts (id, label), by label: inside ``scope``, not
    removed, and either vouched for by an officer (added, or a member set or confirmed) or
    with a member now — a room someone claimed and left again (a typo, a move) is not."""
    where, params = _scope_filter(scope, "h.label")
    return list(
        conn.execute(
            "SELECT h.id, h.label FROM households h WHERE h.grid_id = ?"  # noqa: S608
            " AND h.removed_at IS NULL AND (h.vouched = 1 OR EXISTS"
            " (SELECT 1 FROM household_members m WHERE m.household_id = h.id))"
            + where
            + " ORDER BY h.label",
            (grid_id, *params),
        ).fetchall()
    )


def _grid_filter(grid_ids: Sequence[int] | None, column: str) -> tuple[str, tuple[Any, ...]]:
    if grid_ids is None:
        return "", ()
    return (
        f" AND {column} IN (SELECT value FROM json_each(?))",  # noqa: S608 - fixed SQL
        (json.dumps(sorted(set(grid_ids))),),
    )


def _scope_filter(scope: str, column: str) -> tuple[str, tuple[Any, ...]]:
    """Households inside a label prefix: the label itself or one under it (``3-2`` holds
    ``3-2-501``, not ``3-20-101``)."""
    if not scope:
        return "", ()
    prefix = scope + "-"
    return (
        f" AND ({column} = ? OR substr({column}, 1, ?) = ?)",
        (scope, len(prefix), prefix),
    )


def _household_in(
    conn: Conn,
    grid_id: int,
    label: str,
    parts: tuple[str, str | None, str],
    by: int | None,
    now: datetime,
    *,
    vouch: bool = False,
) -> tuple[Household, bool]:
    """The grid's household of ``label``, made if new, and whether it is new to the list (made
    now, or brought back after a removal). ``vouch``: an officer stands for it (added it, set
    or confirmed a member): it counts in new votes even with no member, and a removal ends."""
    building, unit, room = parts
    found = conn.execute(
        "SELECT * FROM households WHERE grid_id = ? AND label = ?", (grid_id, label)
    ).fetchone()
    if found is None:
        conn.execute(
            "INSERT INTO households (grid_id, label, building, unit, room, created_by,"
            " created_at, vouched) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (grid_id, label) DO NOTHING",
            (grid_id, label, building, unit, room, by, to_db_time(now), 1 if vouch else 0),
        )
        fresh = True
    else:
        household = Household.from_row(found)
        fresh = vouch and household.removed
        if not vouch or (household.vouched and not household.removed):
            return household, False
        conn.execute(
            "UPDATE households SET vouched = 1, removed_at = NULL, removed_by = NULL WHERE id = ?",
            (household.id,),
        )
    row = conn.execute(
        "SELECT * FROM households WHERE grid_id = ? AND label = ?", (grid_id, label)
    ).fetchone()
    return Household.from_row(row), fresh


def _members_of_in(conn: Conn, household_ids: Sequence[int]) -> list[Member]:
    if not household_ids:
        return []
    rows = conn.execute(
        "SELECT * FROM household_members WHERE household_id IN (SELECT value FROM json_each(?))"
        " ORDER BY household_id, id",
        (json.dumps(sorted(set(household_ids))),),
    ).fetchall()
    return [Member.from_row(r) for r in rows]


def _state_in(conn: Conn, vote: Vote) -> VoteState:
    households = tuple(
        VoteHousehold.from_row(r)
        for r in conn.execute(
            "SELECT * FROM vote_households WHERE vote_id = ? ORDER BY label", (vote.id,)
        ).fetchall()
    )
    members = tuple(_members_of_in(conn, [h.household_id for h in households]))
    answers = tuple(
        VoteAnswer.from_row(r)
        for r in conn.execute(
            "SELECT * FROM vote_answers WHERE vote_id = ? ORDER BY id", (vote.id,)
        ).fetchall()
    )
    polls = tuple(
        VotePoll.from_row(r)
        for r in conn.execute(
            "SELECT * FROM vote_polls WHERE vote_id = ? ORDER BY id", (vote.id,)
        ).fetchall()
    )
    return VoteState(vote, households, members, answers, polls)


def _stop_poll_draft(
    vote_id: int, poll_row: int, chat_id: int, message_id: int, now: datetime
) -> OutboxDraft:
    return OutboxDraft(
        chat_id=chat_id,
        kind="stop_poll",
        not_before=now,
        payload={"message_id": message_id, "vote_id": vote_id},
        dedupe_key=f"vote:{vote_id}:stop:{poll_row}",
    )


def _insert_answer(
    conn: Conn,
    vote_id: int,
    user_id: int | None,
    user_name: str,
    option: int | None,
    proxy_household_id: int | None,
    note: str,
    at: datetime,
    poll_id: str | None,
) -> VoteAnswer:
    row = conn.execute(
        "INSERT INTO vote_answers (vote_id, user_id, user_name, option, proxy_household_id,"
        " note, answered_at, poll_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (vote_id, user_id, user_name, option, proxy_household_id, note, to_db_time(at), poll_id),
    ).fetchone()
    return VoteAnswer.from_row(row)


def _member_options_in(conn: Conn, vote: Vote, household_id: int) -> set[int]:
    """The distinct current answers of a household's members that count (their latest rows
    before the deadline, not NULL; only the confirmed members' when it has one)."""
    rows = conn.execute(
        "SELECT a.user_id, a.option, a.answered_at, m.status FROM vote_answers a"
        " JOIN household_members m ON m.user_id = a.user_id AND m.household_id = ?"
        " WHERE a.vote_id = ? AND a.proxy_household_id IS NULL ORDER BY a.id",
        (household_id, vote.id),
    ).fetchall()
    confirmed = any(r["status"] == MemberStatus.CONFIRMED for r in rows) or (
        conn.execute(
            "SELECT 1 FROM household_members WHERE household_id = ? AND status = 'confirmed'",
            (household_id,),
        ).fetchone()
        is not None
    )
    latest: dict[int, int | None] = {}
    for row in rows:
        if confirmed and row["status"] != MemberStatus.CONFIRMED:
            continue
        if time_at(row, "answered_at") >= vote.deadline:
            continue
        latest[row["user_id"]] = row["option"]
    return {o for o in latest.values() if o is not None}


# -- the repository -------------------------------------------------------------------------


class VoteRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- households and who lives where ------------------------------------------------------

    async def tie(
        self,
        grid_id: int,
        user_id: int,
        user_name: str,
        label: str,
        parts: tuple[str, str | None, str],
        status: MemberStatus,
        set_by: int | None,
        now: datetime,
    ) -> Tie:
        """Tie a person to the grid's household ``label`` (made if new: ``parts`` = building,
        unit or None, room); one room per person per grid, so a new one moves her. Status
        confirmed (an officer set it) vouches for the household. With its history row
        (tie, move or set). ``Tie.contested``: she claimed a room with a confirmed member."""

        def work(conn: Conn) -> Tie:
            confirmed = status is MemberStatus.CONFIRMED
            household, _fresh = _household_in(
                conn, grid_id, label, parts, set_by, now, vouch=confirmed
            )
            before = conn.execute(
                "SELECT h.*, m.status AS m_status FROM household_members m"
                " JOIN households h ON h.id = m.household_id"
                " WHERE m.grid_id = ? AND m.user_id = ?",
                (grid_id, user_id),
            ).fetchone()
            repeat = (
                before is not None and before["id"] == household.id and before["m_status"] == status
            )
            moved = None
            if before is not None and before["id"] != household.id:
                moved = Household.from_row(before)
            row = conn.execute(
                "INSERT INTO household_members (grid_id, household_id, user_id, user_name,"
                " status, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (grid_id, user_id) DO UPDATE SET household_id ="
                " excluded.household_id, user_name = excluded.user_name, status ="
                " excluded.status, set_by = excluded.set_by, set_at = excluded.set_at"
                " RETURNING *",
                (grid_id, household.id, user_id, user_name, status, set_by, to_db_time(now)),
            ).fetchone()
            if confirmed:
                kind = HouseholdEventKind.SET
            else:
                kind = HouseholdEventKind.MOVE if moved else HouseholdEventKind.TIE
            _household_event_in(
                conn,
                grid_id,
                household,
                kind,
                user_id,
                user_name,
                set_by,
                now,
                "" if moved is None else moved.label,
            )
            others = tuple(
                m
                for m in _members_of_in(conn, [household.id])
                if m.user_id != user_id and m.status is MemberStatus.CONFIRMED
            )
            return Tie(household, Member.from_row(row), moved, others, repeat)

        return await self._db.atomic(work)

    async def confirm(self, grid_id: int, user_id: int, set_by: int, now: datetime) -> Tie | None:
        """An officer confirms the room a person claimed (which vouches for the household);
        None: she claimed none."""

        def work(conn: Conn) -> Tie | None:
            row = conn.execute(
                "UPDATE household_members SET status = 'confirmed', set_by = ?, set_at = ?"
                " WHERE grid_id = ? AND user_id = ? RETURNING *",
                (set_by, to_db_time(now), grid_id, user_id),
            ).fetchone()
            if row is None:
                return None
            member = Member.from_row(row)
            found = conn.execute(
                "UPDATE households SET vouched = 1, removed_at = NULL, removed_by = NULL"
                " WHERE id = ? RETURNING *",
                (member.household_id,),
            ).fetchone()
            household = Household.from_row(found)
            _household_event_in(
                conn,
                grid_id,
                household,
                HouseholdEventKind.CONFIRM,
                user_id,
                member.user_name,
                set_by,
                now,
            )
            others = tuple(
                m
                for m in _members_of_in(conn, [household.id])
                if m.user_id != user_id and m.status is MemberStatus.CONFIRMED
            )
            return Tie(household, member, None, others)

        return await self._db.atomic(work)

    async def add_households(
        self,
        grid_id: int,
        labels: Sequence[tuple[str, tuple[str, str | None, str]]],
        by: int | None,
        now: datetime,
    ) -> int:
        """Households without Telegram (``/room add``): (label, parts) each, vouched for by the
        officer (one a resident made by a claim is vouched for now; a removed one comes back);
        how many are new to the list. A history row for each."""

        def work(conn: Conn) -> int:
            added = 0
            for label, parts in labels:
                before = conn.execute(
                    "SELECT vouched, removed_at FROM households WHERE grid_id = ? AND label = ?",
                    (grid_id, label),
                ).fetchone()
                household, fresh = _household_in(conn, grid_id, label, parts, by, now, vouch=True)
                added += fresh
                if before is None or before["vouched"] != 1 or before["removed_at"] is not None:
                    note = "" if before is None else "vouched"
                    _household_event_in(
                        conn, grid_id, household, HouseholdEventKind.ADD, None, "", by, now, note
                    )
            return added

        return await self._db.atomic(work)

    async def remove_household(
        self, grid_id: int, label: str, by: int | None, now: datetime
    ) -> Household | None:
        """An officer removes a household (a typo, a room that is no home): no vote started
        from now on counts it; a vote already running keeps it (its eligible households were
        fixed at its start). Its members stay tied to it (their answers count in no new vote
        until they /room again). With its history row. None: no such household, or removed
        already."""

        def work(conn: Conn) -> Household | None:
            row = conn.execute(
                "UPDATE households SET removed_at = ?, removed_by = ?"
                " WHERE grid_id = ? AND label = ? AND removed_at IS NULL RETURNING *",
                (to_db_time(now), by, grid_id, label),
            ).fetchone()
            if row is None:
                return None
            household = Household.from_row(row)
            _household_event_in(
                conn, grid_id, household, HouseholdEventKind.REMOVE, None, "", by, now
            )
            return household

        return await self._db.atomic(work)

    async def untie(self, grid_id: int, user_id: int, by: int | None, now: datetime) -> bool:
        """She lives in none of the grid's households any more (``by``: who said so), with its
        history row; False: she was tied to none."""

        def work(conn: Conn) -> bool:
            row = conn.execute(
                "DELETE FROM household_members WHERE grid_id = ? AND user_id = ? RETURNING *",
                (grid_id, user_id),
            ).fetchone()
            if row is None:
                return False
            member = Member.from_row(row)
            found = conn.execute(
                "SELECT * FROM households WHERE id = ?", (member.household_id,)
            ).fetchone()
            _household_event_in(
                conn,
                grid_id,
                None if found is None else Household.from_row(found),
                HouseholdEventKind.UNTIE,
                user_id,
                member.user_name,
                by,
                now,
            )
            return True

        return await self._db.atomic(work)

    async def household_events(
        self, grid_id: int, label: str | None = None, limit: int = 200
    ) -> list[HouseholdEvent]:
        """The grid's room history (of one household, with ``label``), oldest first."""
        where, params = ("", ()) if label is None else (" AND h.label = ?", (label,))
        rows = await self._db.fetch_all(
            "SELECT e.*, h.label AS label FROM household_events e"  # noqa: S608 - fixed SQL
            " LEFT JOIN households h ON h.id = e.household_id"
            " WHERE e.grid_id = ?" + where + " ORDER BY e.id LIMIT ?",
            (grid_id, *params, limit),
        )
        return [HouseholdEvent.from_row(r) for r in rows]

    async def household_of(self, grid_id: int, user_id: int) -> tuple[Household, Member] | None:
        row = await self._db.fetch_one(
            "SELECT m.*, h.id AS h_id, h.grid_id AS h_grid_id, h.label AS h_label,"
            " h.building AS h_building, h.unit AS h_unit, h.room AS h_room,"
            " h.created_by AS h_created_by, h.created_at AS h_created_at,"
            " h.vouched AS h_vouched, h.removed_at AS h_removed_at"
            " FROM household_members m JOIN households h ON h.id = m.household_id"
            " WHERE m.grid_id = ? AND m.user_id = ?",
            (grid_id, user_id),
        )
        if row is None:
            return None
        return Household.from_row(row, "h_"), Member.from_row(row)

    async def households(
        self, grid_id: int, prefix: str = "", *, removed: bool = False
    ) -> list[HouseholdLine]:
        """The grid's households inside a label prefix (``''``: all), by label, with members;
        those an officer removed only with ``removed``."""
        where, params = _scope_filter(prefix, "label")
        if not removed:
            where += " AND removed_at IS NULL"

        def read(conn: Conn) -> list[HouseholdLine]:
            found = [
                Household.from_row(r)
                for r in conn.execute(
                    "SELECT * FROM households WHERE grid_id = ?" + where + " ORDER BY label",  # noqa: S608
                    (grid_id, *params),
                ).fetchall()
            ]
            by_household: dict[int, list[Member]] = {}
            for member in _members_of_in(conn, [h.id for h in found]):
                by_household.setdefault(member.household_id, []).append(member)
            return [HouseholdLine(h, tuple(by_household.get(h.id, ()))) for h in found]

        return await self._db.run(read)

    async def household(self, grid_id: int, label: str) -> Household | None:
        """The grid's household of ``label`` (a removed one too: see ``removed``)."""
        row = await self._db.fetch_one(
            "SELECT * FROM households WHERE grid_id = ? AND label = ?", (grid_id, label)
        )
        return None if row is None else Household.from_row(row)

    # -- votes -------------------------------------------------------------------------------

    async def start(
        self, draft: VoteDraft, now: datetime, poll: OutboxDraft | None = None
    ) -> StartedVote | None:
        """The vote, its eligible households (the grid's inside ``draft.scope``, as they are
        now), its ``poll`` outbox row and history row, in one transaction. None: no eligible
        household (nothing is written). A /vote message that started a vote before returns it
        (``created`` False). ``poll``: the row to queue (kind ``poll``); None: the default one,
        to ``draft.chat_id`` with payload {vote_id, question, options, thread_id}. Eligible:
        see :func:`_eligible_in` (a room claimed and left again is not)."""

        def work(conn: Conn) -> StartedVote | None:
            if draft.source_chat_id is not None:
                kept = conn.execute(
                    "SELECT * FROM votes WHERE source_chat_id = ? AND source_message_id = ?",
                    (draft.source_chat_id, draft.source_message_id),
                ).fetchone()
                if kept is not None:
                    return StartedVote(Vote.from_row(kept), False)
            eligible = _eligible_in(conn, draft.grid_id, draft.scope)
            if not eligible:
                return None
            row = conn.execute(
                "INSERT INTO votes (grid_id, chat_id, thread_id, question, options, rule_num,"
                " rule_den, rule_strict, quorum_num, quorum_den, scope, deadline, started_by,"
                " started_by_name, started_at, eligible, source_chat_id, source_message_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    draft.grid_id,
                    draft.chat_id,
                    draft.thread_id,
                    draft.question,
                    json.dumps(list(draft.options), ensure_ascii=False),
                    draft.rule_num,
                    draft.rule_den,
                    1 if draft.rule_strict else 0,
                    draft.quorum_num,
                    draft.quorum_den,
                    draft.scope,
                    to_db_time(draft.deadline),
                    draft.started_by,
                    draft.started_by_name,
                    to_db_time(now),
                    len(eligible),
                    draft.source_chat_id,
                    draft.source_message_id,
                ),
            ).fetchone()
            vote = Vote.from_row(row)
            conn.executemany(
                "INSERT INTO vote_households (vote_id, household_id, label) VALUES (?, ?, ?)",
                [(vote.id, h["id"], h["label"]) for h in eligible],
            )
            message = poll or OutboxDraft(
                chat_id=vote.chat_id,
                kind="poll",
                not_before=now,
                payload={
                    "vote_id": vote.id,
                    "question": vote.question,
                    "options": list(vote.options),
                    "thread_id": vote.thread_id,
                },
                dedupe_key=f"vote:{vote.id}:poll",
            )
            queue_in(conn, message, now)
            _event_in(
                conn,
                vote.id,
                VoteEventKind.STARTED,
                draft.started_by,
                draft.started_by_name,
                now,
                f"eligible={len(eligible)}",
            )
            return StartedVote(vote, True)

        return await self._db.atomic(work)

    async def poll_sent(
        self, vote_id: int, poll_id: str, chat_id: int, message_id: int, now: datetime
    ) -> bool:
        """Telegram accepted the vote's poll (the sender, before it marks the row sent);
        False: this poll was recorded before. A vote closed meanwhile (``/vote close`` while
        the poll waited to go out) has the poll stopped at once: its ``stop_poll`` row is
        queued here, in the same transaction (dedupe ``vote:<id>:stop:<poll>``)."""

        def work(conn: Conn) -> bool:
            added = conn.execute(
                "INSERT INTO vote_polls (vote_id, poll_id, chat_id, message_id, sent_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (poll_id) DO NOTHING RETURNING id",
                (vote_id, poll_id, chat_id, message_id, to_db_time(now)),
            ).fetchone()
            if added is None:
                return False
            _event_in(conn, vote_id, VoteEventKind.POLL_SENT, None, "", now, poll_id)
            vote = _vote_in(conn, vote_id)
            if vote is not None and not vote.is_open:
                queue_in(
                    conn, _stop_poll_draft(vote.id, added["id"], chat_id, message_id, now), now
                )
            return True

        return await self._db.atomic(work)

    async def poll_failed(
        self,
        vote_id: int,
        now: datetime,
        result: Mapping[str, Any],
        notices: Sequence[OutboxDraft] = (),
        *,
        error: str = "",
        outbox_id: int | None = None,
        outbox_status: str = "failed",
    ) -> Vote | None:
        """The sender gave up the vote's ``poll`` row (Telegram refused it: too long, no right
        to send polls, a closed topic …): its outbox row is marked (``outbox_id``: as
        ``OutboxRepository.give_up`` would), and a vote still open with no poll out is closed
        as failed — ``result`` (with ``failed``: the reason) recorded, no finals, no result in
        the group — with its history row and ``notices`` (the starter, privately), in one
        transaction. None: a poll of the vote went out after all, or it is closed already."""

        def work(conn: Conn) -> Vote | None:
            if outbox_id is not None:
                conn.execute(
                    "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?"
                    " WHERE id = ? AND status = 'pending'",
                    (outbox_status, error[:500], outbox_id),
                )
            if conn.execute("SELECT 1 FROM vote_polls WHERE vote_id = ?", (vote_id,)).fetchone():
                return None
            row = conn.execute(
                "UPDATE votes SET status = 'closed', closed_at = ?, result = ?"
                " WHERE id = ? AND status = 'open' RETURNING *",
                (to_db_time(now), json.dumps(dict(result), ensure_ascii=False), vote_id),
            ).fetchone()
            if row is None:
                return None
            for notice in notices:
                queue_in(conn, notice, now)
            _event_in(conn, vote_id, VoteEventKind.CLOSED, None, "", now, f"failed: {error}"[:500])
            return Vote.from_row(row)

        return await self._db.atomic(work)

    async def vote_of_poll(self, poll_id: str) -> Vote | None:
        row = await self._db.fetch_one(
            "SELECT v.* FROM votes v JOIN vote_polls p ON p.vote_id = v.id WHERE p.poll_id = ?",
            (poll_id,),
        )
        return None if row is None else Vote.from_row(row)

    async def polls(self, vote_id: int) -> list[VotePoll]:
        rows = await self._db.fetch_all(
            "SELECT * FROM vote_polls WHERE vote_id = ? ORDER BY id", (vote_id,)
        )
        return [VotePoll.from_row(r) for r in rows]

    async def answer(
        self,
        vote_id: int,
        poll_id: str | None,
        user_id: int,
        user_name: str,
        option: int | None,
        now: datetime,
        *,
        untied_notice: OutboxDraft | None = None,
        split_flags: Sequence[OutboxDraft] = (),
    ) -> Answered | None:
        """One poll answer (``option`` None: a retraction), kept with its history row. The
        person's eligible household is read now: none → ``untied_notice`` is queued (its
        dedupe key makes it once per vote and person); members now answering differently →
        ``split_flags`` are queued (once per vote, household and reader). An answer at or
        past the deadline (the tick may come late) is kept, marked ``late``, and counts for
        nothing; a claimed member's where an officer confirmed another is set aside
        (``unconfirmed``). None: no such vote, or closed (the answer is not kept: the vote row
        is locked, so nothing is recorded once a close has committed)."""

        def work(conn: Conn) -> Answered | None:
            vote = _open_vote_locked_in(conn, vote_id)
            if vote is None:
                return None
            answer = _insert_answer(
                conn, vote_id, user_id, user_name, option, None, "", now, poll_id
            )
            row = conn.execute(
                "SELECT vh.*, m.status AS m_status FROM vote_households vh"
                " JOIN household_members m ON m.household_id = vh.household_id"
                " WHERE vh.vote_id = ? AND m.grid_id = ? AND m.user_id = ?",
                (vote_id, vote.grid_id, user_id),
            ).fetchone()
            household = None if row is None else VoteHousehold.from_row(row)
            notified = split = False
            set_aside: str | None = None
            if now >= vote.deadline:
                kind, set_aside = VoteEventKind.NOT_COUNTED, "late"
            elif household is None:
                kind = VoteEventKind.NOT_COUNTED
                if untied_notice is not None:
                    notified = queue_in(conn, untied_notice, now)
            else:
                kind = VoteEventKind.ANSWERED if option is not None else VoteEventKind.RETRACTED
                if (
                    row["m_status"] != MemberStatus.CONFIRMED
                    and conn.execute(
                        "SELECT 1 FROM household_members WHERE household_id = ?"
                        " AND status = 'confirmed'",
                        (household.household_id,),
                    ).fetchone()
                ):
                    kind, set_aside = VoteEventKind.NOT_COUNTED, "unconfirmed"
                split = len(_member_options_in(conn, vote, household.household_id)) > 1
                if split:
                    for flag in split_flags:
                        notified = queue_in(conn, flag, now) or notified
                    if notified:
                        _event_in(
                            conn, vote_id, VoteEventKind.SPLIT, None, "", now, household.label
                        )
            note = "" if option is None else str(option)
            if household is not None:
                note = f"{household.label} {note}".strip()
            if set_aside is not None:
                note = f"{note} {set_aside}".strip()
            _event_in(conn, vote_id, kind, user_id, user_name, now, note)
            return Answered(vote, answer, household, split, notified, set_aside)

        return await self._db.atomic(work)

    async def proxy(
        self,
        vote_id: int,
        label: str,
        option: int | None,
        officer_id: int | None,
        officer_name: str,
        note: str,
        now: datetime,
    ) -> Proxied | None:
        """An officer records a household's answer (``option`` None: withdraws the one she
        recorded), kept as a proxy row with its history row. None: no such open vote, its
        deadline has come (``now`` at or past it: the tick closes it), or the household is not
        one of its eligible. The vote row is locked, as for :meth:`answer`."""

        def work(conn: Conn) -> Proxied | None:
            vote = _open_vote_locked_in(conn, vote_id)
            if vote is None or now >= vote.deadline:
                return None
            row = conn.execute(
                "SELECT * FROM vote_households WHERE vote_id = ? AND label = ?",
                (vote_id, label),
            ).fetchone()
            if row is None:
                return None
            household = VoteHousehold.from_row(row)
            answer = _insert_answer(
                conn,
                vote_id,
                officer_id,
                officer_name,
                option,
                household.household_id,
                note,
                now,
                None,
            )
            said = "-" if option is None else str(option)
            _event_in(
                conn,
                vote_id,
                VoteEventKind.PROXY,
                officer_id,
                officer_name,
                now,
                f"{label} {said} {note}".strip(),
            )
            return Proxied(vote, answer, household)

        return await self._db.atomic(work)

    async def get(self, vote_id: int) -> Vote | None:
        row = await self._db.fetch_one("SELECT * FROM votes WHERE id = ?", (vote_id,))
        return None if row is None else Vote.from_row(row)

    async def list_votes(
        self, grid_ids: Sequence[int] | None, *, open_only: bool = False, limit: int = 50
    ) -> list[Vote]:
        """Votes of some grids (None: every grid), the newest first."""
        where, params = _grid_filter(grid_ids, "grid_id")
        if open_only:
            where += " AND status = 'open'"
        rows = await self._db.fetch_all(
            "SELECT * FROM votes WHERE 1 = 1" + where + " ORDER BY id DESC LIMIT ?",  # noqa: S608
            (*params, limit),
        )
        return [Vote.from_row(r) for r in rows]

    async def answered_outside(self, grid_id: int, user_id: int, household_id: int) -> list[Vote]:
        """The grid's open votes where the person answered (her latest answer is no
        retraction) and whose eligible households, fixed at the start, leave ``household_id``
        out: her answer there counts for nobody, whatever room she gives now."""
        rows = await self._db.fetch_all(
            "SELECT v.* FROM votes v WHERE v.grid_id = ? AND v.status = 'open'"
            " AND NOT EXISTS (SELECT 1 FROM vote_households vh WHERE vh.vote_id = v.id"
            " AND vh.household_id = ?)"
            " AND (SELECT a.option FROM vote_answers a WHERE a.vote_id = v.id"
            " AND a.user_id = ? AND a.proxy_household_id IS NULL"
            " ORDER BY a.id DESC LIMIT 1) IS NOT NULL ORDER BY v.id",
            (grid_id, household_id, user_id),
        )
        return [Vote.from_row(r) for r in rows]

    async def state(self, vote_id: int) -> VoteState | None:
        """The vote with what its count reads (for /vote show, and tests)."""

        def read(conn: Conn) -> VoteState | None:
            vote = _vote_in(conn, vote_id)
            return None if vote is None else _state_in(conn, vote)

        return await self._db.run(read)

    async def answers(self, vote_id: int) -> list[VoteAnswer]:
        rows = await self._db.fetch_all(
            "SELECT * FROM vote_answers WHERE vote_id = ? ORDER BY id", (vote_id,)
        )
        return [VoteAnswer.from_row(r) for r in rows]

    async def events(self, vote_id: int) -> list[VoteEvent]:
        rows = await self._db.fetch_all(
            "SELECT * FROM vote_events WHERE vote_id = ? ORDER BY at, id", (vote_id,)
        )
        return [VoteEvent.from_row(r) for r in rows]

    async def close(
        self,
        vote_id: int,
        now: datetime,
        closed_by: int | None,
        closed_by_name: str,
        count: Callable[[VoteState], Closing],
    ) -> Vote | None:
        """Close an open vote, once: ``UPDATE … WHERE status = 'open'`` decides the one closer;
        then ``count`` (pure and quick: it runs in the engine's thread, inside the transaction)
        over the state as it is, the finals, the result, a ``stop_poll`` row per poll in the
        vote's chat (payload {message_id}, dedupe ``vote:<id>:stop:<poll>``; a poll left in a
        group that became a supergroup is not stopped: that chat is gone), the count's messages
        and the history row. None: no such vote, or closed already (nothing written)."""

        def work(conn: Conn) -> Vote | None:
            won = conn.execute(
                "UPDATE votes SET status = 'closed', closed_at = ?, closed_by = ?,"
                " closed_by_name = ? WHERE id = ? AND status = 'open' RETURNING *",
                (to_db_time(now), closed_by, closed_by_name, vote_id),
            ).fetchone()
            if won is None:
                return None
            vote = Vote.from_row(won)
            state = _state_in(conn, vote)
            closing = count(state)
            conn.executemany(
                "UPDATE vote_households SET final_option = ?, final_user_id = ?, final_name = ?,"
                " final_proxy = ?, final_note = ?, final_at = ?"
                " WHERE vote_id = ? AND household_id = ?",
                [
                    (
                        f.option,
                        f.user_id,
                        f.name,
                        1 if f.proxy else 0,
                        f.note,
                        None if f.at is None else to_db_time(f.at),
                        vote.id,
                        f.household_id,
                    )
                    for f in closing.finals
                ],
            )
            result = json.dumps(dict(closing.result), ensure_ascii=False)
            row = conn.execute(
                "UPDATE votes SET result = ? WHERE id = ? RETURNING *", (result, vote.id)
            ).fetchone()
            for poll in state.polls:
                if poll.chat_id == vote.chat_id:
                    queue_in(
                        conn,
                        _stop_poll_draft(vote.id, poll.id, poll.chat_id, poll.message_id, now),
                        now,
                    )
            for message in closing.messages:
                queue_in(conn, message, now)
            _event_in(
                conn, vote.id, VoteEventKind.CLOSED, closed_by, closed_by_name, now, closing.note
            )
            return Vote.from_row(row)

        return await self._db.atomic(work)

    async def poll_stopped(self, vote_id: int, message_id: int, now: datetime) -> None:
        """The sender stopped a vote's poll (or Telegram said it was stopped or gone)."""

        def work(conn: Conn) -> None:
            _event_in(conn, vote_id, VoteEventKind.POLL_STOPPED, None, "", now, str(message_id))

        await self._db.atomic(work)

    async def due(self, now: datetime, limit: int = 100) -> list[Vote]:
        """Open votes whose deadline has come, the earliest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM votes WHERE status = 'open' AND deadline <= ?"
            " ORDER BY deadline, id LIMIT ?",
            (to_db_time(now), limit),
        )
        return [Vote.from_row(r) for r in rows]

    async def ledger(self, grid_ids: Sequence[int] | None = None) -> list[LedgerVote]:
        """Every vote of the grids (None: all) with its grid's names and its households (by
        label, with their finals), oldest first, for the 议事 sheet."""
        where, params = _grid_filter(grid_ids, "v.grid_id")

        def read(conn: Conn) -> list[LedgerVote]:
            rows = conn.execute(
                "SELECT v.*, g.name AS grid_name, m.name AS community_name FROM votes v"  # noqa: S608
                " JOIN grids g ON g.id = v.grid_id JOIN communities m ON m.id = g.community_id"
                " WHERE 1 = 1" + where + " ORDER BY v.id",
                params,
            ).fetchall()
            households: dict[int, list[VoteHousehold]] = {}
            if rows:
                for found in conn.execute(
                    "SELECT * FROM vote_households WHERE vote_id IN"
                    " (SELECT value FROM json_each(?)) ORDER BY vote_id, label",
                    (json.dumps([r["id"] for r in rows]),),
                ).fetchall():
                    household = VoteHousehold.from_row(found)
                    households.setdefault(household.vote_id, []).append(household)
            return [
                LedgerVote(
                    Vote.from_row(r),
                    r["grid_name"],
                    r["community_name"],
                    tuple(households.get(r["id"], ())),
                )
                for r in rows
            ]

        return await self._db.run(read)


__all__ = [
    "Answered",
    "Closing",
    "Final",
    "Household",
    "HouseholdEvent",
    "HouseholdEventKind",
    "HouseholdLine",
    "LedgerVote",
    "Member",
    "Proxied",
    "StartedVote",
    "Tie",
    "Vote",
    "VoteAnswer",
    "VoteDraft",
    "VoteEvent",
    "VoteHousehold",
    "VotePoll",
    "VoteRepository",
    "VoteState",
]
