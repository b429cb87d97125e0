"""End to end: two `linlitong run --webhook` processes on one PostgreSQL database, behind a
front that sends each update to a random one; one is killed with SIGKILL in the middle.

Every report must still become exactly one ticket with exactly one receipt, each chat's reports
must be handled in the order they were written, each due reminder and each digest sent once.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from bot.launcher import RUN_SCRIPT, BotProcess, start_bot, wait_webhook
from bot.simulator import SimChat, Simulator, start_server
from storage import Storage
from tests import pg
from tests.e2e import WEBHOOK_SECRET, free_port

pytestmark = pytest.mark.e2e

REPORTS = 2000
GROUPS = 40
KILL_AFTER = REPORTS // 3  # reports answered when one instance is killed
SPEED = 60  # business minutes per real second: reminders (15 min) and the digest fall due
TZ = ZoneInfo("Asia/Shanghai")
_REMINDER = re.compile(r"⏰ 工单 (\d+)（[^）]*）还没有人接单")
_DIGEST = "日报"


@dataclass
class Front:
    """The load balancer: each POST goes to a random live instance (502 when it is gone)."""

    targets: list[str]
    rng: random.Random = field(default_factory=lambda: random.Random(20261130))
    sent: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = self.rng.choice(self.targets)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        headers["Content-Type"] = "application/json"
        try:
            async with (
                aiohttp.ClientSession() as client,
                client.post(target, data=body, headers=headers) as answer,
            ):
                self.sent[target] += 1
                return web.Response(status=answer.status)
        except aiohttp.ClientError:
            return web.Response(status=502)  # Telegram posts it again


@contextlib.asynccontextmanager
async def serve_front(front: Front, port: int) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/telegram", front.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/telegram"
    finally:
        await runner.cleanup()


async def seed(url: str, groups: list[SimChat], office: SimChat) -> None:
    """The grids, bound as an admin's /bind would bind them (straight in storage: fast)."""
    storage = await Storage.open(url)
    try:
        now = datetime.now(UTC)
        for i, group in enumerate(groups):
            await storage.grids.bind_grid(
                chat_id=group.id,
                title=group.title or "",
                grid=f"第{i + 1}网格",
                community="通顺社区",
                street="交通街道",
                by=1,
                now=now,
            )
        await storage.grids.bind_supervisor(
            chat_id=office.id, title=office.title or "", name="通顺社区", by=1, now=now
        )
    finally:
        await storage.close()


def acknowledged_reports(message: dict[str, Any]) -> set[int]:
    """The reports a receipt acknowledges: the one it replies to, or those a combined one links."""
    if "已登记" not in message.get("text", ""):
        return set()
    target = message.get("reply_to_message")
    keys = {int(target["message_id"])} if target else set()
    for entity in message.get("entities", []):
        found = re.search(r"/(\d+)$", str(entity.get("url", "")))
        if entity.get("type") == "text_link" and found:
            keys.add(int(found.group(1)))
    return keys


def receipts_per_report(sim: Simulator, group: SimChat, reports: set[int]) -> Counter[int]:
    """How many of the bot's receipts acknowledge each report."""
    acknowledged: Counter[int] = Counter()
    for message in sim.bot_messages(group.id):
        for key in acknowledged_reports(message) & reports:
            acknowledged[key] += 1
    return acknowledged


def receipt_requests(sim: Simulator) -> dict[tuple[int, int], list[float]]:
    """When each receipt's sendMessage reached Telegram, per (chat, report)."""
    at: dict[tuple[int, int], list[float]] = {}
    for call in sim.calls:
        if call.method.lower() == "sendmessage" and isinstance(call.result, dict):
            chat_id = int(call.result["chat"]["id"])
            for key in acknowledged_reports(call.result):
                at.setdefault((chat_id, key), []).append(call.at)
    return at


def reminder_requests(sim: Simulator) -> dict[tuple[int, int], list[float]]:
    """When each reminder's sendMessage reached Telegram, per (chat, ticket number)."""
    at: dict[tuple[int, int], list[float]] = {}
    for call in sim.calls:
        if call.method.lower() == "sendmessage" and isinstance(call.result, dict):
            found = _REMINDER.search(call.result.get("text", ""))
            if found is not None:
                key = (int(call.result["chat"]["id"]), int(found.group(1)))
                at.setdefault(key, []).append(call.at)
    return at


@pytest.fixture
def postgres_url(postgres_server: pg.PostgresServer | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not installed (initdb not found); .ci/run installs it")
    url = postgres_server.lease()
    yield url
    postgres_server.give_back(url)


@pytest.mark.timeout(900)  # 2,000 reports through two processes: minutes on two cores
async def test_two_instances_one_killed_mid_run_double_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    sim = Simulator(webhook_retry_delay=0.05)
    admin = sim.add_user("张书记")
    officer = sim.add_user("李网格员")
    residents = [sim.add_user(f"居民{i}") for i in range(8)]
    groups = []
    for i in range(GROUPS):
        group = sim.add_group(f"{i + 1}号网格群", supergroup=True)
        sim.set_member(group, admin, "creator")
        sim.set_member(group, officer, "administrator")
        for resident in residents:
            sim.set_member(group, resident, "member")
        sim.add_bot(group, by=admin, status="member")
        groups.append(group)
    office = sim.add_group("通顺社区办公室", supergroup=True)
    sim.set_member(office, admin, "creator")
    sim.add_bot(office, by=admin, status="member")
    await seed(postgres_url, groups, office)

    server = await start_server(sim)
    listens = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    front = Front([f"http://{listen}/telegram" for listen in listens])
    local = datetime.now(UTC).astimezone(TZ)
    # the digest falls due 45 s after the start, reminders of #隐患 15 s after each report
    start = local.replace(hour=17, minute=15, second=0, microsecond=0)
    processes: list[BotProcess] = []
    async with serve_front(front, free_port()) as front_url:
        try:
            for n, listen in enumerate(listens):
                bot = await start_bot(
                    base_url=server.base_url,
                    token=sim.token,
                    database_path=tmp_path / "unused.db",
                    cwd=tmp_path,
                    admin_ids=(admin.id,),
                    log_path=tmp_path / f"bot{n}.log",
                    extra_env={
                        "DATABASE_URL": postgres_url,
                        "WEBHOOK_URL": front_url,
                        "WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "WEBHOOK_LISTEN": listen,
                        "PAID_BROADCAST": "true",
                        "TICK_INTERVAL": "1s",
                        "INBOX_POLL": "0.2s",
                        "CLOCK_START": start.isoformat(),
                        "CLOCK_SPEED": str(SPEED),
                        "DIGEST_TIME": "18:00",
                        "QUIET_HOURS": "off",
                        "LOG_LEVEL": "WARNING",
                    },
                    command=(*RUN_SCRIPT, "--webhook"),
                )
                processes.append(bot)
                await wait_webhook(sim, bot, after=n)

            rng = random.Random(7)
            written: dict[int, list[int]] = {g.id: [] for g in groups}
            for n in range(REPORTS):
                group = groups[n % GROUPS]
                resident = rng.choice(residents)
                tag = "#隐患" if n % 10 == 0 else "#报修"
                text = f"{tag} {n + 1}号楼{n % 6 + 1}单元 楼道灯不亮"
                sent = sim.send_text(group, resident, text)
                written[group.id].append(int(sent["message_id"]))

            def acknowledged() -> int:
                return sum(len(receipts_per_report(sim, g, set(written[g.id]))) for g in groups)

            # one instance dies in the middle: a third of the reports answered, the leader's
            # digest not yet due
            await sim.wait_for(lambda: acknowledged() >= KILL_AFTER, timeout=300)
            assert not any(_DIGEST in m.get("text", "") for m in sim.bot_messages(groups[0].id))
            # the moment of death lies between the signal and the exit this loop learns of (a
            # few ms later, while it serves the simulator): the survivor may take over in between
            signalled_at = sim.clock()
            await processes[0].kill9()
            killed_at = sim.clock()

            await sim.wait_for(lambda: acknowledged() == REPORTS, timeout=600)
            await sim.wait_for(
                lambda: all(
                    any(_DIGEST in m.get("text", "") for m in sim.bot_messages(g.id))
                    for g in groups
                ),
                timeout=300,
            )
            survivor = processes[1]
            assert survivor.returncode is None, survivor.log()
            assert await survivor.stop() == 0
        finally:
            for bot in processes:
                await bot.stop()
            await server.stop()

    doubled: list[tuple[int, int]] = []
    repeated_reminders: list[tuple[int, int]] = []
    storage = await Storage.open(postgres_url)
    try:
        assert await storage.tickets.count() == REPORTS
        for group in groups:
            reports = written[group.id]
            tickets = [await storage.tickets.by_message(group.id, m) for m in reports]
            assert all(t is not None for t in tickets)
            ids = [t.id for t in tickets if t is not None]
            # handled one at a time in the order written: ticket numbers follow the messages
            assert ids == sorted(ids), group.title
            counted = receipts_per_report(sim, group, set(reports))
            assert set(counted) == set(reports), group.title
            doubled.extend((group.id, k) for k, n in counted.items() if n > 1)
            digests = [m for m in sim.bot_messages(group.id) if _DIGEST in m.get("text", "")]
            assert len(digests) == 1, group.title
            reminders = Counter(
                int(found.group(1))
                for m in sim.bot_messages(group.id)
                if (found := _REMINDER.search(m.get("text", "")))
            )
            assert all(n <= 2 for n in reminders.values()), reminders
            repeated_reminders.extend((group.id, t) for t, n in reminders.items() if n > 1)
        office_digests = [m for m in sim.bot_messages(office.id) if _DIGEST in m.get("text", "")]
        assert len(office_digests) <= 1
    finally:
        await storage.close()
    # The one thing a SIGKILL can repeat: an outbox message (a receipt, a reminder) Telegram
    # accepted from the killed instance in the instant before it died, before it could write
    # down "sent" (README says so). Every other message is sent once: a doubled one was asked
    # for before the kill, and only one message per chat can have been on the wire then (a
    # chat's messages go one at a time).
    sent_at = receipt_requests(sim)
    reminded_at = reminder_requests(sim)
    first_copies: dict[int, set[float]] = {}
    for key in doubled:
        times = sent_at[key]
        assert len(times) == 2 and times[0] < times[1], key
        assert times[0] <= killed_at and signalled_at < times[1], key
        first_copies.setdefault(key[0], set()).add(times[0])
    for key in repeated_reminders:
        times = reminded_at[key]
        assert len(times) == 2 and times[0] < times[1], key
        assert times[0] <= killed_at and signalled_at < times[1], key
        first_copies.setdefault(key[0], set()).add(times[0])
    # one message per chat at most (a combined receipt repeats with all the reports it names)
    assert all(len(times) == 1 for times in first_copies.values()), doubled
    assert front.sent[front.targets[1]] > 0 and front.sent[front.targets[0]] > 0
    for n in range(2):
        log = (tmp_path / f"bot{n}.log").read_text("utf-8", errors="replace")
        assert "Traceback" not in log and sim.token not in log, log[-3000:]
