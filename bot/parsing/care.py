"""关爱走访's one-line forms: ``/care add 曹大爷 3号楼2单元101 高风险``, ``/visit 7 正常 精神不错``
(pure; the words officers use for a visit's outcome and way)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.categories import CategoryCatalog
from bot.parsing.contacts import find_phones
from storage.vocabulary import VisitOutcome, VisitWay

NAME_LIMIT = 40
FIELD_LIMIT = 200  # address, contact
NOTE_LIMIT = 1000

# the words people use for a visit's outcome and way (first word wins; longest match first)
OUTCOME_WORDS: dict[str, VisitOutcome] = {
    "正常": VisitOutcome.NORMAL,
    "良好": VisitOutcome.NORMAL,
    "平安": VisitOutcome.NORMAL,
    "挺好": VisitOutcome.NORMAL,
    "都好": VisitOutcome.NORMAL,
    "一切正常": VisitOutcome.NORMAL,
    "异常": VisitOutcome.CONCERN,
    "异常需跟进": VisitOutcome.CONCERN,
    "需跟进": VisitOutcome.CONCERN,
    "跟进": VisitOutcome.CONCERN,
    "有异常": VisitOutcome.CONCERN,
    "未见到": VisitOutcome.UNSEEN,
    "没见到": VisitOutcome.UNSEEN,
    "未见": VisitOutcome.UNSEEN,
    "不在家": VisitOutcome.UNSEEN,
    "无人": VisitOutcome.UNSEEN,
    "没人": VisitOutcome.UNSEEN,
    "联系不上": VisitOutcome.UNSEEN,
    "拒访": VisitOutcome.REFUSED,
    "拒绝": VisitOutcome.REFUSED,
    "婉拒": VisitOutcome.REFUSED,
    "normal": VisitOutcome.NORMAL,
    "ok": VisitOutcome.NORMAL,
    "concern": VisitOutcome.CONCERN,
    "unseen": VisitOutcome.UNSEEN,
    "refused": VisitOutcome.REFUSED,
}
WAY_WORDS: dict[str, VisitWay] = {
    "上门": VisitWay.HOME,
    "入户": VisitWay.HOME,
    "当面": VisitWay.HOME,
    "电话": VisitWay.CALL,
    "视频": VisitWay.CALL,
    "电话视频": VisitWay.CALL,
    "代看": VisitWay.PROXY,
    "亲属": VisitWay.PROXY,
    "邻里": VisitWay.PROXY,
    "邻居": VisitWay.PROXY,
    "亲属代看": VisitWay.PROXY,
    "邻里代看": VisitWay.PROXY,
    "志愿者": VisitWay.VOLUNTEER,
    "结对": VisitWay.VOLUNTEER,
    "志愿者结对": VisitWay.VOLUNTEER,
    "设备": VisitWay.DEVICE,
    "智能设备": VisitWay.DEVICE,
    "预警": VisitWay.DEVICE,
    "home": VisitWay.HOME,
    "call": VisitWay.CALL,
    "proxy": VisitWay.PROXY,
    "volunteer": VisitWay.VOLUNTEER,
    "device": VisitWay.DEVICE,
}
_NUMBER = re.compile(r"^(?:关爱|no\.?|#|＃)?(\d{1,12})号?$", re.IGNORECASE)


def person_number(word: str) -> int | None:
    """``7``, ``#7``, ``关爱7``, ``７`` -> 7."""
    match = _NUMBER.match(unicodedata.normalize("NFKC", word).strip())
    return int(match.group(1)) if match else None


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).strip().casefold()


def outcome_of(word: str) -> VisitOutcome | None:
    return OUTCOME_WORDS.get(_fold(word))


def way_of(word: str) -> VisitWay | None:
    return WAY_WORDS.get(_fold(word))


def clean(text: str, limit: int) -> str:
    """One line of what a person typed, trimmed to ``limit`` characters."""
    return " ".join(text.split())[:limit]


# -- the one-line forms ---------------------------------------------------------------------


@dataclass(frozen=True)
class AddLine:
    """``/care add 曹大爷 3号楼2单元101 高风险 [contact] …``: what the words said."""

    name: str = ""
    address: str = ""
    tier: str | None = None
    contact: str = ""


def parse_add(words: Sequence[str], catalog: CategoryCatalog) -> AddLine:
    """The first word is the 称呼; a tier's word is the tier; a word with a phone number (and
    the word before it when that is a name) is the emergency contact; the rest the address."""
    name = clean(words[0], NAME_LIMIT) if words else ""
    tier: str | None = None
    contact: list[str] = []
    address: list[str] = []
    for word in words[1:]:
        found = catalog.tier(word)
        if found is not None and tier is None:
            tier = found.name
        elif find_phones(word):
            if address and not contact and not find_phones(address[-1]) and _is_name(address[-1]):
                contact.append(address.pop())
            contact.append(word)
        else:
            address.append(word)
    return AddLine(
        name,
        clean(" ".join(address), FIELD_LIMIT),
        tier,
        clean(" ".join(contact), FIELD_LIMIT),
    )


def _is_name(word: str) -> bool:
    """A short word without digits: 女儿, 王女士 (a contact's name before the number)."""
    return 0 < len(word) <= 6 and not any(ch.isdigit() for ch in word)


@dataclass(frozen=True)
class VisitLine:
    """``/visit 7 [上门] 正常 精神不错``."""

    person_id: int | None
    outcome: VisitOutcome | None = None
    way: VisitWay | None = None
    note: str = ""


def parse_visit(words: Sequence[str]) -> VisitLine:
    """The number, then (in any order, before the note) an outcome word and a way word."""
    if not words:
        return VisitLine(None)
    person_id = person_number(words[0])
    outcome: VisitOutcome | None = None
    way: VisitWay | None = None
    rest = list(words[1:])
    while rest:
        if outcome is None and (found := outcome_of(rest[0])) is not None:
            outcome = found
        elif way is None and (method := way_of(rest[0])) is not None:
            way = method
        else:
            break
        rest.pop(0)
    return VisitLine(person_id, outcome, way, clean(" ".join(rest), NOTE_LIMIT))
