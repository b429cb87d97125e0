"""The bot's update queue and ``getUpdates`` long polling, with Telegram's semantics.

* ``offset`` confirms (and forgets) every update with a smaller id; a negative offset keeps only
  the last ``-offset`` updates.
* ``limit`` 1..100 (values outside are clamped), default 100.
* ``timeout`` > 0 holds the request until an update arrives or the time passes (real seconds,
  not the simulator's injectable clock).
* ``allowed_updates`` persists once given; the default (also ``[]``) is every type except
  ``chat_member``, ``message_reaction`` and ``message_reaction_count``.  Unlike Telegram, which
  filters when an update is created, the simulator filters when updates are handed out — so an
  update created before the bot first asked for its type is still delivered.
* a second ``getUpdates`` while one is waiting makes the first fail with ``409 Conflict``.
* while a webhook is set (:mod:`bot.simulator.webhook`), ``getUpdates`` answers ``409`` and the
  webhook takes the updates: :meth:`UpdateQueue.outgoing` and :meth:`UpdateQueue.acknowledge`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass

from .models import JSON, ApiError

logger = logging.getLogger(__name__)

DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"  # noqa: E501
WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"  # noqa: E501
# a getUpdates waiting when setWebhook comes (an approximation of Telegram's text)
SET_WEBHOOK_CONFLICT = "Conflict: terminated by setWebhook request"
Key = tuple[int, int]
"""An update to deliver: ``(update_id, 0)`` for a queued one, ``(update_id, n)`` for the n-th
redelivered copy."""


def update_type(update: JSON) -> str:
    """The kind of an update: the one key besides ``update_id``."""
    for key in update:
        if key != "update_id":
            return key
    return ""


class Notifier:
    """Wakes every coroutine waiting for "something changed"."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """Wake all current waiters."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Return at the next :meth:`notify` or after ``seconds``, whichever is first."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await fut
        except TimeoutError:
            pass
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
            if not fut.done():
                fut.cancel()


@dataclass
class _Redelivery:
    update: JSON
    serial: int
    delivered: bool = False


class UpdateQueue:
    """Pending updates for the one bot, plus the long-polling machinery."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self.pending: list[JSON] = []
        self.history: dict[int, JSON] = {}
        self.allowed: frozenset[str] | None = None  # None: the default set
        self._redeliveries: list[_Redelivery] = []
        self.webhook_active = False  # set by bot.simulator.webhook
        self._next_id = 1
        self._next_serial = 1
        self._generation = 0
        self._interrupts = 0

    # ------------------------------------------------------------------------- producing

    def push(self, kind: str, payload: JSON) -> int:
        """Queue a new update ``{"update_id": n, kind: payload}``; returns ``n``."""
        return self.push_raw({kind: copy.deepcopy(payload)})

    def push_raw(self, update: JSON) -> int:
        """Queue an update as given, assigning ``update_id`` if it has none."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_id, **update}
        update_id = int(update["update_id"])
        self._next_id = max(self._next_id, update_id + 1)
        self.history[update_id] = copy.deepcopy(update)
        self.pending.append(update)
        self.pending.sort(key=lambda u: int(u["update_id"]))
        self._notifier.notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Deliver an identical copy of an earlier update once more, whatever the offset."""
        try:
            original = self.history[update_id]
        except KeyError:
            raise ValueError(f"no update {update_id} was ever queued") from None
        self._redeliveries.append(_Redelivery(copy.deepcopy(original), self._next_serial))
        self._next_serial += 1
        self._notifier.notify()

    # ------------------------------------------------------------------------- consuming

    def is_allowed(self, update: JSON) -> bool:
        """Whether the current ``allowed_updates`` lets this update through."""
        kind = update_type(update)
        if self.allowed is None:
            return kind not in DEFAULT_EXCLUDED
        return kind in self.allowed

    def count(self) -> int:
        """Updates queued and not yet confirmed (only those the bot would be given)."""
        waiting = sum(1 for r in self._redeliveries if not r.delivered)
        return waiting + sum(1 for u in self.pending if self.is_allowed(u))

    def set_allowed(self, allowed: list[str] | None) -> None:
        """Apply an ``allowed_updates`` parameter (``None``: keep the previous setting)."""
        if allowed is None:
            return
        self.allowed = frozenset(str(a) for a in allowed) if allowed else None

    def confirm(self, offset: int | None) -> None:
        """Forget updates the ``offset`` confirms."""
        self._redeliveries = [r for r in self._redeliveries if not r.delivered]
        if not offset:
            return
        if offset > 0:
            self.pending = [u for u in self.pending if int(u["update_id"]) >= offset]
        else:
            self.pending = self.pending[offset:]

    def drop_pending(self) -> None:
        """``deleteWebhook(drop_pending_updates=True)``."""
        self.pending.clear()
        self._redeliveries.clear()

    def interrupt(self) -> None:
        """Make every waiting ``getUpdates`` return an empty list now (server shutdown)."""
        self._interrupts += 1
        self._notifier.notify()

    def take(self, limit: int) -> list[JSON]:
        """Up to ``limit`` deliverable updates, redelivered copies first."""
        self.pending = [u for u in self.pending if self.is_allowed(u)]
        out: list[JSON] = []
        for redelivery in self._redeliveries:
            if len(out) < limit and not redelivery.delivered:
                redelivery.delivered = True
                out.append(copy.deepcopy(redelivery.update))
        out.extend(copy.deepcopy(u) for u in self.pending[: limit - len(out)])
        return out

    def outgoing(self) -> list[tuple[Key, JSON]]:
        """What a webhook has to POST, in order: redelivered copies, then the queued updates
        ``allowed_updates`` lets through (live objects: copy before sending)."""
        self.pending = [u for u in self.pending if self.is_allowed(u)]
        items = [((int(r.update["update_id"]), r.serial), r.update) for r in self._redeliveries]
        items += [((int(u["update_id"]), 0), u) for u in self.pending]
        return items

    def acknowledge(self, key: Key) -> None:
        """A webhook POST got a 2xx: that update (or redelivered copy) is confirmed."""
        update_id, serial = key
        if serial:
            self._redeliveries = [r for r in self._redeliveries if r.serial != serial]
        else:
            self.pending = [u for u in self.pending if int(u["update_id"]) != update_id]

    async def get_updates(
        self,
        offset: int | None,
        limit: int,
        poll_seconds: float,
        allowed: list[str] | None,
    ) -> list[JSON]:
        """The ``getUpdates`` method."""
        if self.webhook_active:
            raise ApiError(409, WEBHOOK_CONFLICT)
        self._generation += 1
        generation, interrupts = self._generation, self._interrupts
        self._notifier.notify()  # an older waiting request notices it lost
        self.set_allowed(allowed)
        self.confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, poll_seconds)
        while True:
            if self.webhook_active:
                raise ApiError(409, SET_WEBHOOK_CONFLICT)
            batch = self.take(limit)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or self._interrupts != interrupts:
                return []
            await self._notifier.wait(remaining)
            if self._generation != generation:
                raise ApiError(409, CONFLICT)
