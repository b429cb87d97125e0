"""/web and what stands behind it: login links, their rows, the grants, and their end.

The bot side runs in-process on the simulator (tests/harness.py): /web as Telegram delivers it.
The page's side of a login is what bot.web.app does with a link: verify the signature, use the
row once, and check the grants with a RoleBook of its own that asks Telegram afresh (ttl 0).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Bot

from bot.context import runtime_of
from bot.roles import RoleBook
from bot.simulator import SimulatorRequest
from bot.simulator.models import SimChat, SimUser
from bot.web import tokens
from bot.web.access import (
    Grant,
    GrantKind,
    Scope,
    dump_grants,
    grants_for,
    load_grants,
    verify,
)
from bot.web.links import LINKS_PER_WINDOW
from storage import Storage, WebLogin
from storage.vocabulary import AuditAction
from tests.harness import Harness, harness

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
URL = re.compile(r"(https?://\S+/login\?t=([A-Za-z0-9_.-]+))")


# -- tokens ---------------------------------------------------------------------------------------


def test_a_signed_token_verifies_and_nothing_else_does() -> None:
    login_id = tokens.new_login_id()
    token = tokens.sign(login_id, KEY)
    assert tokens.verify(token, KEY) == login_id
    body, _, signature = token.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for forged in (
        f"{body}.{flipped}",  # a changed signature
        f"{tokens.new_login_id()}.{signature}",  # another id under this signature
        token[:-1],  # cut short
        token[: len(body) + 1],  # no signature at all
        body,  # no separator
        "." + signature,
        "",
        token + "x",
        token.replace(".", ".."),
    ):
        assert tokens.verify(forged, KEY) is None, forged
    assert tokens.verify(token, b"another key of 32 bytes........") is None
    assert tokens.verify("é.☃", KEY) is None  # not even ASCII: refused, no exception


def test_session_tokens_are_random_and_stored_hashed() -> None:
    one, two = tokens.new_session_token(), tokens.new_session_token()
    assert one != two and len(one) >= 40
    assert tokens.token_hash(one) != one and len(tokens.token_hash(one)) == 64
    assert tokens.token_hash(one) == tokens.token_hash(one)
    assert (
        tokens.login_url("https://grid.example.cn", "a.b") == "https://grid.example.cn/login?t=a.b"
    )


def test_grants_round_trip_and_bad_text_grants_nothing() -> None:
    grants = [
        Grant(GrantKind.ADMIN),
        Grant(GrantKind.GRID, 3),
        Grant(GrantKind.COMMUNITY, 1, via_chat=-1001),
        Grant(GrantKind.STREET, 2, via_chat=-1002),
    ]
    assert load_grants(dump_grants(grants)) == grants
    for bad in (
        "",
        "{",
        "{}",
        "null",
        "[1]",
        '[{"kind": "owner", "id": 1}]',
        '[{"kind": "grid"}]',  # a grid grant names its grid
        '[{"kind": "grid", "id": "3"}]',
        '[{"kind": "grid", "id": true}]',
        '[{"kind": "community", "id": 1}]',  # no chat it came through
        '[{"kind": "admin", "id": 1}]',
    ):
        assert load_grants(bad) == [], bad


# -- storage: the rows ----------------------------------------------------------------------------


async def _login(storage: Storage, login_id: str, user_id: int = 7, at: datetime = T0) -> None:
    grants = dump_grants([Grant(GrantKind.GRID, 1)])
    await storage.web.create_login(login_id, user_id, "刘网格员", grants, at, at + tokens.LOGIN_TTL)


async def test_a_login_is_used_once_even_by_two_at_once(
    storage: Storage, database: Path | str
) -> None:
    await _login(storage, "L1")
    other = await Storage.open(database)  # a second connection: another instance of the page
    try:
        now = T0 + timedelta(minutes=1)
        results = await asyncio.gather(
            storage.web.use_login("L1", now),
            other.web.use_login("L1", now),
            storage.web.use_login("L1", now),
        )
    finally:
        await other.close()
    won = [r for r in results if r is not None]
    assert len(won) == 1
    login = won[0]
    assert isinstance(login, WebLogin)
    assert (login.id, login.user_id, login.user_name) == ("L1", 7, "刘网格员")
    assert login.used_at == now and login.expires_at == T0 + tokens.LOGIN_TTL
    assert load_grants(login.grants) == [Grant(GrantKind.GRID, 1)]
    assert await storage.web.use_login("L1", now) is None
    assert await storage.web.use_login("nobody", now) is None


async def test_a_login_expires(storage: Storage) -> None:
    await _login(storage, "early")
    await _login(storage, "late")
    assert await storage.web.use_login("late", T0 + tokens.LOGIN_TTL) is None
    assert await storage.web.use_login("early", T0 + tokens.LOGIN_TTL - timedelta(seconds=1))


async def test_logins_are_counted_per_user(storage: Storage) -> None:
    for minute in (0, 10, 20):
        await _login(storage, f"a{minute}", user_id=7, at=T0 + timedelta(minutes=minute))
    await _login(storage, "b", user_id=8, at=T0 + timedelta(minutes=5))
    assert await storage.web.logins_since(7, T0 - timedelta(seconds=1)) == 3
    assert await storage.web.logins_since(7, T0 + timedelta(minutes=5)) == 2
    assert await storage.web.logins_since(9, T0) == 0
    first = await storage.web.first_login_since(7, T0 + timedelta(minutes=5))
    assert first == T0 + timedelta(minutes=10)
    assert await storage.web.first_login_since(9, T0) is None


async def test_sessions_open_with_their_audit_row_and_end(storage: Storage) -> None:
    await _login(storage, "L1")
    login = await storage.web.use_login("L1", T0)
    assert login is not None
    expires = T0 + tokens.SESSION_TTL
    await storage.web.open_session("h1", login, T0, expires, "203.0.113.9")
    await storage.web.open_session("h2", login, T0, expires, "203.0.113.9")
    session = await storage.web.session("h1", T0 + timedelta(hours=1))
    assert session is not None
    assert (session.user_id, session.user_name, session.grants) == (7, "刘网格员", login.grants)
    assert (session.created_at, session.expires_at) == (T0, expires)
    assert await storage.web.session("h1", expires) is None  # expired
    assert await storage.web.session("unknown", T0) is None
    await storage.web.end_session("h1", T0 + timedelta(hours=2))
    assert await storage.web.session("h1", T0 + timedelta(hours=2)) is None
    assert await storage.web.session("h2", T0 + timedelta(hours=2)) is not None
    entries = await storage.web.audit_page(10)
    assert [(e.action, e.user_id, e.target, e.address) for e in entries] == [
        (AuditAction.LOGIN, 7, "", "203.0.113.9")
    ] * 2


async def test_the_audit_log_pages_newest_first(storage: Storage) -> None:
    for n in range(25):
        user = None if n % 5 == 0 else 7
        await storage.web.audit(
            T0 + timedelta(seconds=n), user, "", AuditAction.VIEW_TICKET, str(n), "::1"
        )
    first = await storage.web.audit_page(10)
    assert [e.target for e in first] == [str(n) for n in range(24, 14, -1)]
    assert first[0].at == T0 + timedelta(seconds=24) and first[0].user_id == 7
    second = await storage.web.audit_page(10, before_id=first[-1].id)
    assert [e.target for e in second] == [str(n) for n in range(14, 4, -1)]
    third = await storage.web.audit_page(10, before_id=second[-1].id)
    assert [e.target for e in third] == ["4", "3", "2", "1", "0"]
    assert third[-1].user_id is None and third[-1].action == "view_ticket"
    assert await storage.web.audit_page(10, before_id=third[-1].id) == []


async def test_forget_expired_keeps_a_day(storage: Storage) -> None:
    await _login(storage, "old", at=T0)
    await _login(storage, "recent", at=T0 + timedelta(days=1))
    login = await storage.web.use_login("recent", T0 + timedelta(days=1))
    assert login is not None
    await storage.web.open_session("old", login, T0, T0 + timedelta(minutes=30), "")
    await storage.web.open_session("new", login, T0, T0 + timedelta(days=2), "")
    now = T0 + timedelta(days=1, minutes=11)  # "old" expired a day and a minute ago
    assert await storage.web.forget_expired(now) == 1
    later = T0 + timedelta(days=1, hours=1)  # past the old session's day too
    assert await storage.web.forget_expired(later) == 1
    assert await storage.web.logins_since(7, T0 - timedelta(days=1)) == 1
    assert await storage.web.session("new", later) is not None
    assert len(await storage.web.audit_page(10)) == 2  # the audit log is never forgotten


# -- the bot: /web --------------------------------------------------------------------------------


@dataclass
class World:
    grid1: SimChat
    grid2: SimChat
    office: SimChat
    resident: SimUser
    officer1: SimUser  # administrator of grid 1's group
    staff: SimUser  # member of the community's supervisor chat
    named: SimUser  # named officer of grid 1 (not a chat admin)
    grid1_id: int
    grid2_id: int
    community_id: int


async def world(bot: Harness) -> World:
    sim = bot.sim
    resident, officer1 = sim.add_user("王阿姨"), sim.add_user("刘网格员")
    staff, named = sim.add_user("社区小赵"), sim.add_user("志愿者老周")
    grid1 = await bot.grid("北瑞小区一网格", resident, named, grid="第一网格")
    grid2 = await bot.grid("宝东二网格", resident, grid="第二网格")
    sim.set_member(grid1, officer1, "administrator")
    office = bot.group("通顺社区督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    hello = sim.send_text(grid1, named, "大家好")
    await bot.say(grid1, bot.admin, "/officer", reply_to=hello["message_id"])
    grids = await bot.storage.grids.grids()
    ids = {g.name: g.id for g in grids}
    assert await bot.storage.officers.grids_of(named.id) == {ids["第一网格"]}
    assert [b.chat_id for b in await bot.storage.grids.bindings() if not b.is_grid] == [office.id]
    return World(
        grid1,
        grid2,
        office,
        resident,
        officer1,
        staff,
        named,
        ids["第一网格"],
        ids["第二网格"],
        grids[0].community_id,
    )


@asynccontextmanager
async def page_roles(
    bot: Harness, admin_ids: frozenset[int] | None = None
) -> AsyncIterator[RoleBook]:
    """What `linlitong web` builds: its own Bot, and roles asked afresh at every request."""
    settings = runtime_of(bot.app).settings
    async with Bot(settings.token(), request=SimulatorRequest(bot.sim)) as page_bot:
        yield RoleBook(
            page_bot,
            bot.storage,
            frozenset(settings.admin_ids) if admin_ids is None else admin_ids,
            bot.clock,
            ttl=timedelta(0),
        )


def links_in(bot: Harness, chat: SimChat) -> list[str]:
    return [m for msg in bot.sim.bot_messages(chat.id) for m in URL.findall(msg.get("text", ""))]


def private_messages(bot: Harness, user: SimUser) -> list[dict[str, object]]:
    return bot.sim.bot_messages(bot.sim.private_chat(user).id)


async def web_in_private(bot: Harness, user: SimUser) -> dict[str, object]:
    """/web in the user's private chat; the bot's last message there."""
    await bot.say(bot.sim.private_chat(user), user, "/web")
    return private_messages(bot, user)[-1]


async def log_in(bot: Harness, message: dict[str, object]) -> WebLogin:
    """What the page does with the link in ``message``: signature, then the row, once."""
    found = URL.search(str(message.get("text", "")))
    assert found is not None, message
    settings = runtime_of(bot.app).settings
    assert found.group(1).startswith(settings.web_url + "/login?t=")
    login_id = tokens.verify(found.group(2), settings.web_key())
    assert login_id is not None
    login = await bot.storage.web.use_login(login_id, bot.clock.now())
    assert login is not None
    return login


async def scope_of(bot: Harness, login: WebLogin, roles: RoleBook) -> Scope | None:
    return await verify(
        load_grants(login.grants), login.user_id, login.user_name, roles, bot.storage
    )


async def test_a_named_officer_gets_a_private_link_for_her_grid(bot: Harness) -> None:
    w = await world(bot)
    message = await web_in_private(bot, w.named)
    text = str(message["text"])
    assert "10 分钟" in text and "只能使用一次" in text and "第一网格" in text
    assert message["link_preview_options"] == {"is_disabled": True}
    login = await log_in(bot, message)
    assert (login.user_id, login.user_name) == (w.named.id, "志愿者老周")
    assert load_grants(login.grants) == [Grant(GrantKind.GRID, w.grid1_id)]
    async with page_roles(bot) as roles:
        scope = await scope_of(bot, login, roles)
        assert (
            scope is not None and scope.grid_ids == frozenset({w.grid1_id}) and not scope.is_admin
        )
        assert scope.sees(w.grid1_id) and not scope.sees(w.grid2_id)
        # /unofficer: the next request finds nothing left
        removed = await bot.say(w.grid1, bot.admin, f"/unofficer {w.named.id}")
        assert "已取消" in bot.reply_text(w.grid1, removed)
        assert await scope_of(bot, login, roles) is None


async def test_the_admin_sees_everything_until_no_longer_an_admin(bot: Harness) -> None:
    w = await world(bot)
    message = await web_in_private(bot, bot.admin)
    assert "全部网格" in str(message["text"])
    login = await log_in(bot, message)
    grants = load_grants(login.grants)
    assert grants[0] == Grant(GrantKind.ADMIN)
    async with page_roles(bot) as roles:
        scope = await scope_of(bot, login, roles)
        assert scope is not None and scope.is_admin and scope.grid_ids is None
        assert scope.sees(w.grid1_id) and scope.sees(w.grid2_id)
    # ADMIN_IDS changed and the page restarted: only what else she is remains (she created
    # every group, the community's supervisor chat included)
    assert Grant(GrantKind.COMMUNITY, w.community_id, w.office.id) in grants
    async with page_roles(bot, admin_ids=frozenset()) as roles:
        scope = await scope_of(bot, login, roles)
        assert scope is not None and not scope.is_admin
        assert scope.grid_ids == frozenset({w.grid1_id, w.grid2_id})
        bot.sim.set_member(w.office, bot.admin, "left")
        bot.sim.set_member(w.grid1, bot.admin, "left")
        bot.sim.set_member(w.grid2, bot.admin, "left")
        assert await scope_of(bot, login, roles) is None


async def test_community_staff_see_their_community_until_they_leave(bot: Harness) -> None:
    w = await world(bot)
    message = await web_in_private(bot, w.staff)
    assert "通顺社区" in str(message["text"])
    login = await log_in(bot, message)
    assert load_grants(login.grants) == [Grant(GrantKind.COMMUNITY, w.community_id, w.office.id)]
    async with page_roles(bot) as roles:
        scope = await scope_of(bot, login, roles)
        assert scope is not None and scope.grid_ids == frozenset({w.grid1_id, w.grid2_id})
        bot.sim.set_member(w.office, w.staff, "left")
        assert await scope_of(bot, login, roles) is None


async def test_street_staff_see_every_grid_of_their_street(bot: Harness) -> None:
    w = await world(bot)
    clerk = bot.sim.add_user("街道小孙")
    street_office = bot.group("交通街道督办群", clerk)
    await bot.say(street_office, bot.admin, "/supervise 交通街道")
    message = await web_in_private(bot, clerk)
    assert "交通街道" in str(message["text"])
    login = await log_in(bot, message)
    [grant] = load_grants(login.grants)
    assert (grant.kind, grant.via_chat) == (GrantKind.STREET, street_office.id)
    async with page_roles(bot) as roles:
        scope = await scope_of(bot, login, roles)
        assert scope is not None and scope.grid_ids == frozenset({w.grid1_id, w.grid2_id})


async def test_unbinding_the_supervisor_chat_ends_staff_access(bot: Harness) -> None:
    w = await world(bot)
    login = await log_in(bot, await web_in_private(bot, w.staff))
    async with page_roles(bot) as roles:
        assert await scope_of(bot, login, roles) is not None
        await bot.say(w.office, bot.admin, "/unbind")
        assert await scope_of(bot, login, roles) is None


async def test_a_resident_is_refused_politely(bot: Harness) -> None:
    w = await world(bot)
    message = await web_in_private(bot, w.resident)
    text = str(message["text"])
    assert "抱歉" in text and "/my" in text and "http" not in text
    assert await bot.storage.web.logins_since(w.resident.id, bot.clock.now() - timedelta(1)) == 0


async def test_in_a_group_the_link_goes_privately_and_never_to_the_group(bot: Harness) -> None:
    w = await world(bot)
    await bot.say(bot.sim.private_chat(w.officer1), w.officer1, "/start")  # she knows the bot
    asked = await bot.say(w.grid1, w.officer1, "/web")
    assert "私聊" in bot.reply_text(w.grid1, asked)
    assert links_in(bot, w.grid1) == []
    login = await log_in(bot, private_messages(bot, w.officer1)[-1])
    # a group administrator, not named: recognised by asking Telegram about this group
    assert load_grants(login.grants) == [Grant(GrantKind.GRID, w.grid1_id)]
    async with page_roles(bot) as roles:
        scope = await scope_of(bot, login, roles)
        assert scope is not None and scope.grid_ids == frozenset({w.grid1_id})
        bot.sim.set_member(w.grid1, w.officer1, "member")  # demoted
        assert await scope_of(bot, login, roles) is None


async def test_in_a_group_a_resident_is_refused_and_gets_nothing(bot: Harness) -> None:
    w = await world(bot)
    await bot.say(bot.sim.private_chat(w.resident), w.resident, "/start")
    before = len(private_messages(bot, w.resident))
    asked = await bot.say(w.grid1, w.resident, "/web")
    assert "抱歉" in bot.reply_text(w.grid1, asked)
    assert len(private_messages(bot, w.resident)) == before
    assert links_in(bot, w.grid1) == []


async def test_replying_to_an_officer_does_not_lend_her_rights(bot: Harness) -> None:
    w = await world(bot)
    hers = bot.sim.send_text(w.grid1, w.officer1, "明天检查消防通道")
    asked = await bot.say(w.grid1, w.resident, "/web", reply_to=hers["message_id"])
    assert "抱歉" in bot.reply_text(w.grid1, asked)
    assert await bot.storage.web.logins_since(w.officer1.id, bot.clock.now() - timedelta(1)) == 0


async def test_an_officer_who_never_started_the_bot_is_shown_the_way(bot: Harness) -> None:
    w = await world(bot)
    asked = await bot.say(w.grid1, w.officer1, "/web")
    answer = bot.reply_text(w.grid1, asked)
    username = bot.sim.bot.username
    assert f"https://t.me/{username}?start=web" in answer and "开始" in answer
    assert links_in(bot, w.grid1) == []
    # the deep link: Start sends `/start web`, and the link follows at once
    await bot.say(bot.sim.private_chat(w.officer1), w.officer1, "/start web")
    login = await log_in(bot, private_messages(bot, w.officer1)[-1])
    assert login.user_id == w.officer1.id


async def test_an_anonymous_admin_is_asked_to_write_privately(bot: Harness) -> None:
    w = await world(bot)
    asked = await bot.say(w.grid1, bot.admin, "/web", sender_chat=w.grid1)
    assert "匿名" in bot.reply_text(w.grid1, asked)
    assert links_in(bot, w.grid1) == []


async def test_a_sixth_link_within_the_hour_is_refused(bot: Harness) -> None:
    w = await world(bot)
    for _ in range(LINKS_PER_WINDOW):
        await log_in(bot, await web_in_private(bot, w.named))
        bot.clock.advance(timedelta(minutes=5))
    refused = str((await web_in_private(bot, w.named))["text"])
    # the first link was 25 minutes ago: a new one in 35 minutes
    assert "35 分钟后再试" in refused and "http" not in refused
    bot.clock.advance(timedelta(minutes=35))
    await log_in(bot, await web_in_private(bot, w.named))


async def test_an_edit_or_a_replay_sends_no_second_link(bot: Harness) -> None:
    w = await world(bot)
    private = bot.sim.private_chat(w.named)
    asked = await bot.say(private, w.named, "/web")
    assert len(links_in(bot, private)) == 1
    bot.sim.redeliver(bot.processed[-1].update_id)
    assert await bot.drain() == 1
    bot.sim.edit_text(private, asked["message_id"], "/web ")
    assert await bot.drain() == 1
    assert len(links_in(bot, private)) == 1
    assert await bot.storage.web.logins_since(w.named.id, bot.clock.now() - timedelta(1)) == 1


async def test_grants_for_a_resident_are_none(bot: Harness) -> None:
    w = await world(bot)
    runtime = runtime_of(bot.app)
    assert await grants_for(runtime.roles, bot.storage, w.resident.id) == []


async def test_the_link_speaks_english_when_the_deployment_does(
    tmp_path: Path, database: Path | str
) -> None:
    async with harness(tmp_path, database=database, language="en") as bot:
        w = await world(bot)
        text = str((await web_in_private(bot, w.named))["text"])
        assert "valid for 10 minutes" in text and "第一网格" in text
        refused = str((await web_in_private(bot, w.resident))["text"])
        assert refused.startswith("Sorry")
