"""The officer commands' table (handlers.officer.COMMANDS) and the one run of steps they share."""

from __future__ import annotations

import pytest

from bot.texts import keys
from bot.tickets import Action, Status
from handlers.officer import ASSIGN, COMMANDS, OfficerCommand, Words
from storage import TicketFilter
from tests.harness import Harness
from tests.test_officer import world


def test_every_command_has_its_words_in_the_catalogue() -> None:
    catalogue = keys()
    for command in (*COMMANDS, ASSIGN):
        assert command.reply in catalogue, command
        assert command.public is None or command.public in catalogue, command
        if command.words is Words.REQUIRED:  # the refusal without words gives an example
            assert f"officer.what.{command.name}" in catalogue, command
            assert f"officer.example.{command.name}" in catalogue, command
    for action in Action:  # a refusal names the action
        assert f"officer.action.{action}" in catalogue, action
    for status in (Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.DUPLICATE):
        assert f"officer.hint.{status}" in catalogue, status


def test_one_row_per_command() -> None:
    names = [c.name for c in (*COMMANDS, ASSIGN)]
    assert len(names) == len(set(names))
    assert {c.action for c in COMMANDS} == {
        Action.TAKE,
        Action.PROGRESS,
        Action.NOTE,
        Action.DONE,
        Action.REJECT,
        Action.REOPEN,
    }


@pytest.mark.parametrize(
    "command",
    [c for c in COMMANDS if c.words is Words.REQUIRED],
    ids=lambda c: c.name if isinstance(c, OfficerCommand) else "",
)
async def test_words_are_asked_for_with_an_example(bot: Harness, command: OfficerCommand) -> None:
    w = await world(bot)
    _, ticket = await bot.report(w.grid1, w.resident, "#报修 3号楼楼道灯不亮")
    bare = await bot.say(w.grid1, w.officer1, f"/{command.name} {ticket.id}")
    text = bot.reply_text(w.grid1, bare)
    assert f"例如：/{command.name} {ticket.id} " in text
    assert (await bot.fresh(ticket)).status == Status.NEW
    assert len(await bot.storage.tickets.events(ticket.id)) == 1  # only "opened"


async def test_own_patrol_ticket_worked_in_private_is_answered(bot: Harness) -> None:
    """A patrol finding logged in private has nobody to post to: every command is answered
    where it was sent (a /reject used to go without any answer)."""
    w = await world(bot)
    private = bot.sim.private_chat(w.named)
    logged = await bot.say(private, w.named, "/log #隐患 5号楼消防通道堆放杂物")
    assert "民情日记" in bot.reply_text(private, logged)
    tickets, _ = await bot.storage.tickets.find(TicketFilter(assignee_id=w.named.id))
    ticket = tickets[0]
    assert ticket.chat_id == private.id

    rejected = await bot.say(private, w.named, f"/reject {ticket.id} 物业已自行处理")
    assert bot.reply_text(private, rejected) == f"工单 {ticket.id} 已退回。"
    reopened = await bot.say(private, w.named, f"/reopen {ticket.id}")
    assert "已重办（第 1 次）" in bot.reply_text(private, reopened)
    done = await bot.say(private, w.named, f"/done {ticket.id}")
    assert bot.reply_text(private, done) == f"✅ 工单 {ticket.id} 已办结。"
    assert (await bot.fresh(ticket)).status == Status.RESOLVED
