"""议事's one-line forms (pure): ``/vote 凉房改造 同意|不同意|弃权 --where 3号楼2单元 --until
12月10日 --pass 2/3 --quorum 1/2``, the room labels of ``/room 3-2-501``, and the words of the
subcommands and of a proxy's choice.

* **Flags** start with ``--``, or what phones make of it: ``—`` (iOS), ``–``, ``——``, ``－－``;
  a value follows after a space or ``=``. Chinese names too: ``--范围 --截止 --通过 --法定``.
* **Options**: the one word holding ``|`` or ``｜`` (spaces around them allowed: ``同意 |
  不同意``; default 同意|不同意|弃权); 2–10 options, each 1–100 characters, no two alike. The
  first option is the one the rule counts (同意).
* **Question**: every other word, as written (≤ 300 characters, not empty). Lengths are
  Telegram's: UTF-16 code units (an emoji is two).
* **--where**: a building and maybe a unit (``3号楼2单元``, ``3栋``, ``3-2``, ``三号楼``) → the
  label prefix ``3-2`` / ``3``; none: every registered household of the grid.
* **--until**: ``12月10日`` / ``12-10`` / ``2026-12-10`` (the end of that local day; a month-day
  before today means next year's), with a time ``12月10日18:00`` / ``12月10日 18:00`` /
  ``12-10 18:00`` (after a bare number the time needs its space: ``3-1 18:00`` is March 1st),
  a time alone ``18:00`` (today), a length ``3d`` ``48h`` ``30m`` ``3天`` ``48小时``
  ``30分钟`` ``2周``, or a weekday ``周五`` / ``星期五`` (the coming one, today included;
  ``周五18:00``); default 7 days;
  at least 10 minutes and at most 90 days away. A time of today already gone, or a month-day
  gone by whose next year's is too far, is "already past".
* **--pass**: ``2/3`` ``三分之二`` ``67%`` ``2/3以上`` (at least that share of the eligible
  households voting the first option), ``过半`` ``半数以上`` ``超过1/2`` ``>1/2`` (more than);
  default 过半. **--quorum**: a share (at least) of the eligible households that answered.
* **Labels**: ``3-2-501``, ``3号楼2单元501``, ``3栋2单元501室``, ``3幢2单元501``, ``3-501``,
  ``三号楼二单元五零一``, full-width digits → Label("3", "2", "501"), written ``3-2-501``
  (``3-501`` without a unit); leading zeros dropped (``03-2-0501`` is ``3-2-501``).

Errors are :class:`VoteLineError` carrying the catalogue key that says what is wrong (the
handler answers with it and an example).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.categories import CategoryCatalog
from bot.fit import utf16_len
from bot.parsing.location import chinese_numeral_to_int, parse_location

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_OPTIONS",
    "MAJORITY",
    "MAX_DEADLINE",
    "MAX_OPTION",
    "MAX_OPTIONS",
    "MAX_QUESTION",
    "MIN_DEADLINE",
    "WITHDRAW",
    "Deadline",
    "Label",
    "Rule",
    "VoteLine",
    "VoteLineError",
    "choice_of",
    "parse_deadline",
    "parse_label",
    "parse_labels",
    "parse_rule",
    "parse_scope",
    "parse_share",
    "parse_vote_line",
    "read_deadline",
    "read_vote_command",
    "room_subcommand",
    "vote_number",
    "vote_subcommand",
]

DEFAULT_OPTIONS: tuple[str, ...] = ("同意", "不同意", "弃权")
DEFAULT_DEADLINE = timedelta(days=7)
MAX_DEADLINE = timedelta(days=90)
MIN_MINUTES = 10
MIN_DEADLINE = timedelta(minutes=MIN_MINUTES)  # a vote shorter than this is a mistake
MAX_QUESTION = 300  # Telegram's poll question
MAX_OPTION = 100  # Telegram's poll option
MAX_OPTIONS = 10
MIN_OPTIONS = 2


# -- errors ---------------------------------------------------------------------------------


class VoteLineError(ValueError):
    """What is wrong with a /vote or /room line: ``key`` names the catalogue text that says
    so (every key a ``vote.error_*``), ``values`` fill its placeholders."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values: dict[str, object] = values


# -- labels ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Label:
    """One household's door: building, unit (None: a building without units), room."""

    building: str
    unit: str | None
    room: str

    @property
    def text(self) -> str:
        """The canonical form stored in ``households.label``: ``3-2-501``, ``3-501``."""
        if self.unit is None:
            return f"{self.building}-{self.room}"
        return f"{self.building}-{self.unit}-{self.room}"

    def __str__(self) -> str:
        return self.text

    def within(self, scope: str) -> bool:
        """Whether this household is inside a ``--where`` prefix (``''``: every household)."""
        return not scope or self.text == scope or self.text.startswith(scope + "-")


def _fold(text: str) -> str:
    """Full-width to ASCII, dashes of every kind to ``-``, spaces trimmed."""
    folded = unicodedata.normalize("NFKC", text).strip()
    return re.sub(r"[‐‑‒–—―−﹘﹣]", "-", folded)


def _part(raw: str) -> str:
    """A number without leading zeros (``05`` -> ``5``), Chinese numerals read, letters upper."""
    raw = raw.strip().upper()
    if raw.isdigit():
        return str(int(raw))
    value = chinese_numeral_to_int(raw)
    if value is not None:
        return str(value)
    return raw


_PART = r"(?:[0-9]{1,5}|[A-Za-z][0-9]{0,3}|[0-9]{1,4}[A-Za-z])"  # 3 · 501 · A · B2 · 12A
_DASHED_LABEL = re.compile(rf"({_PART})\s*-\s*({_PART})(?:\s*-\s*({_PART}))?\s*(?:室|房|号|號|户)?")
_LABEL_CATALOG = CategoryCatalog.default()


def parse_label(text: str, catalog: CategoryCatalog | None = None) -> Label | None:
    """A household's door from what people write (see the module's list); None when it names
    no building and room."""
    folded = _fold(text)
    if not folded or len(folded) > 40:
        return None
    match = _DASHED_LABEL.fullmatch(folded)
    if match is not None:
        first, second, third = match.groups()
        if third is None:
            return Label(_part(first), None, _part(second))
        return Label(_part(first), _part(second), _part(third))
    found = parse_location(folded, catalog or _LABEL_CATALOG)
    if found.building is None or found.room is None:
        return None
    return Label(
        _part(found.building), _part(found.unit) if found.unit else None, _part(found.room)
    )


def parse_labels(words: Sequence[str], catalog: CategoryCatalog | None = None) -> list[Label]:
    """``/room add 3-2-502 3-2-503``: each word a label (raises on the first that is none)."""
    labels: list[Label] = []
    for word in words:
        label = parse_label(word, catalog)
        if label is None:
            raise VoteLineError("vote.error_label", word=word)
        if label not in labels:
            labels.append(label)
    return labels


_DASHED_SCOPE = re.compile(rf"({_PART})(?:\s*-\s*({_PART}))?")


def parse_scope(text: str, catalog: CategoryCatalog | None = None) -> str | None:
    """``--where``: ``3号楼2单元`` / ``3-2`` -> ``3-2``; ``3号楼`` / ``3栋`` / ``3`` -> ``3``;
    a whole label narrows to that household. None: no building in it."""
    folded = _fold(text)
    if not folded:
        return None
    match = _DASHED_SCOPE.fullmatch(folded)
    if match is not None:
        first, second = match.groups()
        return _part(first) if second is None else f"{_part(first)}-{_part(second)}"
    label = parse_label(folded, catalog)
    if label is not None:
        return label.text
    found = parse_location(folded, catalog or _LABEL_CATALOG)
    if found.building is None:
        return None
    if found.unit is None:
        return _part(found.building)
    return f"{_part(found.building)}-{_part(found.unit)}"


# -- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Passed when the households voting the first option are more than (``strict``) or at
    least ``num``/``den`` of the eligible households."""

    num: int = 1
    den: int = 2
    strict: bool = True


MAJORITY = Rule(1, 2, True)

_MORE_THAN_HALF = frozenset({"过半", "过半数", "半数以上", "超过半数", "多数", "majority", ">1/2"})
_CN_FRACTION = re.compile(r"(.{1,3})分之(.{1,3})")
_FRACTION = re.compile(r"(\d{1,3})/(\d{1,3})")
_PERCENT = re.compile(r"(\d{1,3})%")


def parse_share(word: str) -> tuple[int, int] | None:
    """``2/3``, ``三分之二``, ``67%`` -> (num, den), 0 < num/den ≤ 1; None otherwise."""
    folded = _fold(word)
    found: tuple[int, int] | None = None
    if (m := _FRACTION.fullmatch(folded)) is not None:
        found = int(m.group(1)), int(m.group(2))
    elif (m := _PERCENT.fullmatch(folded)) is not None:
        found = int(m.group(1)), 100
    elif (m := _CN_FRACTION.fullmatch(folded)) is not None:
        den, num = chinese_numeral_to_int(m.group(1)), chinese_numeral_to_int(m.group(2))
        if den is not None and num is not None:
            found = num, den
    if found is None or found[1] <= 0 or not 0 < found[0] <= found[1]:
        return None
    return found


def parse_rule(word: str) -> Rule | None:
    """``--pass``: ``过半`` / ``半数以上`` / ``>1/2`` / ``超过2/3`` (more than), ``2/3`` /
    ``2/3以上`` / ``三分之二`` / ``67%`` (at least)."""
    folded = _fold(word).casefold()
    if folded in _MORE_THAN_HALF:
        return MAJORITY
    strict = False
    for head in (">", "超过", "多于", "大于"):
        if folded.startswith(head):
            folded, strict = folded[len(head) :], True
            break
    for tail in ("以上", "及以上", "或以上"):
        if folded.endswith(tail) and not strict:
            folded = folded[: -len(tail)]
            break
    share = parse_share(folded)
    if share is None:
        return None
    return Rule(share[0], share[1], strict)


# -- deadlines ------------------------------------------------------------------------------

_LENGTH = re.compile(r"(\d{1,4})\s*(d|h|w|m|min|天|日|小时|个小时|周|星期|分钟|分)", re.IGNORECASE)
_LENGTH_MINUTES = {"d": 1440, "天": 1440, "日": 1440, "h": 60, "小时": 60, "个小时": 60}
_LENGTH_MINUTES |= {"w": 10080, "周": 10080, "星期": 10080}
_LENGTH_MINUTES |= {"m": 1, "min": 1, "分钟": 1, "分": 1}
# a day, then maybe its time: after 日/号 or a weekday the time may follow at once
# (12月10日18:00, 周五18点); after a bare number only past a space or T (12-10 18:00), so that
# "3-1 18:00" never reads as 3-11 8:00
_CN_DAY = re.compile(r"(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})(?P<mark>[日号號])?")
_DASH_DAY = re.compile(r"(?:(?P<y>\d{4})[-/.])?(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})")
_CLOCK = re.compile(r"(?P<H>\d{1,2})(?::(?P<M>\d{2})|[点時时](?:(?P<half>半)|(?P<M2>\d{1,2})分?)?)")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAY = re.compile(r"(?:周|星期|礼拜)(?P<w>[一二三四五六日天七])")
_END_OF_DAY = time(23, 59, 59)
_SEPARATOR = re.compile(r"\s+|t")  # casefolded: 2026-12-10T18:00 too


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int


def _clock(text: str) -> _Clock | None:
    """``18:00`` ``18点`` ``18点30分`` ``18点半`` -> the time of day; None otherwise."""
    m = _CLOCK.fullmatch(text)
    if m is None:
        return None
    minute = m.group("M") or m.group("M2")
    h, mm = int(m.group("H")), 30 if m.group("half") else int(minute or 0)
    if h > 24 or mm > 59 or (h == 24 and mm):
        return None
    return _Clock(h, mm)


def _time_after(rest: str, glued: bool) -> _Clock | Literal[False] | None:
    """What follows a day: nothing (None), a time (glued to the day only when ``glued``), or
    something else (False)."""
    if not rest:
        return None
    sep = _SEPARATOR.match(rest)
    if sep is not None:
        rest = rest[sep.end() :]
    elif not glued:
        return False
    found = _clock(rest)
    return False if found is None else found


def _on_day(day: date, clock: _Clock | None, tz: ZoneInfo) -> datetime:
    if clock is None or clock.hour == 24:
        return datetime.combine(day, _END_OF_DAY, tzinfo=tz)
    return datetime.combine(day, time(clock.hour, clock.minute), tzinfo=tz)


@dataclass(frozen=True)
class Deadline:
    """A deadline as read: the moment, and whether a month-day gone by this year was taken as
    next year's (``rolled``: a message then says "already past" rather than "too far")."""

    moment: datetime
    rolled: bool = False


def read_deadline(text: str, now: datetime, tz: ZoneInfo) -> Deadline | None:
    """When a vote closes, from ``--until``'s words (see the module's list); None: not a date,
    a time or a length. Not checked against ``now`` here (:func:`parse_vote_line` does): a
    time of today already gone, or a day of this year, stays in the past."""
    folded = re.sub(r"\s+", " ", _fold(text).casefold())
    if (m := _LENGTH.fullmatch(folded.replace(" ", ""))) is not None:
        return Deadline(now + timedelta(minutes=int(m.group(1)) * _LENGTH_MINUTES[m.group(2)]))
    local = now.astimezone(tz)
    if (alone := _clock(folded)) is not None:  # 18:00: today's
        return Deadline(_on_day(local.date(), alone, tz))
    if (m := _WEEKDAY.match(folded)) is not None:
        clock = _time_after(folded[m.end() :], glued=True)
        if clock is False:
            return None
        ahead = (_WEEKDAYS[m.group("w")] - local.weekday()) % 7
        return Deadline(_on_day(local.date() + timedelta(days=ahead), clock, tz))
    for pattern in (_CN_DAY, _DASH_DAY):
        m = pattern.match(folded)
        if m is None:
            continue
        glued = pattern is _CN_DAY and m.group("mark") is not None
        clock = _time_after(folded[m.end() :], glued)
        if clock is False:
            return None
        year = int(m.group("y")) if m.group("y") else local.year
        try:
            day = date(year, int(m.group("m")), int(m.group("d")))
        except ValueError:
            return None
        if m.group("y") or day >= local.date():
            return Deadline(_on_day(day, clock, tz))
        try:  # a month-day gone by this year: next year's
            return Deadline(_on_day(day.replace(year=year + 1), clock, tz), rolled=True)
        except ValueError:  # 2月29日
            return None
    return None


def parse_deadline(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """:func:`read_deadline`'s moment."""
    found = read_deadline(text, now, tz)
    return None if found is None else found.moment


# -- the /vote line -------------------------------------------------------------------------

Flag = Literal["where", "until", "pass", "quorum"]
FLAGS: dict[str, Flag] = {
    "where": "where",
    "scope": "where",
    "范围": "where",
    "楼栋": "where",
    "until": "until",
    "deadline": "until",
    "截止": "until",
    "截至": "until",
    "期限": "until",
    "pass": "pass",
    "rule": "pass",
    "通过": "pass",
    "规则": "pass",
    "quorum": "quorum",
    "法定": "quorum",
    "参与": "quorum",
}
_FLAG = re.compile(r"^(?:[-—–―]{2}|[—–―])(?P<name>[^\s=\-—–―][^\s=]*)(?:=(?P<value>.*))?$")
_OPTIONS_SEPARATOR = re.compile(r"[|｜]")
_SPACED_SEPARATOR = re.compile(r"\s*([|｜])\s*")  # 同意 | 不同意: one word


def _is_time_word(word: str) -> bool:
    """``18:00`` ``18：00`` ``18点`` ``18点半``: the time after ``--until``'s day."""
    return _clock(_fold(word).casefold()) is not None


@dataclass(frozen=True)
class VoteLine:
    question: str
    options: tuple[str, ...] = DEFAULT_OPTIONS
    scope: str = ""  # a label prefix ("3-2"); "" = every household of the grid
    deadline: datetime | None = None  # filled by parse_vote_line (default: 7 days)
    rule: Rule = MAJORITY
    quorum: tuple[int, int] | None = None  # at least num/den of the eligible answered
    flags: dict[str, str] = field(default_factory=dict)  # as written, for messages


def _flag_of(word: str) -> tuple[str, str | None] | None:
    """``--until`` / ``—until`` / ``－－截止=12月10日`` -> (name, value or None)."""
    m = _FLAG.match(unicodedata.normalize("NFKC", word))
    if m is None:
        return None
    value = m.group("value")
    if value is not None:  # as written (full-width kept), for messages
        value = re.split("[=＝]", word, maxsplit=1)[1]
    return m.group("name").casefold(), value


def _strip_command(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("/"):
        head, _, rest = stripped.partition(" ")
        if head[1:].split("@")[0].casefold() in {"vote", "议事", "表决"}:
            return rest
    return stripped


def parse_vote_line(
    text: str,
    now: datetime,
    tz: ZoneInfo,
    catalog: CategoryCatalog | None = None,
) -> VoteLine:
    """The words after ``/vote`` (the command itself is dropped if present) -> a VoteLine with
    its deadline; raises :class:`VoteLineError` naming what is wrong."""
    words = _SPACED_SEPARATOR.sub(r"\1", _strip_command(text)).split()
    question: list[str] = []
    options: tuple[str, ...] | None = None
    values: dict[Flag, str] = {}
    written: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        flag = _flag_of(word)
        if flag is not None:
            name, value = flag
            key = FLAGS.get(name)
            if key is None:
                raise VoteLineError("vote.error_flag", flag=word)
            if not value:
                if i + 1 >= len(words) or _flag_of(words[i + 1]) is not None:
                    raise VoteLineError("vote.error_flag_value", flag=word)
                i += 1
                value = words[i]
            # a date then its time: --until 12月10日 18:00
            if key == "until" and i + 1 < len(words) and _is_time_word(words[i + 1]):
                i += 1
                value = f"{value} {words[i]}"
            values[key] = value
            written[key] = value
        elif options is None and _OPTIONS_SEPARATOR.search(word):
            options = tuple(o.strip() for o in _OPTIONS_SEPARATOR.split(word))
        else:
            question.append(word)
        i += 1
    line_question = " ".join(question).strip()
    if not line_question:
        raise VoteLineError("vote.error_question")
    if utf16_len(line_question) > MAX_QUESTION:
        raise VoteLineError("vote.error_question_long", limit=MAX_QUESTION)
    chosen = options if options is not None else DEFAULT_OPTIONS
    if any(not o for o in chosen) or not MIN_OPTIONS <= len(chosen) <= MAX_OPTIONS:
        raise VoteLineError("vote.error_options", low=MIN_OPTIONS, high=MAX_OPTIONS)
    if any(utf16_len(o) > MAX_OPTION for o in chosen):
        raise VoteLineError("vote.error_option_long", limit=MAX_OPTION)
    if len({o.casefold() for o in chosen}) != len(chosen):
        raise VoteLineError("vote.error_options_alike")
    scope = ""
    if "where" in values:
        found = parse_scope(values["where"], catalog)
        if found is None:
            raise VoteLineError("vote.error_where", value=values["where"])
        scope = found
    deadline = now + DEFAULT_DEADLINE
    if "until" in values:
        read = read_deadline(values["until"], now, tz)
        if read is None:
            raise VoteLineError("vote.error_until", value=values["until"])
        until = read.moment
        if until <= now or (read.rolled and until - now > MAX_DEADLINE):
            raise VoteLineError("vote.error_until_past", value=values["until"])
        if until - now < MIN_DEADLINE:
            raise VoteLineError("votes.error_until_soon", minutes=MIN_MINUTES)
        if until - now > MAX_DEADLINE:
            raise VoteLineError("vote.error_until_far", days=MAX_DEADLINE.days)
        deadline = until
    rule = MAJORITY
    if "pass" in values:
        found_rule = parse_rule(values["pass"])
        if found_rule is None:
            raise VoteLineError("vote.error_pass", value=values["pass"])
        rule = found_rule
    quorum: tuple[int, int] | None = None
    if "quorum" in values:
        quorum = parse_share(values["quorum"])
        if quorum is None:
            raise VoteLineError("vote.error_quorum", value=values["quorum"])
    return VoteLine(line_question, chosen, scope, deadline, rule, quorum, dict(written))


# -- subcommands and choices ----------------------------------------------------------------

VoteSubcommand = Literal["list", "show", "close", "proxy"]
VOTE_SUBCOMMANDS: dict[str, VoteSubcommand] = {
    "list": "list",
    "ls": "list",
    "列表": "list",
    "清单": "list",
    "show": "show",
    "查看": "show",
    "详情": "show",
    "close": "close",
    "结束": "close",
    "截止": "close",
    "关闭": "close",
    "proxy": "proxy",
    "代投": "proxy",
    "代录": "proxy",
}
RoomSubcommand = Literal["add", "list", "del"]
ROOM_SUBCOMMANDS: dict[str, RoomSubcommand] = {
    "add": "add",
    "添加": "add",
    "新增": "add",
    "list": "list",
    "ls": "list",
    "列表": "list",
    "名单": "list",
    "del": "del",
    "delete": "del",
    "rm": "del",
    "remove": "del",
    "删除": "del",
    "移除": "del",
    "注销": "del",
}
WITHDRAW_WORDS = frozenset({"撤回", "撤销", "取消", "withdraw", "retract", "-"})
WITHDRAW: Literal["withdraw"] = "withdraw"
_VOTE_NUMBER = re.compile(r"^(?:议事|no\.?|#)?(\d{1,9})号?$", re.IGNORECASE)


def vote_subcommand(word: str) -> VoteSubcommand | None:
    """The subcommand a word names (see :func:`read_vote_command` for whether it is one)."""
    return VOTE_SUBCOMMANDS.get(_fold(word).casefold())


def read_vote_command(words: Sequence[str]) -> VoteSubcommand | None:
    """The subcommand ``/vote``'s words name. An English word (``show x``, ``close 最后``)
    always: the handler answers with the subcommand's usage when the rest is no number. A
    Chinese one only when the rest has its shape: ``列表`` alone; ``查看`` / ``关闭`` alone
    (their usage) or with one vote number; ``代投`` alone or with a vote number first.
    Otherwise None: the words are a question (``/vote 关闭 东门``)."""
    if not words:
        return None
    sub = vote_subcommand(words[0])
    rest = words[1:]
    if sub is None or not rest:
        return sub
    if _fold(words[0]).isascii():  # show x, close 最后: no English question starts so
        return sub
    if sub == "list" or vote_number(rest[0]) is None:
        return None
    if sub in ("show", "close") and len(rest) > 1:
        return None
    return sub


def room_subcommand(word: str) -> RoomSubcommand | None:
    return ROOM_SUBCOMMANDS.get(_fold(word).casefold())


def vote_number(word: str) -> int | None:
    """``7``, ``#7``, ``议事7``, ``７`` -> 7."""
    match = _VOTE_NUMBER.match(_fold(word))
    return int(match.group(1)) if match else None


def choice_of(word: str, options: Sequence[str]) -> int | Literal["withdraw"] | None:
    """A proxy's answer: an option by its words (``同意``) or number from 1 (``1``), or
    :data:`WITHDRAW` (``撤回``); None when it is neither."""
    folded = _fold(word).casefold()
    if folded in WITHDRAW_WORDS:
        return WITHDRAW
    for index, option in enumerate(options):
        if _fold(option).casefold() == folded:
            return index
    if folded.isdigit() and 1 <= int(folded) <= len(options):
        return int(folded) - 1
    return None
