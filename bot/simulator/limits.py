"""Flood control and fault injection, both driven by the simulator's (injectable) clock."""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable

from .models import ApiError, FaultPlan, RateLimits, SimulatedTimeout, too_many_requests

logger = logging.getLogger(__name__)

# Methods that put a message into a chat, and how limits count them.
SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "sendvideo",
        "senddocument",
        "sendaudio",
        "sendvoice",
        "sendanimation",
        "sendsticker",
        "sendlocation",
        "sendcontact",
        "sendpoll",
        "senddice",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
    }
)
EDITING_METHODS = frozenset(
    {"editmessagetext", "editmessagecaption", "editmessagereplymarkup", "stoppoll"}
)
COUNTED_METHODS = SENDING_METHODS | EDITING_METHODS
DEFAULT_FAULT_METHODS = COUNTED_METHODS | frozenset(
    {
        "deletemessage",
        "deletemessages",
        "answercallbackquery",
        "pinchatmessage",
        "unpinchatmessage",
        "sendchataction",
    }
)


class RateLimiter:
    """Sliding windows per group and globally, a token bucket per private chat."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._global: deque[float] = deque()
        self._paid: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._private: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)

    def check(self, chat_id: int, is_private: bool, count: int = 1, *, paid: bool = False) -> None:
        """Raise ``429`` if ``count`` more messages to ``chat_id`` would exceed a limit;
        ``paid``: sent with ``allow_paid_broadcast``, so the paid global window applies."""
        now = self._clock()
        if paid:
            waits = [self._window_wait(self._paid, now, 1.0, self.limits.paid_per_second, count)]
        else:
            waits = [self._global_wait(now, count)]
        if is_private:
            waits.append(self._private_wait(chat_id, now, count))
        else:
            waits.append(self._group_wait(chat_id, now, count))
        wait = max(waits)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))

    def record(self, chat_id: int, is_private: bool, count: int = 1, *, paid: bool = False) -> None:
        """Count ``count`` messages that were accepted."""
        now = self._clock()
        (self._paid if paid else self._global).extend([now] * count)
        if is_private:
            tokens, _ = self._refill(chat_id, now)
            self._private[chat_id] = (tokens - count, now)
        else:
            self._groups.setdefault(chat_id, deque()).extend([now] * count)

    @staticmethod
    def _window_wait(window: deque[float], now: float, span: float, cap: int, count: int) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) + count <= cap:
            return 0.0
        overflow = len(window) + count - cap
        if overflow > len(window):
            return span
        return window[overflow - 1] + span - now

    def _global_wait(self, now: float, count: int) -> float:
        return self._window_wait(self._global, now, 1.0, self.limits.global_per_second, count)

    def _group_wait(self, chat_id: int, now: float, count: int) -> float:
        window = self._groups.setdefault(chat_id, deque())
        return self._window_wait(window, now, 60.0, self.limits.per_group_per_minute, count)

    def _refill(self, chat_id: int, now: float) -> tuple[float, float]:
        burst = float(max(1, self.limits.private_burst))
        tokens, at = self._private.get(chat_id, (burst, now))
        tokens = min(burst, tokens + (now - at) * self.limits.per_private_per_second)
        return tokens, now

    def _private_wait(self, chat_id: int, now: float, count: int) -> float:
        tokens, _ = self._refill(chat_id, now)
        missing = count - tokens
        if missing <= 0:
            return 0.0
        return missing / max(self.limits.per_private_per_second, 1e-9)


class FaultInjector:
    """Decides, call by call, whether a :class:`FaultPlan` makes it fail."""

    def __init__(self, plan: FaultPlan, clock: Callable[[], float]) -> None:
        self.plan = plan
        self._clock = clock
        self._random = random.Random(plan.seed)
        self._flood_until = 0.0

    def applies_to(self, method: str) -> bool:
        """Whether ``method`` (lower-case) is in the plan's scope."""
        scope = self.plan.methods
        if scope is None:
            return method in DEFAULT_FAULT_METHODS
        return method in {m.lower() for m in scope}

    def before(self, method: str) -> bool:
        """Raise the fault for this call, if any; return True if it must time out afterwards.

        A timeout that does not apply raises :class:`SimulatedTimeout` here; one that applies
        returns True so the caller performs the call and raises it then.
        """
        if not self.applies_to(method):
            return False
        now = self._clock()
        if now < self._flood_until:
            raise too_many_requests(max(1, math.ceil(self._flood_until - now)))
        if not self.plan.active:
            return False
        roll = self._random.random()
        plan = self.plan
        if roll < plan.flood:
            self._flood_until = now + plan.flood_retry_after
            raise too_many_requests(plan.flood_retry_after)
        roll -= plan.flood
        if roll < plan.error_5xx:
            raise ApiError(502, "Bad Gateway")
        roll -= plan.error_5xx
        if roll < plan.timeout:
            if plan.timeout_applies:
                return True
            raise SimulatedTimeout(method, applied=False)
        return False
