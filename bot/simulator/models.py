"""The small value types of the simulator: users, chats, recorded calls, limits and faults."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

# Well-known Telegram service accounts.
GROUP_ANONYMOUS_BOT: JSON = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT: JSON = {
    "id": 136817688,
    "is_bot": True,
    "first_name": "Channel",
    "username": "Channel_Bot",
}
TELEGRAM_SERVICE: JSON = {"id": 777000, "is_bot": False, "first_name": "Telegram"}

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
PRESENT_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})


class ApiError(Exception):
    """A Bot API error: becomes ``{"ok": false, "error_code": …, "description": …}``."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_dict(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str, parameters: JSON | None = None) -> ApiError:
    """``400 Bad Request: <reason>``."""
    return ApiError(400, f"Bad Request: {reason}", parameters)


def forbidden(reason: str) -> ApiError:
    """``403 Forbidden: <reason>``."""
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    """``429 Too Many Requests: retry after N`` with ``parameters.retry_after``."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class SimulatedTimeout(Exception):
    """A fault-injected call that never answers; ``applied`` says whether it took effect."""

    def __init__(self, method: str, applied: bool) -> None:
        super().__init__(f"simulated timeout of {method} (applied={applied})")
        self.method = method
        self.applied = applied


@dataclass
class SimUser:
    """A Telegram user (or bot) in the simulated world."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> JSON:
        """The Bot API ``User`` object."""
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code and not self.is_bot:
            out["language_code"] = self.language_code
        return out


@dataclass
class SimChat:
    """A chat: ``private`` (id == user id), ``group``, ``supergroup`` or ``channel``."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    first_name: str | None = None
    last_name: str | None = None

    def to_dict(self) -> JSON:
        """The Bot API ``Chat`` object as it appears inside a ``Message``."""
        out: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.first_name or ""
            if self.last_name:
                out["last_name"] = self.last_name
        else:
            out["title"] = self.title or ""
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class ApiCall:
    """One Bot API call as the simulator saw it."""

    method: str
    params: JSON
    result: Any = None
    error: ApiError | None = None
    at: float = 0.0
    timed_out: bool = False

    @property
    def parsed(self) -> JSON:
        """``params`` as values: clients like PTB send every parameter as a string (objects and
        arrays as JSON text); here JSON objects/arrays are decoded and id-like numbers are ints.
        Text parameters (``text``, ``caption`` …) stay strings."""
        return {name: _parse_param(name, value) for name, value in self.params.items()}

    def to_dict(self) -> JSON:
        """JSON form for the control API (uploaded files appear as their descriptions)."""
        return {
            "method": self.method,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "result": self.result,
            "error": self.error.to_dict() if self.error else None,
            "at": self.at,
            "timed_out": self.timed_out,
        }


_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "user_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
    }
)


def _parse_param(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("{", "[") and name not in ("text", "caption"):
        try:
            return json.loads(text)
        except ValueError:
            return value
    if name in _INT_PARAMS and text.lstrip("-").isdigit():
        return int(text)
    if text in ("true", "false") and name not in ("text", "caption"):
        return text == "true"
    return value


def _jsonable(value: Any) -> Any:
    describe = getattr(value, "describe", None)
    return describe() if callable(describe) else value


@dataclass
class UploadedFile:
    """A file a client uploaded with ``multipart/form-data``."""

    filename: str
    content: bytes
    content_type: str | None = None

    def describe(self) -> JSON:
        """A short JSON description (the bytes are left out)."""
        return {"filename": self.filename, "size": len(self.content), "type": self.content_type}


PAID_BROADCAST_STARS = 0.1  # what Telegram charges per message sent with allow_paid_broadcast


@dataclass
class RateLimits:
    """Telegram's sending limits; exceeding one gives ``429 Too Many Requests``.

    Counted: every message a bot sends (``sendMessage``, ``sendPhoto``/``Video``/``Document``,
    ``sendPoll``, each item of ``sendMediaGroup``, ``copyMessage``, ``forwardMessage``) and
    every edit (``editMessageText``/``Caption``/``ReplyMarkup``, ``stopPoll``) — each against
    its chat and against the global budget.  Calls that fail are not counted.

    * ``per_group_per_minute``: messages into one group/supergroup/channel in any 60 s window;
    * ``global_per_second``: messages into all chats in any 1 s window;
    * ``per_private_per_second`` with a burst of ``private_burst``: a token bucket per private
      chat (Telegram allows short bursts over one message per second);
    * ``paid_per_second``: messages sent with ``allow_paid_broadcast`` count here instead of
      against ``global_per_second`` (Telegram: up to 1,000 a second, 0.1 Star each).
    """

    per_group_per_minute: int = 20
    global_per_second: int = 30
    paid_per_second: int = 1000
    per_private_per_second: float = 1.0
    private_burst: int = 3


@dataclass
class FaultPlan:
    """Share of calls that fail, drawn from a seeded random generator.

    * ``error_5xx``: answer ``502 Bad Gateway``;
    * ``timeout``: never answer (HTTP: hold the request ``hang_seconds`` then drop the
      connection; in-process transport: raise ``telegram.error.TimedOut``); the call is applied
      first when ``timeout_applies`` is true, like a send whose answer got lost;
    * ``flood``: start a flood wait — this and every faultable call for ``flood_retry_after``
      seconds (by the simulator's clock) get ``429 Too Many Requests``.

    ``methods`` limits which methods can fail (Bot API names, any case); ``None`` means the
    methods that change something: ``send*``, ``copyMessage``, ``forwardMessage``, ``edit*``,
    ``stopPoll``, ``deleteMessage(s)``, ``answerCallbackQuery``, ``pin/unpinChatMessage``.
    """

    error_5xx: float = 0.0
    timeout: float = 0.0
    flood: float = 0.0
    seed: int = 0
    methods: frozenset[str] | set[str] | None = None
    timeout_applies: bool = False
    hang_seconds: float = 30.0
    flood_retry_after: int = 3

    @property
    def active(self) -> bool:
        """Whether any fault can happen."""
        return self.error_5xx > 0 or self.timeout > 0 or self.flood > 0
