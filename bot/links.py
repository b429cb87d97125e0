"""Links to messages, as Telegram forms them (no telegram import)."""

from __future__ import annotations

from html import escape

_SUPERGROUP_PREFIX = -1_000_000_000_000


def message_link(chat_id: int, message_id: int, username: str | None = None) -> str | None:
    """``https://t.me/...`` for a group message, or None where Telegram has no link.

    A public group links by its username; a private supergroup (id -100XXXXXXXXXX) by
    ``t.me/c/XXXXXXXXXX/<message id>``; basic groups and private chats have no message links,
    and a ticket the bot opened itself (a 关爱走访 visit's, message id ≤ 0) has no message.
    """
    if message_id <= 0:
        return None
    if username:
        return f"https://t.me/{username}/{message_id}"
    if chat_id < _SUPERGROUP_PREFIX:
        return f"https://t.me/c/{-chat_id + _SUPERGROUP_PREFIX}/{message_id}"
    return None


def start_link(bot_username: str, payload: str) -> str:
    """A deep link that opens the private chat with the bot and sends ``/start payload``."""
    return f"https://t.me/{bot_username}?start={payload}"


def mention(user_id: int, name: str) -> str:
    """An HTML mention that notifies the person, whether or not they have a username."""
    return f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'
