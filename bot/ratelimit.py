"""Telegram's flood limits as one shared budget, and the rate limiter that spends it.

Every request the bot makes goes through :class:`FloodLimiter` (python-telegram-bot's
``BaseRateLimiter`` hook): a message to a group waits for that group's budget (20 a minute), to
a private chat for ~1 a second, and every message for the global ~30 a second. A ``RetryAfter``
from Telegram blocks only the chat it names — unlike ``AIORateLimiter``, which pauses every
request of the bot — so one flooded group never stalls the others. The outbox reads the same
budget to decide when to combine receipts, and reserves a message's place before composing it.

With ``paid_per_second`` set (the ``PAID_BROADCAST`` setting), a message that would wait for the
free ~30 a second goes at once with ``allow_paid_broadcast`` instead — Telegram's paid broadcast,
up to 1,000 messages a second for 0.1 Telegram Star each, charged only for those messages.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.clock import SYSTEM_MONOTONIC, MonotonicClock

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
# Methods that put a message into a chat and take allow_paid_broadcast (Bot API 7.11).
PAYABLE = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendMediaGroup",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "copyMessage",
    }
)
# Methods that count against a chat's limits; those that are not payable wait for the free rate.
COUNTED = PAYABLE | {
    "forwardMessage",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "editMessageMedia",
}
# What a person sees besides counted sends: pop-ups, deletions, reactions, pins.
VISIBLE = COUNTED | {
    "answerCallbackQuery",
    "deleteMessage",
    "deleteMessages",
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "stopPoll",
}
PAID_BROADCAST_PER_SECOND = 1000  # Telegram's ceiling for allow_paid_broadcast
_ROUNDING = 1e-9  # seconds: float error in "stamp + span", far below any margin


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` as seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True)
class _Reservation:
    budget: TelegramBudget
    chat_id: int | None
    paid: bool
    at: float


_RESERVATION: ContextVar[_Reservation | None] = ContextVar("reservation", default=None)


class TelegramBudget:
    """Sliding windows: per group per minute, per private chat per second, overall per second.

    ``paid_per_second`` > 0 adds a second overall window for messages sent with
    ``allow_paid_broadcast``; it is used only when the free one is full.

    ``clock`` measures the windows and is what waiting sleeps on (tests pass a
    :class:`~bot.clock.VirtualClock`, the simulator's limits read the same one).
    """

    def __init__(
        self,
        *,
        group_per_minute: int = 20,
        private_per_second: float = 1.0,
        global_per_second: int = 30,
        paid_per_second: int = 0,
        clock: MonotonicClock = SYSTEM_MONOTONIC,
        margin: float = 0.25,
    ) -> None:
        # Our clock starts when a request leaves, Telegram's when it arrives: each window is
        # held a little longer than Telegram's so that the two never disagree by one message.
        self.margin = margin
        self.group_per_minute = group_per_minute
        self.private_interval = 1.0 / private_per_second
        self.global_per_second = global_per_second
        self.paid_per_second = paid_per_second
        self.paid_sent = 0  # messages sent with allow_paid_broadcast since start
        self.clock = clock
        self._global: deque[float] = deque()
        self._paid: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}

    def _window(self, chat_id: int) -> tuple[deque[float], float, int]:
        sent = self._chats.setdefault(chat_id, deque())
        if chat_id < 0:
            return sent, 60.0 + self.margin, self.group_per_minute
        return sent, self.private_interval + self.margin, 1

    def _trim(self, now: float) -> None:
        span = 1.0 + self.margin / 5
        for window in (self._global, self._paid):
            _slide(window, now, span)

    def _global_wait(self, now: float, payable: bool) -> float:
        self._trim(now)
        span = 1.0 + self.margin / 5
        wait = 0.0
        if len(self._global) >= self.global_per_second:
            wait = span - (now - self._global[0])
        if wait > 0 and payable and self.paid_per_second > 0:
            paid = 0.0
            if len(self._paid) >= self.paid_per_second:
                paid = span - (now - self._paid[0])
            wait = min(wait, paid)
        return max(0.0, wait)

    def remaining(self, chat_id: int) -> int:
        """Messages the chat may still get in its current window (ignores the global limit)."""
        now = self.clock.monotonic()
        sent, span, limit = self._window(chat_id)
        _slide(sent, now, span)
        return max(0, limit - len(sent))

    def wait_time(self, chat_id: int | None, *, payable: bool = False) -> float:
        """Seconds until one more message may go to ``chat_id`` (0 = now); ``payable``: the
        message could go with allow_paid_broadcast, so the paid window counts too."""
        now = self.clock.monotonic()
        wait = self._global_wait(now, payable)
        if chat_id is None:
            return wait
        wait = max(wait, self._blocked_at(chat_id, now))
        sent, span, limit = self._window(chat_id)
        _slide(sent, now, span)
        if len(sent) >= limit:
            wait = max(wait, span - (now - sent[0]))
        return max(0.0, wait)

    async def wait_until_free(self, chat_id: int | None, *, payable: bool = False) -> bool:
        """Sleep on the clock until one more message may go to ``chat_id`` (None: only the
        global limit); True if that meant waiting at all."""
        waited = False
        # a budget frees by the clock, not by an event: sleeping until then is the point
        while (wait := self.wait_time(chat_id, payable=payable)) > 0:
            waited = True
            await self.clock.sleep(wait)
        return waited

    def take(self, chat_id: int | None, *, payable: bool = False) -> bool:
        """Count one message leaving now; True if it must go with allow_paid_broadcast."""
        return self._take(chat_id, payable, self.clock.monotonic())

    def _take(self, chat_id: int | None, payable: bool, now: float) -> bool:
        self._trim(now)
        paid = (
            payable
            and self.paid_per_second > 0
            and len(self._global) >= self.global_per_second
            and len(self._paid) < self.paid_per_second
        )
        if paid:
            self._paid.append(now)
            self.paid_sent += 1
        else:
            self._global.append(now)
        if chat_id is not None:
            self._window(chat_id)[0].append(now)
        return paid

    def reserve(self, chat_id: int | None, *, payable: bool = True) -> None:
        """Count a message now that the calling task is about to compose it: the limiter lets
        the task's next request to ``chat_id`` through without waiting or counting it again.
        (Held per task, so a handler's request to the same chat never takes it.)"""
        now = self.clock.monotonic()
        paid = self._take(chat_id, payable, now)
        _RESERVATION.set(_Reservation(self, chat_id, paid, now))

    def claim(self, chat_id: int | None) -> bool | None:
        """This task's reservation for ``chat_id`` used up: its paid flag, or None if none.

        The message leaves now, not when it was reserved: its place in the windows moves to
        now, so that composing it (database reads) never eats into Telegram's window."""
        reservation = _RESERVATION.get()
        if reservation is None or reservation.budget is not self or reservation.chat_id != chat_id:
            return None
        _RESERVATION.set(None)
        now = self.clock.monotonic()
        windows = [self._paid if reservation.paid else self._global]
        if chat_id is not None:
            windows.append(self._window(chat_id)[0])
        for window in windows:
            with contextlib.suppress(ValueError):  # already slid out of the window
                window.remove(reservation.at)
            window.append(now)  # every stamp is ≤ now: the window stays in order
        return reservation.paid

    def release(self) -> None:
        """Forget this task's unclaimed reservation (nothing was sent); its place stays
        counted."""
        _RESERVATION.set(None)

    def stop_paying(self) -> bool:
        """Telegram refused a paid message (no Stars left, say): only the free rate from now.
        False if it had stopped already."""
        paying, self.paid_per_second = self.paid_per_second > 0, 0
        return paying

    def block(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said RetryAfter for this chat: nothing goes there until then."""
        if chat_id is None:
            return
        until = self.clock.monotonic() + seconds
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), until)

    def blocked_for(self, chat_id: int) -> float:
        return self._blocked_at(chat_id, self.clock.monotonic())

    def _blocked_at(self, chat_id: int, now: float) -> float:
        left = self._blocked.get(chat_id, 0.0) - now
        return left if left > _ROUNDING else 0.0


def _slide(window: deque[float], now: float, span: float) -> None:
    """Drop the stamps older than ``span``. A stamp exactly ``span`` old is gone, also when
    sleeping the computed wait lands a rounding error short of it."""
    while window and now - window[0] >= span - _ROUNDING:
        window.popleft()


def _chat_of(data: JSONDict) -> int | None:
    value = data.get("chat_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # a @channel username: only the global limit applies


class FloodLimiter(BaseRateLimiter[int]):
    """Waits for the budget before each counted request; a RetryAfter blocks only its chat.

    ``rate_limit_args`` (an int) is how many times a RetryAfter may be waited out and retried;
    the default retries once when Telegram asks for at most ``max_wait`` seconds.
    """

    def __init__(self, budget: TelegramBudget | None = None, *, max_wait: float = 30.0) -> None:
        self.budget = budget or TelegramBudget()
        self.max_wait = max_wait
        # Awaited before anything a person would see leaves (set by bot.app: it records the
        # update in hand as handled, so that a replay after a crash never shows it twice).
        self.before_visible: Callable[[], Awaitable[None]] | None = None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if self.before_visible is not None and endpoint in VISIBLE:
            await self.before_visible()
        if endpoint not in COUNTED:
            return await callback(*args, **kwargs)
        chat_id = _chat_of(data)
        payable = endpoint in PAYABLE
        retries = 1 if rate_limit_args is None else rate_limit_args
        paid = self.budget.claim(chat_id)  # the outbox reserved this message's place
        refused: BadRequest | None = None  # a paid attempt Telegram refused
        while True:
            if paid is None:
                await self.budget.wait_until_free(chat_id, payable=payable and refused is None)
                paid = self.budget.take(chat_id, payable=payable and refused is None)
            # ``data`` is the dict python-telegram-bot is about to send
            if paid:
                data["allow_paid_broadcast"] = True
            else:
                data.pop("allow_paid_broadcast", None)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                self.budget.block(chat_id, seconds)
                logger.warning("flood control on chat %s: retry after %.0f s", chat_id, seconds)
                if retries <= 0 or seconds > self.max_wait:
                    raise
                retries -= 1
            except BadRequest as exc:
                if not paid:
                    raise
                # Refused as a paid message: try it once at the free rate rather than lose it.
                refused = exc
            else:
                # it went unpaid, so paying was the problem (no Stars left, say)
                if refused is not None and self.budget.stop_paying():
                    logger.warning("paid broadcast refused (%s): free rate only from now", refused)
                return result
            paid = None
