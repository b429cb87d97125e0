"""The 关爱走访 tests' cast, shared by tests/test_care_rules.py, tests/test_care_commands.py and
tests/test_care_figures.py: a grid's group with its officer (an admin there), the community's
and the street's office chats bound with /supervise, and people put on the roster and visited
with the domain's own calls (bot.care.add, bot.care.record_visit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot import care
from bot.categories import CareTier, CategoryCatalog
from bot.context import runtime_of
from bot.simulator.models import SimChat, SimUser
from storage import GridInfo
from storage.care import CarePerson, RecordedVisit
from storage.vocabulary import VisitOutcome, VisitWay
from tests.harness import Harness

CATALOG = CategoryCatalog.default()
ADDRESS = "3号楼2单元101"
CONTACT = "女儿 13812345678"


def tier_named(name: str) -> CareTier:
    found = CATALOG.tier(name)
    assert found is not None, name
    return found


HIGH, KEY, PLAIN = tier_named("高风险"), tier_named("重点"), tier_named("一般")


# -- the roster through the domain's calls --------------------------------------------------


async def add_to(
    desk: care.Desk,
    *,
    grid_id: int,
    name: str,
    officer: care.Actor,
    now: datetime,
    tier: CareTier = HIGH,
    address: str = ADDRESS,
    contact: str = CONTACT,
) -> CarePerson:
    """``name`` put on the roster of the grid by ``officer``, who visits."""
    return await care.add(
        desk,
        grid_id=grid_id,
        name=name,
        address=address,
        tier=tier,
        visitor=officer,
        actor=officer,
        now=now,
        contact=contact,
    )


async def record(
    desk: care.Desk,
    person: CarePerson,
    *,
    officer: care.Actor,
    now: datetime,
    grid_chat_id: int | None,
    outcome: VisitOutcome = VisitOutcome.NORMAL,
    way: VisitWay = VisitWay.HOME,
    note: str = "",
) -> RecordedVisit:
    """``officer``'s visit to ``person`` (as the roster has the person now), recorded."""
    current = await desk.storage.care.get(person.id)
    assert current is not None
    recorded = await care.record_visit(
        desk,
        current,
        outcome=outcome,
        way=way,
        note=note,
        actor=officer,
        now=now,
        grid_chat_id=grid_chat_id,
    )
    assert recorded is not None
    return recorded


# -- the running bot ------------------------------------------------------------------------


@dataclass
class Town:
    group: SimChat  # the grid's residents' group (第一网格 of 通顺社区, 交通街道)
    office: SimChat  # the community's office chat
    street: SimChat  # the street's office chat
    officer: SimUser  # an admin of the group: the grid's officer
    resident: SimUser
    grid: GridInfo
    private: SimChat  # the officer's private chat with the bot

    @property
    def actor(self) -> care.Actor:
        return care.Actor(self.officer.id, self.officer.first_name)


async def town(bot: Harness) -> Town:
    officer, resident = bot.sim.add_user("刘网格员"), bot.sim.add_user("王阿姨")
    group = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(group, officer, "administrator")
    office = bot.group("通顺社区办公室")
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    street = bot.group("交通街道办公室")
    await bot.say(street, bot.admin, "/supervise 交通街道")
    # a named officer: recognised in private at once (a group's admins are recognised from
    # the roles cache, once they have acted in their group)
    private = bot.sim.private_chat(officer)
    await bot.say(private, officer, "/start")
    (grid,) = await bot.storage.grids.grids()
    return Town(group, office, street, officer, resident, grid, private)


async def add_person(
    bot: Harness,
    place: Town,
    name: str = "曹大爷",
    tier: CareTier = HIGH,
    contact: str = CONTACT,
) -> CarePerson:
    """``name`` on the roster of the town's grid, added (and visited) by its officer, now."""
    return await add_to(
        runtime_of(bot.app).care_desk,
        grid_id=place.grid.id,
        name=name,
        officer=place.actor,
        now=bot.clock.now(),
        tier=tier,
        contact=contact,
    )


async def visit(
    bot: Harness,
    place: Town,
    person: CarePerson,
    outcome: VisitOutcome = VisitOutcome.NORMAL,
    note: str = "",
) -> RecordedVisit:
    """The officer's home visit, now; what it sent is delivered."""
    recorded = await record(
        runtime_of(bot.app).care_desk,
        person,
        officer=place.actor,
        now=bot.clock.now(),
        grid_chat_id=place.group.id,
        outcome=outcome,
        note=note,
    )
    await bot.flush()
    return recorded


def texts_in(bot: Harness, chat: SimChat | int) -> list[str]:
    """The texts of the bot's messages in ``chat``, in order."""
    return [str(m.get("text", "")) for m in bot.sim.bot_messages(chat)]
