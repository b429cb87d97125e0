"""What the parsing tests share: the case table's row, how a row is checked, random messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

from bot.categories import CategoryCatalog
from bot.parsing import Location, ParsedReport

CATALOG = CategoryCatalog.default()
# A CATEGORIES_FILE that adds 电梯 (alias 升降梯) to the defaults, and one that keeps only it.
ELEVATOR = {"tag": "电梯", "aliases": ["升降梯"], "response": "15m", "resolution": "4h"}
WITH_ELEVATOR = CategoryCatalog.from_mapping({"categories": {"elevator": ELEVATOR}})
ONLY_ELEVATOR = CategoryCatalog.from_mapping(
    {"replace_defaults": True, "categories": {"elevator": ELEVATOR}}
)


@dataclass(frozen=True)
class Case:
    text: str
    category: str | None
    body: str
    estate: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    labels: tuple[str, ...] = ()


def C(
    text: str,
    category: str | None,
    body: str,
    estate: str | None = None,
    building: str | None = None,
    unit: str | None = None,
    room: str | None = None,
    labels: tuple[str, ...] = (),
) -> Case:
    return Case(text, category, body, estate, building, unit, room, labels)


def as_case(text: str, report: ParsedReport) -> Case:
    """What ``parse_report`` made of ``text``, as a row of the table (to compare with one)."""
    where = report.location
    return Case(
        text, report.category, report.body, where.estate, where.building, where.unit, where.room,
        report.labels,
    )  # fmt: skip


def case_ids(cases: list[Case]) -> list[str]:
    return [c.text[:24] for c in cases]


# Random text, and random messages built from the pieces residents' messages are made of.
_PIECES = [
    "#", "＃", "##", "报修", "充电", "飞线充电", "飞线", "漏水", "路灯", "通知", "abc", "ABC",
    "3", "501", "１２", "三", "十二", "两", "幺", "号楼", "栋", "#楼", "单元", "门", "室", "楼",
    "期", "区", "-", "－", "—", "7-6-1046", "2026-11-26", "【", "】", "[", "]", "（", "）",
    "幢", "座", "梯", "B", "T2", "楼上", "楼号：", "单元：", "7-4", "98-4单元", "173-11-3", "号房",
    "月", "大街", "道", "新邨", "半岛",
    "(", ")", "：", "，", "。", " ", "　", "\n", "\t", "小区", "花园", "里", "路", "街", "巷",
    "弄", "院", "号院", "社区", "北瑞", "宝东6号街坊", "幸福", "138", "1381234", "5678",
    "+86 ", "0477-", "8123456", "110101199003071234", "X", "http://x.com/a", "www.", "😀",
    "👍🏻", "#️⃣", "\u200f", "\u202e", "\u200b", "\x00", "\x1f", "\ufeff", "ß", "İ", "\u0301",
]  # fmt: skip
messages = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=3)), max_size=40).map(
    "".join
)
any_text = st.one_of(st.text(), messages)
_NUMBER = re.compile(r"[1-9][0-9]*")
_LETTERED_BUILDING = re.compile(r"[A-Z][0-9]{0,2}")  # B座, T2栋, B5栋
_ROOM = re.compile(r"[A-Z0-9]+")


def check_location(location: Location) -> None:
    """What any location read from any text looks like."""
    building, unit = location.building, location.unit
    assert building is None or _NUMBER.fullmatch(building) or _LETTERED_BUILDING.fullmatch(building)
    assert unit is None or _NUMBER.fullmatch(unit)
    assert location.room is None or _ROOM.fullmatch(location.room)
    assert location.estate is None or 2 <= len(location.estate) <= 16
    assert location.is_empty() == (location.display() == "")
