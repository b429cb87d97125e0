"""Telegram's flood limits as one shared budget, and the rate limiter that spends it.

Every request the bot makes goes through :class:`FloodLimiter` (python-telegram-bot's
``BaseRateLimiter`` hook): a message to a group waits for that group's budget (20 a minute), to
a private chat for ~1 a second, and every message for the global ~30 a second. A ``RetryAfter``
from Telegram blocks only the chat it names — unlike ``AIORateLimiter``, which pauses every
request of the bot — so one flooded group never stalls the others. The outbox reads the same
budget to decide when to combine receipts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
# Methods that put something into a chat and count against its limits.
COUNTED = frozenset(
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
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editMessageMedia",
    }
)


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` as seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramBudget:
    """Sliding windows: per group per minute, per private chat per second, overall per second."""

    def __init__(
        self,
        *,
        group_per_minute: int = 20,
        private_per_second: float = 1.0,
        global_per_second: int = 30,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 0.25,
    ) -> None:
        # Our clock starts when a request leaves, Telegram's when it arrives: each window is
        # held a little longer than Telegram's so that the two never disagree by one message.
        self.margin = margin
        self.group_per_minute = group_per_minute
        self.private_interval = 1.0 / private_per_second
        self.global_per_second = global_per_second
        self._clock = clock
        self._global: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}

    def _window(self, chat_id: int) -> tuple[deque[float], float, int]:
        sent = self._chats.setdefault(chat_id, deque())
        if chat_id < 0:
            return sent, 60.0 + self.margin, self.group_per_minute
        return sent, self.private_interval + self.margin, 1

    def _trim(self, now: float) -> None:
        while self._global and now - self._global[0] >= 1.0 + self.margin / 5:
            self._global.popleft()

    def remaining(self, chat_id: int) -> int:
        """Messages the chat may still get in its current window (ignores the global limit)."""
        now = self._clock()
        sent, span, limit = self._window(chat_id)
        while sent and now - sent[0] >= span:
            sent.popleft()
        return max(0, limit - len(sent))

    def wait_time(self, chat_id: int | None) -> float:
        """Seconds until one more message may go to ``chat_id`` (0 = now)."""
        now = self._clock()
        self._trim(now)
        wait = 0.0
        if len(self._global) >= self.global_per_second:
            wait = 1.0 + self.margin / 5 - (now - self._global[0])
        if chat_id is None:
            return max(0.0, wait)
        wait = max(wait, self._blocked.get(chat_id, 0.0) - now)
        sent, span, limit = self._window(chat_id)
        while sent and now - sent[0] >= span:
            sent.popleft()
        if len(sent) >= limit:
            wait = max(wait, span - (now - sent[0]))
        return max(0.0, wait)

    def take(self, chat_id: int | None) -> None:
        now = self._clock()
        self._global.append(now)
        if chat_id is not None:
            self._window(chat_id)[0].append(now)

    def block(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said RetryAfter for this chat: nothing goes there until then."""
        if chat_id is None:
            return
        until = self._clock() + seconds
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), until)

    def blocked_for(self, chat_id: int) -> float:
        return max(0.0, self._blocked.get(chat_id, 0.0) - self._clock())


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
        if endpoint not in COUNTED:
            return await callback(*args, **kwargs)
        chat_id = _chat_of(data)
        retries = 1 if rate_limit_args is None else rate_limit_args
        while True:
            await self._wait_for(chat_id)
            self.budget.take(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                self.budget.block(chat_id, seconds)
                logger.warning("flood control on chat %s: retry after %.0f s", chat_id, seconds)
                if retries <= 0 or seconds > self.max_wait:
                    raise
                retries -= 1

    async def _wait_for(self, chat_id: int | None) -> None:
        # a budget frees by the clock, not by an event: sleeping until then is the point
        while (wait := self.budget.wait_time(chat_id)) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
