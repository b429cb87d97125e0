"""Every button's callback data: one typed press per kind, one encoder, one parser (pure).

Version 1, ``|``-separated, at most 64 bytes (Telegram's limit; ``encode`` refuses more):

    v1|tk|take|12        接单 on the receipt of ticket 12
    v1|tk|done|12        办结
    v1|tk|merge|12|7     合并: ticket 12 is a duplicate of ticket 7
    v1|ls|open|2         /list paging: scope (open, overdue, mine, all, c.<category key>), page
    v1|fb|12|s           回访 rating of ticket 12: s 满意, b 基本满意, u 不满意
    v1|of|5|0            登记提示 (offer) 5: register the message as a ticket of its first
                         likely category (0, 1 or 2: the offer row keeps the categories)
    v1|cr|visit|7        关爱走访: record a visit to person 7 (the button on a reminder); the
                         forms' steps: cr|grid|<grid id>, cr|tier|<n>, cr|visitor|<n>,
                         cr|way|<n>, cr|outcome|<n>, cr|field|<n> (/care edit: which field),
                         cr|skip|0, cr|cancel|0 (private chats only)
    v1|an|12             💬 on the receipt of ticket 12: ready answers, in the presser's private
                         chat; there: an|pick|12|5 (template 5's preview), an|write|12|done
                         (an action with no template: write the words), an|send|12|5 and
                         an|edit|12|5 on a preview (发送 / 改一改; 0: no template), an|back|12

``parse`` accepts only what ``encode`` produces (it re-encodes and compares, so ``012`` or a
full-width digit is not a number here). Anything else is ``Invalid``, or ``Outdated`` when it
is a button of another release:

* Unversioned data of the release before this one — ``tk:take:12``, ``tk:merge:12:7``,
  ``ls:open:2`` — and any other version (``v2|…``, e.g. after a rollback) parse to
  ``Outdated``: answered with a polite pop-up, never acted upon. Officers have /take, /done,
  /dup and /list for the same things, and a receipt shows new buttons at its next update.
* The old 回访 data ``fb:12:s`` is the one exception: it still parses to ``RatingPress``.
  Questions already on residents' screens, and 回访 rows queued before the upgrade (their
  keyboard is stored in the outbox payload), carry it, and a resident has no other way to rate.
  It carries the same facts as ``v1|fb|12|s`` and passes the same check (only the reporter, on
  that ticket's 回访 question). Drop ``_LEGACY_RATING`` once FOLLOWUP_CLOSE has passed since the
  upgrade.

Who may press what is decided elsewhere, once (``handlers.common.authorize_press``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

VERSION = "v1"
MAX_BYTES = 64  # Telegram's limit for callback_data
MAX_ID = 10**12 - 1  # ticket ids: at most 12 digits
MAX_PAGE = 9999
MAX_OFFER_CHOICES = 3  # an offer shows at most three likely categories
SEP = "|"

TicketAction = Literal["take", "done", "merge"]
Rating = Literal["s", "b", "u"]  # 满意, 基本满意, 不满意
LIST_SCOPES = ("open", "overdue", "mine", "all")

_ACTIONS: tuple[str, ...] = get_args(TicketAction)
_RATINGS: tuple[str, ...] = get_args(Rating)
_NUMBER = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)
_CHOICE = re.compile(r"[0-9]", re.ASCII)
_COUNT = re.compile(r"0|[1-9][0-9]{0,11}", re.ASCII)
_CATEGORY_SCOPE = re.compile(r"c\.[A-Za-z0-9_-]{1,40}", re.ASCII)
_OTHER_VERSION = re.compile(r"v[0-9]{1,3}\|", re.ASCII)
_OLD_TICKET = re.compile(r"tk:(?:take|done|merge):\d{1,12}(?::\d{1,12})?", re.ASCII)
_OLD_PAGE = re.compile(r"ls:[^:]{1,40}:-?\d{1,9}", re.ASCII)
_LEGACY_RATING = re.compile(r"fb:([1-9][0-9]{0,11}):([sbu])", re.ASCII)


def _check_id(value: int, what: str) -> None:
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"{what} out of range: {value}")


@dataclass(frozen=True)
class TicketPress:
    """接单 / 办结 / 合并 on a ticket's receipt; ``other_id`` is the merge target."""

    action: TicketAction
    ticket_id: int
    other_id: int | None = None

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"unknown ticket action {self.action!r}")
        _check_id(self.ticket_id, "ticket id")
        if (self.action == "merge") != (self.other_id is not None):
            raise ValueError("merge, and only merge, names another ticket")
        if self.other_id is not None:
            _check_id(self.other_id, "other ticket id")
            if self.other_id == self.ticket_id:
                raise ValueError("a ticket cannot be merged into itself")


@dataclass(frozen=True)
class PagePress:
    """A page of a /list message."""

    scope: str
    page: int

    def __post_init__(self) -> None:
        if self.scope not in LIST_SCOPES and not _CATEGORY_SCOPE.fullmatch(self.scope):
            raise ValueError(f"unknown list scope {self.scope!r}")
        if not 1 <= self.page <= MAX_PAGE:
            raise ValueError(f"page out of range: {self.page}")


@dataclass(frozen=True)
class RatingPress:
    """A 回访 answer: ``s`` 满意, ``b`` 基本满意, ``u`` 不满意."""

    ticket_id: int
    rating: Rating

    def __post_init__(self) -> None:
        _check_id(self.ticket_id, "ticket id")
        if self.rating not in _RATINGS:
            raise ValueError(f"unknown rating {self.rating!r}")


@dataclass(frozen=True)
class OfferPress:
    """A 登记提示 button: register offer ``offer_id``'s message in its ``choice``-th category
    (the offer stores its one to three likely categories, best first)."""

    offer_id: int
    choice: int

    def __post_init__(self) -> None:
        _check_id(self.offer_id, "offer id")
        if not 0 <= self.choice < MAX_OFFER_CHOICES:
            raise ValueError(f"offer choice out of range: {self.choice}")


CareStep = Literal["visit", "grid", "tier", "visitor", "way", "outcome", "field", "skip", "cancel"]
_CARE_STEPS: tuple[str, ...] = get_args(CareStep)


@dataclass(frozen=True)
class CarePress:
    """关爱走访, in a private chat: ``visit`` a person (a reminder's button), or one step of a
    form (``/care add``, ``/care edit``, ``/visit``): the grid, the n-th tier / visitor / way /
    outcome / field (to edit) offered, skip a question, cancel the form."""

    step: CareStep
    value: int = 0

    def __post_init__(self) -> None:
        if self.step not in _CARE_STEPS:
            raise ValueError(f"unknown care step {self.step!r}")
        if self.step in ("visit", "grid"):
            _check_id(self.value, "care id")
        elif not 0 <= self.value <= MAX_PAGE:
            raise ValueError(f"care choice out of range: {self.value}")


AnswerStep = Literal["ask", "pick", "write", "send", "edit", "back"]
AnswerAction = Literal["open", "progress", "done", "reject"]  # bot.answers.ACTIONS
_ANSWER_STEPS: tuple[str, ...] = get_args(AnswerStep)
_ANSWER_ACTIONS: tuple[str, ...] = get_args(AnswerAction)
_TEMPLATE_STEPS = ("pick", "send", "edit")


@dataclass(frozen=True)
class AnswerPress:
    """💬 ready answers for ticket ``ticket_id``: ``ask`` on its receipt (the choice goes to
    the presser's private chat); there ``pick`` template ``template_id`` (its preview),
    ``write`` the words of ``action`` (no template for it), ``send`` / ``edit`` the preview
    (``template_id`` 0: words of one's own), ``back`` to the choice."""

    step: AnswerStep
    ticket_id: int
    template_id: int = 0
    action: AnswerAction | None = None

    def __post_init__(self) -> None:
        if self.step not in _ANSWER_STEPS:
            raise ValueError(f"unknown answer step {self.step!r}")
        _check_id(self.ticket_id, "ticket id")
        if (self.step == "write") != (self.action is not None):
            raise ValueError("write, and only write, names an action")
        if self.action is not None and self.action not in _ANSWER_ACTIONS:
            raise ValueError(f"unknown answer action {self.action!r}")
        if self.step == "pick":
            _check_id(self.template_id, "template id")
        elif self.step in ("send", "edit"):
            if not 0 <= self.template_id <= MAX_ID:
                raise ValueError(f"template id out of range: {self.template_id}")
        elif self.template_id != 0:
            raise ValueError(f"{self.step} names no template")


Press = TicketPress | PagePress | RatingPress | OfferPress | CarePress | AnswerPress
PRESSES = (TicketPress, PagePress, RatingPress, OfferPress, CarePress, AnswerPress)
PressKind = (
    type[TicketPress]
    | type[PagePress]
    | type[RatingPress]
    | type[OfferPress]
    | type[CarePress]
    | type[AnswerPress]
)


@dataclass(frozen=True)
class Outdated:
    """A button of another release: answered politely, never acted upon."""

    data: str


@dataclass(frozen=True)
class Invalid:
    """Data we never send (forged, garbled, too long)."""

    data: str


Parsed = (
    TicketPress
    | PagePress
    | RatingPress
    | OfferPress
    | CarePress
    | AnswerPress
    | Outdated
    | Invalid
)


def encode(press: Press) -> str:
    """The callback data of a press; ValueError if it would exceed Telegram's 64 bytes."""
    if isinstance(press, TicketPress):
        parts = ["tk", press.action, str(press.ticket_id)]
        if press.other_id is not None:
            parts.append(str(press.other_id))
    elif isinstance(press, PagePress):
        parts = ["ls", press.scope, str(press.page)]
    elif isinstance(press, OfferPress):
        parts = ["of", str(press.offer_id), str(press.choice)]
    elif isinstance(press, CarePress):
        parts = ["cr", press.step, str(press.value)]
    elif isinstance(press, AnswerPress):
        parts = _answer_parts(press)
    else:
        parts = ["fb", str(press.ticket_id), press.rating]
    data = SEP.join([VERSION, *parts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def parse(data: object) -> Parsed:
    """What a callback's data means; never raises."""
    if not isinstance(data, str) or not data or len(data.encode()) > MAX_BYTES:
        return Invalid(str(data)[:MAX_BYTES] if data is not None else "")
    if data.startswith(VERSION + SEP):
        press = _parse_v1(data.split(SEP)[1:])
        # only the one spelling encode() produces: no leading zeros, no other digits
        return press if press is not None and encode(press) == data else Invalid(data)
    if _OTHER_VERSION.match(data) or _OLD_TICKET.fullmatch(data) or _OLD_PAGE.fullmatch(data):
        return Outdated(data)
    legacy = _LEGACY_RATING.fullmatch(data)
    if legacy is not None:
        return RatingPress(int(legacy.group(1)), _rating(legacy.group(2)))
    return Invalid(data)


def _answer_parts(press: AnswerPress) -> list[str]:
    ticket = str(press.ticket_id)
    if press.step == "ask":
        return ["an", ticket]
    if press.step == "back":
        return ["an", "back", ticket]
    if press.step == "write":
        return ["an", "write", ticket, str(press.action)]
    return ["an", press.step, ticket, str(press.template_id)]


def _parse_v1(parts: list[str]) -> Press | None:
    try:
        match parts:
            case ["tk", action, ticket] if action in ("take", "done"):
                return TicketPress(_action(action), _id(ticket))
            case ["tk", "merge", ticket, other]:
                return TicketPress("merge", _id(ticket), _id(other))
            case ["ls", scope, page]:
                return PagePress(scope, _id(page))
            case ["fb", ticket, rating]:
                return RatingPress(_id(ticket), _rating(rating))
            case ["of", offer, choice] if _CHOICE.fullmatch(choice):
                return OfferPress(_id(offer), int(choice))
            case ["cr", step, value] if step in _CARE_STEPS and _COUNT.fullmatch(value):
                return CarePress(_care_step(step), int(value))
            case ["an", ticket]:
                return AnswerPress("ask", _id(ticket))
            case ["an", "back", ticket]:
                return AnswerPress("back", _id(ticket))
            case ["an", "write", ticket, action]:
                return AnswerPress("write", _id(ticket), action=_answer_action(action))
            case ["an", step, ticket, template] if step in _TEMPLATE_STEPS and _COUNT.fullmatch(
                template
            ):
                return AnswerPress(_answer_step(step), _id(ticket), int(template))
    except ValueError:
        return None
    return None


def _id(text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    return int(text)


def _action(text: str) -> TicketAction:
    if text == "take":
        return "take"
    if text == "done":
        return "done"
    if text == "merge":
        return "merge"
    raise ValueError(f"unknown ticket action {text!r}")


def _care_step(text: str) -> CareStep:
    for step in get_args(CareStep):
        if step == text:
            return step  # type: ignore[no-any-return]
    raise ValueError(f"unknown care step {text!r}")


def _answer_step(text: str) -> AnswerStep:
    for step in get_args(AnswerStep):
        if step == text:
            return step  # type: ignore[no-any-return]
    raise ValueError(f"unknown answer step {text!r}")


def _answer_action(text: str) -> AnswerAction:
    for action in get_args(AnswerAction):
        if action == text:
            return action  # type: ignore[no-any-return]
    raise ValueError(f"unknown answer action {text!r}")


def _rating(text: str) -> Rating:
    if text == "s":
        return "s"
    if text == "b":
        return "b"
    if text == "u":
        return "u"
    raise ValueError(f"unknown rating {text!r}")


def is_press(kind: PressKind) -> _KindFilter:
    """A CallbackQueryHandler pattern: the data parses to a press of this kind."""
    return _KindFilter(kind)


@dataclass(frozen=True)
class _KindFilter:
    kind: PressKind

    def __call__(self, data: object) -> bool:
        return isinstance(parse(data), self.kind)


def is_not_a_press(data: object) -> bool:
    """A CallbackQueryHandler pattern: outdated, forged or garbled data (answered politely)."""
    return not isinstance(parse(data), PRESSES)
