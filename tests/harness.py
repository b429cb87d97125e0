"""The bot driven the way Telegram drives it, in-process: the simulator behind a BaseRequest.

Updates are fetched with a real getUpdates call (so they carry the entities Telegram attaches)
and fed to ``bot.app.handle_update`` (as the poll loop does); when ``drain()`` returns, every
handler has finished.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Update

from bot import schedule
from bot.app import build_application, handle_update, running
from bot.clock import ManualClock, VirtualClock
from bot.config import Settings
from bot.context import LinliApp, runtime_of
from bot.ratelimit import TelegramBudget
from bot.schedule import TickReport
from bot.simulator import Simulator, SimulatorRequest
from bot.simulator.models import SimChat, SimUser
from storage import Storage, Ticket

JSON = dict[str, Any]


def UNLIMITED() -> TelegramBudget:
    return TelegramBudget(
        group_per_minute=1_000_000,
        private_per_second=1_000_000,
        global_per_second=1_000_000,
        margin=0.0,  # else a second private message within 0.25 s waits for a later flush
    )


@dataclass
class Harness:
    sim: Simulator
    app: LinliApp
    clock: ManualClock
    admin: SimUser
    processed: list[Update] = field(default_factory=list)
    _offset: int = field(default=0)

    @property
    def storage(self) -> Storage:
        return runtime_of(self.app).storage

    async def drain(self) -> int:
        """Process every pending update, then send what the outbox owes; returns updates."""
        handled = await self.process()
        await self.flush()
        return handled

    async def process(self) -> int:
        """Process every pending update without sending what the outbox owes; returns updates."""
        handled = 0
        while updates := await self.app.bot.get_updates(offset=self._offset, timeout=0):
            for update in updates:
                self._offset = update.update_id + 1
                await handle_update(self.app, update)
                self.processed.append(update)
                handled += 1
        return handled

    async def flush(self) -> int:
        """Send everything the outbox may send now (the background sender is off in tests)."""
        total = 0
        while sent := await runtime_of(self.app).sender.flush():
            total += sent
        return total

    async def tick(self, advance: timedelta | None = None) -> TickReport:
        """Move the clock, run the scheduler's tick once, and send what it queued."""
        if advance is not None:
            self.clock.advance(advance)
        report = await schedule.tick(runtime_of(self.app))
        await self.flush()
        return report

    async def feed(self, update: JSON) -> None:
        """Process one raw update dict directly (hostile input that getUpdates would not carry)."""
        await handle_update(self.app, Update.de_json(update, self.app.bot))

    async def say(self, chat: SimChat, user: SimUser, text: str, **kwargs: Any) -> JSON:
        message = self.sim.send_text(chat, user, text, **kwargs)
        await self.drain()
        return message

    async def report(
        self, chat: SimChat, user: SimUser, text: str, **kwargs: Any
    ) -> tuple[JSON, Ticket]:
        """A message that must open a ticket: the message and its ticket (asserts there is one)."""
        message = await self.say(chat, user, text, **kwargs)
        ticket = await self.storage.tickets.by_message(chat.id, message["message_id"])
        assert ticket is not None, self.replies(chat, message)
        return message, ticket

    async def fresh(self, ticket: Ticket) -> Ticket:
        """The ticket as stored now."""
        current = await self.storage.tickets.get(ticket.id)
        assert current is not None
        return current

    def replies(self, chat: SimChat, message: JSON | int) -> list[JSON]:
        message_id = message if isinstance(message, int) else message["message_id"]
        return self.sim.replies_to(chat.id, message_id)

    def reply_text(self, chat: SimChat, message: JSON | int) -> str:
        """The one reply to a message (asserts there is exactly one)."""
        replies = self.replies(chat, message)
        assert len(replies) == 1, f"expected one reply, got {len(replies)}: {replies}"
        return str(replies[0].get("text", ""))

    async def vote(
        self, chat: SimChat, poll: JSON | int | str, user: SimUser, *options: int | str
    ) -> JSON:
        """``user`` taps ``options`` of the bot's poll (its message, message id or poll id) —
        indexes or option texts; none = retract her vote — then the bot handles the updates.
        Returns the poll's new state; ``ValueError`` where Telegram's client would not let her."""
        record = self.sim.poll_record(chat.id, poll)
        texts = [str(option["text"]) for option in record.poll["options"]]
        ids = [texts.index(o) if isinstance(o, str) else o for o in options]
        state = self.sim.answer_poll(chat, record.message_id, user, ids)
        await self.drain()
        return state

    def polls(self, chat: SimChat) -> list[JSON]:
        """The bot's poll messages in ``chat``, oldest first; ``["poll"]`` is the current state."""
        return self.sim.poll_messages(chat.id)

    def group(self, title: str, *members: SimUser, supergroup: bool = True, **kw: Any) -> SimChat:
        chat = self.sim.add_group(title, supergroup=supergroup, **kw)
        self.sim.set_member(chat, self.admin, "creator")
        for member in members:
            self.sim.set_member(chat, member, "member")
        self.sim.add_bot(chat, by=self.admin, status="member")
        return chat

    async def bound_groups(self, count: int, *members: SimUser) -> list[SimChat]:
        """``count`` groups bound as grids 第0网格… of 通顺社区 (straight in storage, no /bind),
        their welcome messages sent."""
        chats = []
        for n in range(count):
            chat = self.group(f"网格{n}", *members)
            await self.storage.grids.bind_grid(
                chat_id=chat.id,
                title=chat.title or "",
                grid=f"第{n}网格",
                community="通顺社区",
                street=None,
                by=self.admin.id,
                now=self.clock.now(),
            )
            chats.append(chat)
        await self.drain()
        return chats

    async def grid(
        self,
        title: str,
        *members: SimUser,
        grid: str = "第一网格",
        community: str = "通顺社区",
        **kw: Any,
    ) -> SimChat:
        """A group bound as a grid through the real /bind command."""
        chat = self.group(title, *members, **kw)
        bound = await self.say(chat, self.admin, f"/bind {grid} {community} 交通街道")
        assert "✅" in self.reply_text(chat, bound)
        return chat


@asynccontextmanager
async def harness(
    tmp_path: Path,
    *,
    sim: Simulator | None = None,
    budget: TelegramBudget | None = None,
    database: Path | str | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    sim = sim or Simulator()
    admin = sim.add_user("张书记")
    clock = ManualClock()
    config = Settings(
        _env_file=None,
        bot_token=sim.token,
        database_path=database if isinstance(database, Path) else tmp_path / "bot.db",
        database_url=database if isinstance(database, str) else None,
        admin_ids=[admin.id],
        **settings,
    )
    app = build_application(
        config,
        clock=clock,
        request=SimulatorRequest(sim),
        get_updates_request=SimulatorRequest(sim),
        background=False,
        # Telegram's limits are tested where they matter (tests/test_outbox.py); elsewhere a
        # test posting 30 messages in a group must not wait out a real minute.
        budget=budget or UNLIMITED(),
    )
    async with running(app, polling=False):
        monotonic = runtime_of(app).budget.clock
        if isinstance(monotonic, VirtualClock) and monotonic.busy is None:
            # virtual time must not jump while a statement runs in sqlite's thread
            monotonic.busy = runtime_of(app).storage.db.busy
        yield Harness(sim, app, clock, admin)
