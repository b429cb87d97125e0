"""The Bot API methods the simulator implements, with Telegram's validation and error texts.

Each ``_api_<lowercase method name>`` handler takes the call's :class:`Params`; method names
are case-insensitive, as on Telegram's servers.  Error descriptions are Telegram's where known
(see the tests); a few rarely seen ones are close approximations and say so in a comment.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .entities import (
    EntityParseError,
    merge_entities,
    parse_html,
    strip_text,
    utf16_len,
)
from .models import (
    JSON,
    PRESENT_STATUSES,
    ApiError,
    UploadedFile,
    bad_request,
    forbidden,
)
from .params import Params
from .polls import ALREADY_CLOSED, STOP_NOT_FOUND, poll_from_params
from .state import ChatState, Member, chat_permissions, is_service_message

if TYPE_CHECKING:
    from .core import Simulator

logger = logging.getLogger(__name__)

Handler = Callable[[Params], Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_ANSWER_TEXT = 200
MAX_COPY_TEXT = 256
MAX_PLACEHOLDER = 64
# answerCallbackQuery's url: a t.me link that starts this bot with a parameter (games aside)
START_LINK = re.compile(
    r"(?:https?://)?(?:t|telegram)\.me/(?P<bot>[A-Za-z0-9_]{5,32})\?start=[A-Za-z0-9_-]{1,64}"
)
MEDIA_KINDS = ("photo", "video", "document", "animation", "audio", "voice")
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class _Target:
    """Where a bot message goes: chat, reply target and thread."""

    state: ChatState
    reply: JSON | None
    thread_id: int | None
    paid: bool = False  # sent with allow_paid_broadcast


class BotApi:
    """The method handlers; state lives in the :class:`Simulator` they belong to."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.world = sim.world
        self.handlers: dict[str, Handler] = {
            name.removeprefix("_api_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_api_")
        }
        self.profile: dict[tuple[str, str], str] = {}
        self.menu_buttons: dict[int, JSON] = {}

    # =============================================================================== helpers

    def formatted(
        self,
        p: Params,
        key: str,
        entities_key: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None,
    ) -> tuple[str, list[JSON]]:
        """Text (or caption) after ``parse_mode``/entities, stripping and length checks."""
        text = p.str_(key) or ""
        mode = (p.str_("parse_mode") or "").strip()
        explicit = p.obj(entities_key, "entities")
        if mode:
            text, entities = _parse_mode(text, mode)
        elif explicit:
            entities = _checked_entities(explicit, text)
        else:
            entities = []
        entities = self._known_mentions(entities)
        text, entities = strip_text(text, entities)
        if not text and empty is not None:
            raise bad_request(empty)
        if utf16_len(text) > limit:
            raise bad_request(too_long)
        return text, merge_entities(text, entities) if text else []

    def _known_mentions(self, entities: list[JSON]) -> list[JSON]:
        """``tg://user?id=`` links carry the whole User, as Telegram sends them; a user the
        server does not know keeps its text without the mention."""
        out = []
        for entity in entities:
            if entity["type"] == "text_mention":
                try:
                    user = self.sim.world.user(int(entity["user"]["id"]))
                except (ValueError, KeyError):
                    continue
                entity = {**entity, "user": user.to_dict()}
            out.append(entity)
        return out

    def reply_markup(self, p: Params) -> JSON | None:
        """The inline keyboard to show on the message (other keyboards are not echoed)."""
        raw = p.obj("reply_markup", "reply keyboard markup")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            return {"inline_keyboard": _checked_keyboard(raw["inline_keyboard"])}
        _checked_client_markup(raw)
        return None

    def client_markup(self, p: Params) -> JSON | None:
        """A reply keyboard, ``force_reply`` or ``remove_keyboard`` markup given with a send
        (checked by :meth:`reply_markup`); the client shows it, the Message does not carry it."""
        raw = p.obj("reply_markup", "reply keyboard markup")
        if not isinstance(raw, dict) or "inline_keyboard" in raw:
            return None
        return dict(raw)

    def reply_target(self, p: Params, state: ChatState) -> JSON | None:
        """The message to reply to (``reply_parameters`` or legacy ``reply_to_message_id``)."""
        params = p.obj("reply_parameters", "reply parameters")
        if params is not None and not isinstance(params, dict):
            raise bad_request("can't parse reply parameters JSON object")
        if params:
            reply = Params(params)
            message_id = reply.int_("message_id")
            allow = reply.bool_("allow_sending_without_reply")
            if reply.has("chat_id") and self.world.resolve(reply.chat_id()) is not state:
                # Replies to other chats (external_reply) are not simulated.
                if allow:
                    return None
                raise bad_request("message to be replied not found")
        else:
            message_id = p.int_("reply_to_message_id")
            allow = p.bool_("allow_sending_without_reply")
        if message_id is None:
            return None
        target = state.messages.get(message_id)
        if target is None and not allow:
            raise bad_request("message to be replied not found")
        return target

    def target(self, p: Params) -> _Target:
        """Resolve and check the chat, the reply target and the thread of a send."""
        state = self.world.resolve(p.chat_id())
        self.world.check_can_write(state)
        reply = self.reply_target(p, state)
        thread_id = self.world.resolve_thread(state, p.int_("message_thread_id"), reply)
        return _Target(state, reply, thread_id, bool(p.bool_("allow_paid_broadcast")))

    def post(self, target: _Target, body: JSON, p: Params) -> JSON:
        """Store a bot message, count it against the limits, record it in ``sim.sent``."""
        state = target.state
        if p.bool_("protect_content"):
            body["has_protected_content"] = True
        sender = None if state.chat.type == "channel" else self.sim.bot.to_dict()
        sender_chat = state.chat.to_dict() if state.chat.type == "channel" else None
        message = self.world.build_message(
            state,
            body,
            sender=sender,
            sender_chat=sender_chat,
            thread_id=target.thread_id,
            reply_target=target.reply,
        )
        self.sim.record_bot_message(state, message, paid=target.paid)
        markup = self.client_markup(p)
        if markup is not None:
            self.sim.keyboards[(state.chat.id, message["message_id"])] = markup
        return message

    def editable(self, p: Params) -> tuple[ChatState, JSON]:
        """The bot message an ``editMessage*`` call names, with Telegram's errors."""
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        state = self.world.resolve(p.chat_id())
        self.world.check_can_write(state)
        message_id = p.int_("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = state.messages.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not self.sim.is_bot_message(state.chat.id, message_id):
            raise bad_request("message can't be edited")
        return state, message

    def finish_edit(self, state: ChatState, message: JSON, changes: JSON) -> JSON:
        """Apply an edit in place (``None`` values remove keys) and return the message."""
        self.sim.rate_check(state)
        for key, value in changes.items():
            if value is None or value == []:
                message.pop(key, None)
            else:
                message[key] = value
        message["edit_date"] = self.world.now()
        self.sim.rate_record(state)
        return message

    def member_access(self, p: Params) -> ChatState:
        """A chat the bot may look into (member lists, chat info)."""
        state = self.world.resolve(p.chat_id())
        if state.is_private:
            return state
        status = self.world.bot_status(state)
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {state.chat.type} chat")
        if status not in PRESENT_STATUSES:
            raise forbidden(f"bot is not a member of the {state.chat.type} chat")
        return state

    def scope_key(self, p: Params) -> tuple[str, str]:
        """``sim.commands`` key: ``(scope, language_code)``; see :class:`Simulator`."""
        scope = p.obj("scope", "BotCommandScope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        language = p.str_("language_code") or ""
        if language and not (len(language) == 2 and language.isalpha()):
            raise bad_request("invalid language code specified")
        if kind in ("chat", "chat_administrators", "chat_member"):
            state = self.world.resolve(Params(scope).chat_id())
            kind = f"{kind}:{state.chat.id}"
            if scope["type"] == "chat_member":
                user_id = Params(scope).int_("user_id")
                if user_id is None or user_id not in self.world.users:
                    raise bad_request("user not found")
                kind = f"{kind}:{user_id}"
        return kind, language

    # =============================================================================== bot

    def _api_getme(self, p: Params) -> JSON:
        me = self.sim.bot.to_dict()
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=self.world.can_read_all_group_messages,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me

    def _api_logout(self, p: Params) -> bool:
        return True

    def _api_close(self, p: Params) -> bool:
        return True

    async def _api_getupdates(self, p: Params) -> list[JSON]:
        allowed = p.obj("allowed_updates", "allowed updates")
        if allowed is not None and not isinstance(allowed, list):
            raise bad_request("can't parse allowed updates JSON object")
        self.sim.close_due_polls()
        limit = min(100, max(1, p.int_("limit", 100) or 100))
        timeout = max(0.0, p.float_("timeout", 0.0) or 0.0)
        return await self.sim.queue.get_updates(p.int_("offset"), limit, timeout, allowed)

    def _api_setwebhook(self, p: Params) -> bool:
        return self.sim.webhook.set(p)

    def _api_deletewebhook(self, p: Params) -> bool:
        return self.sim.webhook.delete(drop_pending=p.bool_("drop_pending_updates"))

    def _api_getwebhookinfo(self, p: Params) -> JSON:
        return self.sim.webhook.info()

    # =============================================================================== sending

    def _api_sendmessage(self, p: Params) -> JSON:
        text, entities = self.formatted(
            p,
            "text",
            "entities",
            limit=MAX_TEXT,
            too_long="message is too long",
            empty="message text is empty",
        )
        markup = self.reply_markup(p)
        target = self.target(p)
        self.sim.rate_check(target.state, paid=target.paid)
        body: JSON = {"text": text}
        if entities:
            body["entities"] = entities
        preview = p.obj("link_preview_options", "link preview options")
        if isinstance(preview, dict) and preview:
            body["link_preview_options"] = preview
        elif p.bool_("disable_web_page_preview"):
            body["link_preview_options"] = {"is_disabled": True}
        if markup:
            body["reply_markup"] = markup
        return self.post(target, body, p)

    def send_media(self, p: Params, kind: str) -> JSON:
        """``sendPhoto``/``sendVideo``/``sendDocument``/… share this."""
        value = p.file(kind)
        if value is None or value == "":
            raise bad_request(f"there is no {kind} in the request")
        caption, entities = self.formatted(
            p,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
            empty=None,
        )
        markup = self.reply_markup(p)
        target = self.target(p)
        self.sim.rate_check(target.state, paid=target.paid)
        body: JSON = {kind: self.world.media_from_input(kind, value)}
        body.update(_caption_body(caption, entities))
        if p.bool_("has_spoiler"):
            body["has_media_spoiler"] = True
        if p.bool_("show_caption_above_media"):
            body["show_caption_above_media"] = True
        if markup:
            body["reply_markup"] = markup
        return self.post(target, body, p)

    def _api_sendphoto(self, p: Params) -> JSON:
        return self.send_media(p, "photo")

    def _api_sendvideo(self, p: Params) -> JSON:
        return self.send_media(p, "video")

    def _api_senddocument(self, p: Params) -> JSON:
        return self.send_media(p, "document")

    def _api_sendanimation(self, p: Params) -> JSON:
        return self.send_media(p, "animation")

    def _api_sendaudio(self, p: Params) -> JSON:
        return self.send_media(p, "audio")

    def _api_sendvoice(self, p: Params) -> JSON:
        return self.send_media(p, "voice")

    def _api_sendmediagroup(self, p: Params) -> list[JSON]:
        items = p.obj("media", "media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            # Approximation of Telegram's wording.
            raise bad_request("wrong number of messages in the media group: must be 2-10")
        target = self.target(p)
        prepared = [self._album_item(p, item) for item in items]
        self.sim.rate_check(target.state, len(prepared), paid=target.paid)
        group_id = self.sim.new_media_group_id()
        messages = []
        for kind, value, caption, entities in prepared:
            body: JSON = {
                "media_group_id": group_id,
                kind: self.world.media_from_input(kind, value),
            }
            body.update(_caption_body(caption, entities))
            messages.append(self.post(target, body, p))
        return messages

    def _album_item(self, p: Params, item: Any) -> tuple[str, UploadedFile | str, str, list[JSON]]:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "video", "document"):
            raise bad_request("can't parse InputMedia JSON object")
        media = item.get("media")
        if not isinstance(media, str) or not media:
            raise bad_request("there is no media in the request")
        value = p.attachment(media)
        caption, entities = self.formatted(
            Params(item),
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
            empty=None,
        )
        return str(item["type"]), value, caption, entities

    def _api_copymessage(self, p: Params) -> JSON:
        source = self._source_message(p, "message to copy not found")
        if is_service_message(source):
            raise bad_request("message can't be copied")
        body = _content_of(source)
        if p.has("caption") and any(k in source for k in MEDIA_KINDS):
            caption, entities = self.formatted(
                p,
                "caption",
                "caption_entities",
                limit=MAX_CAPTION,
                too_long="message caption is too long",
                empty=None,
            )
            body.pop("caption", None)
            body.pop("caption_entities", None)
            body.update(_caption_body(caption, entities))
        markup = self.reply_markup(p)
        if markup:
            body["reply_markup"] = markup
        target = self.target(p)
        self.sim.rate_check(target.state, paid=target.paid)
        return {"message_id": self.post(target, body, p)["message_id"]}

    def _api_forwardmessage(self, p: Params) -> JSON:
        source = self._source_message(p, "message to forward not found")
        if is_service_message(source):
            raise bad_request("message can't be forwarded")
        body = _content_of(source)
        body["forward_origin"] = _origin_of(source)
        target = self.target(p)
        self.sim.rate_check(target.state, paid=target.paid)
        return self.post(target, body, p)

    def _source_message(self, p: Params, missing: str) -> JSON:
        state = self.world.resolve(p.chat_id("from_chat_id"))
        message_id = p.int_("message_id")
        source = state.messages.get(message_id) if message_id is not None else None
        if source is None:
            raise bad_request(missing)
        return source

    def _api_sendpoll(self, p: Params) -> JSON:
        state = self.world.resolve(p.chat_id())
        poll, closes_at = poll_from_params(
            p, self.sim.new_poll_id(), self.world.now(), channel=state.chat.type == "channel"
        )
        markup = self.reply_markup(p)
        target = self.target(p)
        self.sim.rate_check(target.state, paid=target.paid)
        body: JSON = {"poll": poll}
        if markup:
            body["reply_markup"] = markup
        message = self.post(target, body, p)
        self.sim.record_poll(message, closes_at)
        return message

    def _api_stoppoll(self, p: Params) -> JSON:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        self.sim.close_due_polls()
        state = self.world.resolve(p.chat_id())
        self.world.check_can_write(state)
        message_id = p.int_("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = state.messages.get(message_id)
        if message is None:
            raise bad_request(STOP_NOT_FOUND)
        if "poll" not in message:
            raise bad_request("message is not a poll")
        if not self.sim.is_bot_message(state.chat.id, message_id):
            raise bad_request("poll can't be stopped")  # approximation
        record = self.sim.poll_record(state.chat.id, message_id)
        if record.closed:
            raise bad_request(ALREADY_CLOSED)
        markup = self.reply_markup(p)
        self.sim.rate_check(state)
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        self.sim.rate_record(state)
        return self.sim.stop_poll(record)

    def _api_sendchataction(self, p: Params) -> bool:
        state = self.world.resolve(p.chat_id())
        self.world.check_can_write(state)
        if p.str_("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    # =============================================================================== editing

    def _api_editmessagetext(self, p: Params) -> JSON:
        state, message = self.editable(p)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self.formatted(
            p,
            "text",
            "entities",
            limit=MAX_TEXT,
            too_long="message is too long",
            empty="message text is empty",
        )
        markup = self.reply_markup(p)
        unchanged = (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise bad_request(NOT_MODIFIED)
        preview = p.obj("link_preview_options", "link preview options")
        changes: JSON = {"text": text, "entities": entities, "reply_markup": markup}
        if isinstance(preview, dict):
            changes["link_preview_options"] = preview or None
        return self.finish_edit(state, message, changes)

    def _api_editmessagecaption(self, p: Params) -> JSON:
        state, message = self.editable(p)
        if not any(kind in message for kind in MEDIA_KINDS):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self.formatted(
            p,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
            empty=None,
        )
        markup = self.reply_markup(p)
        unchanged = (
            caption == message.get("caption", "")
            and entities == message.get("caption_entities", [])
            and markup == message.get("reply_markup")
        )
        if unchanged:
            raise bad_request(NOT_MODIFIED)
        changes: JSON = {
            "caption": caption or None,
            "caption_entities": entities,
            "reply_markup": markup,
        }
        return self.finish_edit(state, message, changes)

    def _api_editmessagereplymarkup(self, p: Params) -> JSON:
        state, message = self.editable(p)
        markup = self.reply_markup(p)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        return self.finish_edit(state, message, {"reply_markup": markup})

    def _api_deletemessage(self, p: Params) -> bool:
        state = self.world.resolve(p.chat_id())
        message_id = p.int_("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        self._delete(state, message_id)
        return True

    def _api_deletemessages(self, p: Params) -> bool:
        state = self.world.resolve(p.chat_id())
        ids = p.obj("message_ids", "message identifiers")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            try:
                self._delete(state, int(message_id))
            except ApiError:
                continue
        return True

    def _delete(self, state: ChatState, message_id: int) -> None:
        message = state.messages.get(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        own = self.sim.is_bot_message(state.chat.id, message_id)
        if not (state.is_private or own or self.world.bot_is_admin(state)):
            raise bad_request("message can't be deleted")
        if not state.is_private and self.world.bot_status(state) not in PRESENT_STATUSES:
            raise bad_request("message can't be deleted")
        del state.messages[message_id]
        self.sim.deleted.add((state.chat.id, message_id))

    def _api_pinchatmessage(self, p: Params) -> bool:
        state = self.member_access(p)
        message_id = p.int_("message_id")
        message = state.messages.get(message_id) if message_id is not None else None
        if not state.is_private and not self.world.bot_is_admin(state):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        if message is None or message_id is None:
            raise bad_request("message to pin not found")
        state.pinned.append(message_id)
        self.world.build_message(
            state, {"pinned_message": copy.deepcopy(message)}, sender=self.sim.bot.to_dict()
        )
        return True

    def _api_unpinchatmessage(self, p: Params) -> bool:
        state = self.member_access(p)
        if not state.is_private and not self.world.bot_is_admin(state):
            raise bad_request("not enough rights to manage pinned messages in the chat")
        message_id = p.int_("message_id")
        if message_id is None:
            state.pinned = state.pinned[:-1]
        else:
            state.pinned = [m for m in state.pinned if m != message_id]
        return True

    # =============================================================================== callbacks

    def _api_answercallbackquery(self, p: Params) -> bool:
        query_id = p.str_("callback_query_id") or ""
        if query_id not in self.sim.open_callback_queries:
            raise bad_request(QUERY_TOO_OLD)
        text = p.str_("text")
        if text is not None and utf16_len(text) > MAX_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        url = p.str_("url")
        if url:
            match = START_LINK.fullmatch(url.strip())
            if match is None or match["bot"].lower() != (self.sim.bot.username or "").lower():
                # Telegram opens only this bot's t.me/<bot>?start=… links (and games).
                raise bad_request("URL_INVALID")
        self.sim.open_callback_queries.discard(query_id)
        answer: JSON = {"callback_query_id": query_id, "show_alert": p.bool_("show_alert")}
        if text is not None:
            answer["text"] = text
        for key in ("url", "cache_time"):
            if p.has(key):
                answer[key] = p.raw[key]
        self.sim.callback_answers[query_id] = answer
        return True

    # =============================================================================== commands

    def _api_setmycommands(self, p: Params) -> bool:
        commands = p.obj("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        checked = [_checked_command(c) for c in commands]
        key = self.scope_key(p)
        if checked:
            self.sim.commands[key] = checked
        else:
            self.sim.commands.pop(key, None)
        return True

    def _api_getmycommands(self, p: Params) -> list[JSON]:
        return copy.deepcopy(self.sim.commands.get(self.scope_key(p), []))

    def _api_deletemycommands(self, p: Params) -> bool:
        self.sim.commands.pop(self.scope_key(p), None)
        return True

    def _profile_set(self, p: Params, field: str, limit: int) -> bool:
        value = p.str_(field) or ""
        if utf16_len(value) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        self.profile[(field, p.str_("language_code") or "")] = value
        return True

    def _profile_get(self, p: Params, field: str, default: str = "") -> JSON:
        value = self.profile.get((field, p.str_("language_code") or ""), default)
        return {field: value}

    def _api_setmydescription(self, p: Params) -> bool:
        return self._profile_set(p, "description", 512)

    def _api_getmydescription(self, p: Params) -> JSON:
        return self._profile_get(p, "description")

    def _api_setmyshortdescription(self, p: Params) -> bool:
        return self._profile_set(p, "short_description", 120)

    def _api_getmyshortdescription(self, p: Params) -> JSON:
        return self._profile_get(p, "short_description")

    def _api_setmyname(self, p: Params) -> bool:
        return self._profile_set(p, "name", 64)

    def _api_getmyname(self, p: Params) -> JSON:
        return self._profile_get(p, "name", self.sim.bot.first_name)

    def _api_setchatmenubutton(self, p: Params) -> bool:
        button = p.obj("menu_button", "menu button") or {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise bad_request("can't parse menu button JSON object")
        chat_id = p.int_("chat_id", 0) or 0
        self.menu_buttons[chat_id] = button
        return True

    def _api_getchatmenubutton(self, p: Params) -> JSON:
        chat_id = p.int_("chat_id", 0) or 0
        return copy.deepcopy(self.menu_buttons.get(chat_id, {"type": "commands"}))

    # =============================================================================== chats

    def _api_getchat(self, p: Params) -> JSON:
        state = self.member_access(p)
        info = state.chat.to_dict()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types=dict.fromkeys(
                (
                    "unlimited_gifts",
                    "limited_gifts",
                    "unique_gifts",
                    "premium_subscription",
                    "gifts_from_channels",
                ),
                state.is_private,
            ),
        )
        if state.is_group:
            info["permissions"] = chat_permissions(True)
        return info

    def _api_getchatmember(self, p: Params) -> JSON:
        state = self.member_access(p)
        user_id = p.int_("user_id")
        if user_id is None or user_id not in self.world.users:
            raise bad_request("user not found")
        if state.is_private:
            status = "member" if user_id in (state.chat.id, self.sim.bot.id) else "left"
            user = self.world.users[user_id].to_dict()
            return {"status": status, "user": user}
        return self.world.member_dict(state, user_id)

    def _api_getchatadministrators(self, p: Params) -> list[JSON]:
        state = self.member_access(p)
        if state.is_private:
            raise bad_request("there are no administrators in the private chat")
        return [
            self.world.member_dict(state, user_id)
            for user_id, member in state.members.items()
            if member.status in ("creator", "administrator")
        ]

    def _api_getchatmembercount(self, p: Params) -> int:
        state = self.member_access(p)
        if state.is_private:
            return 2
        return sum(1 for m in state.members.values() if m.status in PRESENT_STATUSES)

    def _api_getchatmemberscount(self, p: Params) -> int:
        return self._api_getchatmembercount(p)

    def _api_leavechat(self, p: Params) -> bool:
        state = self.member_access(p)
        if state.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        self.sim.change_bot_status(state, Member("left"), by=self.sim.bot)
        return True

    def _api_getfile(self, p: Params) -> JSON:
        file_id = p.str_("file_id") or ""
        stored = self.world.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": self.sim.file_path(stored.file_id),
        }


# =================================================================================== pure helpers


def _parse_mode(text: str, mode: str) -> tuple[str, list[JSON]]:
    if mode.lower() == "html":
        try:
            return parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    if mode.lower() in ("markdown", "markdownv2"):
        raise bad_request(f"can't parse entities: parse_mode {mode} is not simulated, use HTML")
    raise bad_request("unsupported parse_mode")


def _checked_entities(raw: Any, text: str) -> list[JSON]:
    if not isinstance(raw, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    out: list[JSON] = []
    for entity in raw:
        if not isinstance(entity, dict) or not {"type", "offset", "length"} <= entity.keys():
            raise bad_request("can't parse MessageEntity JSON object")
        offset, length = int(entity["offset"]), int(entity["length"])
        if offset < 0 or length <= 0 or offset >= total:
            continue
        out.append({**entity, "offset": offset, "length": min(length, total - offset)})
    return out


def _checked_keyboard(rows: Any) -> list[list[JSON]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardMarkup must be an Array"
        )
    return [[_checked_button(button) for button in row] for row in rows]


def _checked_button(button: Any) -> JSON:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    actions = BUTTON_ACTIONS & button.keys()
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not str(button["url"]).strip():
        raise bad_request("BUTTON_URL_INVALID")
    if "copy_text" in button:
        copy_text = button["copy_text"]
        text = copy_text.get("text") if isinstance(copy_text, dict) else None
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_COPY_TEXT:
            raise bad_request("BUTTON_COPY_TEXT_INVALID")  # approximation
    return dict(button)


def _checked_client_markup(raw: JSON) -> None:
    """Check a ReplyKeyboardMarkup, ReplyKeyboardRemove or ForceReply."""
    if "force_reply" in raw:
        if raw["force_reply"] is not True:
            raise bad_request("can't parse reply keyboard markup JSON object")  # approximation
    elif "remove_keyboard" in raw:
        if raw["remove_keyboard"] is not True:
            raise bad_request("can't parse reply keyboard markup JSON object")  # approximation
    elif "keyboard" in raw:
        if not isinstance(raw["keyboard"], list):
            raise bad_request("can't parse reply keyboard markup JSON object")
    else:
        raise bad_request("can't parse reply keyboard markup JSON object")
    placeholder = raw.get("input_field_placeholder")
    if placeholder is not None and (
        not isinstance(placeholder, str) or not 1 <= len(placeholder) <= MAX_PLACEHOLDER
    ):
        # approximation: Telegram documents 1-64 characters; the simulator refuses others so
        # that a test notices
        raise bad_request("input field placeholder must be 1-64 characters")


def _checked_command(command: Any) -> JSON:
    if not isinstance(command, dict):
        raise bad_request("can't parse BotCommand JSON object")
    name = str(command.get("command", "")).removeprefix("/")
    description = str(command.get("description", ""))
    valid_name = 1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_" for c in name)
    if not valid_name or not name.isascii():
        raise bad_request("BOT_COMMAND_INVALID")
    if not 1 <= len(description.strip()) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")  # approximation
    return {"command": name, "description": description}


def _caption_body(caption: str, entities: list[JSON]) -> JSON:
    body: JSON = {}
    if caption:
        body["caption"] = caption
        if entities:
            body["caption_entities"] = entities
    return body


_CONTENT_KEYS = ("text", "entities", "caption", "caption_entities", "media_group_id", *MEDIA_KINDS)


def _content_of(message: JSON) -> JSON:
    return {k: copy.deepcopy(message[k]) for k in _CONTENT_KEYS if k in message}


def _origin_of(message: JSON) -> JSON:
    date = message["date"]
    sender_chat = message.get("sender_chat")
    if sender_chat and sender_chat.get("type") == "channel":
        return {
            "type": "channel",
            "date": date,
            "chat": sender_chat,
            "message_id": message["message_id"],
        }
    if sender_chat:
        return {"type": "chat", "date": date, "sender_chat": sender_chat}
    return {"type": "user", "date": date, "sender_user": message.get("from", {})}
