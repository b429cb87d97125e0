"""The JSON control API: drive a :class:`Simulator` from another process.

Every action takes a JSON object (POST body, or the query string for GET) and answers
``{"ok": true, "result": …}``, or ``{"ok": false, "error": "…"}`` with status 400 for a bad
request and 404 for an unknown action.  Ids stand for objects: ``chat_id``, ``user_id``, ``by``
(a user id), ``sender_chat_id``.

World: ``users``, ``groups``, ``channels``, ``private_chat``, ``members``, ``bot/add``,
``bot/status``, ``bot/block``, ``migrate``, ``topics``.
Injecting: ``send_text``, ``send_media``, ``send_album``, ``edit_text``, ``press_button``,
``answer_poll``, ``redeliver``, ``inject_update``.
Reading: ``state``, ``calls``, ``sent``, ``messages``, ``bot_messages``, ``replies``,
``callback_answers``, ``polls``, ``reply_markup``, ``commands``, ``pending``, ``wait``.
Settings: ``limits``, ``faults``, ``privacy``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .models import JSON, FaultPlan, RateLimits, SimChat

if TYPE_CHECKING:
    from .core import Simulator

logger = logging.getLogger(__name__)

Action = Callable[["Simulator", JSON], Awaitable[Any]]


class ControlError(Exception):
    """A control request that cannot be served; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int(body: JSON, key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if value is None:
        raise ValueError(f"{key} is required")
    return int(value)


def _opt_int(body: JSON, key: str) -> int | None:
    value = body.get(key)
    return None if value is None or value == "" else int(value)


def _bool(body: JSON, key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _opt_chat(sim: Simulator, body: JSON, key: str) -> SimChat | None:
    value = _opt_int(body, key)
    return None if value is None else sim.world.state(value).chat


# ----------------------------------------------------------------------------------- world


async def _users(sim: Simulator, body: JSON) -> Any:
    user = sim.add_user(
        str(body["first_name"]),
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code", "zh"),
        is_bot=_bool(body, "is_bot"),
    )
    return user.to_dict()


async def _groups(sim: Simulator, body: JSON) -> Any:
    chat = sim.add_group(
        str(body["title"]),
        supergroup=_bool(body, "supergroup", True),
        forum=_bool(body, "forum"),
        username=body.get("username"),
    )
    return chat.to_dict()


async def _channels(sim: Simulator, body: JSON) -> Any:
    return sim.add_channel(str(body["title"]), username=body.get("username")).to_dict()


async def _private_chat(sim: Simulator, body: JSON) -> Any:
    return sim.private_chat(_int(body, "user_id")).to_dict()


async def _members(sim: Simulator, body: JSON) -> Any:
    sim.set_member(
        _int(body, "chat_id"),
        _int(body, "user_id"),
        str(body["status"]),
        is_anonymous=_bool(body, "is_anonymous"),
        by=_opt_int(body, "by"),
        custom_title=body.get("custom_title"),
        service_message=_bool(body, "service_message", True),
    )
    return True


async def _bot_add(sim: Simulator, body: JSON) -> Any:
    sim.add_bot(_int(body, "chat_id"), by=_int(body, "by"), status=body.get("status", "member"))
    return True


async def _bot_status(sim: Simulator, body: JSON) -> Any:
    sim.set_bot_status(_int(body, "chat_id"), str(body["status"]), by=_opt_int(body, "by"))
    return True


async def _bot_block(sim: Simulator, body: JSON) -> Any:
    sim.block_bot(_int(body, "user_id"), blocked=_bool(body, "blocked", True))
    return True


async def _migrate(sim: Simulator, body: JSON) -> Any:
    return sim.migrate_to_supergroup(_int(body, "chat_id"), by=_opt_int(body, "by")).to_dict()


async def _topics(sim: Simulator, body: JSON) -> Any:
    thread_id = sim.create_topic(_int(body, "chat_id"), str(body["name"]), by=_opt_int(body, "by"))
    return {"message_thread_id": thread_id}


# ----------------------------------------------------------------------------------- injecting


async def _send_text(sim: Simulator, body: JSON) -> Any:
    return sim.send_text(
        _int(body, "chat_id"),
        _opt_int(body, "user_id"),
        str(body["text"]),
        reply_to=_opt_int(body, "reply_to"),
        thread_id=_opt_int(body, "thread_id"),
        sender_chat=_opt_chat(sim, body, "sender_chat_id"),
        is_automatic_forward=_bool(body, "is_automatic_forward"),
        forward_origin=body.get("forward_origin"),
        entities=body.get("entities"),
    )


async def _send_media(sim: Simulator, body: JSON) -> Any:
    return sim.send_media(
        _int(body, "chat_id"),
        _opt_int(body, "user_id"),
        kind=str(body.get("kind", "photo")),
        caption=body.get("caption"),
        media_group_id=body.get("media_group_id"),
        reply_to=_opt_int(body, "reply_to"),
        thread_id=_opt_int(body, "thread_id"),
        file_name=body.get("file_name"),
        sender_chat=_opt_chat(sim, body, "sender_chat_id"),
    )


async def _send_album(sim: Simulator, body: JSON) -> Any:
    return sim.send_album(
        _int(body, "chat_id"),
        _opt_int(body, "user_id"),
        count=_int(body, "count", 3),
        caption=body.get("caption", "…"),
        caption_index=_int(body, "caption_index", 0),
        kind=str(body.get("kind", "photo")),
        reply_to=_opt_int(body, "reply_to"),
        thread_id=_opt_int(body, "thread_id"),
    )


async def _edit_text(sim: Simulator, body: JSON) -> Any:
    return sim.edit_text(_int(body, "chat_id"), _int(body, "message_id"), str(body["text"]))


async def _press_button(sim: Simulator, body: JSON) -> Any:
    query_id = sim.press_button(
        _int(body, "chat_id"), _int(body, "message_id"), _int(body, "user_id"), str(body["data"])
    )
    return {"callback_query_id": query_id}


async def _answer_poll(sim: Simulator, body: JSON) -> Any:
    """``{"chat_id", "message_id" | "poll_id", "user_id", "option_ids": [...]}`` → the poll."""
    poll: int | str = (
        str(body["poll_id"]) if body.get("poll_id") is not None else _int(body, "message_id")
    )
    options = body.get("option_ids", [])
    if not isinstance(options, list):
        raise ValueError("option_ids must be a list of option indexes")
    return sim.answer_poll(
        _int(body, "chat_id"), poll, _int(body, "user_id"), [int(o) for o in options]
    )


async def _redeliver(sim: Simulator, body: JSON) -> Any:
    sim.redeliver(_int(body, "update_id"))
    return True


async def _inject_update(sim: Simulator, body: JSON) -> Any:
    update = body.get("update", body)
    if not isinstance(update, dict):
        raise ValueError("update must be an object")
    return {"update_id": sim.inject_update(update)}


# ----------------------------------------------------------------------------------- reading


async def _state(sim: Simulator, body: JSON) -> Any:
    return {
        "bot": sim.bot.to_dict(),
        "token": sim.token,
        "users": [u.to_dict() for u in sim.world.users.values() if u.id != sim.bot.id],
        "chats": [s.chat.to_dict() for s in sim.world.chats.values()],
        "pending_updates": sim.pending_updates(),
        "calls": len(sim.calls),
        "sent": len(sim.sent),
        "can_read_all_group_messages": sim.can_read_all_group_messages,
        "limits": asdict(sim.limits) if sim.limits else None,
    }


async def _calls(sim: Simulator, body: JSON) -> Any:
    since = _int(body, "since", 0)
    method = body.get("method")
    calls = sim.calls[since:]
    if method:
        calls = [c for c in calls if c.method.lower() == str(method).lower()]
    return [c.to_dict() for c in calls]


async def _sent(sim: Simulator, body: JSON) -> Any:
    chat_id = _opt_int(body, "chat_id")
    sent = sim.sent[_int(body, "since", 0) :]
    return [m for m in sent if chat_id is None or m["chat"]["id"] == chat_id]


async def _messages(sim: Simulator, body: JSON) -> Any:
    return sim.messages(_int(body, "chat_id"))


async def _bot_messages(sim: Simulator, body: JSON) -> Any:
    return sim.bot_messages(_opt_int(body, "chat_id"))


async def _replies(sim: Simulator, body: JSON) -> Any:
    return sim.replies_to(_int(body, "chat_id"), _int(body, "message_id"))


async def _callback_answers(sim: Simulator, body: JSON) -> Any:
    return sim.callback_answers


async def _polls(sim: Simulator, body: JSON) -> Any:
    return sim.poll_messages(_int(body, "chat_id"))


async def _reply_markup(sim: Simulator, body: JSON) -> Any:
    return sim.reply_markup_of(_int(body, "chat_id"), _int(body, "message_id"))


async def _commands(sim: Simulator, body: JSON) -> Any:
    return [
        {"scope": scope, "language_code": language, "commands": commands}
        for (scope, language), commands in sim.commands.items()
    ]


async def _pending(sim: Simulator, body: JSON) -> Any:
    return {"pending_updates": sim.pending_updates()}


def _wait_value(sim: Simulator, body: JSON) -> int:
    what = str(body.get("what", "sent"))
    chat_id = _opt_int(body, "chat_id")
    if what == "sent":
        return sum(1 for m in sim.sent if chat_id is None or m["chat"]["id"] == chat_id)
    if what == "calls":
        method = str(body.get("method", ""))
        return sum(1 for c in sim.calls if not method or c.method.lower() == method.lower())
    if what == "pending":
        return sim.pending_updates()
    raise ValueError("what must be sent, calls or pending")


async def _wait(sim: Simulator, body: JSON) -> Any:
    """Wait until a count reaches ``at_least`` (or falls to ``at_most``); returns the count."""
    timeout = float(body.get("timeout", 5.0))
    at_least = _opt_int(body, "at_least")
    at_most = _opt_int(body, "at_most")
    if (at_least is None) == (at_most is None):
        raise ValueError("give exactly one of at_least and at_most")

    def reached() -> dict[str, int] | None:
        value = _wait_value(sim, body)
        ok = value >= at_least if at_least is not None else value <= (at_most or 0)
        return {"count": value} if ok else None

    try:
        return await sim.wait_for(reached, timeout)
    except TimeoutError as exc:
        raise ControlError(408, str(exc)) from None


# ----------------------------------------------------------------------------------- settings


async def _limits(sim: Simulator, body: JSON) -> Any:
    settings = body.get("limits", body)
    sim.limits = RateLimits(**settings) if settings else None
    return asdict(sim.limits) if sim.limits else None


async def _faults(sim: Simulator, body: JSON) -> Any:
    settings = dict(body.get("faults", body) or {})
    if settings.get("methods") is not None:
        settings["methods"] = frozenset(settings["methods"])
    sim.faults = FaultPlan(**settings)
    plan = asdict(sim.faults)
    plan["methods"] = sorted(plan["methods"]) if plan["methods"] is not None else None
    return plan


async def _privacy(sim: Simulator, body: JSON) -> Any:
    sim.can_read_all_group_messages = not _bool(body, "enabled", True)
    return {"can_read_all_group_messages": sim.can_read_all_group_messages}


ACTIONS: dict[str, Action] = {
    "users": _users,
    "groups": _groups,
    "channels": _channels,
    "private_chat": _private_chat,
    "members": _members,
    "bot/add": _bot_add,
    "bot/status": _bot_status,
    "bot/block": _bot_block,
    "migrate": _migrate,
    "topics": _topics,
    "send_text": _send_text,
    "send_media": _send_media,
    "send_album": _send_album,
    "edit_text": _edit_text,
    "press_button": _press_button,
    "answer_poll": _answer_poll,
    "redeliver": _redeliver,
    "inject_update": _inject_update,
    "state": _state,
    "calls": _calls,
    "sent": _sent,
    "messages": _messages,
    "bot_messages": _bot_messages,
    "replies": _replies,
    "callback_answers": _callback_answers,
    "polls": _polls,
    "reply_markup": _reply_markup,
    "commands": _commands,
    "pending": _pending,
    "wait": _wait,
    "limits": _limits,
    "faults": _faults,
    "privacy": _privacy,
}


async def run_action(sim: Simulator, action: str, body: JSON) -> Any:
    """Run a control action; ``ControlError`` carries the HTTP status for failures."""
    handler = ACTIONS.get(action.strip("/"))
    if handler is None:
        raise ControlError(404, f"unknown control action {action!r}")
    try:
        return await handler(sim, body)
    except ControlError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ControlError(400, f"{type(exc).__name__}: {exc}") from exc
