"""The ticket lifecycle (bot.tickets): the table of what each action may start from, and
``act`` on a real Storage keeping to it. No Telegram."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import tickets
from bot.tickets import LIFECYCLE, Action, Actor, EventKind, Satisfaction, Status, Ticket
from storage import Storage
from tests.test_storage import bind, draft

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
OFFICER = Actor(5, "刘网格员")
RESIDENT = Actor(7, "王阿姨")

# Y: the action may start from the status; -: it is refused (DESIGN.md "Statuses")
TABLE = """
              take  assign  progress  note  done  reject  duplicate  reopen  escalate
new            Y      Y        Y       Y     Y      Y        Y         -        Y
accepted       Y      Y        Y       Y     Y      Y        Y         -        Y
resolved       -      -        -       Y     -      -        -         Y        -
closed         -      -        -       Y     -      -        -         Y        -
rejected       -      -        -       Y     -      -        -         Y        -
duplicate      -      -        -       Y     -      -        -         -        -
"""


def _table() -> dict[tuple[Status, Action], bool]:
    header, *rows = TABLE.strip().splitlines()
    actions = [Action(word) for word in header.split()]
    table = {}
    for row in rows:
        status, *marks = row.split()
        for action, mark in zip(actions, marks, strict=True):
            table[Status(status), action] = mark == "Y"
    return table


def test_the_table_covers_every_status_and_action() -> None:
    assert set(_table()) == {(s, a) for s in Status for a in Action}
    assert set(LIFECYCLE) == set(Action)


@pytest.mark.parametrize(("status", "action"), sorted(_table()))
def test_allowed_is_the_table(status: Status, action: Action) -> None:
    assert tickets.allowed(action, status) is _table()[status, action]


def test_where_each_action_leads() -> None:
    leads = {action: to for action, (_, to) in LIFECYCLE.items()}
    assert leads == {
        Action.TAKE: Status.ACCEPTED,
        Action.ASSIGN: Status.ACCEPTED,
        Action.PROGRESS: Status.ACCEPTED,
        Action.NOTE: None,
        Action.DONE: Status.RESOLVED,
        Action.REJECT: Status.REJECTED,
        Action.DUPLICATE: Status.DUPLICATE,
        Action.REOPEN: Status.ACCEPTED,
        Action.ESCALATE: None,
    }


@pytest.fixture
async def storage(database: Path | str) -> AsyncIterator[Storage]:
    opened = await Storage.open(database)
    await bind(opened)
    yield opened
    await opened.close()


async def _new(storage: Storage, message_id: int) -> Ticket:
    ticket, _ = await storage.tickets.open(draft(message_id))
    return ticket


async def _in(storage: Storage, status: Status, message_id: int) -> Ticket:
    """A ticket brought to ``status`` the way people bring it there."""
    ticket = await _new(storage, message_id)
    if status == Status.NEW:
        return ticket
    if status == Status.DUPLICATE:
        original = await _new(storage, message_id + 1)
        merged = await tickets.mark_duplicate(storage, ticket, original, OFFICER, NOW)
        assert merged is not None
        return merged
    if status == Status.REJECTED:
        return (
            await tickets.act(storage, Action.REJECT, ticket, OFFICER, NOW, "不归我们管")
        ).ticket
    ticket = (await tickets.act(storage, Action.TAKE, ticket, OFFICER, NOW)).ticket
    if status == Status.ACCEPTED:
        return ticket
    ticket = (await tickets.act(storage, Action.DONE, ticket, OFFICER, NOW)).ticket
    if status == Status.RESOLVED:
        return ticket
    closed = await tickets.rate(storage, ticket, RESIDENT, Satisfaction.SATISFIED, NOW)
    assert closed is not None
    return closed


WORDED = (
    Action.TAKE,
    Action.ASSIGN,
    Action.PROGRESS,
    Action.NOTE,
    Action.DONE,
    Action.REJECT,
    Action.REOPEN,
)


async def test_act_keeps_to_the_table(storage: Storage) -> None:
    later = NOW + timedelta(minutes=5)
    message_id = 100
    for status in Status:
        for action in WORDED:
            message_id += 10
            ticket = await _in(storage, status, message_id)
            assert ticket.status == status
            before = len(await storage.tickets.events(ticket.id))
            outcome = await tickets.act(
                storage, action, ticket, OFFICER, later, "说明", assignee=RESIDENT
            )
            events = await storage.tickets.events(ticket.id)
            expected = _table()[status, action]
            assert outcome.moved is expected, (status, action)
            leads_to = LIFECYCLE[action][1] or status
            assert outcome.ticket.status == (leads_to if expected else status), (status, action)
            assert len(events) == before + expected, (status, action)
            if expected:
                assert events[-1].kind == EventKind(action)


async def test_a_move_someone_else_made_first_is_refused_with_the_status_now(
    storage: Storage,
) -> None:
    ticket = await _in(storage, Status.ACCEPTED, 10)
    first = await tickets.act(storage, Action.DONE, ticket, OFFICER, NOW)
    second = await tickets.act(storage, Action.REJECT, ticket, Actor(6, "陈"), NOW, "重复")
    assert first.moved and first.ticket.status == Status.RESOLVED
    assert not second.moved
    assert second.ticket.status == Status.RESOLVED  # read anew, not the stale copy it was given


async def test_act_refuses_what_it_does_not_do(storage: Storage) -> None:
    ticket = await _new(storage, 10)
    with pytest.raises(ValueError, match="assignee"):
        await tickets.act(storage, Action.ASSIGN, ticket, OFFICER, NOW)
    for action in (Action.DUPLICATE, Action.ESCALATE):
        with pytest.raises(ValueError, match="not done with words"):
            await tickets.act(storage, action, ticket, OFFICER, NOW)


async def test_statuses_and_ratings_come_back_typed(storage: Storage) -> None:
    ticket = await _in(storage, Status.CLOSED, 10)
    fresh = await storage.tickets.get(ticket.id)
    assert fresh is not None
    assert type(fresh.status) is Status and fresh.status is Status.CLOSED
    assert fresh.satisfaction is Satisfaction.SATISFIED


@pytest.mark.parametrize(("level", "expected"), [(0, 1), (1, 2), (2, None)])
async def test_next_escalation(storage: Storage, level: int, expected: int | None) -> None:
    ticket = await _new(storage, 10)
    assert tickets.next_escalation(replace(ticket, escalation_level=level)) == expected


def test_the_rules_import_no_telegram() -> None:
    code = (
        "import sys, bot.tickets, bot.followup, bot.care, bot.parsing.care, bot.grids\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'telegram')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_handlers_import_only_the_common_handler_module() -> None:
    for path in sorted((Path(__file__).parent.parent / "handlers").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        others = {m for m in imported if m.startswith("handlers")} - {"handlers.common"}
        assert not others, f"{path} imports {sorted(others)}"
