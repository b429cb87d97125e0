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

Telegram's limits are the bot's, not a process's: instances sharing a PostgreSQL database share
the windows through it (:meth:`TelegramBudget.share`, :mod:`storage.flood`), each counted
request booked there in one short transaction; on SQLite (one process) they stay in memory.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.clock import SYSTEM_MONOTONIC, MonotonicClock
from storage.flood import FloodAsk, FloodLedger, FloodView

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


@dataclass(frozen=True)
class _Windows:
    """What the rule reads: stamps oldest first, inside their windows."""

    free: Sequence[float]  # the bot's free sends of the last second
    paid_full: float | None  # the paid window is full until this stamp leaves it
    chat: Sequence[float]  # the chat's sends in its window
    blocked_until: float  # a RetryAfter for the chat


@dataclass(frozen=True)
class Verdict:
    """One try at one more message: what it must wait for, or that it was counted."""

    wait: float = 0.0  # seconds the bot's own windows ask (the ~30 a second, or the paid one)
    chat_wait: float = 0.0  # seconds the chat's window, or a RetryAfter for it, asks
    paid: bool = False  # counted: it goes with allow_paid_broadcast
    at: float = 0.0  # when it was decided, on the budget's clock

    @property
    def counted(self) -> bool:
        return self.wait == 0 and self.chat_wait == 0

    @property
    def stamp(self) -> int:
        """``at`` in whole milliseconds, rounded up (a window is never left early; a float's
        error below a microsecond is not a millisecond more)."""
        return math.ceil(self.at * 1000 - 1e-3)


class DatabaseClock:
    """The clock of instances sharing a budget: this machine's monotonic seconds, moved onto
    the database server's clock (seconds since the epoch), so that instances on machines whose
    clocks disagree still agree on Telegram's windows. Calibrated when the budget is shared and
    every :data:`RECALIBRATE_S` after; it never goes back."""

    def __init__(self, local: MonotonicClock = SYSTEM_MONOTONIC) -> None:
        self._local = local
        self._offset = 0.0
        self._last = -math.inf
        self._calibrated: float | None = None  # local monotonic time of the last calibration

    def monotonic(self) -> float:
        self._last = max(self._last, self._local.monotonic() + self._offset)
        return self._last

    async def sleep(self, seconds: float) -> None:
        await self._local.sleep(seconds)

    def stale(self) -> bool:
        calibrated = self._calibrated
        return calibrated is None or self._local.monotonic() - calibrated > RECALIBRATE_S

    async def calibrate(self, server_seconds: Callable[[], Awaitable[float]]) -> None:
        """Read the server's clock once; the reading is placed halfway through the round trip."""
        before = self._local.monotonic()
        server = await server_seconds()
        after = self._local.monotonic()
        self._offset = server - (before + after) / 2
        self._calibrated = after


RECALIBRATE_S = 300.0  # DatabaseClock: local and server clocks drift apart by a few ppm
_KEEP_S = 120.0  # shared windows: sends kept this long (the longest window is a minute)
_PRUNE_EVERY_S = 10.0  # shared windows: how often an instance's booking prunes older ones


class TelegramBudget:
    """Sliding windows: per group per minute, per private chat per second, overall per second.

    ``paid_per_second`` > 0 adds a second overall window for messages sent with
    ``allow_paid_broadcast``; it is used only when the free one is full.

    ``clock`` measures the windows and is what waiting sleeps on (tests pass a
    :class:`~bot.clock.VirtualClock`, the simulator's limits read the same one).

    Shared (:meth:`share`, on PostgreSQL): every message the bot counts — :meth:`attempt`,
    :meth:`acquire` — is booked in the database, where the windows of every instance of the bot
    are kept, and what a booking saw of them is folded into this budget's own windows, so that
    :meth:`remaining` and :meth:`blocked_for` know of the other instances' sends as of the last
    booking. The instances' clocks must agree: production shares with a :class:`DatabaseClock`.
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
        self._ledger: FloodLedger | None = None
        self._pruned = -math.inf

    # -- the rules ----------------------------------------------------------------------------

    @property
    def _span(self) -> float:
        """The bot-wide windows' length (Telegram's second, and a twentieth of the margin)."""
        return 1.0 + self.margin / 5

    def _chat_rule(self, chat_id: int) -> tuple[float, int]:
        """A chat's window: its length and how many messages it holds."""
        if chat_id < 0:
            return 60.0 + self.margin, self.group_per_minute
        return self.private_interval + self.margin, 1

    def _window(self, chat_id: int) -> tuple[deque[float], float, int]:
        span, limit = self._chat_rule(chat_id)
        return self._chats.setdefault(chat_id, deque()), span, limit

    def _verdict(
        self, now: float, chat_id: int | None, payable: bool, windows: _Windows
    ) -> Verdict:
        """The rule, on windows slid to ``now``: one more message may go when the free window
        has room (or, ``payable``, the paid one), the chat's window has room and no RetryAfter
        holds the chat."""
        span = self._span
        wait = _wait_for(_full_since(windows.free, self.global_per_second), span, now)
        paid = False
        if wait > 0 and payable and self.paid_per_second > 0:
            paid_wait = _wait_for(windows.paid_full, span, now)
            paid = paid_wait == 0
            wait = min(wait, paid_wait)
        chat_wait = 0.0
        if chat_id is not None:
            left = windows.blocked_until - now
            chat_span, limit = self._chat_rule(chat_id)
            chat_wait = max(
                left if left > _ROUNDING else 0.0,
                _wait_for(_full_since(windows.chat, limit), chat_span, now),
            )
        return Verdict(wait, chat_wait, paid, now)

    def _local_verdict(self, chat_id: int | None, payable: bool, now: float) -> Verdict:
        self._trim(now)
        chat: Sequence[float] = ()
        if chat_id is not None:
            sent, span, _ = self._window(chat_id)
            _slide(sent, now, span)
            chat = sent
        windows = _Windows(
            free=self._global,
            paid_full=_full_since(self._paid, self.paid_per_second),
            chat=chat,
            blocked_until=self._blocked.get(chat_id, 0.0) if chat_id is not None else 0.0,
        )
        return self._verdict(now, chat_id, payable, windows)

    def _trim(self, now: float) -> None:
        for window in (self._global, self._paid):
            _slide(window, now, self._span)

    # -- what the outbox and the limiter ask ----------------------------------------------------

    def remaining(self, chat_id: int) -> int:
        """Messages the chat may still get in its current window (ignores the global limit)."""
        now = self.clock.monotonic()
        sent, span, limit = self._window(chat_id)
        _slide(sent, now, span)
        return max(0, limit - len(sent))

    def wait_time(self, chat_id: int | None, *, payable: bool = False) -> float:
        """Seconds until one more message may go to ``chat_id`` (0 = now); ``payable``: the
        message could go with allow_paid_broadcast, so the paid window counts too. (Shared:
        as this budget knows the windows, from its last booking.)"""
        verdict = self._local_verdict(chat_id, payable, self.clock.monotonic())
        return max(verdict.wait, verdict.chat_wait)

    async def wait_until_free(self, chat_id: int | None, *, payable: bool = False) -> bool:
        """Sleep on the clock until one more message may go to ``chat_id`` (None: only the
        global limit); True if that meant waiting at all."""
        waited = False
        # a budget frees by the clock, not by an event: sleeping until then is the point
        while (wait := self.wait_time(chat_id, payable=payable)) > 0:
            waited = True
            await self.clock.sleep(wait)
        return waited

    async def attempt(
        self, chat_id: int | None, *, payable: bool = False, reserve: bool = False
    ) -> Verdict:
        """One try: count one more message to ``chat_id`` now if every window allows it, else
        say how long each asks to wait. ``reserve``: hold the counted message for this task
        (:meth:`reserve`). Shared, the count is booked in the database, atomically for every
        instance; a window this budget already knows to be full costs no database work."""
        verdict = self._local_verdict(chat_id, payable, self.clock.monotonic())
        at = verdict.at
        if verdict.counted and self._ledger is not None:
            verdict = await self._book(chat_id, payable)
            at = verdict.stamp / 1000  # as the database keeps it, and the next booking sees it
        if verdict.counted:
            self._record(chat_id, verdict.paid, at)
            if reserve:
                _RESERVATION.set(_Reservation(self, chat_id, verdict.paid, at))
        return verdict

    async def acquire(self, chat_id: int | None, *, payable: bool = False) -> bool:
        """Wait until one more message may go to ``chat_id`` and count it (shared: for every
        instance); True if it must go with allow_paid_broadcast."""
        while not (verdict := await self.attempt(chat_id, payable=payable)).counted:
            await self.clock.sleep(max(verdict.wait, verdict.chat_wait))
        return verdict.paid

    def take(self, chat_id: int | None, *, payable: bool = False) -> bool:
        """Count one message leaving now, in this budget's own windows (the shared ones count
        through :meth:`attempt`); True if it must go with allow_paid_broadcast."""
        return self._take(chat_id, payable, self.clock.monotonic())

    def _take(self, chat_id: int | None, payable: bool, now: float) -> bool:
        paid = self._local_verdict(chat_id, payable, now).paid
        self._record(chat_id, paid, now)
        return paid

    def _record(self, chat_id: int | None, paid: bool, now: float) -> None:
        if paid:
            self.paid_sent += 1
        _add(self._paid if paid else self._global, now)
        if chat_id is not None:
            _add(self._window(chat_id)[0], now)

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
        now, so that composing it (database reads) never eats into Telegram's window. (Shared,
        it stays where it was booked, as every instance counts it: the booking is taken the
        moment composing starts, and the few milliseconds that takes are within the margin.)"""
        reservation = _RESERVATION.get()
        if reservation is None or reservation.budget is not self or reservation.chat_id != chat_id:
            return None
        _RESERVATION.set(None)
        if self._ledger is not None:
            return reservation.paid
        now = self.clock.monotonic()
        windows = [self._paid if reservation.paid else self._global]
        if chat_id is not None:
            windows.append(self._window(chat_id)[0])
        for window in windows:
            with contextlib.suppress(ValueError):  # already slid out of the window
                window.remove(reservation.at)
            _add(window, now)
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

    async def hold_off(self, chat_id: int | None, seconds: float) -> None:
        """:meth:`block`, and shared: every instance waits it out (Telegram's RetryAfter is the
        bot's, not one process's)."""
        self.block(chat_id, seconds)
        if self._ledger is None or chat_id is None:
            return
        try:
            await self._ledger.block(chat_id, math.ceil(self._blocked[chat_id] * 1000))
        except Exception as exc:  # this instance waits all the same; another may get a 429 too
            logger.warning("could not share a RetryAfter for chat %s: %s", chat_id, exc)

    def blocked_for(self, chat_id: int) -> float:
        return self._blocked_at(chat_id, self.clock.monotonic())

    def _blocked_at(self, chat_id: int, now: float) -> float:
        left = self._blocked.get(chat_id, 0.0) - now
        return left if left > _ROUNDING else 0.0

    # -- shared by the instances of one bot -------------------------------------------------

    @property
    def shared(self) -> bool:
        return self._ledger is not None

    async def share(self, ledger: FloodLedger) -> None:
        """Count through ``ledger`` from now on, with the other instances using it; a
        :class:`DatabaseClock` is set to the database's time first."""
        if isinstance(self.clock, DatabaseClock):
            await self.clock.calibrate(ledger.clock_seconds)
        self._ledger = ledger

    async def _book(self, chat_id: int | None, payable: bool) -> Verdict:
        """Book one message in the shared windows (one short transaction under the bot-wide
        lock) and fold what the booking saw of them into this budget's windows."""
        ledger = self._ledger
        assert ledger is not None
        if isinstance(self.clock, DatabaseClock) and self.clock.stale():
            await self.clock.calibrate(ledger.clock_seconds)
        start = self.clock.monotonic()
        chat_span, chat_limit = self._chat_rule(chat_id) if chat_id is not None else (0.0, 0)
        prune = None
        if start - self._pruned >= _PRUNE_EVERY_S:
            self._pruned = start
            prune = math.floor((start - _KEEP_S) * 1000)
        ask = FloodAsk(
            chat_id=chat_id,
            # The windows as they may be at the decision, a little later: anything newer counts
            since=math.floor((start - self._span) * 1000),
            free_limit=self.global_per_second,
            paid_limit=self.paid_per_second,
            chat_since=math.floor((start - chat_span) * 1000),
            chat_limit=chat_limit,
            prune_before=prune,
        )

        def decide(view: FloodView) -> Verdict:
            # in the database's thread, holding the lock: the moment of the send is now
            now = self.clock.monotonic()
            return self._verdict(now, chat_id, payable, self._seen(view, chat_id, now))

        view, verdict = await ledger.book(ask, decide)
        self._fold(view, chat_id, verdict.at)
        return verdict

    def _seen(self, view: FloodView, chat_id: int | None, now: float) -> _Windows:
        """A booking's view as the windows :meth:`_verdict` reads (slid to ``now``); a block
        this instance knows of counts even if the database does not have it yet."""
        chat: list[float] = []
        blocked = 0.0
        if chat_id is not None:
            span, _ = self._chat_rule(chat_id)
            chat = _fresh(view.chat, now, span)
            blocked = max(self._blocked.get(chat_id, 0.0), _seconds(view.blocked_until))
        return _Windows(
            free=_fresh(view.free, now, self._span),
            paid_full=None if view.paid_full_since is None else view.paid_full_since / 1000,
            chat=chat,
            blocked_until=blocked,
        )

    def _fold(self, view: FloodView, chat_id: int | None, now: float) -> None:
        """The other instances' sends, as a booking saw them, into this budget's windows."""
        self._global = deque(_fresh(view.free, now, self._span))
        if chat_id is not None:
            span, _ = self._chat_rule(chat_id)
            self._chats[chat_id] = deque(_fresh(view.chat, now, span))
            until = _seconds(view.blocked_until)
            self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), until)


def _full_since(window: Sequence[float], limit: int) -> float | None:
    """The stamp whose leaving frees a place in a full window (oldest first), else None."""
    return window[len(window) - limit] if limit > 0 and len(window) >= limit else None


def _wait_for(full_since: float | None, span: float, now: float) -> float:
    if full_since is None:
        return 0.0
    wait = span - (now - full_since)
    return wait if wait > _ROUNDING else 0.0


def _fresh(stamps: Sequence[int], now: float, span: float) -> list[float]:
    """Stored stamps (milliseconds, oldest first) still inside a window of ``span`` at ``now``."""
    return [s / 1000 for s in stamps if now - s / 1000 < span - _ROUNDING]


def _seconds(stamp: int | None) -> float:
    return 0.0 if stamp is None else stamp / 1000


def _add(window: deque[float], stamp: float) -> None:
    """Keep a window in order: a stamp folded in from another instance may be the newer."""
    if window and window[-1] > stamp:
        bisect.insort(window, stamp)
    else:
        window.append(stamp)


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
                paid = await self.budget.acquire(chat_id, payable=payable and refused is None)
            # ``data`` is the dict python-telegram-bot is about to send
            if paid:
                data["allow_paid_broadcast"] = True
            else:
                data.pop("allow_paid_broadcast", None)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                await self.budget.hold_off(chat_id, seconds)
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
