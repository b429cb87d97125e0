"""The staff web page in a real browser: Debian's Chromium, driven by Playwright.

Everything is the real thing: the simulator's Bot API server on 127.0.0.1, the real
``linlitong run`` and the real ``linlitong web`` as processes on one database, and Chromium
(Playwright's own browser download does not work on these machines; tests/conftest.py skips a
``browser`` test without /usr/bin/chromium, or fails it under LINLITONG_REQUIRE_BROWSER=1).

Residents report in two grids of 通顺社区; the officer of the first takes one ticket and
resolves it. She sends /web in her private chat, opens the link, presses 登录, reads the
overview, filters and sorts the ticket table the way a person does (the form, the header
links), opens tickets (history, assignee, the photo through the page's own proxy), downloads
the ledger the table shows as csv and xlsx, logs out, and finds her used link refused. A
community staff member then uses the page on a 360-pixel phone: no sideways scroll, the 菜单
toggle (a checkbox and its label: no script), a full-page screenshot. No request leaves the
page's own address and the console stays free of errors and CSP reports.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openpyxl
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Download,
    Page,
    Request,
    async_playwright,
    expect,
)

from bot.callbacks import TicketPress, encode
from bot.launcher import BotProcess, start_bot
from bot.simulator import Simulator
from bot.simulator.models import SimChat, SimUser
from tests.e2e import JSON, Cast, Live, bind, free_port, grid_cast, reply_to, running
from tests.test_web_http import LINK, REFUSED, SEND_WEB, WEB_COMMAND, answering

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"  # Debian's (tests/conftest.py checks it is there)
# Without the networking switches Chromium phones home at start, and on a closed network the
# refused connections slow every launch; it must talk to 127.0.0.1 only.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
]
WAIT_MS = 15_000  # Playwright's bound for a condition (it waits for the answer, not this long)
PHONE = {"width": 360, "height": 740}
PHONE_SCALE = 2  # device pixels per CSS pixel: the screenshot is 720 pixels wide
PHOTO = (48, 32)  # the photo's pixels: the browser must decode it to exactly this
BLOCKED = "csp"  # Playwright's word for a request the page's CSP stopped in the browser
ELSEWHERE = "http://198.51.100.7/tracker.png"  # TEST-NET-2: nobody; the CSP must refuse it
RECEIPT = re.compile(r"工单 (\d+) 已登记")


def png(width: int, height: int) -> bytes:
    """A real PNG of one colour (a browser decodes it; eight zero bytes would not)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\0" + bytes((200, 90, 40)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(rows)),
            chunk(b"IEND", b""),
        )
    )


def midday_zone(now: datetime) -> str:
    """A fixed-offset TIMEZONE where it is about noon at ``now``: the page's "today" and "this
    week" cannot turn over while the test runs (Asia/Shanghai's would, once a day)."""
    east = 12 - now.astimezone(UTC).hour  # -11 … +12 hours
    return "Etc/UTC" if east == 0 else f"Etc/GMT{-east:+d}"  # Etc/GMT's sign is reversed


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# -- the town: two grids, a supervisor chat, tickets --------------------------------------------


@dataclass
class Town:
    grid: SimChat  # 第一网格
    other: SimChat  # 第二网格, same community
    office: SimChat  # 通顺社区督办群
    officer: SimUser  # named officer of 第一网格 only
    staff: SimUser  # member of the supervisor chat: the whole community
    lamp: int  # 第一网格: taken and resolved by the officer
    water: int  # 第一网格: new
    pole: int  # 第一网格: new, with a photo
    lift: int  # 第二网格: new
    boxes: int  # 第二网格: new


async def report(
    sim: Simulator, chat: SimChat, user: SimUser, text: str, photo: bytes | None = None
) -> tuple[int, JSON]:
    """A resident's report (a photo's caption, or a message); its ticket number and receipt."""
    if photo is None:
        sent = sim.send_text(chat, user, text)
    else:
        sent = sim.send_media(chat, user, "photo", caption=text, content=photo)
    receipt = await reply_to(sim, chat, sent["message_id"])
    number = RECEIPT.search(str(receipt.get("text", "")))
    assert number is not None, receipt
    return int(number.group(1)), receipt


async def press(
    sim: Simulator, chat: SimChat, receipt: JSON, user: SimUser, button: TicketPress
) -> None:
    """An officer presses a button of a receipt; returns once the receipt shows the change."""
    sim.press_button(chat, receipt["message_id"], user, encode(button))
    status = "状态：处理中" if button.action == "take" else "状态：已办结"

    def changed() -> bool:
        return any(
            m["message_id"] == receipt["message_id"] and status in m.get("text", "")
            for m in sim.bot_messages(chat.id)
        )

    await sim.wait_for(changed, timeout=15)


async def build_town(sim: Simulator, cast: Cast) -> Town:
    """Binds 第一网格 and 第二网格 of 通顺社区 and its supervisor chat (through the bot, as an
    admin does), names the officer, and files five reports; the officer resolves one."""
    admin, grid, resident, officer = cast.admin, cast.grid, cast.resident, cast.officer
    other, office = sim.add_group("北瑞小区二网格"), sim.add_group("通顺社区督办群")
    neighbour, staff = sim.add_user("李大爷"), sim.add_user("小赵")
    sim.set_member(other, admin, "creator")
    sim.set_member(other, neighbour, "member")
    sim.set_member(office, admin, "creator")
    sim.set_member(office, staff, "member")
    sim.add_bot(other, by=admin, status="member")
    sim.add_bot(office, by=admin, status="member")
    for chat, command in (
        (grid, "/bind 第一网格 通顺社区"),
        (other, "/bind 第二网格 通顺社区"),
        (office, "/supervise 通顺社区"),
    ):
        assert "✅" in (await bind(sim, chat, admin, command))["text"], command

    hello = sim.send_text(grid, officer, "大家好，我是本网格的网格员")
    named = sim.send_text(grid, admin, "/officer", reply_to=hello["message_id"])
    await reply_to(sim, grid, named["message_id"])

    lamp, lamp_receipt = await report(sim, grid, resident, "#报修 3号楼2单元楼道灯不亮")
    water, _ = await report(sim, grid, resident, "#积水 宝东6号街坊拐弯处积水很深")
    pole, _ = await report(sim, grid, resident, "#报修 5号楼门口路灯杆倾斜", png(*PHOTO))
    lift, _ = await report(sim, other, neighbour, "#报修 8号楼电梯异响")
    boxes, _ = await report(sim, other, neighbour, "#隐患 9号楼楼道堆满纸箱")
    await press(sim, grid, lamp_receipt, officer, TicketPress("take", lamp))
    await press(sim, grid, lamp_receipt, officer, TicketPress("done", lamp))
    return Town(grid, other, office, officer, staff, lamp, water, pole, lift, boxes)


async def login_link(sim: Simulator, user: SimUser) -> str:
    """/web in the user's private chat: the link in the bot's answer."""
    chat = sim.private_chat(user)
    before = len(sim.bot_messages(chat.id))
    sim.send_text(chat, user, "/web")
    answers = await sim.wait_for(lambda: sim.bot_messages(chat.id)[before:], timeout=30)
    found = LINK.search(str(answers[-1].get("text", "")))
    assert found is not None, answers
    return found.group(0)


# -- the processes ------------------------------------------------------------------------------


@asynccontextmanager
async def web_page(
    live: Live, tmp_path: Path, database: Path | str, admin: SimUser, settings: dict[str, str]
) -> AsyncIterator[BotProcess]:
    """``linlitong web`` on the bot's database, answering before it yields; stopped after."""
    web = await start_bot(
        base_url=live.server.base_url,
        token=live.sim.token,
        database_path=database,
        cwd=tmp_path,
        admin_ids=(admin.id,),
        log_path=tmp_path / "web.log",
        extra_env=settings,
        command=WEB_COMMAND,
    )
    try:
        assert await answering(f"{settings['WEB_BASE_URL']}/healthz", web), web.log()
        yield web
    finally:
        assert await web.stop() == 0, web.log()


@dataclass
class Watch:
    """What a browser context did: every request's address, every console error (with the
    address it is about) and uncaught page error."""

    origin: str
    requests: list[Request] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._request)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append((str(error.error), "")))

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append((message.text, str(message.location.get("url", ""))))

    def elsewhere(self) -> list[str]:
        """Requests that left for anywhere but the page itself (data: images are the page's
        own; one the page's CSP stopped in the browser never left)."""
        return [
            request.url
            for request in self.requests
            if not request.url.startswith("data:")
            and f"{urlsplit(request.url).scheme}://{urlsplit(request.url).netloc}" != self.origin
            and request.failure != BLOCKED
        ]

    def console(self) -> list[tuple[str, str]]:
        """The errors logged (the page names its icon inline, so Chromium asks for no
        /favicon.ico by itself)."""
        return list(self.errors)


def refused(status: str, url: str) -> tuple[str, str]:
    """The console line of a page answered with a 4xx status."""
    return f"Failed to load resource: the server responded with a status of {status}", url


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def context(browser: Browser, watch: Watch, **options: Any) -> AsyncIterator[Page]:
    made = await browser.new_context(locale="zh-CN", accept_downloads=True, **options)
    made.set_default_timeout(WAIT_MS)
    watch.attach(made)
    try:
        yield await made.new_page()
    finally:
        await made.close()


# -- what a person sees -------------------------------------------------------------------------


async def log_in(page: Page, link: str) -> None:
    """The link's page, its one 登录 button, and the overview it leads to."""
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录邻里通工作台")
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("概览")
    assert urlsplit(page.url).path == "/"


async def grid_counts(page: Page) -> dict[str, list[str]]:
    """The overview's per-grid table: name → today new, resolved, week new, resolved, open, late."""
    rows = page.locator("#grid-counts tbody tr")
    shown: dict[str, list[str]] = {}
    for row in await rows.all():
        name = (await row.locator("th").inner_text()).strip()
        shown[name] = [c.strip() for c in await row.locator("td.num").all_inner_texts()]
    return shown


async def table_ids(page: Page) -> list[int]:
    """The ticket table's numbers, top to bottom (none when the table is not shown)."""
    ids = await page.locator("#tickets tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )
    return [int(i) for i in ids]


async def table_rows(page: Page) -> list[tuple[str, ...]]:
    """The table's rows as (number, grid, category, status) — what the ledger also says."""
    cells: list[list[str]] = await page.locator("#tickets tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.innerText.trim()))"
    )
    return [(row[0], row[1].splitlines()[0], row[2], row[4].split()[0]) for row in cells]


async def filter_by(page: Page, *, status: str | None = None, text: str | None = None) -> None:
    """Set the form's fields as a person does and press 筛选; returns once the new page is in."""
    form = page.get_by_role("search")
    if status is not None:
        await form.get_by_label("状态").select_option(status)
    if text is not None:
        await form.get_by_label("搜索内容或地址").fill(text)
    async with page.expect_navigation():
        await form.get_by_role("button", name="筛选").click()


async def download(page: Page, origin: str, name: str, folder: Path) -> tuple[Download, Path]:
    async with page.expect_download() as event:
        await page.get_by_role("link", name=name).click()
    got = await event.value
    assert await got.failure() is None
    assert got.url.startswith(f"{origin}/ledger."), got.url  # downloads are no `request` event
    target = folder / got.suggested_filename
    await got.save_as(target)
    return got, target


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text("utf-8-sig"), newline="")))


def read_xlsx(path: Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def ledger_rows(rows: list[list[Any]]) -> Iterator[tuple[str, ...]]:
    """(number, grid, category, status) of each ledger row, as the table words them."""
    header = [str(h) for h in rows[0]]
    number, grid, tag, status = (header.index(h) for h in ("工单号", "网格", "类别", "状态"))
    for row in rows[1:]:
        yield str(row[number]), str(row[grid]), str(row[tag]), str(row[status])


# -- the test -----------------------------------------------------------------------------------


async def officer_at_her_desk(
    page: Page, origin: str, town: Town, link: str, sim: Simulator, tmp_path: Path
) -> None:
    await log_in(page, link)
    assert await grid_counts(page) == {"第一网格": ["3", "1", "3", "1", "2", "0"]}
    assert await page.locator("#grid-counts tfoot").count() == 0  # one grid: no total row
    await expect(page.locator("#grid-rates tbody tr")).to_have_count(1)
    await expect(page.locator("main")).not_to_contain_text("第二网格")

    # the ticket table: her grid's tickets, newest first, nothing of the other grid
    await page.get_by_role("navigation").get_by_role("link", name="工单").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("工单")
    assert await table_ids(page) == [town.pole, town.water, town.lamp]
    await expect(page.locator("#ticket-count")).to_have_attribute("data-total", "3")
    await expect(page.locator("main")).not_to_contain_text("电梯异响")

    # filter: open tickets only, then those that mention 路灯 among them
    await filter_by(page, status="open")
    assert "status=open" in page.url
    assert await table_ids(page) == [town.pole, town.water]
    await expect(page.get_by_role("search").get_by_label("状态")).to_have_value("open")
    shown = await table_rows(page)
    assert {status for *_, status in shown} == {"待受理"}

    # the ledger of what the table shows, both formats, through the page's links
    got, csv_path = await download(page, origin, "下载台账（csv）", tmp_path)
    assert re.fullmatch(r"台账_\d{8}_\d{4}\.csv", got.suggested_filename), got.suggested_filename
    assert sorted(ledger_rows(await asyncio.to_thread(read_csv, csv_path))) == sorted(shown)
    got, xlsx_path = await download(page, origin, "下载台账（xlsx）", tmp_path)
    assert got.suggested_filename.endswith(".xlsx") and "status=open" in got.url
    assert sorted(ledger_rows(await asyncio.to_thread(read_xlsx, xlsx_path))) == sorted(shown)

    await filter_by(page, text="路灯")
    assert await table_ids(page) == [town.pole]
    await filter_by(page, status="", text="")
    assert await table_ids(page) == [town.pole, town.water, town.lamp]

    # sort: the 上报时间 header turns newest-first into oldest-first
    reported = page.locator("#tickets thead th", has_text="上报时间")
    await expect(reported).to_have_attribute("aria-sort", "descending")
    async with page.expect_navigation():
        await reported.get_by_role("link").click()
    await expect(reported).to_have_attribute("aria-sort", "ascending")
    assert await table_ids(page) == [town.lamp, town.water, town.pole]

    # the resolved ticket: who took it, and its history (登记, 接单, 办结)
    async with page.expect_navigation():
        await page.locator(f'#tickets tr[data-id="{town.lamp}"] td.num a').click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(str(town.lamp))
    await expect(page.locator("#ticket-body")).to_have_text("3号楼2单元楼道灯不亮")
    assignee = page.locator("dt", has_text="处理人").locator("xpath=following-sibling::dd[1]")
    await expect(assignee).to_have_text("刘网格员")
    history = page.locator("#history li")
    whats = [t.split("·")[0].strip() for t in await history.locator(".what").all_inner_texts()]
    assert whats[:1] == ["登记"] and "接单" in whats and "办结" in whats, whats
    assert whats.index("接单") < whats.index("办结")
    await expect(history.filter(has_text="接单")).to_contain_text("刘网格员")

    # the ticket with a photo: the browser gets it from the page, decoded, never from Telegram
    await page.go_back()
    async with page.expect_navigation():
        await page.locator(f'#tickets tr[data-id="{town.pole}"] td.num a').click()
    photo = page.locator(".photos img").first
    await photo.scroll_into_view_if_needed()
    assert re.fullmatch(rf"/tickets/{town.pole}/media/\d+", await photo.get_attribute("src") or "")
    await page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await photo.element_handle()
    )
    size = await photo.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert tuple(size) == PHOTO
    html = await page.content()
    assert sim.token not in html and sim.token.split(":")[1] not in html
    assert "api.telegram" not in html and "/file/bot" not in html

    # another grid's ticket by its number: the page for a missing one
    answer = await page.goto(f"{origin}/tickets/{town.lift}")
    assert answer is not None and answer.status == 404
    await expect(page.locator("main")).to_contain_text("页面不存在")

    # log out: the next page asks for /web again, and the used link does not work twice
    await page.goto(f"{origin}/")
    async with page.expect_navigation():
        await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("已退出登录")
    answer = await page.goto(f"{origin}/tickets")
    assert answer is not None and answer.status == 401
    await expect(page.locator("main")).to_contain_text(SEND_WEB)
    await page.goto(link)
    async with page.expect_navigation():
        await page.get_by_role("button", name="登录").click()
    await expect(page.locator("main")).to_contain_text(REFUSED)
    await expect(page.get_by_role("button", name="退出登录")).to_have_count(0)


async def staff_on_a_phone(page: Page, link: str, tmp_path: Path) -> Path:
    await log_in(page, link)
    assert await grid_counts(page) == {
        "第一网格": ["3", "1", "3", "1", "2", "0"],
        "第二网格": ["2", "0", "2", "0", "2", "0"],
    }
    total = page.locator("#grid-counts tfoot td.num")
    assert [t.strip() for t in await total.all_inner_texts()] == ["5", "1", "5", "1", "4", "0"]
    await assert_fits(page)
    shot = tmp_path / "phone.png"
    await page.screenshot(path=str(shot), full_page=True)

    # the menu: folded behind 菜单 (a checkbox's label, no script), open on a tap
    nav = page.get_by_role("navigation", name="主菜单")
    await expect(nav).to_be_hidden()
    await page.locator("label.nav-toggle-label").click()
    await expect(nav).to_be_visible()
    async with page.expect_navigation():
        await nav.get_by_role("link", name="工单").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("工单")
    await expect(page.locator("#ticket-count")).to_have_attribute("data-total", "5")
    await expect(nav).to_be_hidden()  # a new page starts folded
    await assert_fits(page)  # the wide table scrolls inside its own box

    # the page's CSP holds in the browser: a picture from elsewhere is refused, never fetched
    async with (
        page.expect_event("requestfailed", lambda request: request.url == ELSEWHERE) as failed,
        page.expect_console_message(lambda m: "Content Security Policy" in m.text),
    ):
        await page.evaluate(
            "src => document.body.append(Object.assign(new Image(), {src}))", ELSEWHERE
        )
    assert (await failed.value).failure == BLOCKED
    return shot


async def assert_fits(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
    )
    assert max(widths[:2]) <= PHONE["width"] and widths[2] == PHONE["width"], widths


async def test_staff_use_the_page_in_chromium(tmp_path: Path, database: Path | str) -> None:
    sim = Simulator()
    cast = grid_cast(sim)
    listen = f"127.0.0.1:{free_port()}"
    origin = f"http://{listen}"
    settings = {
        "WEB_LISTEN": listen,
        "WEB_BASE_URL": origin,
        "QUIET_HOURS": "off",
        "TIMEZONE": midday_zone(datetime.now(UTC)),
    }
    async with running(
        sim, tmp_path, database=database, admin=cast.admin, settings=settings
    ) as live:
        town = await build_town(sim, cast)
        async with (
            web_page(live, tmp_path, database, cast.admin, settings) as web,
            chromium() as browser,
        ):
            desk, phone = Watch(origin), Watch(origin)
            async with context(browser, desk, viewport={"width": 1280, "height": 900}) as page:
                link = await login_link(sim, town.officer)
                assert link.startswith(f"{origin}/login?t=")
                await officer_at_her_desk(page, origin, town, link, sim, tmp_path)
            phone_options = {
                "viewport": PHONE,
                "device_scale_factor": PHONE_SCALE,
                "is_mobile": True,
                "has_touch": True,
            }
            async with context(browser, phone, **phone_options) as page:
                shot = await staff_on_a_phone(page, await login_link(sim, town.staff), tmp_path)
        log = web.log()

    data = await asyncio.to_thread(shot.read_bytes)
    width, height = png_size(data)
    assert width == PHONE["width"] * PHONE_SCALE and height >= PHONE["height"] * PHONE_SCALE
    for watch in (desk, phone):
        assert watch.requests and watch.elsewhere() == [], watch.elsewhere()
        assert not [r.url for r in watch.requests if sim.token.split(":")[1] in r.url]
    # the console: nothing but the refusals the officer met on purpose, and the CSP's report
    assert desk.console() == [
        refused("404 (Not Found)", f"{origin}/tickets/{town.lift}"),
        refused("401 (Unauthorized)", f"{origin}/tickets"),
        refused("410 (Gone)", f"{origin}/login"),
    ], desk.errors
    [(csp, _)] = phone.console()
    assert [r.failure for r in phone.requests if r.url == ELSEWHERE] == [BLOCKED]
    assert ELSEWHERE in csp and "img-src 'self' data:" in csp, phone.errors
    assert "Traceback" not in log and sim.token.split(":")[1] not in log
