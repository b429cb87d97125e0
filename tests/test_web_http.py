"""The staff web page over HTTP: login links, sessions, refusals, headers, the audit log, photos.

The bot runs in-process on the simulator (tests/harness.py) and hands out login links for real:
a person sends /web in a private chat and the test reads the link from the bot's message. The
page is the real Starlette app (bot.web.app) on its own Storage over the same database and its
own telegram.Bot on the same simulator, reached through httpx's ASGI transport. Both engines.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import HTTPException
from telegram import Bot

from bot.context import runtime_of
from bot.launcher import SCRIPT, BotProcess, start_bot
from bot.simulator import Simulator, SimulatorRequest
from bot.simulator.models import SimChat, SimUser
from bot.web import tokens
from bot.web.app import (
    COOKIE,
    LOGIN_ATTEMPTS,
    SECURITY_HEADERS,
    WebRuntime,
    build_web_app,
    proxy_file,
    sniff_image,
    web_runtime,
)
from bot.web.server import serve_web
from storage import Storage, is_url, open_database
from storage.db import load_migrations
from storage.vocabulary import AuditAction
from tests import pg
from tests.e2e import free_port, grid_cast, running
from tests.harness import Harness
from tests.waiting import eventually

SITE = "http://127.0.0.1:8080"  # WEB_LISTEN's default: the links' address
LINK = re.compile(r"https?://\S+?(/login\?t=[A-Za-z0-9_.%-]+)")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
REFUSED = "链接已失效或已使用，请在与机器人的私聊中重新发送 /web"
SEND_WEB = "请在与机器人的私聊中发送 /web"


@dataclass
class Site:
    """The page as a browser sees it, beside the bot that hands out its links."""

    client: httpx.AsyncClient
    web: WebRuntime
    bot: Harness

    async def link(self, user: SimUser) -> str:
        """/web in the user's private chat: the path of the login link the bot sent."""
        chat = self.bot.sim.private_chat(user)
        await self.bot.say(chat, user, "/web")
        found = LINK.search(str(self.bot.sim.bot_messages(chat.id)[-1].get("text", "")))
        assert found is not None, self.bot.sim.bot_messages(chat.id)[-1]
        return found.group(1)

    async def log_in(self, user: SimUser) -> httpx.Response:
        """Open the link's page, press 登录; the answer (a 303 to / with the cookie)."""
        path = await self.link(user)
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        return await self.press(path)

    async def press(self, path: str) -> httpx.Response:
        """The login page's button: a POST of its hidden token."""
        token = path.split("t=", 1)[1]
        return await self.client.post("/login", data={"t": token})

    async def audit(self) -> list[tuple[int | None, str, str]]:
        entries = await self.web.storage.web.audit_page(1000)
        return [(e.user_id, e.action, e.target) for e in reversed(entries)]


@asynccontextmanager
async def page(bot: Harness, database: Path | str, **changes: Any) -> AsyncIterator[Site]:
    """`linlitong web` on the bot's database: its own Storage (not migrated, not created), its
    own Bot on the same simulator, the bot's clock. ``changes``: settings of the page only."""
    settings = runtime_of(bot.app).settings
    if changes:
        settings = settings.model_copy(update=changes)
    storage = await Storage.open(database, migrate=False, create=False)
    web: WebRuntime | None = None
    try:
        async with Bot(settings.token(), request=SimulatorRequest(bot.sim)) as page_bot:
            web = web_runtime(settings, storage, page_bot, bot.clock)
            transport = httpx.ASGITransport(app=build_web_app(web))
            async with httpx.AsyncClient(transport=transport, base_url=SITE) as client:
                yield Site(client, web, bot)
    finally:
        await (storage if web is None else web.storage).close()  # a test may have replaced it


@dataclass
class Cast:
    grid: SimChat
    office: SimChat
    resident: SimUser
    officer: SimUser  # a named officer of 第一网格 (/officer)
    staff: SimUser  # a member of 通顺社区's supervisor chat


async def cast(bot: Harness) -> Cast:
    sim = bot.sim
    resident, officer, staff = (
        sim.add_user("王阿姨"),
        sim.add_user("刘网格员"),
        sim.add_user("小赵"),
    )
    grid = await bot.grid("北瑞小区一网格", resident, officer)
    hello = sim.send_text(grid, officer, "大家好")
    await bot.say(grid, bot.admin, "/officer", reply_to=hello["message_id"])
    office = bot.group("通顺社区督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    return Cast(grid, office, resident, officer, staff)


def cookie_of(response: httpx.Response) -> str:
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(found) == 1, found
    return found[0]


def assert_secure_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers.get(name) == value, (name, response.status_code)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]  # none: default


# -- logging in ------------------------------------------------------------------------------


async def test_the_link_page_consumes_nothing_and_its_button_logs_in_once(
    bot: Harness, database: Path | str
) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        for _ in range(3):  # a chat app's preview, a proxy, the person: all the same page
            shown = await site.client.get(path)
            assert shown.status_code == 200
            assert 'method="post"' in shown.text and 'action="/login"' in shown.text
            assert "登录" in shown.text
        assert await site.audit() == []

        answer = await site.press(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        cookie = cookie_of(answer)
        assert cookie.startswith(f"{COOKIE}=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path=/", "samesite=lax", "max-age=43200"} <= flags
        assert "secure" not in flags  # http://127.0.0.1: a Secure cookie would never come back
        value = cookie.split(";")[0].split("=", 1)[1]
        session = await site.web.storage.web.session(tokens.token_hash(value), bot.clock.now())
        assert session is not None and session.user_id == people.officer.id
        assert await site.audit() == [(people.officer.id, AuditAction.LOGIN, "")]
        overview = await site.client.get("/")  # where the 303 leads: her page, with her nav
        assert overview.status_code == 200 and "刘网格员" in overview.text
        assert 'action="/logout"' in overview.text and 'href="/audit"' not in overview.text
        assert overview.headers["cache-control"] == "no-store"

        # The same link again (another tab, a forwarded copy): refused, and audited
        site.client.cookies.clear()
        again = await site.press(path)
        assert again.status_code == 410 and REFUSED in again.text
        assert "set-cookie" not in again.headers
        assert (await site.audit())[-1] == (None, AuditAction.LOGIN_REFUSED, "unusable")


async def test_a_login_posted_from_another_site_is_refused_and_spends_nothing(
    bot: Harness, database: Path | str
) -> None:
    """Login CSRF: another site's form posting a link of the attacker's own."""
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        token = path.split("t=", 1)[1]
        for headers in (
            {"sec-fetch-site": "cross-site"},
            {"sec-fetch-site": "same-site"},
            {"origin": "https://evil.example"},
            {"origin": "null"},
        ):
            refused = await site.client.post("/login", data={"t": token}, headers=headers)
            assert refused.status_code == 403, headers
            assert "set-cookie" not in refused.headers
        assert [a for _, a, _ in await site.audit()] == [AuditAction.LOGIN_REFUSED] * 4
        # the person's own press: the browser says same-origin, or sends this site's Origin
        mine = await site.client.post(
            "/login",
            data={"t": token},
            headers={"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8080"},
        )
        assert mine.status_code == 303 and COOKIE in mine.headers["set-cookie"]


async def test_behind_https_the_cookie_is_secure(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database, web_base_url="https://grid.example.cn/desk") as site:
        answer = await site.log_in(people.officer)
        assert answer.status_code == 303 and answer.headers["location"] == "/desk/"
        flags = {part.strip().lower() for part in cookie_of(answer).split(";")[1:]}
        assert "secure" in flags and "httponly" in flags


async def test_an_expired_link_is_refused(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        bot.clock.advance(timedelta(minutes=11))
        assert (await site.client.get(path)).status_code == 200  # the page itself says nothing
        answer = await site.press(path)
        assert answer.status_code == 410 and REFUSED in answer.text
        assert "set-cookie" not in answer.headers
        assert await site.audit() == [(None, AuditAction.LOGIN_REFUSED, "unusable")]


async def test_a_forged_or_missing_link_is_refused(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        login_id = tokens.verify(path.split("t=", 1)[1], site.web.settings.web_key())
        assert login_id is not None
        forged = tokens.sign(login_id, b"not the key, but 32 bytes long!!")
        shown = await site.client.get(f"/login?t={forged}")
        assert shown.status_code == 400 and REFUSED in shown.text and "<form" not in shown.text
        answer = await site.client.post("/login", data={"t": forged})
        assert answer.status_code == 400 and REFUSED in answer.text
        assert (await site.client.get("/login")).status_code == 400
        assert (await site.client.post("/login", data={})).status_code == 400
        assert await site.audit() == [
            (None, AuditAction.LOGIN_REFUSED, "signature"),
            (None, AuditAction.LOGIN_REFUSED, "signature"),
        ]
        # the real link still works: a forgery did not use it
        assert (await site.press(path)).status_code == 303


async def test_login_attempts_are_limited_per_address(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        for _ in range(LOGIN_ATTEMPTS):
            assert (await site.client.post("/login", data={"t": "x.y"})).status_code == 400
        blocked = await site.press(path)  # even a good link, from this address, now
        assert blocked.status_code == 429
        assert "分钟后再试" in blocked.text and int(blocked.headers["retry-after"]) > 0
        assert_secure_headers(blocked)
        bot.clock.advance(timedelta(minutes=10))  # the window passed (and so did the link)
        assert (await site.log_in(people.officer)).status_code == 303


# -- who is looking ------------------------------------------------------------------------------


async def test_without_a_session_the_page_says_to_send_web(
    bot: Harness, database: Path | str
) -> None:
    async with page(bot, database) as site:
        answer = await site.client.get("/audit")
        assert answer.status_code == 401 and SEND_WEB in answer.text
        assert "set-cookie" not in answer.headers
        site.client.cookies.set(COOKIE, "made-up")
        answer = await site.client.get("/audit")
        assert answer.status_code == 401 and SEND_WEB in answer.text
        assert cookie_of(answer).startswith(f'{COOKIE}=""')  # the stale cookie is dropped


async def test_an_officer_removed_is_refused_at_the_next_request(
    bot: Harness, database: Path | str
) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        await site.log_in(people.officer)
        value = site.client.cookies[COOKIE]
        assert (await site.client.get("/audit")).status_code == 404  # logged in, not an admin

        removed = await bot.say(people.grid, bot.admin, f"/unofficer {people.officer.id}")
        assert bot.replies(people.grid, removed)
        answer = await site.client.get("/audit")
        assert answer.status_code == 403 and "/web" in answer.text
        assert cookie_of(answer).startswith(f'{COOKIE}=""')
        now = bot.clock.now()
        assert await site.web.storage.web.session(tokens.token_hash(value), now) is None
        assert (await site.audit())[-1] == (people.officer.id, AuditAction.ACCESS_ENDED, "")

        site.client.cookies.set(COOKIE, value)  # the old cookie, kept by hand
        assert (await site.client.get("/audit")).status_code == 401


async def test_staff_who_leave_the_supervisor_chat_are_refused(
    bot: Harness, database: Path | str
) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        await site.log_in(people.staff)
        assert (await site.client.get("/audit")).status_code == 404
        bot.sim.set_member(people.office, people.staff, "left")
        assert (await site.client.get("/audit")).status_code == 403
        assert (await site.audit())[-1] == (people.staff.id, AuditAction.ACCESS_ENDED, "")


async def test_logging_out_ends_the_session(bot: Harness, database: Path | str) -> None:
    async with page(bot, database) as site:
        await site.log_in(bot.admin)
        value = site.client.cookies[COOKIE]
        assert (await site.client.get("/audit")).status_code == 200
        answer = await site.client.post("/logout")
        assert answer.status_code == 200 and "已退出" in answer.text
        assert cookie_of(answer).startswith(f'{COOKIE}=""')
        assert await site.web.storage.web.session(tokens.token_hash(value), bot.clock.now()) is None
        assert (await site.audit())[-1] == (bot.admin.id, AuditAction.LOGOUT, "")
        site.client.cookies.set(COOKIE, value)
        assert (await site.client.get("/audit")).status_code == 401
        assert (await site.client.get("/logout")).status_code == 405  # a link cannot log out


# -- the audit log ---------------------------------------------------------------------------


async def test_the_audit_log_is_for_admins_only(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        await site.log_in(people.officer)
        hidden = await site.client.get("/audit")
        missing = await site.client.get("/no-such-page")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text == missing.text  # nothing tells the log is there
        assert "审计" not in hidden.text

        site.client.cookies.clear()
        await site.log_in(bot.admin)
        shown = await site.client.get("/audit")
        assert shown.status_code == 200
        assert "刘网格员" in shown.text and "张书记" in shown.text and "登录" in shown.text
        assert 'href="/audit"' in shown.text  # the admin's nav has it
        assert (await site.audit())[-1] == (bot.admin.id, AuditAction.VIEW_AUDIT, "")


async def test_the_audit_log_pages_back_in_time(bot: Harness, database: Path | str) -> None:
    async with page(bot, database) as site:
        for n in range(60):
            await site.web.storage.web.audit(
                bot.clock.now(), 7, f"人员{n:02d}", AuditAction.DOWNLOAD, f"台账{n:02d}", "10.0.0.1"
            )
        await site.log_in(bot.admin)
        first = await site.client.get("/audit")  # the admin's login, then 台账59 … 台账11
        assert "台账59" in first.text and "台账11" in first.text and "台账10" not in first.text
        older = re.search(r'href="(/audit\?before=\d+)"', first.text)
        assert older is not None
        second = await site.client.get(older.group(1))
        assert "台账10" in second.text and "台账00" in second.text and "台账11" not in second.text
        assert "更早的记录" in second.text and "/audit?before=" not in second.text
        assert (await site.client.get("/audit?before=abc")).status_code == 200  # read as none


# -- headers, errors, health -------------------------------------------------------------------


async def test_every_answer_carries_the_security_headers(
    bot: Harness, database: Path | str
) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        path = await site.link(people.officer)
        shown = await site.client.get(path)
        assert_secure_headers(shown)
        assert shown.headers["cache-control"] == "no-store"
        assert shown.headers["content-type"].startswith("text/html")

        missing = await site.client.get("/tickets/999999/nothing")
        assert missing.status_code == 404 and "页面不存在" in missing.text
        assert_secure_headers(missing)
        assert missing.headers["cache-control"] == "no-store"

        css = await site.client.get("/static/style.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert_secure_headers(css)
        assert "http:" not in css.text and "https:" not in css.text and "@import" not in css.text

        wrong = await site.client.put("/login")
        assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
        assert_secure_headers(wrong)

        health = await site.client.get("/healthz")
        assert health.status_code == 200 and health.text == "ok"
        assert_secure_headers(health)

        for answer in (shown, missing, wrong):  # pages link only to this site
            assert not re.search(r'(?:href|src)="(?!/|data:,")', answer.text), answer.text


async def test_a_failing_page_is_a_polite_500_and_health_says_503(
    bot: Harness, database: Path | str
) -> None:
    async with page(bot, database) as site:
        await site.log_in(bot.admin)
        await site.web.storage.close()  # the database goes away under the page
        try:
            failed = await site.client.get("/audit")
            assert failed.status_code == 500
            assert "页面出错了" in failed.text and "Traceback" not in failed.text
            assert_secure_headers(failed)
            health = await site.client.get("/healthz")
            assert health.status_code == 503
        finally:
            site.web.storage = await Storage.open(database, migrate=False, create=False)


async def test_templates_escape_what_people_wrote(bot: Harness, database: Path | str) -> None:
    async with page(bot, database) as site:
        await site.web.storage.web.audit(
            bot.clock.now(), 8, "<script>alert(1)</script>", AuditAction.LOGIN, "", "x"
        )
        await site.log_in(bot.admin)
        shown = await site.client.get("/audit")
        assert "<script>" not in shown.text and "&lt;script&gt;" in shown.text


# -- photos ----------------------------------------------------------------------------------------


async def test_a_photo_is_proxied_without_the_token(bot: Harness, database: Path | str) -> None:
    people = await cast(bot)
    async with page(bot, database) as site:
        sent = bot.sim.send_media(people.grid, people.resident, "photo", content=PNG)
        file_id = sent["photo"][-1]["file_id"]
        answer = await proxy_file(site.web, file_id)
        assert answer.body == PNG
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["cache-control"] == "private, max-age=3600"
        token = bot.sim.token
        for secret in (token, token.split(":")[1], "/file/bot"):
            assert secret.encode() not in answer.body
            assert all(secret not in v for v in answer.headers.values())

        document = bot.sim.send_media(
            people.grid, people.resident, "document", file_name="a.pdf", content=b"%PDF-1.4"
        )
        other = await proxy_file(site.web, document["document"]["file_id"])
        assert other.headers["content-type"] == "application/octet-stream"
        assert other.headers["content-disposition"] == "attachment"

        with pytest.raises(HTTPException) as gone:
            await proxy_file(site.web, "no-such-file")
        assert gone.value.status_code == 404


async def test_a_tickets_photo_reaches_the_browser_through_the_page_only(
    bot: Harness, database: Path | str
) -> None:
    people = await cast(bot)
    sent = bot.sim.send_media(
        people.grid, people.resident, "photo", caption="#报修 3号楼楼道灯坏了", content=PNG
    )
    await bot.drain()
    ticket = await bot.storage.tickets.by_message(people.grid.id, sent["message_id"])
    assert ticket is not None
    async with page(bot, database) as site:
        await site.log_in(people.officer)
        shown = await site.client.get(f"/tickets/{ticket.id}")
        assert shown.status_code == 200
        found = re.search(rf'(?:src|href)="(/tickets/{ticket.id}/media/\d+)"', shown.text)
        assert found is not None, shown.text
        photo = await site.client.get(found.group(1))
        assert photo.status_code == 200 and photo.content == PNG
        assert photo.headers["content-type"] == "image/png"
        assert photo.headers["cache-control"] == "private, max-age=3600"
        assert_secure_headers(photo)
        token = bot.sim.token
        for answer in (shown, photo):
            for secret in (token, token.split(":")[1], "/file/bot"):
                assert secret.encode() not in answer.content
                assert all(secret not in value for value in answer.headers.values())
        viewed = (await site.audit())[-1]
        assert viewed[:2] == (people.officer.id, AuditAction.VIEW_PHOTO)

        removed = await bot.say(people.grid, bot.admin, f"/unofficer {people.officer.id}")
        assert bot.replies(people.grid, removed)
        assert (await site.client.get(found.group(1))).status_code == 403  # access ended


def test_images_are_recognised_by_their_first_bytes() -> None:
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image(PNG) == "image/png"
    assert sniff_image(b"GIF89a...") == "image/gif"
    assert sniff_image(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<svg xmlns=") is None  # never served as an image: it could script
    assert sniff_image(b"") is None


def test_the_page_has_no_address_outside_itself() -> None:
    """No CDN, no font service: every file the page serves names only itself."""
    root = Path(__file__).parent.parent / "bot" / "web"
    for path in [*root.glob("templates/*.html"), *root.glob("static/*")]:
        text = path.read_text("utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path


# -- `linlitong web`, the real process --------------------------------------------------------

WEB_COMMAND = (SCRIPT, "web")


async def answering(url: str, process: BotProcess) -> bool:
    """Whether the page answers ``url`` with 200, asked until it does (or the process ended)."""

    async def up() -> bool:
        if process.returncode is not None:
            return True  # it will not come up: say so below
        try:
            async with httpx.AsyncClient(trust_env=False) as client:
                return (await client.get(url)).status_code == 200
        except httpx.TransportError:
            return False

    return await eventually(up, within=60) and process.returncode is None


@pytest.mark.e2e
async def test_linlitong_web_serves_the_bots_database_and_stops_cleanly(
    tmp_path: Path, database: Path | str
) -> None:
    sim = Simulator()
    people = grid_cast(sim)
    listen = f"127.0.0.1:{free_port()}"
    settings = {"WEB_LISTEN": listen, "LOG_LEVEL": "INFO"}
    async with running(
        sim, tmp_path, database=database, admin=people.admin, settings=settings
    ) as live:
        # the bot made the database; the page starts on it, then the bot gives out a link
        web = await start_bot(
            base_url=live.server.base_url,
            token=sim.token,
            database_path=database,
            cwd=tmp_path,
            admin_ids=(people.admin.id,),
            log_path=tmp_path / "web.log",
            extra_env=settings,
            command=WEB_COMMAND,
        )
        try:
            assert await answering(f"http://{listen}/healthz", web), web.log()
            private = sim.private_chat(people.admin)
            sim.send_text(private, people.admin, "/web")
            message = await sim.wait_for(lambda: sim.bot_messages(private.id), timeout=30)
            link = LINK.search(str(message[-1].get("text", "")))
            assert link is not None and link.group(0).startswith(f"http://{listen}/login?t=")
            async with httpx.AsyncClient(base_url=f"http://{listen}", trust_env=False) as client:
                shown = await client.get(link.group(1))
                assert shown.status_code == 200 and "登录" in shown.text
                assert_secure_headers(shown)
                # nginx on this machine tells who the browser is; the log and the limit use it
                proxied = {"X-Forwarded-For": "203.0.113.9"}
                token = link.group(1).split("t=")[1]
                logged_in = await client.post("/login", data={"t": token}, headers=proxied)
                assert logged_in.status_code == 303
                audit = await client.get("/audit")
                assert audit.status_code == 200 and "张书记" in audit.text
                assert "203.0.113.9" in audit.text
                assert "server" not in audit.headers  # uvicorn does not announce itself
        finally:
            code = await web.stop()
    assert code == 0
    log = web.log()
    assert "Traceback" not in log and sim.token not in log and sim.token.split(":")[1] not in log
    assert "/login?t=" not in log  # no access log: a link's token is never written down
    assert "staff web page listening on" in log and "staff web page stopped" in log


async def test_serve_web_in_process_tells_when_ready_and_forgets_old_logins(
    bot: Harness,
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    settings = runtime_of(bot.app).settings.model_copy(update={"web_listen": listen})
    long_ago = bot.clock.now() - timedelta(days=3)
    await bot.storage.web.create_login(
        "old", 5, "某人", "[]", long_ago, long_ago + timedelta(minutes=10)
    )
    ready = asyncio.Event()
    async with Bot(settings.token(), request=SimulatorRequest(bot.sim)) as page_bot:
        serving = asyncio.create_task(
            serve_web(settings, bot=page_bot, clock=bot.clock, ready=ready)
        )
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({serving, waiting}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert ready.is_set() and not serving.done()
        async with httpx.AsyncClient(base_url=f"http://{listen}", trust_env=False) as client:
            assert (await client.get("/healthz")).text == "ok"

        async def forgotten() -> bool:
            return await bot.storage.web.logins_since(5, long_ago - timedelta(days=1)) == 0

        assert await eventually(forgotten)
        os.kill(os.getpid(), signal.SIGTERM)  # the page's own handler: a clean stop
        await asyncio.wait_for(serving, timeout=30)
    assert serving.result() is None


@pytest.fixture
def untouched(
    backend: str, tmp_path: Path, postgres_server: pg.PostgresServer | None
) -> Iterator[Path | str]:
    """A database nothing ever migrated (the ``database`` fixture's PostgreSQL ones are reused,
    migrated): an SQLite path with no file, or a PostgreSQL database just created."""
    if backend == "sqlite":
        yield tmp_path / "never.db"
        return
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed (initdb not found); .ci/run installs it")
    name = f"untouched_{os.getpid()}_{tmp_path.name}"[:60]
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


async def refusing_web(
    tmp_path: Path,
    database: Path | str,
    *,
    log_name: str = "web.log",
    env: dict[str, str] | None = None,
) -> tuple[BotProcess, int]:
    """`linlitong web` expected to stop at start-up (Telegram is never asked: the database and
    the settings are checked first): the process and its exit status."""
    web = await start_bot(
        base_url="http://127.0.0.1:9/bot",
        token="123456:not-asked-at-all-0123456789",
        database_path=database,
        cwd=tmp_path,
        log_path=tmp_path / log_name,
        extra_env=env or {"WEB_LISTEN": f"127.0.0.1:{free_port()}"},
        command=WEB_COMMAND,
    )
    return web, await web.wait(timeout=60)


@pytest.mark.e2e
async def test_linlitong_web_without_the_bots_database_is_one_line_and_exit_1(
    tmp_path: Path, untouched: Path | str
) -> None:
    web, code = await refusing_web(tmp_path, untouched)
    lines = web.log().strip().splitlines()
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("linlitong: ") and "Traceback" not in lines[0]
    assert "linlitong run" in lines[0] and "linlitong db migrate" in lines[0]
    assert ("DATABASE_URL" if is_url(untouched) else "DATABASE_PATH") in lines[0]
    if not is_url(untouched):
        assert not await asyncio.to_thread(Path(untouched).exists)  # never created by the page


@pytest.mark.e2e
async def test_linlitong_web_on_an_older_schema_asks_for_a_migration(
    tmp_path: Path, untouched: Path | str
) -> None:
    older = Storage(await open_database(untouched, migrate=False))
    try:
        await older.db.migrate(load_migrations(older.db.engine)[:-1])
    finally:
        await older.close()
    web, code = await refusing_web(tmp_path, untouched)
    lines = web.log().strip().splitlines()
    assert code == 1 and len(lines) == 1, lines
    assert "linlitong db migrate" in lines[0] and "Traceback" not in lines[0]


@pytest.mark.e2e
async def test_linlitong_web_config_errors_are_one_line_and_exit_2(
    tmp_path: Path, database: Path | str
) -> None:
    made = await Storage.open(database)  # the bot's database, as `linlitong run` makes it
    await made.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        for settings, needle, mentioned in (
            ({"BOT_TOKEN": ""}, "BOT_TOKEN", 0),
            ({}, "WEB_LISTEN", 0),
            ({"DIGEST_TIME": "25:00"}, "WEB_LISTEN", 1),  # the bot's setting: only mentioned
        ):
            web, code = await refusing_web(
                tmp_path,
                database,
                log_name=f"web-{needle}-{mentioned}.log",
                env={"WEB_LISTEN": busy, "LOG_LEVEL": "ERROR", **settings},
            )
            log = web.log()
            own = [line for line in log.splitlines() if line.startswith("linlitong: ")]
            assert code == 2 and len(own) == 1 + mentioned and needle in own[-1], log
            assert mentioned == 0 or "DIGEST_TIME" in own[0]
            assert "Traceback" not in log
