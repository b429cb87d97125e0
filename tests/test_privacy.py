"""Who reads residents' phone and ID numbers unmasked, view by view.

The rule: only the person who wrote a report, and staff (the grid's officers, community or
street staff, admins), read its numbers unmasked, and only in a private chat. A co-reporter
("+1") and a resident whose own report /dup merged into it are reporters, not its writer.
Every view is driven through the Bot API (the simulator), as Telegram drives the bot.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.callbacks import PagePress, encode
from bot.categories import CategoryCatalog
from bot.config import Settings
from bot.export import LedgerFormat, write_ledger
from bot.logs import OWN_LOGGERS, setup_logging
from bot.privacy import PUBLIC, Viewer, may_see_contacts
from bot.simulator.models import SimChat, SimUser
from storage import Storage, Ticket
from storage.vocabulary import Status
from tests.harness import Harness

JSON = dict[str, Any]

# The report, spelled as residents do: dots, brackets, an ID in groups. Lists preview the first
# 40 characters of a report: its first two numbers (LISTED) are in the preview.
REPORT = "#报修 电话138.1234.5678 厨房漏水 座机(0471)8123456 身份证110105 19491231 002X"
SECRETS = ("138.1234.5678", "(0471)8123456", "110105 19491231 002X")
MASKED = ("138****5678", "(0471)***3456", "110105********002X")
HIDDEN = ("12345678", "8123456", "1101051949123100")
LISTED = 2
DUP_REPORT = "#报修 三号楼厨房也漏水 我电话139\u200b0000\u200b1111"


@dataclass
class World:
    grid1: SimChat
    grid2: SimChat
    office: SimChat
    writer: SimUser  # wrote the report
    neighbour: SimUser  # said "+1" under it
    other: SimUser  # wrote another report of the same problem, merged into it by /dup
    officer: SimUser  # admin of grid 1's group
    stranger_officer: SimUser  # admin of grid 2's group only
    staff: SimUser  # member of the community's supervisor chat


async def world(bot: Harness) -> World:
    sim = bot.sim
    writer, neighbour, other = sim.add_user("王阿姨"), sim.add_user("李大爷"), sim.add_user("赵姐")
    officer, stranger_officer = sim.add_user("刘网格员"), sim.add_user("陈网格员")
    staff = sim.add_user("社区小赵")
    grid1 = await bot.grid("北瑞小区一网格", writer, neighbour, other, grid="第一网格")
    grid2 = await bot.grid("宝东二网格", writer, grid="第二网格")
    sim.set_member(grid1, officer, "administrator")
    sim.set_member(grid2, stranger_officer, "administrator")
    office = bot.group("通顺社区督办群", staff)
    await bot.say(office, bot.admin, "/supervise 通顺社区")
    return World(grid1, grid2, office, writer, neighbour, other, officer, stranger_officer, staff)


async def reported(bot: Harness, w: World) -> Ticket:
    """The writer's report, a "+1" from the neighbour, and the other resident's report of the
    same problem merged into it by the officer."""
    message, ticket = await bot.report(w.grid1, w.writer, REPORT)
    await bot.say(w.grid1, w.neighbour, "+1", reply_to=message["message_id"])
    _, dup = await bot.report(w.grid1, w.other, DUP_REPORT)
    await bot.say(w.grid1, w.officer, f"/dup {dup.id} {ticket.id}")
    reporters = {user_id for user_id, _ in await bot.storage.tickets.co_reporters(ticket.id)}
    assert reporters == {w.neighbour.id, w.other.id}
    return ticket


async def ask_privately(bot: Harness, user: SimUser, command: str) -> str:
    chat = bot.sim.private_chat(user)
    await bot.say(chat, user, command)
    return str(bot.sim.bot_messages(chat.id)[-1]["text"])


async def ask_in(bot: Harness, chat: SimChat, user: SimUser, command: str) -> str:
    sent = await bot.say(chat, user, command)
    return bot.reply_text(chat, sent)


def unmasked(text: str, count: int = len(SECRETS)) -> bool:
    """The first ``count`` numbers of the report are there as the resident wrote them."""
    return all(secret in text for secret in SECRETS[:count])


def masked(text: str, count: int = len(SECRETS)) -> bool:
    """The first ``count`` numbers masked (the usual way); none readable in any spelling."""
    digits = re.sub(r"[^0-9X]", "", text)
    shown = all(m in text for m in MASKED[:count])
    return shown and not any(s in text for s in SECRETS) and not any(h in digits for h in HIDDEN)


def listed_unmasked(text: str) -> bool:
    return unmasked(text, LISTED)


def listed_masked(text: str) -> bool:
    return masked(text, LISTED)


# --------------------------------------------------------------------------------------------
# The rule itself
# --------------------------------------------------------------------------------------------

WRITER, OTHER = 7, 8


def _ticket(reporter_id: int | None, grid_id: int = 1) -> Ticket:
    now = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    return Ticket(
        id=1, grid_id=grid_id, chat_id=-100, message_id=1, thread_id=None, media_group_id=None,
        source="group", category="repair", labels=(), text=REPORT, body=REPORT, estate=None,
        building=None, unit=None, room=None, reporter_id=reporter_id, reporter_name="王阿姨",
        status=Status.NEW, created_at=now, updated_at=now, response_due=now, resolution_due=now,
        receipt_message_id=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("viewer", "reporter", "staff", "private", "sees"),
    [
        ("writer", WRITER, False, True, True),
        ("writer", WRITER, False, False, False),  # in a group every member reads
        ("co-reporter", WRITER, False, True, False),
        ("co-reporter", WRITER, False, False, False),
        ("staff", WRITER, True, True, True),
        ("staff", WRITER, True, False, False),
        ("anonymous", None, False, True, False),  # a report without a writer id
    ],
)
def test_may_see_contacts(
    viewer: str, reporter: int | None, staff: bool, private: bool, sees: bool
) -> None:
    user_id = None if viewer == "anonymous" else (WRITER if viewer == "writer" else OTHER)
    ticket = _ticket(reporter)
    decided = may_see_contacts(user_id, ticket, viewer_is_staff=staff, chat_is_private=private)
    assert decided is sees
    shown = Viewer(user_id, private, frozenset({1}) if staff else frozenset()).shows(ticket, REPORT)
    assert unmasked(shown) if sees else masked(shown), shown


def test_viewer_staff_grids() -> None:
    ticket = _ticket(WRITER, grid_id=2)
    assert Viewer(OTHER, private=True, staff_grids=None).sees_contacts(ticket)  # an admin
    assert Viewer(OTHER, private=True, staff_grids=frozenset({2})).sees_contacts(ticket)
    assert not Viewer(OTHER, private=True, staff_grids=frozenset({1})).sees_contacts(ticket)
    assert not PUBLIC.sees_contacts(ticket)


# --------------------------------------------------------------------------------------------
# Resident views: /status and /my
# --------------------------------------------------------------------------------------------


async def test_the_writer_reads_her_numbers_in_private_only(bot: Harness) -> None:
    w = await world(bot)
    ticket = await reported(bot, w)
    assert listed_unmasked(await ask_privately(bot, w.writer, f"/status {ticket.id}"))
    assert listed_unmasked(await ask_privately(bot, w.writer, "/my"))
    assert listed_masked(await ask_in(bot, w.grid1, w.writer, f"/status {ticket.id}"))
    my_in_group = await ask_in(bot, w.grid1, w.writer, "/my")
    assert "?start=my" in my_in_group and not any(s in my_in_group for s in SECRETS)


async def test_a_co_reporter_reads_them_masked(bot: Harness) -> None:
    w = await world(bot)
    ticket = await reported(bot, w)
    status = await ask_privately(bot, w.neighbour, f"/status {ticket.id}")
    assert "厨房漏水" in status and listed_masked(status)
    my = await ask_privately(bot, w.neighbour, "/my")
    assert "厨房漏水" in my and listed_masked(my)
    assert listed_masked(await ask_in(bot, w.grid1, w.neighbour, f"/status {ticket.id}"))


async def test_a_reporter_merged_by_dup_reads_them_masked_and_her_own_unmasked(
    bot: Harness,
) -> None:
    w = await world(bot)
    ticket = await reported(bot, w)
    status = await ask_privately(bot, w.other, f"/status {ticket.id}")
    assert "厨房漏水" in status and listed_masked(status)
    my = await ask_privately(bot, w.other, "/my")
    lines = my.splitlines()
    original = next(line for line in lines if "厨房漏水" in line)
    own = next(line for line in lines if "也漏水" in line)
    assert listed_masked(original)
    assert "139\u200b0000\u200b1111" in own  # what she wrote herself, as she wrote it


# --------------------------------------------------------------------------------------------
# Staff views: /show and /list
# --------------------------------------------------------------------------------------------


async def test_staff_read_them_in_private_and_masked_in_a_group(bot: Harness) -> None:
    w = await world(bot)
    ticket = await reported(bot, w)
    for user in (w.officer, w.staff, bot.admin):
        assert unmasked(await ask_privately(bot, user, f"/show {ticket.id}")), user.first_name
        assert listed_unmasked(await ask_privately(bot, user, "/list all")), user.first_name
    assert masked(await ask_in(bot, w.grid1, w.officer, f"/show {ticket.id}"))
    assert listed_masked(await ask_in(bot, w.grid1, w.officer, "/list all"))
    refused = await ask_privately(bot, w.stranger_officer, f"/show {ticket.id}")
    assert not any(s in refused for s in SECRETS)


async def test_a_list_page_turned_by_a_button(bot: Harness) -> None:
    w = await world(bot)
    await reported(bot, w)
    for n in range(10):
        await bot.report(w.grid1, w.writer, f"#报修 {n + 4}号楼楼道灯不亮")
    chats = (bot.sim.private_chat(w.officer), w.grid1)
    for chat, read in zip(chats, (listed_unmasked, listed_masked), strict=True):
        await bot.say(chat, w.officer, "/list all")
        first = bot.sim.bot_messages(chat.id)[-1]
        assert not any(s in first["text"] for s in SECRETS)  # the report is on page 2
        bot.sim.press_button(chat, first["message_id"], w.officer, encode(PagePress("all", 2)))
        await bot.drain()
        page = [m for m in bot.sim.bot_messages(chat.id) if m["message_id"] == first["message_id"]]
        assert "第 2/2 页" in page[-1]["text"] and read(page[-1]["text"]), page[-1]["text"]


async def test_staff_who_said_plus_one_still_reads_them_in_private(bot: Harness) -> None:
    w = await world(bot)
    message, ticket = await bot.report(w.grid1, w.writer, REPORT)
    bot.sim.set_member(w.grid1, w.staff, "member")
    await bot.say(w.grid1, w.staff, "+1", reply_to=message["message_id"])
    assert listed_unmasked(await ask_privately(bot, w.staff, "/my"))
    assert listed_unmasked(await ask_privately(bot, w.staff, f"/status {ticket.id}"))


# --------------------------------------------------------------------------------------------
# The receipt: always in the group
# --------------------------------------------------------------------------------------------


async def test_the_receipt_masks_every_spelling(bot: Harness) -> None:
    w = await world(bot)
    message, _ = await bot.report(w.grid1, w.writer, REPORT)
    receipt = bot.replies(w.grid1, message)[0]["text"]
    assert masked(receipt)
    assert "联系方式：138****5678、0471-***3456、110105********002X" in receipt


# --------------------------------------------------------------------------------------------
# Files: the database, its side files, backups and ledger exports are the owner's alone
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_backup_and_ledger_files_are_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "data" / "linlitong" / "bot.db"  # DATABASE_PATH in folders not made yet
    storage = await Storage.open(path)
    try:
        await storage.grids.bind_grid(
            chat_id=-1001, title="一网格", grid="第一网格", community="通顺社区", street=None,
            by=1, now=datetime(2026, 5, 6, tzinfo=UTC),
        )  # fmt: skip
        assert mode(path) == 0o600
        for side in ("-wal", "-shm"):  # SQLite gives them the database file's own bits
            assert mode(path.with_name(path.name + side)) == 0o600, side
        assert mode(tmp_path / "data") == mode(tmp_path / "data" / "linlitong") == 0o700

        backup = tmp_path / "backups" / "bot-backup.db"
        await storage.db.backup_to(backup)
        assert (mode(backup), mode(backup.parent)) == (0o600, 0o700)
        older = tmp_path / "older-backup.db"
        older.write_bytes(b"")
        older.chmod(0o644)
        await storage.db.backup_to(older)
        assert mode(older) == 0o600

        formats: tuple[LedgerFormat, ...] = ("xlsx", "csv")
        for fmt in formats:
            new, older = tmp_path / f"ledger.{fmt}", tmp_path / f"older.{fmt}"
            older.write_bytes(b"an export from before, readable by all")
            older.chmod(0o644)
            for target in (new, older):
                await write_ledger(
                    storage, fmt, target, catalog=CategoryCatalog.default(),
                    tz=ZoneInfo("Asia/Shanghai"), now=datetime(2026, 5, 6, tzinfo=UTC),
                )  # fmt: skip
                assert mode(target) == 0o600, target
        with pytest.raises(FileNotFoundError):  # an export makes no folder
            await write_ledger(
                storage, "csv", tmp_path / "missing" / "ledger.csv",
                catalog=CategoryCatalog.default(), tz=ZoneInfo("Asia/Shanghai"),
                now=datetime(2026, 5, 6, tzinfo=UTC),
            )  # fmt: skip
    finally:
        await storage.close()


async def test_a_database_others_may_read_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.files"):
        storage = await Storage.open(path)
        await storage.close()
    assert mode(path) == 0o644  # an existing file is the operator's: reported, not changed
    assert any(
        "chmod 600" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records
    )


# --------------------------------------------------------------------------------------------
# Logs: libraries' debug output holds residents' text, so it is off unless asked for
# --------------------------------------------------------------------------------------------

_LIBRARIES = (
    "telegram",
    "telegram.ext",
    "httpx",
    "httpcore",
    "aiosqlite",
    "apscheduler",
    "asyncio",
    "aiohttp.access",
)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """setup_logging changes the process's logging; put it back for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = {*logging.root.manager.loggerDict, *_LIBRARIES, *OWN_LOGGERS}
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


def _emit_everywhere(text: str) -> None:
    for name in (*_LIBRARIES, "bot.intake", "handlers.officer", "storage.db"):
        for lvl in (logging.DEBUG, logging.INFO, logging.WARNING):
            logging.getLogger(name).log(lvl, "%s %s %s", logging.getLevelName(lvl), name, text)


@pytest.mark.usefixtures("logging_restored")
def test_library_debug_logs_stay_off_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", library_level=Settings(_env_file=None).log_level_libraries)
    _emit_everywhere("电话13812345678")
    lines = capsys.readouterr().err.splitlines()
    for ours in ("bot.intake", "handlers.officer", "storage.db"):
        assert any(f"DEBUG {ours} 电话" in line for line in lines), ours
    for library in ("telegram", "telegram.ext", "aiosqlite", "asyncio"):
        assert not any(f"DEBUG {library} " in line for line in lines), library
        assert any(f"INFO {library} " in line for line in lines), library
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):  # WARNING, as before
        assert not any(f"INFO {noisy} " in line for line in lines), noisy
        assert any(f"WARNING {noisy} " in line for line in lines), noisy


@pytest.mark.usefixtures("logging_restored")
def test_library_debug_logs_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL_LIBRARIES", "debug")
    setup_logging("DEBUG", library_level=Settings(_env_file=None).log_level_libraries)
    _emit_everywhere("x")
    lines = capsys.readouterr().err.splitlines()
    for name in (*_LIBRARIES, "bot.intake"):
        assert any(f"DEBUG {name} x" in line for line in lines), name


@pytest.mark.usefixtures("logging_restored")
def test_libraries_are_never_louder_than_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("WARNING", library_level="DEBUG")
    _emit_everywhere("x")
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(" WARNING " in line for line in lines)
