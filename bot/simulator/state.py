"""The simulated Telegram world: users, chats, members, messages, files — and its rules.

Nothing here knows about HTTP or the update queue.  Message dicts are stored exactly as the Bot
API would serialise them; the stored dict of a message is its *current* version (edits change it
in place), while updates and nested ``reply_to_message`` fields carry snapshots.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .entities import find_entities
from .models import (
    GROUP_ANONYMOUS_BOT,
    JSON,
    PRESENT_STATUSES,
    ApiError,
    SimChat,
    SimUser,
    UploadedFile,
    bad_request,
    forbidden,
)

logger = logging.getLogger(__name__)

SERVICE_FIELDS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "channel_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "forum_topic_created",
        "forum_topic_edited",
        "forum_topic_closed",
        "forum_topic_reopened",
        "message_auto_delete_timer_changed",
    }
)
FORUM_TOPIC_ICON_COLOR = 7322096
# A 1x1 transparent PNG: the bytes served for photos nobody uploaded.
PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
PHOTO_SIZES = ((90, 67), (320, 240), (800, 600), (1280, 960))


@dataclass
class Member:
    """One user's (or the bot's) membership of a group or channel."""

    status: str
    is_anonymous: bool = False
    custom_title: str | None = None


@dataclass
class ChatState:
    """Everything the simulator knows about one chat."""

    chat: SimChat
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    topics: dict[int, str] = field(default_factory=dict)
    migrated_to: int | None = None
    started: bool = False  # private chats: the user has written to the bot
    blocked: bool = False  # private chats: the user blocked the bot
    pinned: list[int] = field(default_factory=list)

    @property
    def is_private(self) -> bool:
        """A one-to-one chat with a user."""
        return self.chat.type == "private"

    @property
    def is_group(self) -> bool:
        """A basic group or a supergroup."""
        return self.chat.type in ("group", "supergroup")


@dataclass
class StoredFile:
    """A file the simulator can hand out again by ``file_id``."""

    kind: str  # photo | video | document | animation | audio | voice
    file_id: str
    file_unique_id: str
    size: int
    content: bytes | None = None
    meta: JSON = field(default_factory=dict)
    photo_set: list[JSON] | None = None  # every size of the photo this size belongs to


def snapshot(message: JSON) -> JSON:
    """A copy of ``message`` fit for nesting: without its own ``reply_to_message``."""
    out = copy.deepcopy(message)
    out.pop("reply_to_message", None)
    return out


def is_service_message(message: JSON) -> bool:
    """Whether ``message`` is a service message (join, leave, migration, pin, topic …)."""
    return any(key in message for key in SERVICE_FIELDS)


class World:
    """Users, chats and messages, with Telegram's rules for who may do and see what."""

    def __init__(
        self,
        bot: SimUser,
        can_read_all_group_messages: bool,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.can_read_all_group_messages = can_read_all_group_messages
        self.wall_clock = wall_clock
        self.users: dict[int, SimUser] = {bot.id: bot}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self._shared_message_id = 1  # private chats and basic groups share one sequence
        self._next_user_id = 10_000_001
        self._next_group_seq = 1
        self._next_file_seq = 1

    # ----------------------------------------------------------------------------- basics

    def now(self) -> int:
        """The current unix time, as message dates carry it."""
        return int(self.wall_clock())

    def new_user(self, **fields: Any) -> SimUser:
        """Create a user with the next free id."""
        user = SimUser(id=self._next_user_id, **fields)
        self._next_user_id += 1
        self.users[user.id] = user
        return user

    def new_chat(
        self, kind: str, title: str, username: str | None, forum: bool = False
    ) -> ChatState:
        """Create a group, supergroup or channel with a realistic id."""
        seq = self._next_group_seq
        self._next_group_seq += 1
        chat_id = -(4_000_000_000 + seq) if kind == "group" else -(1_001_000_000_000 + seq)
        state = ChatState(SimChat(chat_id, kind, title=title, username=username, is_forum=forum))
        self.chats[chat_id] = state
        return state

    def private_state(self, user: SimUser) -> ChatState:
        """The private chat with ``user`` (created on first use)."""
        state = self.chats.get(user.id)
        if state is None:
            chat = SimChat(
                user.id,
                "private",
                first_name=user.first_name,
                last_name=user.last_name,
                username=user.username,
            )
            state = ChatState(chat)
            self.chats[user.id] = state
        return state

    def user(self, user: SimUser | int) -> SimUser:
        """Look a user up by object or id (``ValueError`` if unknown)."""
        user_id = user.id if isinstance(user, SimUser) else int(user)
        try:
            return self.users[user_id]
        except KeyError:
            raise ValueError(f"unknown user {user_id}") from None

    def state(self, chat: SimChat | int) -> ChatState:
        """Look a chat up by object or id (``ValueError`` if unknown)."""
        chat_id = chat.id if isinstance(chat, SimChat) else int(chat)
        found = self.chats.get(chat_id)
        if found is None and chat_id in self.users:
            return self.private_state(self.users[chat_id])
        if found is None:
            raise ValueError(f"unknown chat {chat_id}")
        return found

    def next_message_id(self, state: ChatState) -> int:
        """Supergroups and channels count per chat; private chats and basic groups share."""
        if state.chat.type in ("supergroup", "channel"):
            message_id = state.next_message_id
            state.next_message_id += 1
            return message_id
        message_id = self._shared_message_id
        self._shared_message_id += 1
        return message_id

    # ----------------------------------------------------------------------------- members

    def status_of(self, state: ChatState, user_id: int) -> str:
        """A member's status, ``left`` if never seen."""
        member = state.members.get(user_id)
        return member.status if member else "left"

    def bot_status(self, state: ChatState) -> str:
        """The bot's own status in a group or channel."""
        return self.status_of(state, self.bot.id)

    def bot_is_admin(self, state: ChatState) -> bool:
        """Administrators (and creators) see every message whatever the privacy mode."""
        return self.bot_status(state) in ("administrator", "creator")

    def member_dict(self, state: ChatState, user_id: int) -> JSON:
        """The Bot API ``ChatMember`` object of ``user_id`` in ``state``."""
        user = self.users[user_id].to_dict()
        member = state.members.get(user_id) or Member("left")
        return chat_member_dict(user, member)

    # ----------------------------------------------------------------------------- API access

    def resolve(self, chat_id: int | str) -> ChatState:
        """The chat a Bot API ``chat_id`` names, with Telegram's errors."""
        state = self._find(chat_id)
        if state is None:
            raise bad_request("chat not found")
        if state.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": state.migrated_to},
            )
        return state

    def _find(self, chat_id: int | str) -> ChatState | None:
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            for state in self.chats.values():
                if not state.is_private and (state.chat.username or "").lower() == name:
                    return state
            return None
        found = self.chats.get(chat_id)
        if found is None and chat_id in self.users and chat_id != self.bot.id:
            return self.private_state(self.users[chat_id])
        return found

    def check_can_write(self, state: ChatState) -> None:
        """Raise the 403 Telegram gives when the bot may not post in ``state``."""
        if state.is_private:
            user = self.users[state.chat.id]
            if user.is_bot:
                raise forbidden("bot can't send messages to bots")
            if state.blocked:
                raise forbidden("bot was blocked by the user")
            if not state.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        status = self.bot_status(state)
        kind = state.chat.type
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {kind} chat")
        if status not in PRESENT_STATUSES:
            raise forbidden(f"bot is not a member of the {kind} chat")
        if kind == "channel" and status not in ("administrator", "creator"):
            raise bad_request("need administrator rights in the channel chat")

    def message(self, state: ChatState, message_id: int) -> JSON | None:
        """The current version of a message, if it exists."""
        return state.messages.get(message_id)

    # ----------------------------------------------------------------------------- messages

    def resolve_thread(
        self, state: ChatState, thread_id: int | None, reply_target: JSON | None
    ) -> int | None:
        """The thread a new message goes to; ``ApiError`` for a thread that does not exist."""
        if thread_id is not None:
            if state.chat.is_forum:
                if thread_id not in state.topics:
                    raise bad_request("message thread not found")
            elif state.chat.type != "supergroup" or thread_id not in state.messages:
                raise bad_request("message thread not found")
            return thread_id
        if (
            reply_target is not None
            and state.chat.is_forum
            and reply_target.get("is_topic_message")
        ):
            return int(reply_target["message_thread_id"])
        return None

    def build_message(
        self,
        state: ChatState,
        body: JSON,
        *,
        sender: JSON | None,
        sender_chat: JSON | None = None,
        thread_id: int | None = None,
        reply_target: JSON | None = None,
    ) -> JSON:
        """Create, store and return a new message of ``state`` (``body`` holds its content)."""
        message: JSON = {"message_id": self.next_message_id(state)}
        if sender is not None:
            message["from"] = copy.deepcopy(sender)
        if sender_chat is not None:
            message["sender_chat"] = copy.deepcopy(sender_chat)
        message["chat"] = state.chat.to_dict()
        message["date"] = self.now()
        self._place_in_thread(state, message, thread_id, reply_target)
        message.update(body)
        state.messages[message["message_id"]] = message
        return message

    @staticmethod
    def _place_in_thread(
        state: ChatState, message: JSON, thread_id: int | None, reply_target: JSON | None
    ) -> None:
        if state.chat.is_forum and thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_target is None:
                # Telegram quirk: a topic message "replies" to the topic's creation message.
                reply_target = state.messages.get(thread_id)
        elif state.chat.type == "supergroup" and not state.chat.is_forum:
            if thread_id is not None:
                message["message_thread_id"] = thread_id
            elif reply_target is not None:
                root = reply_target.get("message_thread_id", reply_target["message_id"])
                message["message_thread_id"] = root
        if reply_target is not None:
            message["reply_to_message"] = snapshot(reply_target)

    def anonymous_sender(self, state: ChatState) -> tuple[JSON, JSON]:
        """``from`` and ``sender_chat`` of a message an anonymous admin sends."""
        return copy.deepcopy(GROUP_ANONYMOUS_BOT), state.chat.to_dict()

    # ----------------------------------------------------------------------------- privacy

    def bot_receives(self, state: ChatState, message: JSON) -> bool:
        """Whether Telegram would deliver ``message`` (in ``state``) to the bot.

        Private chats: always.  Channels: when the bot is an administrator.  Groups: only while
        the bot is a member; then everything if privacy mode is off or the bot is an
        administrator, otherwise service messages, commands (without ``@`` or addressed to this
        bot), replies to the bot's messages and messages mentioning the bot.
        """
        if state.is_private:
            return True
        if self.bot_status(state) not in PRESENT_STATUSES:
            return False
        if state.chat.type == "channel":
            return self.bot_is_admin(state)
        if self.can_read_all_group_messages or self.bot_is_admin(state):
            return True
        return is_service_message(message) or self._meant_for_bot(message)

    def _meant_for_bot(self, message: JSON) -> bool:
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot.id:
            quirk = message.get("is_topic_message") and reply.get("forum_topic_created")
            if not quirk:
                return True
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        username = (self.bot.username or "").lower()
        return any(self._entity_for_bot(text, entity, username) for entity in entities)

    def _entity_for_bot(self, text: str, entity: JSON, username: str) -> bool:
        part = _utf16_slice(text, entity["offset"], entity["length"])
        if entity["type"] == "bot_command":
            _, at, target = part.partition("@")
            return not at or target.lower() == username
        if entity["type"] == "mention":
            return bool(part[1:].lower() == username)
        if entity["type"] == "text_mention":
            return bool(entity.get("user", {}).get("id") == self.bot.id)
        return False

    # ----------------------------------------------------------------------------- files

    def _file_ids(self, kind: str) -> tuple[str, str]:
        seq = self._next_file_seq
        self._next_file_seq += 1
        prefix = {
            "photo": "AgACAgUAAxkBAAI",
            "video": "BAACAgUAAxkBAAI",
            "document": "BQACAgUAAxkBAAI",
            "animation": "CgACAgUAAxkBAAI",
            "audio": "CQACAgUAAxkBAAI",
            "voice": "AwACAgUAAxkBAAI",
        }.get(kind, "BQACAgUAAxkBAAI")
        return f"{prefix}{seq:010d}SIM", f"AQAD{seq:08d}"

    def new_photo(self, content: bytes | None = None) -> list[JSON]:
        """Register a new photo; returns its ``PhotoSize`` list, smallest first."""
        sizes: list[JSON] = []
        for width, height in PHOTO_SIZES:
            file_id, unique = self._file_ids("photo")
            size = len(content) if content and width == PHOTO_SIZES[-1][0] else width * height // 8
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "file_size": size,
                    "width": width,
                    "height": height,
                }
            )
            self.files[file_id] = StoredFile("photo", file_id, unique, size, content)
        for photo_size in sizes:
            self.files[photo_size["file_id"]].photo_set = sizes
        return copy.deepcopy(sizes)

    def new_file(
        self,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        content: bytes | None = None,
    ) -> JSON:
        """Register a video/document/animation/audio/voice; returns its Bot API object."""
        file_id, unique = self._file_ids(kind)
        size = len(content) if content is not None else 123_456
        obj: JSON = {"file_id": file_id, "file_unique_id": unique, "file_size": size}
        if kind in ("video", "animation"):
            obj.update(width=1280, height=720, duration=12)
        if kind in ("audio", "voice"):
            obj["duration"] = 30
        if file_name and kind != "voice":
            obj["file_name"] = file_name
        obj["mime_type"] = mime_type or _default_mime(kind)
        self.files[file_id] = StoredFile(kind, file_id, unique, size, content, meta=obj)
        return copy.deepcopy(obj)

    def media_from_input(self, kind: str, value: UploadedFile | str) -> JSON | list[JSON]:
        """The Bot API object for a file a bot sends: an upload, a file_id or a URL."""
        if isinstance(value, UploadedFile):
            if kind == "photo":
                return self.new_photo(value.content)
            return self.new_file(
                kind,
                file_name=value.filename,
                mime_type=value.content_type,
                content=value.content,
            )
        if value.startswith(("http://", "https://")):
            if kind == "photo":
                return self.new_photo()
            name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self.new_file(kind, file_name=name)
        stored = self.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if (stored.kind == "photo") != (kind == "photo"):
            raise bad_request("type of file mismatch")
        if stored.photo_set is not None:
            return copy.deepcopy(stored.photo_set)
        return copy.deepcopy(stored.meta)

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (a placeholder when nobody uploaded any)."""
        stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, "Not Found")
        if stored.content is not None:
            return stored.content
        if stored.kind == "photo":
            return PLACEHOLDER_PNG
        return b"\0" * min(stored.size, 1024)


def chat_member_dict(user: JSON, member: Member) -> JSON:
    """A ``ChatMember`` object with every field python-telegram-bot requires."""
    status = member.status
    out: JSON = {"status": status, "user": user}
    if status == "creator":
        out["is_anonymous"] = member.is_anonymous
        if member.custom_title:
            out["custom_title"] = member.custom_title
    elif status == "administrator":
        out.update(_admin_rights())
        out["is_anonymous"] = member.is_anonymous
        if member.custom_title:
            out["custom_title"] = member.custom_title
    elif status == "restricted":
        out.update(_restricted_rights())
    elif status == "kicked":
        out["until_date"] = 0
    return out


def _admin_rights() -> JSON:
    rights = dict.fromkeys(
        (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
            "can_manage_topics",
        ),
        True,
    )
    rights["can_promote_members"] = False
    # Nobody here was promoted by the bot, so the bot may edit no one's rights (nor its own).
    rights["can_be_edited"] = False
    return rights


# ChatPermissions: what members may do. A chat's ``permissions`` (getChat) grants each one; a
# restricted member (ChatMemberRestricted) carries each one too.
CHAT_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)


def chat_permissions(allowed: bool) -> JSON:
    """Every ChatPermissions field set to ``allowed``."""
    return dict.fromkeys(CHAT_PERMISSIONS, allowed)


def _restricted_rights() -> JSON:
    return {**chat_permissions(False), "is_member": True, "until_date": 0}


def _default_mime(kind: str) -> str:
    return {
        "video": "video/mp4",
        "animation": "video/mp4",
        "audio": "audio/mpeg",
        "voice": "audio/ogg",
    }.get(kind, "application/octet-stream")


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def text_body(text: str, entities: list[JSON] | None = None, key: str = "text") -> JSON:
    """``{"text": …, "entities": […]}`` (or caption/caption_entities), entities detected."""
    found = find_entities(text) if entities is None else entities
    body: JSON = {key: text}
    if found:
        body["entities" if key == "text" else "caption_entities"] = found
    return body
