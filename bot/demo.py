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
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

from bot.simulator import Simulator, start_server
from bot.simulator.models import SimChat, SimUser
from storage import Storage

STEP_TIMEOUT = 15.0
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
    }
    print("邻里通 LinliTong demo: a local Bot API simulator and the real `linlitong run` process\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=workdir, env=env
    )
    scene = Scene(sim, {}, [])
    try:
        started = await scene.expect(
            lambda: any(c.method == "getUpdates" for c in sim.calls),
            "the bot did not start polling",
        )
        if started is None:
            return 1
        await _scene(scene, secretary)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
    await _print_tickets(db_path)
    if scene.failures:
        print(
            f"\nDemo finished with {len(scene.failures)} problem(s): " + "; ".join(scene.failures)
        )
        return 1
    print("\nDemo finished: every tagged report got its receipt.")
    return 0


async def _scene(scene: Scene, secretary: SimUser) -> None:
    sim = scene.sim
    wang = sim.add_user("王阿姨")
    li = sim.add_user("李大爷")
    zhao = sim.add_user("赵师傅")
    chen = sim.add_user("陈姐")
    grid1 = sim.add_group("北瑞小区一网格")
    grid2 = sim.add_group("宝东街坊二网格")
    office = sim.add_group("通顺社区督办群")
    stray = sim.add_group("跳广场舞群")
    for chat, people in (
        (grid1, (secretary, wang, li)),
        (grid2, (secretary, zhao, chen)),
        (office, (secretary,)),
        (stray, (secretary, wang)),
    ):
        for person in people:
            sim.set_member(chat, person, "creator" if person is secretary else "member")

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
