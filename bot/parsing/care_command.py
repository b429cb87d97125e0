"""The words of ``/care`` and its forms (pure): subcommands, the fields ``/care edit`` changes,
the words typed for 跳过 / 完成 / 取消, and ``/care round 高温 高风险 [3d]``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.categories import CategoryCatalog
from bot.parsing.care import NAME_LIMIT, clean

Subcommand = Literal["list", "add", "show", "edit", "pause", "resume", "end", "round"]
Field = Literal["name", "address", "tier", "visitor", "contact", "notes"]

SUBCOMMANDS: dict[str, Subcommand] = {
    "list": "list",
    "ls": "list",
    "名单": "list",
    "列表": "list",
    "add": "add",
    "new": "add",
    "添加": "add",
    "新增": "add",
    "登记": "add",
    "show": "show",
    "查看": "show",
    "详情": "show",
    "edit": "edit",
    "修改": "edit",
    "编辑": "edit",
    "pause": "pause",
    "暂停": "pause",
    "resume": "resume",
    "恢复": "resume",
    "end": "end",
    "结束": "end",
    "round": "round",
    "专项": "round",
    "专项走访": "round",
}

# the fields /care edit changes, in the order its buttons show them
FIELDS: tuple[Field, ...] = ("name", "address", "tier", "visitor", "contact", "notes")
FIELD_WORDS: dict[str, Field] = {
    "称呼": "name",
    "姓名": "name",
    "名字": "name",
    "name": "name",
    "地址": "address",
    "住址": "address",
    "address": "address",
    "等级": "tier",
    "分级": "tier",
    "级别": "tier",
    "tier": "tier",
    "走访人": "visitor",
    "visitor": "visitor",
    "联系人": "contact",
    "紧急联系人": "contact",
    "联系方式": "contact",
    "contact": "contact",
    "备注": "notes",
    "notes": "notes",
    "note": "notes",
}

SKIP_WORDS = frozenset({"跳过", "略过", "不填", "skip", "-", "无"})
DONE_WORDS = frozenset({"完成", "好了", "结束", "done", "ok"})
CANCEL_WORDS = frozenset({"取消", "算了", "cancel"})

_DEADLINE = re.compile(r"(\d{1,3})\s*(d|h|天|小时)", re.IGNORECASE)
_UNIT_HOURS = {"d": 24, "天": 24, "h": 1, "小时": 1}
MAX_ROUND = timedelta(days=90)


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).strip().casefold()


def subcommand(word: str) -> Subcommand | None:
    return SUBCOMMANDS.get(_fold(word))


def field_of(word: str) -> Field | None:
    return FIELD_WORDS.get(_fold(word))


def is_skip(text: str) -> bool:
    return _fold(text) in SKIP_WORDS


def is_done(text: str) -> bool:
    return _fold(text) in DONE_WORDS


def is_cancel(text: str) -> bool:
    return _fold(text) in CANCEL_WORDS


def deadline_of(word: str) -> timedelta | None:
    """``3d``, ``36h``, ``3天``, ``12小时`` -> the round's length; None if the word is none."""
    match = _DEADLINE.fullmatch(_fold(word))
    if match is None:
        return None
    return timedelta(hours=int(match.group(1)) * _UNIT_HOURS[match.group(2)])


@dataclass(frozen=True)
class RoundLine:
    """``/care round 高温 高风险 [3d]``: the round's name, its tier, its length."""

    name: str
    tier: str | None
    deadline: timedelta | None


def parse_round(words: Sequence[str], catalog: CategoryCatalog) -> RoundLine:
    """A tier's word is the tier, a length (``3d``) the deadline, the rest the round's name."""
    tier: str | None = None
    deadline: timedelta | None = None
    name: list[str] = []
    for word in words:
        found = catalog.tier(word)
        if found is not None and tier is None:
            tier = found.name
        elif deadline is None and (length := deadline_of(word)) is not None:
            deadline = length
        else:
            name.append(word)
    return RoundLine(clean(" ".join(name), NAME_LIMIT), tier, deadline)
