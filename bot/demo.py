"""`linlitong demo`: the simulator, the real `linlitong run` process, and a scene in two grids.

No token and no network: the bot process polls the simulator on 127.0.0.1, exactly as `run`
polls Telegram. The scene is played the way residents really write; the transcript shows every
message and every reply, then the tickets the database holds.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.simulator import Simulator, start_server
from bot.simulator.models import SimChat, SimUser
from storage import Storage

STEP_TIMEOUT = 15.0
DEMO_TZ = ZoneInfo("Asia/Shanghai")
JSON = dict[str, Any]


@dataclass
class Scene:
    sim: Simulator
    names: dict[int, str]
    failures: list[str]

    def say(self, chat: SimChat, who: str, text: str) -> None:
        print(f"[{chat.title}] {who}: {text}")

    def show_bot(self, message: JSON, prefix: str = "  ↳ 邻里通") -> None:
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


def _plain(html_text: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html_text))


async def play(keep_db: Path | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="linlitong-demo-") as tmp:
        db_path = keep_db or Path(tmp) / "demo.db"
        if db_path.exists():
            db_path.unlink()
        sim = Simulator(bot_username="linlitong_demo_bot", bot_name="邻里通")
        server = await start_server(sim)
        try:
            return await _play(sim, server.base_url, db_path, Path(tmp))
        finally:
            await server.stop()


DAY_SPEED = 7200  # act two: one real second is two hours of the grid's day


def _demo_start() -> datetime:
    """Today at 09:00 in Asia/Shanghai: the demo's day begins with the office."""
    local = datetime.now(DEMO_TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


async def _start_bot(
    env: dict[str, str], workdir: Path, *, speed: float, start: datetime
) -> asyncio.subprocess.Process:
    clock = {"CLOCK_SPEED": str(speed), "CLOCK_START": start.isoformat()}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=workdir, env={**env, **clock}
    )


async def _stop_bot(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _play(sim: Simulator, base_url: str, db_path: Path, workdir: Path) -> int:
    secretary = sim.add_user("张书记", language_code="zh")
    env = {
        **os.environ,
        "BOT_TOKEN": sim.token,
        "BOT_API_BASE_URL": base_url,
        "DATABASE_PATH": str(db_path),
        "ADMIN_IDS": str(secretary.id),
        "LOG_LEVEL": "WARNING",
        "POLL_TIMEOUT": "1",
        "LANGUAGE": "zh",
        "CATEGORIES_FILE": "",
        "TIMEZONE": "Asia/Shanghai",
        "TICK_INTERVAL": "0.25s",
        "DIGEST_TIME": "18:00",
        "QUIET_HOURS": "22:00-07:00",
    }
    print("邻里通 LinliTong demo: a local Bot API simulator and the real `linlitong run` process\n")
    start = _demo_start()
    started_at = time.monotonic()
    process = await _start_bot(env, workdir, speed=1, start=start)
    scene = Scene(sim, {}, [])
    try:
        if not await _wait_started(scene):
            return 1
        cast = await _scene(scene, secretary)
        await _stop_bot(process)
        resume = start + timedelta(seconds=time.monotonic() - started_at)
        print("\n— 邻里通 restarts; the rest of the day plays at one hour per half second —")
        process = await _start_bot(env, workdir, speed=DAY_SPEED, start=resume)
        if await _wait_started(scene):
            await _day(scene, cast)
    finally:
        await _stop_bot(process)
    await _print_tickets(db_path)
    if scene.failures:
        print(
            f"\nDemo finished with {len(scene.failures)} problem(s): " + "; ".join(scene.failures)
        )
        return 1
    print("\nDemo finished: every report got its receipt; reminders, 督办, 回访 and digests ran.")
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
    query = sim.press_button(grid, receipt["message_id"], officer, "tk:take:2")
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


async def _day(scene: Scene, cast: Cast) -> None:
    """Print what the bot says on its own while the day runs; answer the 回访 as 李大爷 would."""
    sim = scene.sim
    chats = {cast.grid1.id: cast.grid1, cast.grid2.id: cast.grid2, cast.office.id: cast.office}
    seen = {chat_id: len(sim.bot_messages(chat_id)) for chat_id in chats}
    wanted = {
        "a reminder": ("还没有人接单", "已超过响应时限"),
        "a 回访": ("满意吗",),
        "a rating": (),
        "a grid digest": ("日报",),
        "the community ranking": ("各网格排名",),
        "an escalation (督办)": ("🔺",),
    }
    found: set[str] = set()
    deadline = time.monotonic() + 45
    while len(found) < len(wanted) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        for chat_id, chat in chats.items():
            messages = sim.bot_messages(chat_id)
            for message in messages[seen[chat_id] :]:
                text = message.get("text", "")
                scene.show_bot(message, prefix=f"[{chat.title}] 邻里通")
                found |= {k for k, needles in wanted.items() if any(n in text for n in needles)}
                if "满意吗" in text and "工单 2" in text and await _rate(scene, cast, message):
                    found.add("a rating")
            seen[chat_id] = len(messages)
    for missing in set(wanted) - found:
        scene.failures.append(f"the day passed without {missing}")


async def _rate(scene: Scene, cast: Cast, question: JSON) -> bool:
    """李大爷 answers the 回访; the question is edited to thank him."""
    print("[北瑞小区一网格] 李大爷 taps 满意")
    sim = scene.sim
    sim.press_button(cast.grid1, question["message_id"], cast.li, "fb:2:s")

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
    storage = await Storage.open(db_path)
    try:
        tickets = sorted(await storage.tickets.recent(1000), key=lambda t: t.id)
        print(f"\nTickets in the database ({len(tickets)}):")
        print(f"{'no.':>4}  {'category':<10} {'status':<7} {'files':>5}  {'location':<24} body")
        for t in tickets:
            files = len(await storage.tickets.media(t.id))
            where = " ".join(
                p
                for p in (
                    t.estate,
                    t.building and f"{t.building}号楼",
                    t.unit and f"{t.unit}单元",
                    t.room and f"{t.room}室",
                )
                if p
            )
            print(
                f"{t.id:>4}  {t.category:<10} {t.status:<7} {files:>5}  {where or '-':<24} {t.body}"
            )
    finally:
        await storage.close()
