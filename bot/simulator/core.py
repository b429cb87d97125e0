"""``Simulator``: the whole simulated Bot API — world, update queue, methods — without HTTP.

Build a world synchronously, inject what users do, let the bot talk to :meth:`Simulator.call`
(through :class:`bot.simulator.transport.SimulatorRequest` or the HTTP server), then read what
happened.  Use one simulator from one asyncio event loop.

``sim.commands`` keys are ``(scope, language_code)``: ``scope`` is the ``BotCommandScope``
type for the chat-independent scopes (``"default"``, ``"all_private_chats"``,
``"all_group_chats"``, ``"all_chat_administrators"``), ``"chat:<chat_id>"`` /
``"chat_administrators:<chat_id>"`` (the numeric id, even when the bot used ``@username``) and
``"chat_member:<chat_id>:<user_id>"``; ``language_code`` is ``""`` when none was given.

Message dicts handed out (``sent``, ``messages()``, the return values of ``send_text`` …) are the
live, current versions: read them, do not mutate them.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from .api import BotApi
from .entities import find_entities, utf16_len
from .limits import FaultInjector, RateLimiter
from .models import (
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    JSON,
    MEMBER_STATUSES,
    PAID_BROADCAST_STARS,
    PRESENT_STATUSES,
    TELEGRAM_SERVICE,
    ApiCall,
    ApiError,
    FaultPlan,
    RateLimits,
    SimChat,
    SimulatedTimeout,
    SimUser,
    bad_request,
)
from .params import Params
from .polls import SimPoll, Voter, checked_choice, poll_answer
from .state import (
    FORUM_TOPIC_ICON_COLOR,
    ChatState,
    Member,
    World,
    chat_member_dict,
    text_body,
)
from .updates import Notifier, UpdateQueue
from .webhook import WebhookDelivery

logger = logging.getLogger(__name__)

T = TypeVar("T")
ChatRef = SimChat | int
UserRef = SimUser | int
_TOKEN_RE = re.compile(r"(\d+):\S+")
_POLL_FALLBACK = 0.05  # wait_for also re-checks this often, for predicates on outside state


class Simulator:
    """A local Telegram Bot API: state, rules and methods (see the module docstring)."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake token for tests and demos
        bot_username: str = "linlitong_bot",
        bot_name: str = "邻里通",
        can_read_all_group_messages: bool = True,
        clock: Callable[[], float] | None = None,
        *,
        wall_clock: Callable[[], float] | None = None,
        limits: RateLimits | None = None,
        faults: FaultPlan | None = None,
        webhook_retry_delay: float = 1.0,
        webhook_timeout: float = 60.0,
    ) -> None:
        """``webhook_retry_delay``: seconds before an update whose webhook POST got no 2xx is
        POSTed again (tests: 0); ``webhook_timeout``: how long a POST may take."""
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            raise ValueError("a bot token looks like '123456:SECRET'")
        self.token = token
        self.bot = SimUser(int(match.group(1)), bot_name, username=bot_username, is_bot=True)
        self.clock: Callable[[], float] = clock or time.monotonic
        self.world = World(self.bot, can_read_all_group_messages, wall_clock or time.time)
        self.notifier = Notifier()
        self.queue = UpdateQueue(self.notifier)
        self.webhook = WebhookDelivery(
            self.queue,
            self.notifier,
            self.world.now,
            retry_delay=webhook_retry_delay,
            timeout=webhook_timeout,
        )
        self.calls: list[ApiCall] = []
        self.sent: list[JSON] = []
        self.callback_answers: dict[str, JSON] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.open_callback_queries: set[str] = set()
        # Polls the bot sent, by poll id; see bot.simulator.polls.
        self.polls: dict[str, SimPoll] = {}
        self._poll_ids: dict[tuple[int, int], str] = {}
        self._next_poll = 1
        # Reply keyboards, ForceReply and ReplyKeyboardRemove sent with a message, by (chat id,
        # message id): the user's client shows them, but the Message Telegram returns (and
        # sim.sent) carries only inline keyboards.
        self.keyboards: dict[tuple[int, int], JSON] = {}
        self._bot_messages: set[tuple[int, int]] = set()
        self._sent_by_chat: dict[int, list[JSON]] = {}
        self._replies: dict[tuple[int, int], list[JSON]] = {}
        self._file_paths: dict[str, str] = {}
        self._next_callback = 1
        self._next_media_group = 1
        self._limiter: RateLimiter | None = None
        # Messages sent with allow_paid_broadcast, and the bot's Stars (None = never runs out).
        self.paid_messages = 0
        self.star_balance: float | None = None
        self._injector: FaultInjector | None = None
        self.limits = limits
        self.faults = faults or FaultPlan()
        self.api = BotApi(self)

    # =============================================================================== settings

    @property
    def can_read_all_group_messages(self) -> bool:
        """False = privacy mode on (see :meth:`World.bot_receives`)."""
        return self.world.can_read_all_group_messages

    @can_read_all_group_messages.setter
    def can_read_all_group_messages(self, value: bool) -> None:
        self.world.can_read_all_group_messages = value

    @property
    def limits(self) -> RateLimits | None:
        """Flood limits, ``None`` = off.  Assigning resets the counters."""
        return self._limiter.limits if self._limiter else None

    @limits.setter
    def limits(self, value: RateLimits | None) -> None:
        self._limiter = RateLimiter(value, self._now) if value is not None else None

    @property
    def faults(self) -> FaultPlan:
        """Injected failures (see :class:`FaultPlan`).  Assigning reseeds the generator."""
        assert self._injector is not None
        return self._injector.plan

    @faults.setter
    def faults(self, value: FaultPlan) -> None:
        self._injector = FaultInjector(value, self._now)

    def _now(self) -> float:
        return self.clock()  # looked up on every call, so assigning ``sim.clock`` takes effect

    # =============================================================================== the API

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one Bot API method.  Raises :class:`ApiError` as Telegram would answer it, or
        :class:`SimulatedTimeout` when a fault plan makes the call hang."""
        record = ApiCall(method, dict(params or {}), at=self._now())
        self.calls.append(record)
        try:
            result = await self._dispatch(method, record.params)
        except ApiError as exc:
            record.error = exc
            raise
        except SimulatedTimeout:
            record.timed_out = True
            raise
        finally:
            self.notifier.notify()
        record.result = copy.deepcopy(result)
        return result

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        key = method.lower()
        handler = self.api.handlers.get(key)
        if handler is None:
            raise ApiError(404, "Not Found")
        assert self._injector is not None
        must_time_out = self._injector.before(key)
        result = handler(Params(params))
        if inspect.isawaitable(result):
            result = await result
        if must_time_out:
            raise SimulatedTimeout(method, applied=True)
        return copy.deepcopy(result)

    # --- hooks for the method handlers

    def rate_check(self, state: ChatState, count: int = 1, *, paid: bool = False) -> None:
        """Raise 429 if sending ``count`` messages to ``state`` now exceeds the limits; for a
        paid broadcast (``allow_paid_broadcast``) also 400 if the bot's Stars do not cover it."""
        balance = self.star_balance
        if paid and balance is not None and balance < PAID_BROADCAST_STARS * count:
            raise bad_request("BALANCE_TOO_LOW")
        if self._limiter is not None:
            self._limiter.check(state.chat.id, state.is_private, count, paid=paid)

    def rate_record(self, state: ChatState, count: int = 1, *, paid: bool = False) -> None:
        """Count messages that were sent (and charge a paid broadcast)."""
        if paid:
            self.paid_messages += count
            if self.star_balance is not None:
                self.star_balance -= PAID_BROADCAST_STARS * count
        if self._limiter is not None:
            self._limiter.record(state.chat.id, state.is_private, count, paid=paid)

    def record_bot_message(self, state: ChatState, message: JSON, *, paid: bool = False) -> None:
        """Remember a message the bot sent."""
        self.sent.append(message)
        self._bot_messages.add((state.chat.id, message["message_id"]))
        self._sent_by_chat.setdefault(state.chat.id, []).append(message)
        target = message.get("reply_to_message")
        if target is not None:
            key = (state.chat.id, int(target["message_id"]))
            self._replies.setdefault(key, []).append(message)
        self.rate_record(state, paid=paid)

    def new_poll_id(self) -> str:
        """A fresh poll id (a long number as a string, like Telegram's)."""
        poll_id = f"{5_400_000_000_000_000_000 + self._next_poll}"
        self._next_poll += 1
        return poll_id

    def record_poll(self, message: JSON, closes_at: int | None) -> SimPoll:
        """Remember a poll the bot just sent (``message["poll"]`` stays the live object)."""
        chat_id, message_id = int(message["chat"]["id"]), int(message["message_id"])
        record = SimPoll(message["poll"], chat_id, message_id, closes_at)
        self.polls[record.id] = record
        self._poll_ids[(chat_id, message_id)] = record.id
        return record

    def is_bot_message(self, chat_id: int, message_id: int) -> bool:
        """Whether the bot sent that message."""
        return (chat_id, message_id) in self._bot_messages

    def new_media_group_id(self) -> str:
        """A fresh ``media_group_id``."""
        group_id = f"{13_000_000_000_000_000 + self._next_media_group}"
        self._next_media_group += 1
        return group_id

    def file_path(self, file_id: str) -> str:
        """The ``file_path`` ``getFile`` hands out for a file (stable per file)."""
        path = self._file_paths.get(file_id)
        if path is None:
            stored = self.world.files[file_id]
            ext = {"photo": "jpg", "video": "mp4", "voice": "oga", "audio": "mp3"}.get(
                stored.kind, "bin"
            )
            path = f"{stored.kind}s/file_{len(self._file_paths)}.{ext}"
            self._file_paths[file_id] = path
        return path

    def file_bytes(self, file_path: str) -> bytes:
        """The content served at ``/file/bot<token>/<file_path>`` (``ApiError`` 404 if none)."""
        for file_id, path in self._file_paths.items():
            if path == file_path:
                return self.world.file_content(file_id)
        raise ApiError(404, "Not Found")

    # =============================================================================== world

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh",
        is_bot: bool = False,
    ) -> SimUser:
        """A new user (ids count up from 10000001)."""
        return self.world.new_user(
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_bot=is_bot,
        )

    def add_group(
        self,
        title: str,
        supergroup: bool = True,
        forum: bool = False,
        username: str | None = None,
    ) -> SimChat:
        """A new group (supergroup ids look like ``-1001000000001``, basic ``-4000000001``)."""
        if forum and not supergroup:
            raise ValueError("only supergroups can be forums")
        kind = "supergroup" if supergroup else "group"
        return self.world.new_chat(kind, title, username, forum).chat

    def add_channel(self, title: str, username: str | None = None) -> SimChat:
        """A new channel (add the bot as administrator to get its posts)."""
        return self.world.new_chat("channel", title, username).chat

    def private_chat(self, user: UserRef) -> SimChat:
        """The private chat between ``user`` and the bot (its id is the user's id)."""
        return self.world.private_state(self.world.user(user)).chat

    def set_member(
        self,
        chat: ChatRef,
        user: UserRef,
        status: str,
        is_anonymous: bool = False,
        *,
        by: UserRef | None = None,
        custom_title: str | None = None,
        service_message: bool = True,
    ) -> None:
        """Set a user's membership.  On a change: a ``chat_member`` update (queued only while
        the bot is an administrator, as on Telegram) and, for joins and departures, the
        ``new_chat_members``/``left_chat_member`` service message."""
        state = self._group_state(chat)
        member = self.world.user(user)
        if member.id == self.bot.id:
            self.set_bot_status(chat, status, by=by)
            return
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        old = state.members.get(member.id) or Member("left")
        new = Member(status, is_anonymous, custom_title)
        state.members[member.id] = new
        if (old.status, old.is_anonymous, old.custom_title) == (status, is_anonymous, custom_title):
            return
        actor = self.world.user(by) if by is not None else member
        if self.world.bot_is_admin(state):
            self.queue.push("chat_member", self._member_update(state, actor, member, old, new))
        if service_message:
            self._membership_message(state, actor, member, old.status, status)
        self.notifier.notify()

    def add_bot(self, chat: ChatRef, by: UserRef, status: str = "member") -> None:
        """``by`` adds the bot: ``my_chat_member`` update + ``new_chat_members`` message."""
        if status not in PRESENT_STATUSES:
            raise ValueError("add_bot needs a present status: member or administrator")
        self.set_bot_status(chat, status, by=by)

    def set_bot_status(self, chat: ChatRef, status: str, by: UserRef | None = None) -> None:
        """Promote, demote, remove or ban the bot: a ``my_chat_member`` update (and the
        join/leave service message)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        state = self._group_state(chat)
        actor = self.world.user(by) if by is not None else self._default_actor(state)
        self.change_bot_status(state, Member(status), by=actor)

    def change_bot_status(self, state: ChatState, new: Member, by: SimUser) -> None:
        """Apply a new bot membership and emit what Telegram emits."""
        old = state.members.get(self.bot.id) or Member("left")
        state.members[self.bot.id] = new
        if old.status == new.status:
            return
        self.queue.push("my_chat_member", self._member_update(state, by, self.bot, old, new))
        if state.chat.type != "channel":
            self._membership_message(state, by, self.bot, old.status, new.status)
        self.notifier.notify()

    def block_bot(self, user: UserRef, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: ``my_chat_member`` in the private chat."""
        member = self.world.user(user)
        state = self.world.private_state(member)
        if state.blocked == blocked:
            return
        state.blocked = blocked
        old, new = (
            (Member("member"), Member("kicked"))
            if blocked
            else (
                Member("kicked"),
                Member("member"),
            )
        )
        self.queue.push("my_chat_member", self._member_update(state, member, self.bot, old, new))
        self.notifier.notify()

    def migrate_to_supergroup(self, chat: ChatRef, by: UserRef | None = None) -> SimChat:
        """Upgrade a basic group; returns the new supergroup (members and bot carried over)."""
        old = self._group_state(chat)
        if old.chat.type != "group":
            raise ValueError("only a basic group can be migrated")
        new = self.world.new_chat("supergroup", old.chat.title or "", None)
        new.members = copy.deepcopy(old.members)
        actor = self.world.user(by).to_dict() if by is not None else self._actor_dict(old)
        self._deliver(
            old, self.world.build_message(old, {"migrate_to_chat_id": new.chat.id}, sender=actor)
        )
        old.migrated_to = new.chat.id
        self._deliver(
            new,
            self.world.build_message(
                new,
                {"migrate_from_chat_id": old.chat.id},
                sender=copy.deepcopy(GROUP_ANONYMOUS_BOT),
                sender_chat=new.chat.to_dict(),
            ),
        )
        return new.chat

    def create_topic(
        self,
        chat: ChatRef,
        name: str,
        by: UserRef | None = None,
        icon_color: int = FORUM_TOPIC_ICON_COLOR,
    ) -> int:
        """Open a forum topic; returns its ``message_thread_id``."""
        state = self._group_state(chat)
        if not state.chat.is_forum:
            raise ValueError("topics need a forum supergroup (add_group(..., forum=True))")
        actor = self.world.user(by).to_dict() if by is not None else self._actor_dict(state)
        body = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
        message = self.world.build_message(state, body, sender=actor)
        thread_id = int(message["message_id"])
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        state.topics[thread_id] = name
        self._deliver(state, message)
        return thread_id

    # =============================================================================== injecting

    def send_text(
        self,
        chat: ChatRef,
        user: UserRef | None,
        text: str,
        reply_to: int | JSON | None = None,
        thread_id: int | None = None,
        sender_chat: SimChat | None = None,
        is_automatic_forward: bool = False,
        forward_origin: JSON | None = None,
        *,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """A user writes ``text`` (entities computed as Telegram does, unless given).

        ``reply_to`` is a message id (or message dict) of the same chat; ``thread_id`` a forum
        topic.  ``sender_chat=<the group>`` posts as an anonymous admin (so does a user whose
        membership ``is_anonymous``); ``sender_chat=<a channel>`` posts as that channel, and with
        ``is_automatic_forward=True`` as the channel's automatic forward into its discussion
        group.  A user who is not a member of the group joins it silently first (a banned one
        raises ``ValueError``).  The update is queued only if the bot would receive it (privacy
        mode, membership); the message is in the chat's history either way.
        """
        if not text.strip():
            raise ValueError("Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ValueError("Bad Request: message is too long")
        state = self._live_state(chat)
        body = text_body(text, entities)
        return self._post(
            state,
            body,
            user,
            reply_to,
            thread_id,
            sender_chat,
            is_automatic_forward,
            forward_origin,
        )

    def send_media(
        self,
        chat: ChatRef,
        user: UserRef | None,
        kind: str = "photo",
        caption: str | None = None,
        media_group_id: str | None = None,
        reply_to: int | JSON | None = None,
        thread_id: int | None = None,
        *,
        file_name: str | None = None,
        content: bytes | None = None,
        sender_chat: SimChat | None = None,
    ) -> JSON:
        """A user sends a photo/video/document (``caption_entities`` computed)."""
        state = self._live_state(chat)
        body: JSON = {}
        if media_group_id is not None:
            body["media_group_id"] = media_group_id
        body.update(self._media_body(kind, file_name, content))
        if caption:
            if utf16_len(caption) > 1024:
                raise ValueError("Bad Request: message caption is too long")
            body.update(text_body(caption, key="caption"))
        return self._post(state, body, user, reply_to, thread_id, sender_chat, False, None)

    def send_album(
        self,
        chat: ChatRef,
        user: UserRef | None,
        count: int = 3,
        caption: str | None = "…",
        caption_index: int = 0,
        kind: str = "photo",
        *,
        reply_to: int | JSON | None = None,
        thread_id: int | None = None,
    ) -> list[JSON]:
        """An album: ``count`` messages sharing a ``media_group_id``, the caption on one."""
        if not 2 <= count <= 10:
            raise ValueError("an album has 2 to 10 items")
        group_id = self.new_media_group_id()
        return [
            self.send_media(
                chat,
                user,
                kind,
                caption=caption if index == caption_index else None,
                media_group_id=group_id,
                reply_to=reply_to,
                thread_id=thread_id,
            )
            for index in range(count)
        ]

    def edit_text(self, chat: ChatRef, message_id: int, new_text: str) -> JSON:
        """A user edits their message (text or caption): an ``edited_message`` update."""
        state = self.world.state(chat)
        message = state.messages.get(message_id)
        if message is None:
            raise ValueError("Bad Request: message to edit not found")
        if self.is_bot_message(state.chat.id, message_id):
            raise ValueError("that is the bot's message; the bot edits it through the API")
        key = "text" if "text" in message else "caption"
        entities_key = "entities" if key == "text" else "caption_entities"
        message[key] = new_text
        found = find_entities(new_text)
        if found:
            message[entities_key] = found
        else:
            message.pop(entities_key, None)
        message["edit_date"] = self.world.now()
        if self.world.bot_receives(state, message):
            kind = "edited_channel_post" if state.chat.type == "channel" else "edited_message"
            self.queue.push(kind, message)
        self.notifier.notify()
        return message

    def press_button(self, chat: ChatRef, message_id: int, user: UserRef, data: str) -> str:
        """A user presses an inline button of a bot message; returns the callback query id."""
        state = self.world.state(chat)
        presser = self.world.user(user)
        message = state.messages.get(message_id)
        if message is None or not self.is_bot_message(state.chat.id, message_id):
            raise ValueError(f"Bad Request: no bot message {message_id} in chat {state.chat.id}")
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if not any(button.get("callback_data") == data for row in rows for button in row):
            raise ValueError(f"Bad Request: message {message_id} has no button with data {data!r}")
        query_id = str(4_000_000_000_000_000_000 + self._next_callback)
        self._next_callback += 1
        query = {
            "id": query_id,
            "from": presser.to_dict(),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(state.chat.id) * 7919 % 10**18),
            "data": data,
        }
        self.open_callback_queries.add(query_id)
        self.queue.push("callback_query", query)
        return query_id

    def answer_poll(
        self,
        chat: ChatRef,
        poll: int | str | JSON,
        user: UserRef,
        option_ids: Sequence[int],
    ) -> JSON:
        """A user taps options of a poll the bot sent; returns the poll's new state.

        ``poll`` is the poll message's id (int), the poll's id (str) or the message dict.
        ``option_ids`` ``[]`` retracts her vote; a new list changes it.  Refused with
        ``ValueError`` as a Telegram client would not let her: the poll is closed, several
        options of a single-answer poll, retracting without a vote, the same options again,
        a change where the poll does not allow revoting.  Queues a ``poll`` update (new
        counts) and, for a non-anonymous poll, a ``poll_answer``.  A member who is an anonymous
        admin votes as the chat (``voter_chat``); a non-member of a group joins it silently
        (as in :meth:`send_text`); a banned one raises ``ValueError``.
        """
        self.close_due_polls()
        state = self._live_state(chat)
        record = self.poll_record(state.chat.id, poll)
        voter_user, voter_chat = self._voter(state, user)
        voter: Voter = ("chat", state.chat.id) if voter_chat else ("user", self.world.user(user).id)
        chosen = checked_choice(record, voter, option_ids)
        if chosen:
            record.votes[voter] = chosen
        else:
            record.votes.pop(voter, None)
        record.recount()
        if not record.poll["is_anonymous"]:
            self.queue.push("poll_answer", poll_answer(record, voter_user, voter_chat))
        self.queue.push("poll", record.poll)
        self.notifier.notify()
        return record.snapshot()

    def stop_poll(self, record: SimPoll) -> JSON:
        """Close a poll (``stopPoll``, or its ``open_period`` ran out): a ``poll`` update."""
        record.poll["is_closed"] = True
        record.closes_at = None
        self.queue.push("poll", record.poll)
        self.notifier.notify()
        return record.snapshot()

    def close_due_polls(self) -> int:
        """Close the polls whose ``open_period``/``close_date`` has passed by the simulator's
        wall clock (checked on every poll answer, ``stopPoll`` and ``getUpdates``)."""
        now = self.world.now()
        due = [
            r
            for r in self.polls.values()
            if r.closes_at is not None and r.closes_at <= now and not r.closed
        ]
        for record in due:
            self.stop_poll(record)
        return len(due)

    def redeliver(self, update_id: int) -> None:
        """Queue an identical copy of an earlier update; it is handed out on the next
        ``getUpdates`` whatever its offset (as after a bot crash before confirming)."""
        self.queue.redeliver(update_id)

    def inject_update(self, update: JSON) -> int:
        """Queue a raw update as given (``update_id`` assigned if missing)."""
        return self.queue.push_raw(update)

    def update(self, update_id: int) -> JSON:
        """A copy of an update as it was queued (what getUpdates or a webhook hands out)."""
        return copy.deepcopy(self.queue.history[update_id])

    async def close(self) -> None:
        """Stop webhook deliveries and close their HTTP client (the webhook stays set)."""
        await self.webhook.close()

    # =============================================================================== reading

    def messages(self, chat_id: ChatRef) -> list[JSON]:
        """A chat's history in order (users' and the bot's; deleted ones left out)."""
        return list(self.world.state(chat_id).messages.values())

    def bot_messages(self, chat_id: ChatRef | None = None) -> list[JSON]:
        """Messages the bot sent and nobody deleted, optionally in one chat."""
        if chat_id is None:
            candidates = self.sent
        else:
            candidates = self._sent_by_chat.get(self.world.state(chat_id).chat.id, [])
        return [m for m in candidates if (m["chat"]["id"], m["message_id"]) not in self.deleted]

    def replies_to(self, chat_id: ChatRef, message_id: int) -> list[JSON]:
        """Bot messages whose ``reply_to_message`` is that message."""
        chat = self.world.state(chat_id).chat.id
        return [
            m
            for m in self._replies.get((chat, message_id), [])
            if (chat, m["message_id"]) not in self.deleted
        ]

    def poll_messages(self, chat_id: ChatRef) -> list[JSON]:
        """The bot's poll messages in a chat, oldest first (deleted ones left out); each
        ``["poll"]`` is the poll's current state."""
        return [m for m in self.bot_messages(chat_id) if "poll" in m]

    def poll_record(self, chat_id: ChatRef, poll: int | str | JSON) -> SimPoll:
        """A poll the bot sent into that chat, by message id (int), poll id (str) or message
        dict; ``ValueError`` if there is none (or its message was deleted)."""
        state = self.world.state(chat_id)
        if isinstance(poll, dict):
            poll = int(poll["message_id"])
        if isinstance(poll, str):
            record = self.polls.get(poll)
            if record is None or record.chat_id != state.chat.id:
                raise ValueError(f"no poll {poll!r} in chat {state.chat.id}")
        else:
            poll_id = self._poll_ids.get((state.chat.id, int(poll)))
            if poll_id is None:
                raise ValueError(f"message {poll} of chat {state.chat.id} is not a bot's poll")
            record = self.polls[poll_id]
        if record.message_id not in state.messages:
            raise ValueError(f"the poll's message {record.message_id} was deleted")
        return record

    def reply_markup_of(self, chat_id: ChatRef, message_id: int) -> JSON | None:
        """What the user's client shows with a bot message: its inline keyboard, or the reply
        keyboard / ``force_reply`` / ``remove_keyboard`` markup it was sent with."""
        state = self.world.state(chat_id)
        message = state.messages.get(message_id)
        if message is not None and "reply_markup" in message:
            return copy.deepcopy(message["reply_markup"])  # type: ignore[no-any-return]
        markup = self.keyboards.get((state.chat.id, message_id))
        return copy.deepcopy(markup) if markup is not None else None

    def pending_updates(self) -> int:
        """Updates queued for the bot and not yet confirmed."""
        return self.queue.count()

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one method (any case)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for a condition, not one await
    ) -> T:
        """Wait until ``predicate()`` returns something truthy, and return it.

        Re-evaluated after every API call and state change (and every 50 ms, for predicates on
        state outside the simulator).  Raises ``TimeoutError`` describing the last calls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return cast(T, value)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._describe_wait(predicate, timeout))
            await self.notifier.wait(min(remaining, _POLL_FALLBACK))

    def interrupt_polls(self) -> None:
        """Make waiting ``getUpdates`` calls return ``[]`` now (used when a server stops)."""
        self.queue.interrupt()

    # =============================================================================== internals

    def _describe_wait(self, predicate: Callable[[], object], timeout: float) -> str:
        name = getattr(predicate, "__qualname__", repr(predicate))
        recent = [
            f"{c.method}" + (f" -> {c.error.error_code} {c.error.description}" if c.error else "")
            for c in self.calls[-8:]
            if c.method.lower() != "getupdates"
        ]
        polls = sum(1 for c in self.calls if c.method.lower() == "getupdates")
        hook = self.webhook.info()
        posts = f", webhook {hook['url']}: {len(self.webhook.posts)} POSTs" if hook["url"] else ""
        if "last_error_message" in hook:
            posts += f" (last error: {hook['last_error_message']})"
        return (
            f"wait_for({name}) still false after {timeout}s; bot sent {len(self.sent)} "
            f"messages, {self.pending_updates()} updates pending, {polls} getUpdates calls"
            f"{posts}; last calls: {recent or 'none'}"
        )

    def _group_state(self, chat: ChatRef) -> ChatState:
        state = self._live_state(chat)
        if state.is_private:
            raise ValueError("this needs a group, supergroup or channel")
        return state

    def _live_state(self, chat: ChatRef) -> ChatState:
        state = self.world.state(chat)
        if state.migrated_to is not None:
            raise ValueError(
                f"chat {state.chat.id} was upgraded to supergroup {state.migrated_to}; use that"
            )
        return state

    def _default_actor(self, state: ChatState) -> SimUser:
        for user_id, member in state.members.items():
            if member.status == "creator" and user_id != self.bot.id:
                return self.world.users[user_id]
        for user_id, member in state.members.items():
            if member.status == "administrator" and user_id != self.bot.id:
                return self.world.users[user_id]
        raise ValueError("say who does it: by=<user> (the chat has no creator or admin)")

    def _actor_dict(self, state: ChatState) -> JSON:
        try:
            return self._default_actor(state).to_dict()
        except ValueError:
            return copy.deepcopy(GROUP_ANONYMOUS_BOT)

    def _member_update(
        self, state: ChatState, actor: SimUser, subject: SimUser, old: Member, new: Member
    ) -> JSON:
        return {
            "chat": state.chat.to_dict(),
            "from": actor.to_dict(),
            "date": self.world.now(),
            "old_chat_member": chat_member_dict(subject.to_dict(), old),
            "new_chat_member": chat_member_dict(subject.to_dict(), new),
        }

    def _membership_message(
        self, state: ChatState, actor: SimUser, subject: SimUser, old: str, new: str
    ) -> None:
        joined = old not in PRESENT_STATUSES and new in PRESENT_STATUSES
        left = old in PRESENT_STATUSES and new not in PRESENT_STATUSES
        if joined:
            body: JSON = {"new_chat_members": [subject.to_dict()]}
        elif left:
            body = {"left_chat_member": subject.to_dict()}
        else:
            return
        self._deliver(state, self.world.build_message(state, body, sender=actor.to_dict()))

    def _media_body(self, kind: str, file_name: str | None, content: bytes | None) -> JSON:
        if kind == "photo":
            return {"photo": self.world.new_photo(content)}
        if kind not in ("video", "document", "animation", "audio", "voice"):
            raise ValueError(f"unknown media kind {kind!r}")
        default_name = {"video": "video.mp4", "document": "document.pdf"}.get(kind)
        mime = "application/pdf" if kind == "document" and not file_name else None
        return {
            kind: self.world.new_file(
                kind, file_name=file_name or default_name, mime_type=mime, content=content
            )
        }

    def _senders(
        self,
        state: ChatState,
        user: UserRef | None,
        sender_chat: SimChat | None,
        is_automatic_forward: bool,
    ) -> tuple[JSON | None, JSON | None]:
        """``from`` and ``sender_chat`` of a message a user (or chat) injects."""
        if state.chat.type == "channel":
            return None, state.chat.to_dict()
        if sender_chat is not None:
            if sender_chat.id == state.chat.id:
                return self.world.anonymous_sender(state)
            service = TELEGRAM_SERVICE if is_automatic_forward else CHANNEL_BOT
            return copy.deepcopy(service), sender_chat.to_dict()
        if user is None:
            raise ValueError("who sends it? give a user or a sender_chat")
        member = self.world.user(user)
        if state.is_private:
            if member.id != state.chat.id:
                raise ValueError(f"user {member.id} is not in private chat {state.chat.id}")
            return member.to_dict(), None
        record = state.members.get(member.id)
        if record is not None and record.status == "kicked":
            raise ValueError(f"user {member.id} is banned from chat {state.chat.id}")
        if record is None or record.status == "left":
            state.members[member.id] = Member("member")  # joined silently, for convenience
        elif record.is_anonymous and record.status in ("creator", "administrator"):
            return self.world.anonymous_sender(state)
        return member.to_dict(), None

    def _voter(self, state: ChatState, user: UserRef) -> tuple[JSON | None, JSON | None]:
        """``user`` and ``voter_chat`` of a poll answer by ``user`` in ``state``."""
        sender, sender_chat = self._senders(state, user, None, False)
        if sender_chat is not None:
            return None, sender_chat
        return sender, None

    def _post(
        self,
        state: ChatState,
        body: JSON,
        user: UserRef | None,
        reply_to: int | JSON | None,
        thread_id: int | None,
        sender_chat: SimChat | None,
        is_automatic_forward: bool,
        forward_origin: JSON | None,
    ) -> JSON:
        sender, sender_chat_dict = self._senders(state, user, sender_chat, is_automatic_forward)
        target = self._reply_target(state, reply_to)
        try:
            thread = self.world.resolve_thread(state, thread_id, target)
        except ApiError as exc:
            raise ValueError(exc.description) from None
        if is_automatic_forward:
            body["is_automatic_forward"] = True
            if forward_origin is None and sender_chat is not None:
                forward_origin = {
                    "type": "channel",
                    "chat": sender_chat.to_dict(),
                    "message_id": 1,
                    "date": self.world.now(),
                }
        if forward_origin is not None:
            body["forward_origin"] = copy.deepcopy(forward_origin)
        message = self.world.build_message(
            state,
            body,
            sender=sender,
            sender_chat=sender_chat_dict,
            thread_id=thread,
            reply_target=target,
        )
        self._deliver(state, message)
        return message

    def _reply_target(self, state: ChatState, reply_to: int | JSON | None) -> JSON | None:
        if reply_to is None:
            return None
        message_id = int(reply_to["message_id"]) if isinstance(reply_to, dict) else reply_to
        target = state.messages.get(message_id)
        if target is None:
            raise ValueError(f"Bad Request: message to be replied not found ({message_id})")
        return target

    def _deliver(self, state: ChatState, message: JSON) -> None:
        """Queue the update for a new message if the bot gets to see it."""
        if state.is_private and message.get("from", {}).get("id") == state.chat.id:
            state.started = True
        if self.world.bot_receives(state, message):
            kind = "channel_post" if state.chat.type == "channel" else "message"
            self.queue.push(kind, message)
        self.notifier.notify()


__all__ = ["Simulator"]
