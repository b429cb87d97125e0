"""`linlitong demo`: the simulator, the real `linlitong run` process, and a scene in two grids.

No token and no network: the bot process polls the simulator on 127.0.0.1, exactly as `run`
polls Telegram. The scene is played the way residents really write; the transcript shows every
message and every reply, then the tickets the database holds.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.callbacks import RatingPress, TicketPress, encode
from bot.categories import CategoryCatalog
from bot.clock import ScaledClock
from bot.launcher import start_bot
from bot.parsing.contacts import mask_sensitive
from bot.simulator import Simulator, start_server
from bot.simulator.models import SimChat, SimUser
from bot.texts import Texts
from storage import Storage

STEP_TIMEOUT = 15.0
DEMO_TZ = ZoneInfo("Asia/Shanghai")
JSON = dict[str, Any]


@dataclass
class Scene:
    sim: Simulator
    names: dict[int, str]
    failures: list[str]
    shown: set[tuple[int, int]] = field(default_factory=set)
    business_end: datetime | None = None  # the demo clock when the bot stopped (for --web)

    def say(self, chat: SimChat, who: str, text: str) -> None:
        print(f"[{chat.title}] {who}: {text}")

    def show_bot(self, message: JSON, prefix: str = "  ↳ 邻里通") -> None:
        self.shown.add((message["chat"]["id"], message["message_id"]))
        body = message.get("text") or message.get("caption") or ""
        lines = _plain(body).splitlines() or [""]
        print(f"{prefix}: {lines[0]}")
        for line in lines[1:]:
            print(f"  {' ' * (len(prefix) - 2)}  {line}")

    async def expect_reply(self, chat: SimChat, message_id: int, what: str) -> JSON | None:
        try:
            replies = await self.sim.wait_for(
                lambda: self.sim.replies_to(chat.id, message_id) or None, timeout=STEP_TIMEOUT
            )
        except TimeoutError:
            self.failures.append(f"no reply to {what}")
            print(f"  ✗ no reply to {what}")
            return None
        for reply in replies:
            self.show_bot(reply)
        return replies[-1]

    async def expect(self, predicate: Callable[[], Any], what: str) -> Any:
        try:
            return await self.sim.wait_for(predicate, timeout=STEP_TIMEOUT)
        except TimeoutError:
            self.failures.append(what)
            print(f"  ✗ {what}")
            return None

    def skip(self, chat: SimChat) -> None:
        """What the bot said in ``chat`` so far is not worth printing (greetings)."""
        self.shown |= {(chat.id, m["message_id"]) for m in self.sim.bot_messages(chat.id)}

    def show_unprompted(self, chats: Iterable[SimChat]) -> list[JSON]:
        """Print what the bot posted on its own (reminders, 督办, 回访, digests) not shown yet."""
        new = []
        for chat in chats:
            for message in self.sim.bot_messages(chat.id):
                if (chat.id, message["message_id"]) not in self.shown:
                    self.show_bot(message, prefix=f"[{chat.title}] 邻里通")
                    new.append(message)
        return new


def _plain(html_text: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html_text))


async def play(keep_db: Path | None = None, web_listen: str | None = None) -> int:
    """The scene; with ``web_listen``, the staff page stays up on its database afterwards."""
    with tempfile.TemporaryDirectory(prefix="linlitong-demo-") as tmp:
        db_path = keep_db or Path(tmp) / "demo.db"
        if db_path.exists():
            db_path.unlink()
        sim = Simulator(bot_username="linlitong_demo_bot", bot_name="邻里通")
        server = await start_server(sim)
        try:
            secretary = sim.add_user("张书记", language_code="zh")
            scene = Scene(sim, {}, [])
            code = await _play(scene, secretary, server.base_url, db_path, Path(tmp))
            if web_listen is None or code != 0:
                return code
            # the page opens on the evening of the demo's day, however long the day ran on
            evening = _demo_start().astimezone(DEMO_TZ).replace(hour=22, minute=30)
            end = min(scene.business_end or evening, evening.astimezone(UTC))
            return await serve_demo_page(sim, server.base_url, db_path, secretary, end, web_listen)
        finally:
            await server.stop()


async def serve_demo_page(
    sim: Simulator,
    base_url: str,
    db_path: Path,
    secretary: SimUser,
    end: datetime,
    listen: str,
    ready: asyncio.Event | None = None,
) -> int:
    """``linlitong web`` on the demo's database, logged in as 张书记 (a deployment admin), until
    Ctrl-C. The page's clock goes on from where the demo's day stopped, at the wall's pace."""
    # imported here: the plain demo needs none of the page's machinery
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from bot.config import Settings
    from bot.web import tokens
    from bot.web.access import Grant, GrantKind, dump_grants
    from bot.web.server import serve_web

    class DemoSettings(Settings):
        """Only what is given here: neither the environment nor a .env reaches the demo."""

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    settings = DemoSettings(
        bot_token=sim.token,
        bot_api_base_url=base_url,
        database_path=db_path,
        admin_ids=[secretary.id],
        timezone="Asia/Shanghai",
        language="zh",
        web_listen=listen,
    )
    clock = ScaledClock(1.0, end)
    storage = await Storage.open(db_path, migrate=False, create=False)
    try:
        login_id = tokens.new_login_id()
        now = clock.now()
        # a demo's link lasts its whole run (a real one: 10 minutes); still single use
        await storage.web.create_login(
            login_id,
            secretary.id,
            secretary.first_name,
            dump_grants([Grant(GrantKind.ADMIN)]),
            now,
            now + timedelta(days=1),
        )
    finally:
        await storage.close()
    link = tokens.login_url(settings.web_url, tokens.sign(login_id, settings.web_key()))
    listening = ready or asyncio.Event()
    serving = asyncio.create_task(serve_web(settings, clock=clock, ready=listening))
    waiting = asyncio.create_task(listening.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if not serving.done():  # the link only once the page answers
        print(f"\n— The staff page (linlitong web) on the demo's database, as 张书记 —\n  {link}")
        print("  Open the link in a browser (single use). Ctrl-C stops the page and the demo.")
        sys.stdout.flush()
    await serving
    return 0


DAY_SPEED = 7200  # act two: one real second is two hours of the grid's day


def _demo_start() -> datetime:
    """Today at 09:00 in Asia/Shanghai: the demo's day begins with the office."""
    local = datetime.now(DEMO_TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


# What the demo's bot is told, besides the token, the simulator's address, its database and the
# admin; the machine's own settings never reach it (bot.launcher passes on nothing else).
DEMO_SETTINGS = {
    "LOG_LEVEL": "WARNING",
    "LANGUAGE": "zh",
    "CATEGORIES_FILE": "",
    "TIMEZONE": "Asia/Shanghai",
    "TICK_INTERVAL": "0.25s",
    "DIGEST_TIME": "18:00",
    "QUIET_HOURS": "22:00-07:00",
}
STOP_TIMEOUT = 15.0


def _settings(*, speed: float, start: datetime) -> dict[str, str]:
    """The demo's settings with its business clock: ``start``, running ``speed`` times real time."""
    return {**DEMO_SETTINGS, "CLOCK_SPEED": str(speed), "CLOCK_START": start.isoformat()}


async def _play(
    scene: Scene, secretary: SimUser, base_url: str, db_path: Path, workdir: Path
) -> int:
    sim = scene.sim
    launch = partial(
        start_bot,
        base_url=base_url,
        token=sim.token,
        database_path=db_path,
        cwd=workdir,
        admin_ids=(secretary.id,),
    )
    print("邻里通 LinliTong demo: a local Bot API simulator and the real `linlitong run` process\n")
    start = _demo_start()
    started_at = time.monotonic()
    bot = await launch(extra_env=_settings(speed=1, start=start))
    day_started: float | None = None
    try:
        if not await _wait_started(scene):
            return 1
        cast = await _scene(scene, secretary)
        await bot.stop(STOP_TIMEOUT)
        resume = start + timedelta(seconds=time.monotonic() - started_at)
        print("\n— 邻里通 restarts; the rest of the day plays at one hour per half second —")
        day_started = time.monotonic()
        bot = await launch(extra_env=_settings(speed=DAY_SPEED, start=resume))
        if await _wait_started(scene):
            await _day(scene, cast)
    finally:
        await bot.stop(STOP_TIMEOUT)
    if day_started is not None:
        scene.business_end = resume + timedelta(
            seconds=(time.monotonic() - day_started) * DAY_SPEED
        )
    await _print_tickets(db_path)
    if scene.failures:
        print(
            f"\nDemo finished with {len(scene.failures)} problem(s): " + "; ".join(scene.failures)
        )
        return 1
    print(
        "\nDemo finished: every report got its receipt; reminders, 督办, 回访, digests and"
        " the 议事 vote ran."
    )
    return 0


async def _wait_started(scene: Scene) -> bool:
    polls = sum(1 for c in scene.sim.calls if c.method == "getUpdates")
    started = await scene.expect(
        lambda: sum(1 for c in scene.sim.calls if c.method == "getUpdates") > polls,
        "the bot did not start polling",
    )
    return started is not None


@dataclass
class Cast:
    grid1: SimChat
    grid2: SimChat
    office: SimChat
    li: SimUser


async def _scene(scene: Scene, secretary: SimUser) -> Cast:
    sim = scene.sim
    officer = sim.add_user("刘网格员")
    wang = sim.add_user("王阿姨")
    li = sim.add_user("李大爷")
    zhao = sim.add_user("赵师傅")
    chen = sim.add_user("陈姐")
    grid1 = sim.add_group("北瑞小区一网格")
    grid2 = sim.add_group("宝东街坊二网格")
    office = sim.add_group("通顺社区督办群")
    stray = sim.add_group("跳广场舞群")
    for chat, people in (
        (grid1, (secretary, wang, li, officer)),
        (grid2, (secretary, zhao, chen)),
        (office, (secretary,)),
        (stray, (secretary, wang)),
    ):
        for person in people:
            sim.set_member(chat, person, "creator" if person is secretary else "member")
    sim.set_member(grid1, officer, "administrator")  # a grid officer: admin of the grid's group

    print("— 张书记 adds the bot to the groups and binds them —")
    for chat in (grid1, grid2, office, stray):
        before = len(sim.bot_messages(chat.id))
        sim.add_bot(chat, by=secretary, status="member")
        greeting = await scene.expect(
            _new_bot_messages(sim, chat, before), f"no welcome in {chat.title}"
        )
        if greeting and chat is grid1:
            scene.show_bot(greeting[0], prefix=f"[{chat.title}] 邻里通")
        scene.skip(chat)  # one welcome is enough to read
    for chat, text in (
        (grid1, "/bind 第一网格 通顺社区 交通街道"),
        (grid2, "/bind 第二网格 通顺社区"),
        (office, "/supervise 通顺社区"),
    ):
        scene.say(chat, "张书记", text)
        sent = sim.send_text(chat, secretary, text)
        await scene.expect_reply(chat, sent["message_id"], text)

    print("\n— Residents report the way people really write —")
    first = await _report(
        scene, grid1, wang, "王阿姨", "#报修 3号楼2单元楼道灯不亮，晚上上下楼看不见"
    )
    await _report(scene, grid1, li, "李大爷", "#报修北瑞小区西巷路面破损，影响出行")
    await _report(
        scene, grid2, zhao, "赵师傅", "请处理＃积水 宝东6号街坊拐弯处积水严重，老人过不去"
    )
    await _report(scene, grid1, li, "李大爷", "【#隐患】7-6-1046 楼道里堆了好多纸箱，怕着火")

    caption = "#飞线充电 5号楼有人从窗户拉线充电，太危险了！我电话13812345678"
    scene.say(grid2, "陈姐", f"[3 photos] {caption}")
    album = sim.send_album(grid2, chen, count=3, caption=caption, caption_index=1)
    await scene.expect_reply(grid2, album[1]["message_id"], "the album")

    print("\n— Chatter, a bare tag, an edit, an unbound group —")
    scene.say(grid1, "王阿姨", "今天天气真好，大家出来晒太阳啊")
    chatter = sim.send_text(grid1, wang, "今天天气真好，大家出来晒太阳啊")
    await _report(scene, grid1, li, "李大爷", "#报修")
    if sim.replies_to(grid1.id, chatter["message_id"]):
        scene.failures.append("the bot answered ordinary chatter")
    else:
        print("  (no reply to ordinary chatter, as intended)")

    if first is not None:
        edited_text = "#报修 3号楼2单元楼道灯不亮，5楼也不亮了"
        scene.say(grid1, "王阿姨 (edits her message)", edited_text)
        edits_before = sum(1 for c in sim.calls if c.method == "editMessageText")
        sim.edit_text(grid1, first, edited_text)
        await scene.expect(
            lambda: sum(1 for c in sim.calls if c.method == "editMessageText") > edits_before,
            "the receipt was not updated after the edit",
        )
        receipt = sim.replies_to(grid1.id, first)
        if receipt:
            scene.show_bot(receipt[-1], prefix="  ↳ 邻里通 (edited)")

    await _report(scene, stray, wang, "王阿姨", "#求助 谁家有多余的轮椅借用一下")

    print("\n— The grid officer takes ticket 2 with one tap and closes it —")
    await _officer_works(scene, grid1, officer)

    print("\n— 关爱走访: the officer keeps his roster of people living alone, privately —")
    await _care(scene, officer)

    print("\n— 议事: the households of 3号楼2单元 decide on the 凉房, one household one vote —")
    await _vote(
        scene, grid1, officer, ((wang, "王阿姨", "3-2-501", 0), (li, "李大爷", "3-2-502", 1))
    )
    return Cast(grid1, grid2, office, li)


async def _officer_works(scene: Scene, grid: SimChat, officer: SimUser) -> None:
    sim = scene.sim
    receipt = next(
        (m for m in sim.bot_messages(grid.id) if "工单 2 已登记" in m.get("text", "")), None
    )
    if receipt is None:
        scene.failures.append("no receipt for ticket 2")
        return
    print("[北瑞小区一网格] 刘网格员 taps 接单 under the receipt of ticket 2")
    edits = sum(1 for c in sim.calls if c.method == "editMessageText")
    query = sim.press_button(grid, receipt["message_id"], officer, encode(TicketPress("take", 2)))
    await scene.expect(lambda: query in sim.callback_answers, "the button was not answered")
    print(f"  (pop-up: {sim.callback_answers.get(query, {}).get('text', '')})")
    await scene.expect(
        lambda: sum(1 for c in sim.calls if c.method == "editMessageText") > edits,
        "the receipt did not show the new status",
    )
    scene.say(grid, "刘网格员", "/done 2 路面已经修补好了")
    sent = sim.send_text(grid, officer, "/done 2 路面已经修补好了")
    done = await scene.expect(
        lambda: [m for m in sim.bot_messages(grid.id) if "已办结" in m.get("text", "")] or None,
        "/done was not announced",
    )
    if done:
        scene.show_bot(done[-1])
    del sent


async def _care(scene: Scene, officer: SimUser) -> None:
    """The officer adds 曹大爷 to his roster and records a visit, in his private chat."""
    private = scene.sim.private_chat(officer)
    for text in ("/care add 曹大爷 3号楼2单元101 高风险", "/visit 1 正常 精神不错，药按时吃了"):
        print(f"[刘网格员 ↔ 邻里通, private] 刘网格员: {text}")
        sent = scene.sim.send_text(private, officer, text)
        await scene.expect_reply(private, sent["message_id"], text)


VOTE_LINE = "/vote 3号楼2单元凉房改造 同意|不同意|弃权 --where 3号楼2单元 --until 3h"


async def _vote(
    scene: Scene,
    grid: SimChat,
    officer: SimUser,
    residents: Iterable[tuple[SimUser, str, str, int]],
) -> None:
    """Residents (user, name, room, the option each taps) tie themselves to their rooms, the
    officer registers a household without Telegram and starts a vote closing in three hours
    (the day's clock closes it), residents tap the poll, the officer records the third
    household's 同意, given by phone."""
    sim = scene.sim
    people = list(residents)
    for user, who, room, _ in people:
        await _command(scene, grid, user, who, f"/room {room}")
    await _command(scene, grid, officer, "刘网格员", "/room add 3-2-503")
    polls = len(sim.poll_messages(grid.id))
    await _command(scene, grid, officer, "刘网格员", VOTE_LINE)
    sent = await scene.expect(
        lambda: sim.poll_messages(grid.id)[polls:] or None, "the 议事 poll was not posted"
    )
    if not sent:
        return
    poll = sent[0]
    scene.shown.add((grid.id, poll["message_id"]))
    state: JSON = poll["poll"]
    options = [o["text"] for o in state["options"]]
    print(f"[{grid.title}] 邻里通: 📊 {state['question']}（{' / '.join(options)}）")
    for user, who, _, option in people:
        print(f"[{grid.title}] {who} taps {options[option]}")
        state = sim.answer_poll(grid, poll["message_id"], user, [option])
    counts = " · ".join(f"{o['text']} {o['voter_count']}" for o in state["options"])
    print(f"  (the poll shows {counts}; the bot counts households when the vote closes)")
    # updates are handled in order: once the proxy is answered, the taps were recorded
    proxy = "/vote proxy 1 3-2-503 同意 电话确认"
    print(f"[刘网格员 ↔ 邻里通, private] 刘网格员: {proxy}")
    await _command(scene, sim.private_chat(officer), officer, None, proxy)


async def _command(scene: Scene, chat: SimChat, user: SimUser, who: str | None, text: str) -> None:
    """``who`` says ``text`` in ``chat`` (printed unless ``who`` is None); the bot's reply."""
    if who is not None:
        scene.say(chat, who, text)
    sent = scene.sim.send_text(chat, user, text)
    await scene.expect_reply(chat, sent["message_id"], text)


async def _day(scene: Scene, cast: Cast) -> None:
    """Print what the bot says on its own while the day runs; answer the 回访 as 李大爷 would."""
    chats = (cast.grid1, cast.grid2, cast.office)
    wanted = {
        "a reminder": ("还没有人接单", "已超过响应时限"),
        "the reminder of the urgent ticket 4 (隐患)": ("⏰ 工单 4（",),
        "the reminder of the urgent ticket 5 (充电)": ("⏰ 工单 5（",),
        "a 回访": ("满意吗",),
        "a rating": (),
        "a grid digest": ("日报",),
        "the community ranking": ("各网格排名",),
        "an escalation (督办)": ("🔺",),
        "the 议事 result": ("议事 1 结果",),
        "the 议事 poll stopped": (),
    }
    found: set[str] = set()
    deadline = time.monotonic() + 45
    while len(found) < len(wanted) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        for message in scene.show_unprompted(chats):
            text = message.get("text", "")
            found |= {k for k, needles in wanted.items() if any(n in text for n in needles)}
            if "满意吗" in text and "工单 2" in text and await _rate(scene, cast, message):
                found.add("a rating")
            if "议事 1 结果" in text and await _poll_closed(scene, cast.grid1):
                found.add("the 议事 poll stopped")
    for missing in set(wanted) - found:
        scene.failures.append(f"the day passed without {missing}")


async def _poll_closed(scene: Scene, grid: SimChat) -> bool:
    """At its deadline the vote's poll was stopped (before its result was posted)."""
    closed = await scene.expect(
        lambda: all(m["poll"]["is_closed"] for m in scene.sim.poll_messages(grid.id)),
        "the 议事 poll was not stopped",
    )
    if closed:
        print("  (the poll above is closed: no more taps)")
    return bool(closed)


async def _rate(scene: Scene, cast: Cast, question: JSON) -> bool:
    """李大爷 answers the 回访; the question is edited to thank him."""
    print("[北瑞小区一网格] 李大爷 taps 满意")
    sim = scene.sim
    sim.press_button(cast.grid1, question["message_id"], cast.li, encode(RatingPress(2, "s")))

    def thanked() -> JSON | None:
        current = next(
            (m for m in sim.messages(cast.grid1.id) if m["message_id"] == question["message_id"]),
            None,
        )
        return current if current and "感谢您的评价" in current.get("text", "") else None

    edited = await scene.expect(thanked, "the 回访 was not answered")
    if edited:
        scene.show_bot(edited, prefix="  ↳ 邻里通 (edited)")
    return edited is not None


def _new_bot_messages(
    sim: Simulator, chat: SimChat, before: int
) -> Callable[[], list[JSON] | None]:
    return lambda: sim.bot_messages(chat.id)[before:] or None


async def _report(scene: Scene, chat: SimChat, user: SimUser, who: str, text: str) -> int | None:
    scene.say(chat, who, text)
    sent = scene.sim.send_text(chat, user, text)
    reply = await scene.expect_reply(chat, sent["message_id"], repr(text))
    return int(sent["message_id"]) if reply is not None else None


async def _print_tickets(db_path: Path) -> None:
    storage = await Storage.open(db_path, create=False)
    try:
        lines = await ticket_table(storage)
    finally:
        await storage.close()
    print(f"\nTickets in the database ({len(lines) - 1}):")
    for line in lines:
        print(line)


async def ticket_table(storage: Storage) -> list[str]:
    """The tickets as a table for a terminal: a header line, then one line per ticket.

    Chinese columns line up (a wide character takes two cells) and phone and ID numbers are
    masked, as in everything the bot posts in a group.
    """
    catalog, texts = CategoryCatalog.default(), Texts("zh")
    rows = [("编号", "类别", "状态", "附件", "位置", "内容")]
    for t in sorted(await storage.tickets.recent(1000), key=lambda t: t.id):
        category = catalog.get(t.category)
        files = len(await storage.tickets.media(t.id))
        rows.append(
            (
                str(t.id),
                category.tag if category else t.category,
                texts.status(t.status),
                str(files),
                _where(t.estate, t.building, t.unit, t.room),
                mask_sensitive(t.body),
            )
        )
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    numbers = {0, 3}  # right-aligned
    return [
        "  ".join(
            [pad(cell, widths[i], right=i in numbers) for i, cell in enumerate(row[:-1])]
            + [row[-1]]
        )
        for row in rows
    ]


def _where(estate: str | None, building: str | None, unit: str | None, room: str | None) -> str:
    parts = (estate, building and f"{building}号楼", unit and f"{unit}单元", room and f"{room}室")
    return " ".join(p for p in parts if p) or "-"


def display_width(text: str) -> int:
    """Terminal cells: East Asian wide and full-width characters take two, marks none."""
    return sum(_cell_width(ch) for ch in text)


def _cell_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in {"Mn", "Me", "Cf"}:
        return 0
    return 2 if unicodedata.east_asian_width(ch) in {"W", "F"} else 1


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` filled with spaces to ``width`` cells (on the left when ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
