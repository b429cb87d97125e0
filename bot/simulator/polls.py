"""Native polls: ``sendPoll``'s checks, the polls the bot sent, users answering, ``stopPoll``.

As on Telegram (Bot API 10): a poll has 2–12 options of 1–100 characters and a question of
1–300; ``is_anonymous`` defaults to true, ``allows_revoting`` to true for regular polls.  Every
change of a poll the bot sent (a vote, a retraction, ``stopPoll``, an ``open_period`` running out)
queues a ``poll`` update with its new state; a vote in a non-anonymous poll also queues a
``poll_answer`` (``option_ids`` ``[]`` = the vote was retracted).  An anonymous group admin votes as
the chat: ``voter_chat`` is the group and, for backward compatibility, ``user`` is @Channel_Bot.

The question and each option are plain text unless ``question_parse_mode`` / an option's
``text_parse_mode`` says otherwise: then they are parsed as a message's text is (HTML; an
unknown tag or a bare ``<`` or ``&`` is refused) and, as on Telegram, only custom emoji
entities are kept (``question_entities`` / ``text_entities``).

Quizzes are not simulated (``type=quiz`` answers 400), nor are options added after creation.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .entities import EntityParseError, parse_html, strip_text, utf16_len
from .models import CHANNEL_BOT, JSON, bad_request
from .params import Params

logger = logging.getLogger(__name__)

MAX_QUESTION = 300
MAX_OPTION_TEXT = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 12
MIN_OPEN_PERIOD, MAX_OPEN_PERIOD = 5, 2_628_000
ALREADY_CLOSED = "poll has already been closed"
STOP_NOT_FOUND = "message to stop poll not found"

Voter = tuple[str, int]
"""Who voted: ``("user", user_id)`` or ``("chat", chat_id)`` (an anonymous admin)."""


@dataclass
class SimPoll:
    """A poll the bot sent: its live ``Poll`` object (the one inside the message) and votes."""

    poll: JSON
    chat_id: int
    message_id: int
    closes_at: int | None = None  # from open_period / close_date (the simulator's wall clock)
    votes: dict[Voter, list[int]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The poll's id."""
        return str(self.poll["id"])

    @property
    def closed(self) -> bool:
        """Whether the poll is closed."""
        return bool(self.poll["is_closed"])

    def choice_of(self, voter: Voter) -> list[int]:
        """The voter's current options (``[]``: none)."""
        return list(self.votes.get(voter, []))

    def recount(self) -> None:
        """Set ``voter_count`` and ``total_voter_count`` from the votes."""
        counts = [0] * len(self.poll["options"])
        voters = 0
        for options in self.votes.values():
            if options:
                voters += 1
            for index in options:
                counts[index] += 1
        for option, count in zip(self.poll["options"], counts, strict=True):
            option["voter_count"] = count
        self.poll["total_voter_count"] = voters

    def snapshot(self) -> JSON:
        """A copy of the ``Poll`` object as it is now."""
        return copy.deepcopy(self.poll)


def poll_from_params(
    p: Params, poll_id: str, now: int, *, channel: bool
) -> tuple[JSON, int | None]:
    """The ``Poll`` object a ``sendPoll`` call asks for, and when it closes by itself; raises
    Telegram's 400s (texts marked *approximation* are the simulator's wording)."""
    question, question_entities = _parsed(p.str_("question") or "", p.str_("question_parse_mode"))
    if not question:
        raise bad_request("poll question must be non-empty")
    if utf16_len(question) > MAX_QUESTION:
        raise bad_request(f"poll question length must not exceed {MAX_QUESTION}")
    raw = p.obj("options", "options")
    if not isinstance(raw, list):
        raise bad_request("can't parse options JSON object")
    if len(raw) < MIN_OPTIONS:
        raise bad_request("poll must have at least 2 option")
    if len(raw) > MAX_OPTIONS:
        raise bad_request(f"poll can't have more than {MAX_OPTIONS} options")
    parsed = [_option_text(item) for item in raw]
    texts = [text for text, _entities in parsed]
    if len(set(texts)) != len(texts):
        raise bad_request("POLL_OPTION_DUPLICATE")  # approximation (tdlib's error code)
    kind = p.str_("type") or "regular"
    if kind == "quiz":
        raise bad_request("quiz polls are not simulated")  # a deliberate gap
    if kind != "regular":
        raise bad_request("wrong poll type specified")  # approximation
    anonymous = p.bool_("is_anonymous", True)
    if channel and not anonymous:
        raise bad_request("non-anonymous polls can't be sent to channel chats")  # approximation
    poll: JSON = {
        "id": poll_id,
        "question": question,
        "options": [
            {
                "persistent_id": f"{poll_id}-{n}",
                "text": text,
                **({"text_entities": entities} if entities else {}),
                "voter_count": 0,
            }
            for n, (text, entities) in enumerate(parsed)
        ],
        "total_voter_count": 0,
        "is_closed": p.bool_("is_closed"),
        "is_anonymous": anonymous,
        "type": kind,
        "allows_multiple_answers": p.bool_("allows_multiple_answers"),
        "allows_revoting": p.bool_("allows_revoting", True),
        "members_only": False,
    }
    if question_entities:
        poll["question_entities"] = question_entities
    return poll, _closing(p, poll, now)


def _parsed(text: str, mode: str | None) -> tuple[str, list[JSON]]:
    """A poll text after its parse mode (none: plain, as written), stripped; only custom emoji
    entities survive, as on Telegram."""
    entities: list[JSON] = []
    mode = (mode or "").strip()
    if mode.lower() == "html":
        try:
            text, entities = parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None  # approximation
    elif mode.lower() in ("markdown", "markdownv2"):
        raise bad_request(f"can't parse entities: parse_mode {mode} is not simulated, use HTML")
    elif mode:
        raise bad_request("unsupported parse_mode")
    text, entities = strip_text(text, entities)
    return text, [e for e in entities if e.get("type") == "custom_emoji"]


def _option_text(item: Any) -> tuple[str, list[JSON]]:
    text = item.get("text") if isinstance(item, dict) else item
    if not isinstance(text, str):
        raise bad_request("can't parse InputPollOption JSON object")  # approximation
    mode = item.get("text_parse_mode") if isinstance(item, dict) else None
    text, entities = _parsed(text, mode if isinstance(mode, str) else None)
    if not text:
        raise bad_request("poll options must be non-empty")
    if utf16_len(text) > MAX_OPTION_TEXT:
        raise bad_request(f"poll options length must not exceed {MAX_OPTION_TEXT}")
    return text, entities


def _closing(p: Params, poll: JSON, now: int) -> int | None:
    period, date = p.int_("open_period"), p.int_("close_date")
    if period is not None and date is not None:
        raise bad_request("can't use open_period together with close_date")  # approximation
    if period is not None:
        if not MIN_OPEN_PERIOD <= period <= MAX_OPEN_PERIOD:
            raise bad_request("wrong open_period specified")  # approximation
        poll["open_period"] = period
        return now + period
    if date is not None:
        if not MIN_OPEN_PERIOD <= date - now <= MAX_OPEN_PERIOD:
            raise bad_request("wrong close_date specified")  # approximation
        poll["close_date"] = date
        return date
    return None


def checked_choice(record: SimPoll, voter: Voter, option_ids: Sequence[int]) -> list[int]:
    """The options a voter picks, as a Telegram client would allow them (``ValueError`` if not):
    none of a closed poll; one of a single-answer poll; ``[]`` only to retract a vote; a change
    only if the poll allows revoting."""
    if record.closed:
        raise ValueError(f"poll {record.id} is closed")
    chosen = [int(option) for option in option_ids]
    count = len(record.poll["options"])
    if any(not 0 <= option < count for option in chosen):
        raise ValueError(f"poll {record.id} has options 0..{count - 1}, not {chosen}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"an option twice: {chosen}")
    if len(chosen) > 1 and not record.poll["allows_multiple_answers"]:
        raise ValueError(f"poll {record.id} takes one option, not {chosen}")
    previous = record.choice_of(voter)
    if not chosen and not previous:
        raise ValueError("nothing to retract: this voter has not voted")
    if chosen and sorted(chosen) == sorted(previous):
        raise ValueError(f"this voter already chose {previous}")
    if previous and not record.poll.get("allows_revoting", True):
        raise ValueError(f"poll {record.id} does not allow changing a vote")
    return sorted(chosen)


def poll_answer(record: SimPoll, voter_user: JSON | None, voter_chat: JSON | None) -> JSON:
    """The ``poll_answer`` update's object for the voter's current choice."""
    voter: Voter = ("chat", int(voter_chat["id"])) if voter_chat else ("user", _id(voter_user))
    chosen = record.choice_of(voter)
    answer: JSON = {"poll_id": record.id}
    if voter_chat is not None:
        answer["voter_chat"] = copy.deepcopy(voter_chat)
        answer["user"] = copy.deepcopy(CHANNEL_BOT)  # Telegram's backward compatibility
    else:
        answer["user"] = copy.deepcopy(voter_user)
    answer["option_ids"] = chosen
    answer["option_persistent_ids"] = [record.poll["options"][n]["persistent_id"] for n in chosen]
    return answer


def _id(user: JSON | None) -> int:
    if user is None:
        raise ValueError("a voter is a user or a chat")
    return int(user["id"])
