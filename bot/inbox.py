"""The inbox worker: handles the updates webhook instances kept, one chat at a time.

In webhook mode an update is written to the inbox (:mod:`storage.inbox`) before Telegram gets its
200, by whichever instance the load balancer chose. Each instance runs one worker: it looks for
chats with waiting updates, claims a chat (:meth:`storage.db.Database.try_claim_chat`: on
PostgreSQL a session advisory lock, so one instance at a time per chat, freed when an instance
dies), handles the chat's waiting updates one at a time in ``update_id`` order, marks each one
done, and lets the chat go. It looks when an update is kept here (:meth:`InboxWorker.wake`) and
every INBOX_POLL, which is how updates kept by an instance that died are taken over. Chats run in
parallel, up to a limit.

An update handled but not marked done (its instance died in between) is found handled
(``handled_updates``, read under the claim) and only marked done. A stop finishes the update in
hand, marks it done and lets its chat go; what waits stays for the next look, here or elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.clock import Clock
from bot.webhook import BadUpdate
from storage import Database, InboxItem, InboxRepository

logger = logging.getLogger(__name__)

Handle = Callable[[dict[str, Any]], Awaitable[object]]

BATCH = 50  # a chat's waiting updates read at a time
LOOK_AHEAD = 4  # a look reads this many times as many waiting chats as it may start


class InboxWorker:
    """Handles what the inbox keeps: :meth:`run` as a task (webhook mode), or :meth:`drain`."""

    def __init__(
        self,
        inbox: InboxRepository,
        db: Database,
        handle: Handle,
        clock: Clock,
        *,
        poll: float = 1.0,
        chats: int = 40,
    ) -> None:
        self._inbox = inbox
        self._db = db
        self._handle = handle
        self._clock = clock
        self._poll = poll
        self._max_chats = chats
        self._wake = asyncio.Event()
        self._scan = asyncio.Lock()  # one look at a time: a chat is claimed by one task here
        self._chats: dict[int, asyncio.Task[int | None]] = {}
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.looks = 0  # how often run() has looked for waiting chats

    def wake(self) -> None:
        """An update was kept: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="inbox")

    async def stop(self) -> None:
        """Finish the update in hand of each chat (marked done, the chat let go), then return."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*self._chats.values(), return_exceptions=True)

    async def run(self) -> None:
        """Look for waiting chats when woken and every ``poll`` seconds, until stopped."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self._start_chats()
            except Exception as exc:  # the database does not answer: try again at the next look
                logger.warning("inbox: could not look for waiting updates (%s)", exc)
            self.looks += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def drain(self) -> int:
        """Handle every waiting update of the chats this instance can claim, and wait for them
        (tests and tools; :meth:`run` does the same in the background). Returns how many."""
        total = 0
        while True:
            await self._start_chats()
            if not self._chats:
                return total
            results = await asyncio.gather(*self._chats.values())
            handled = sum(r or 0 for r in results)
            total += handled
            if not handled:
                return total  # what waits failed: it is tried again at the next look

    async def _start_chats(self) -> int:
        """Claim each waiting chat not in hand (up to the limit) and start its task."""
        started = 0
        async with self._scan:
            if self._stopping or len(self._chats) >= self._max_chats:
                return 0
            # past the chats other instances hold (they come first when they wait longest)
            waiting = await self._inbox.pending_chats(LOOK_AHEAD * self._max_chats)
            for chat_id in waiting:
                if len(self._chats) >= self._max_chats or self._stopping:
                    break
                if chat_id in self._chats or not await self._db.try_claim_chat(chat_id):
                    continue  # ours already, or another instance's
                task = asyncio.create_task(self._work(chat_id), name=f"inbox-{chat_id}")
                self._chats[chat_id] = task
                task.add_done_callback(functools.partial(self._finished, chat_id))
                started += 1
        return started

    def _finished(self, chat_id: int, task: asyncio.Task[int | None]) -> None:
        self._chats.pop(chat_id, None)
        if not task.cancelled() and task.result() is not None:
            self._wake.set()  # more may have come for it meanwhile, and there is room again

    async def _work(self, chat_id: int) -> int | None:
        """The chat's waiting updates in order, until none waits; how many (None: failed)."""
        handled = 0
        try:
            while not self._stopping:
                items = await self._inbox.pending(chat_id, BATCH)
                if not items:
                    break
                for item in items:
                    if self._stopping:
                        break
                    await _to_the_end(self._one(item))
                    handled += 1
        except Exception as exc:
            logger.error(
                "inbox: chat %s failed after %d updates; its waiting updates are tried again",
                chat_id,
                handled,
                exc_info=exc,
            )
            return None
        finally:
            try:
                await self._db.release_chat(chat_id)
            except Exception as exc:  # a lost connection frees its claims all the same
                logger.warning("inbox: could not let go of chat %s (%s)", chat_id, exc)
        return handled

    async def _one(self, item: InboxItem) -> None:
        if item.handled:
            logger.info("update %s was handled before; marked done", item.update_id)
        else:
            try:  # it was read once before it was kept: this is not expected to fail
                await self._handle(json.loads(item.body))
            except (BadUpdate, json.JSONDecodeError) as exc:
                logger.error("inbox: update %s is unreadable (%s); dropped", item.update_id, exc)
        await self._inbox.done(item.update_id, self._clock.now())


async def _to_the_end(work: Awaitable[None]) -> None:
    """Await ``work``; a cancellation waits for it instead of cutting it in half."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
