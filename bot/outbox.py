"""The sender: drains the outbox within Telegram's limits, retries, and records message ids.

Rows are written by the change that causes them (a new ticket's receipt, a reminder, a digest),
so a crash or restart loses nothing; the sender marks each row sent with the message id it got.
Chats are drained concurrently, one message at a time per chat (order kept); the shared
:class:`~bot.ratelimit.TelegramBudget` decides how fast. A chat takes its turn for the global
budget first (first come, first served) and only then composes its message, so everything that
piled up for it while it waited can go at once: a group's waiting receipts become one combined
message when the global budget made it wait, or when its own budget for the minute is nearly
spent.

Several instances may share one database: a chat's rows are sent by the one instance that claims
the chat (``storage.outbox.claim_due``: on PostgreSQL a session advisory lock, freed when the
drain ends or the instance's session does), and they are read under the claim, so a row another
instance sent before letting go is never sent again. The budget is then the bot's, shared
through the database (:meth:`~bot.ratelimit.TelegramBudget.share`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    Message,
    ReplyParameters,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.request import BaseRequest

from bot import votes
from bot.context import Runtime
from bot.fit import CAPTION_LIMIT, fit, split
from bot.keyboards import receipt_keyboard
from bot.links import message_link
from bot.ratelimit import TelegramBudget, retry_after_seconds
from bot.receipts import location_text, receipt_text
from bot.tickets import DUPLICATE_WINDOW
from storage import Ticket
from storage.outbox import CLAIM_ROWS, Claimed, OutboxItem, ReceiptFacts

logger = logging.getLogger(__name__)
# sendMessage's parameters that Bot.send_message leaves to telegram.ext.Defaults
_DEFAULTED = dict.fromkeys(
    ("parse_mode", "link_preview_options", "disable_notification", "protect_content"),
    BaseRequest.DEFAULT_NONE,
)
FOREVER = datetime.max.replace(tzinfo=UTC)  # every row, whatever its time

MAX_BACKOFF = timedelta(minutes=5)
MAX_ATTEMPTS = 12
IDLE_POLL = 1.0
CLAIM_PAGE = 200  # chats claimed at a time


class OutboxSender:
    def __init__(self, runtime: Runtime, bot: Any, budget: TelegramBudget) -> None:
        self._runtime = runtime
        self._bot = bot
        self.budget = budget
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._migrated = False
        self._drains: set[asyncio.Task[int]] = set()
        # Chats queue here for the global budget in arrival order; one sleeps on it at a time.
        self._turnstile = asyncio.Lock()
        self._line_asleep = False  # the chat at the turnstile sleeps on the budget (not booking)
        self._naps = 0  # times the chat at the turnstile slept on the budget
        # Whether a drain that ends must wake the dispatcher: rows may have been queued for its
        # chat while it sent. A wake naming a chat that is draining marks that chat; a wake
        # naming none (a job, a handler that queued something) counts for every chat draining.
        self._queued_while_busy: set[int] = set()
        self._wakes = 0  # wakes naming no chat, so far
        self._wakes_at_start: dict[int, int] = {}  # each drain's chat: _wakes when it started
        self._running = False  # run() is sending: transactions may hand it their rows
        self._releases: set[asyncio.Task[None]] = set()
        self._claiming = 0  # reads of what is due under way (their chats are not known yet)

    def wake(self, chat_id: int | None = None) -> None:
        """Something was queued (for ``chat_id``, if given): look now rather than at the next
        poll."""
        if chat_id is None:
            self._wakes += 1
        elif chat_id in self._busy:
            self._queued_while_busy.add(chat_id)
        self._wake.set()

    async def run(self) -> None:
        """Forever: start a drain for each chat with messages due, then sleep until woken or the
        next poll. Drains run on their own, so a chat whose messages become due while others
        wait for the budget joins the line at once. One failure never ends it."""
        db = self._runtime.storage.db
        resumed = await self._runtime.storage.outbox.retry_now(self._runtime.clock.now())
        if resumed:
            logger.info("outbox: %s messages left by the last run are due now", resumed)
        self._running = True
        db.outbox_adopter = self
        try:
            while True:
                try:
                    await self._dispatch()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("outbox: reading what is due failed; trying again shortly")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL):  # (no task of its own, as wait_for)
                        await self._wake.wait()
                self._wake.clear()
        finally:
            self._running = False
            if db.outbox_adopter is self:
                db.outbox_adopter = None
            for task in self._drains:
                task.cancel()
            await asyncio.gather(*self._drains, return_exceptions=True)
            await asyncio.gather(*self._releases, return_exceptions=True)

    async def _dispatch(self) -> None:
        """Start a drain for every chat with messages due that is not draining already."""
        started: set[int] = set()  # this time round, even if their drain ended already
        while True:
            claimed = await self._claim(started)
            for chat_id, queue in claimed.rows.items():
                started.add(chat_id)
                self._start_drain(chat_id, queue)
            started.update(claimed.refused)  # another instance is sending to them
            if claimed.chats < CLAIM_PAGE:
                return  # that was all; a full page means more chats may be waiting behind it

    def reserve(self, chat_id: int) -> bool:
        """A transaction queueing a row for ``chat_id`` may claim the chat for this sender
        (:class:`storage.outbox.Adopter`): not while the chat is draining here, nor while a
        read of what is due may be claiming it."""
        if not self._running or self._claiming or chat_id in self._busy:
            return False
        self._busy.add(chat_id)  # until adopt: neither the dispatcher nor another reserve
        return True

    def adopt(self, chat_id: int, rows: list[OutboxItem] | None, *, queued: bool) -> None:
        """The reserved chat's due rows, read under its claim by the transaction that queued
        one: drained at once, as the dispatcher's would be. None: not claimed after all."""
        if rows is None or not self._running:
            self._busy.discard(chat_id)
            if rows is not None:  # claimed, but stopping: let go, as a drain would
                self._release_later(chat_id)
            if queued:
                self.wake(chat_id)
            return
        self._start_drain(chat_id, rows)

    def _release_later(self, chat_id: int) -> None:
        task = asyncio.create_task(self._runtime.storage.outbox.release_chat(chat_id))
        self._releases.add(task)  # (kept until done: the loop holds tasks weakly)
        task.add_done_callback(self._releases.discard)

    def _start_drain(self, chat_id: int, queue: list[OutboxItem]) -> None:
        """Drain a claimed chat in a task of its own."""
        self._busy.add(chat_id)  # before the task runs: the next read must skip it
        self._queued_while_busy.discard(chat_id)
        if len(queue) >= CLAIM_ROWS:  # more may be due than were read: look again at its end
            self._queued_while_busy.add(chat_id)
        self._wakes_at_start[chat_id] = self._wakes
        task = asyncio.create_task(self._drain(chat_id, queue), name=f"outbox-{chat_id}")
        self._drains.add(task)
        task.add_done_callback(lambda done: self._drained(chat_id, done))

    def _drained(self, chat_id: int, task: asyncio.Task[int]) -> None:
        self._drains.discard(task)
        # something queued while the chat was draining, for it or for no chat in particular
        behind = chat_id in self._queued_while_busy or self._wakes_at_start.get(chat_id) != (
            self._wakes
        )
        self._queued_while_busy.discard(chat_id)
        self._wakes_at_start.pop(chat_id, None)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            logger.error("outbox: sending failed", exc_info=error)
        elif task.result() and (behind or self.budget.shared):
            # Rows queued for that chat while it was sending are due now (shared by instances:
            # perhaps by another one, which could not claim the chat). A drain that sent
            # nothing (its chat is blocked or its minute spent) waits for the next poll instead.
            self._wake.set()

    async def _claim(self, skip: set[int] | None = None) -> Claimed:
        """Claim the chats with messages due, leaving out those being drained here, and read
        their rows under the claim (oldest first). Each chat claimed must be drained: the drain
        lets go of it."""
        storage = self._runtime.storage
        exclude = sorted(self._busy | (skip or set()))
        self._claiming += 1
        try:
            return await storage.outbox.claim_due(
                self._runtime.clock.now(),
                chats=CLAIM_PAGE,
                rows_per_chat=CLAIM_ROWS,
                exclude=exclude,
            )
        finally:
            self._claiming -= 1

    async def flush(self) -> int:
        """Send everything due that the limits allow right now, waiting for every chat; returns
        messages sent (tests and tools: the running bot dispatches instead)."""
        self._migrated = False
        claimed = await self._claim()
        drains = (self._drain(chat, queue) for chat, queue in claimed.rows.items())
        sent = sum(await asyncio.gather(*drains))
        if self._migrated:  # messages followed a group to its new supergroup id: send them now
            sent += await self.flush()
        return sent

    async def _drain(self, chat_id: int, queue: list[OutboxItem]) -> int:
        """Send a claimed chat's rows in order, as the budget allows; then let go of the chat."""
        self._busy.add(chat_id)
        sent = 0
        try:
            while queue:
                if self.budget.blocked_for(chat_id) > 0 or self.budget.remaining(chat_id) == 0:
                    break  # flood-blocked, or the chat's window is spent: a later pass sends
                waited = await self._take_turn(chat_id)
                if waited is None:
                    break  # the chat's window filled meanwhile (another instance, a reply)
                try:
                    if waited:
                        await self._catch_up(chat_id, queue)
                    batch = self._next_batch(chat_id, queue, behind=waited)
                    outcome = await self._send(chat_id, batch, last=len(batch) == len(queue))
                finally:
                    self.budget.release()  # if nothing was sent on the reservation
                if outcome == "stop":
                    break
                for item in batch:
                    queue.remove(item)
                sent += outcome == "sent"
        finally:
            try:
                await self._runtime.storage.outbox.release_chat(chat_id)
            finally:
                self._busy.discard(chat_id)  # after: this instance's next claim may take it
        return sent

    async def _take_turn(self, chat_id: int) -> bool | None:
        """Wait in line for the global budget and reserve this chat's next message.

        True if the budget made it wait, in line or for the window itself: the chat's messages
        have been piling up meanwhile. None if the chat's own window is full after all: nothing
        was reserved.
        """
        # Someone ahead sleeps on the budget now, or will while this chat is in line. (Shared, a
        # booking is a database trip: being in line behind one is not waiting for the budget.)
        waited, naps = self._line_asleep, self._naps
        async with self._turnstile:
            while True:
                verdict = await self.budget.attempt(chat_id, payable=True, reserve=True)
                if verdict.counted:
                    return waited or self._naps > naps
                if verdict.chat_wait > 0:
                    return None
                waited = self._line_asleep = True
                self._naps += 1
                try:
                    await self.budget.clock.sleep(verdict.wait)  # on the budget's clock
                finally:
                    self._line_asleep = False

    async def _catch_up(self, chat_id: int, queue: list[OutboxItem]) -> None:
        """Read the chat's rows again after waiting: those queued meanwhile go in this turn, and
        receipts' tickets are as they are now (an edit or a /take may have come meanwhile)."""
        oldest = min((item.id for item in queue), default=1)
        now = self._runtime.clock.now()
        rows = await self._runtime.storage.outbox.due_in_chat(chat_id, now, after=oldest - 1)
        fresh = {item.id: item for item in rows}
        kept = [fresh.pop(item.id, item) for item in queue]
        queue[:] = sorted([*kept, *fresh.values()], key=lambda item: item.id)

    def _next_batch(
        self, chat_id: int, queue: list[OutboxItem], *, behind: bool = False
    ) -> list[OutboxItem]:
        """The next message to send: one row, or every waiting receipt of a group combined —
        when the global budget kept it waiting (``behind``) or its own minute is nearly spent."""
        head = queue[0]
        if chat_id < 0 and head.kind == "receipt":
            receipts = [i for i in queue if i.kind == "receipt"]
            # (this message's place is already counted, hence > rather than >=)
            if len(receipts) > 1 and (behind or len(receipts) > self.budget.remaining(chat_id)):
                return receipts
        return [head]

    async def _send(self, chat_id: int, batch: list[OutboxItem], *, last: bool = False) -> str:
        """'sent', 'skip' (given up or rescheduled) or 'stop' (this chat waits). ``last``: the
        batch empties the chat's queue, so marking it sent also lets go of the chat."""
        storage = self._runtime.storage
        now = self._runtime.clock.now()
        try:
            message_id = await self._deliver(chat_id, batch)
        except RetryAfter as exc:
            self.budget.block(chat_id, retry_after_seconds(exc))
            return "stop"
        except ChatMigrated as exc:
            new_id = int(exc.new_chat_id)
            await storage.grids.migrate_chat(chat_id, new_id, now)
            await storage.outbox.retarget(chat_id, new_id)
            logger.info("chat %s migrated to %s; outbox follows", chat_id, new_id)
            self._migrated = True
            self.wake()
            return "stop"
        except Forbidden as exc:
            # every poll still waiting for this chat will never go out: their votes are void
            waiting = await storage.outbox.due_in_chat(chat_id, FOREVER, after=0)
            await self._polls_given_up(
                [*batch, *(i for i in waiting if i.id not in {b.id for b in batch})],
                str(exc),
                "dropped",
            )
            dropped = await storage.outbox.drop_chat(chat_id, str(exc))
            logger.warning(
                "bot cannot post in chat %s (%s): %s messages dropped", chat_id, exc, dropped
            )
            return "stop"
        except BadRequest as exc:
            marked = await self._polls_given_up(batch, str(exc))
            for item in batch:
                if item.id not in marked:
                    await storage.outbox.give_up(item.id, str(exc))
            logger.error("outbox message %s to chat %s refused: %s", batch[0].id, chat_id, exc)
            return "skip"
        except NetworkError as exc:  # TimedOut included: try again later, backing off
            await self._postpone(batch, str(exc))
            return "stop"
        receipts = [i.ticket_id for i in batch if i.kind == "receipt" and i.ticket_id is not None]
        await storage.outbox.mark_sent(
            [i.id for i in batch],
            message_id,
            now,
            receipt_of=receipts,
            release=chat_id if last else None,
        )
        return "sent"

    async def _postpone(self, batch: Sequence[OutboxItem], error: str) -> None:
        storage = self._runtime.storage
        now = self._runtime.clock.now()
        head = batch[0]
        if head.attempts + 1 >= MAX_ATTEMPTS:
            marked = await self._polls_given_up(batch, error)
            for item in batch:
                if item.id not in marked:
                    await storage.outbox.give_up(item.id, error)
            logger.error(
                "outbox: giving up on message %s to chat %s: %s", head.id, head.chat_id, error
            )
            return
        delay = min(MAX_BACKOFF, timedelta(seconds=2**head.attempts))
        await storage.outbox.postpone_chat(head.chat_id, [i.id for i in batch], now + delay, error)
        logger.warning("outbox: network error to chat %s, retrying: %s", head.chat_id, error)

    async def _polls_given_up(
        self, batch: Sequence[OutboxItem], error: str, status: str = "failed"
    ) -> set[int]:
        """A vote's ``poll`` row given up: the row marked and the vote closed as void (no poll
        went out), its starter told why — one transaction (``bot.votes.poll_failed``). Returns
        the rows marked so (the caller gives up the others)."""
        marked: set[int] = set()
        for item in batch:
            vote_id = item.payload.get("vote_id") if item.kind == "poll" else None
            if isinstance(vote_id, int):
                await votes.poll_failed(
                    self._runtime.care_desk,
                    vote_id,
                    error,
                    self._runtime.clock.now(),
                    outbox_id=item.id,
                    outbox_status=status,
                )
                marked.add(item.id)
        if marked:
            self.wake()  # the starter's notice
        return marked

    async def _deliver(self, chat_id: int, batch: list[OutboxItem]) -> int | None:
        """Send the batch as one message; the id Telegram gave it (None: nothing sent)."""
        head = batch[0]
        if head.kind == "receipt":
            if len(batch) > 1:
                return await self._send_combined(chat_id, batch)
            return await self._send_receipt(chat_id, head)
        if head.kind == "poll":
            return await self._send_poll(chat_id, head)
        if head.kind == "stop_poll":
            await self._stop_poll(chat_id, head)
            return None
        return await self._send_plain(chat_id, head)

    async def _send_text(
        self,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None = None,
        keyboard: InlineKeyboardMarkup | None = None,
        thread_id: int | None = None,
    ) -> int:
        """``sendMessage`` with the application's defaults; the new message's id.

        ``Bot.send_message`` builds a :class:`~telegram.Message` of Telegram's answer — a
        receipt's holds the resident's message it replies to, ~0.4 ms of CPU a receipt — and
        the outbox keeps only its id. ``Bot._post`` is what ``Bot.send_message`` calls: the
        same request through the same :class:`~bot.ratelimit.FloodLimiter` and the same errors
        (RetryAfter, ChatMigrated, Forbidden …), without the Message; the parameters that
        ``send_message`` leaves to the application's Defaults (HTML, no link previews) are
        left to them here too.
        """
        data: dict[str, Any] = {"chat_id": chat_id, "text": text, **_DEFAULTED}
        if reply_to is not None and reply_to > 0:  # ≤ 0: a ticket of no message (关爱走访)
            data["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        if keyboard is not None:
            data["reply_markup"] = keyboard
        if thread_id is not None:
            data["message_thread_id"] = thread_id
        result = await self._bot._post("sendMessage", data)
        return int(result["message_id"])

    async def _send_poll(self, chat_id: int, item: OutboxItem) -> int | None:
        """议事's native poll (non-anonymous: answers come as poll_answer updates); its id is
        recorded before the row is marked sent, so no answer finds an unknown poll for long.
        The question and options are plain text (``<`` and ``&`` are what residents wrote):
        no parse mode, whatever the application's default. A vote closed before its poll went
        out sends none."""
        payload = item.payload
        vote = await self._runtime.storage.votes.get(int(payload["vote_id"]))
        if vote is not None and not vote.is_open:
            logger.info("vote %s closed before its poll went out: not sent", vote.id)
            return None
        message: Message = await self._bot.send_poll(
            chat_id,
            str(payload["question"]),
            [InputPollOption(str(option), text_parse_mode=None) for option in payload["options"]],
            is_anonymous=False,
            allows_multiple_answers=False,
            message_thread_id=payload.get("thread_id"),
            question_parse_mode=None,
        )
        if message.poll is not None:
            await self._runtime.storage.votes.poll_sent(
                int(payload["vote_id"]),
                message.poll.id,
                chat_id,
                message.message_id,
                self._runtime.clock.now(),
            )
        return message.message_id

    async def _stop_poll(self, chat_id: int, item: OutboxItem) -> None:
        """Stop a vote's poll at its close; already stopped or deleted (BadRequest) is done."""
        message_id = int(item.payload["message_id"])
        try:
            await self._bot.stop_poll(chat_id, message_id)
        except BadRequest as exc:
            logger.info("poll %s in chat %s not stopped (%s): done", message_id, chat_id, exc)
        vote_id = item.payload.get("vote_id")
        if isinstance(vote_id, int):
            await self._runtime.storage.votes.poll_stopped(
                vote_id, message_id, self._runtime.clock.now()
            )

    async def _send_plain(self, chat_id: int, item: OutboxItem) -> int:
        payload = item.payload
        reply_to = payload.get("reply_to")
        reply_to = reply_to if isinstance(reply_to, int) else None
        keyboard = _keyboard(payload.get("keyboard"))
        thread = payload.get("thread_id")
        if item.attachment is not None:
            photo: Message = await self._bot.send_photo(
                chat_id,
                item.attachment,
                caption=fit(item.text, CAPTION_LIMIT) or None,
                reply_parameters=_reply_parameters(reply_to),
                reply_markup=keyboard,
                message_thread_id=thread,
            )
            return photo.message_id
        parts = split(item.text)
        message_id: int | None = None
        for number, part in enumerate(parts):
            # a long digest goes out in parts: only the first replies, only the last has buttons
            message_id = await self._send_text(
                chat_id,
                part,
                reply_to=reply_to if number == 0 else None,
                keyboard=keyboard if number == len(parts) - 1 else None,
                thread_id=thread,
            )
        assert message_id is not None
        return message_id

    async def _send_receipt(self, chat_id: int, item: OutboxItem) -> int | None:
        """The receipt from what its row brought: the ticket as read with the row, its files and
        likely duplicates as found when it opened — no read of its own (older rows: three)."""
        runtime = self._runtime
        ticket = await self._ticket_of(item)
        if ticket is None:
            return None
        facts = item.receipt_facts or await self._receipt_facts(ticket)
        text = receipt_text(
            ticket,
            catalog=runtime.catalog,
            texts=runtime.texts,
            tz=runtime.settings.tz,
            files=facts.files,
            album=ticket.media_group_id is not None,
            duplicates=facts.duplicates,
        )
        return await self._send_text(
            chat_id,
            fit(text),
            reply_to=ticket.message_id,
            keyboard=receipt_keyboard(ticket, runtime.texts, facts.duplicates),
            thread_id=ticket.thread_id,
        )

    async def _ticket_of(self, item: OutboxItem) -> Ticket | None:
        """A receipt's ticket as read with its row (``due``, ``due_in_chat``), else read now."""
        if item.ticket is not None:
            return item.ticket
        if item.ticket_id is None:
            return None
        return await self._runtime.storage.tickets.get(item.ticket_id)

    async def _receipt_facts(self, ticket: Ticket) -> ReceiptFacts:
        """Files and likely duplicates of a receipt queued by a release that did not keep them
        in its row."""
        storage = self._runtime.storage
        since = self._runtime.clock.now() - DUPLICATE_WINDOW
        duplicates = tuple(t.id for t in await storage.tickets.possible_duplicates(ticket, since))
        return ReceiptFacts(len(await storage.tickets.media(ticket.id)), duplicates)

    async def _send_combined(self, chat_id: int, batch: list[OutboxItem]) -> int:
        runtime = self._runtime
        texts = runtime.texts
        lines = [texts("receipt.combined_title", count=len(batch))]
        for item in batch:
            ticket = await self._ticket_of(item)
            if ticket is None:
                continue
            category = runtime.catalog.get(ticket.category)
            tag = category.tag if category else ticket.category
            where = location_text(ticket, texts)
            line = "· " + texts("receipt.combined_line", ticket_id=ticket.id, category=escape(tag))
            if where:
                line += f" · {escape(where)}"
            line += f" · {escape(ticket.reporter_name)}"
            link = message_link(ticket.chat_id, ticket.message_id)
            if link:
                line += f' <a href="{link}">{texts("list.link")}</a>'
            lines.append(line)
        lines.append(texts("receipt.footer"))
        return await self._send_text(chat_id, fit("\n".join(lines)))


def _reply_parameters(reply_to: int | None) -> ReplyParameters | None:
    if reply_to is None or reply_to <= 0:  # ≤ 0: a ticket of no message (关爱走访)
        return None
    return ReplyParameters(reply_to, allow_sending_without_reply=True)


def _keyboard(rows: Any) -> InlineKeyboardMarkup | None:
    """Payload keyboards are ``[[text, callback_data], …]`` rows."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )
