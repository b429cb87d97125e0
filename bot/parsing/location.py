"""Where the report is: estate (小区), building (楼栋), unit (单元), room (房号); Chinese numerals.

An address is read as building, unit, floor, room, each part optional, between them spaces,
commas, 、 / - . · 的, brackets, form labels (``楼号：5 单元：3 房号：602``) or 楼上/楼下.
Decisions on the ambiguous cases (tests/test_parsing_location.py pins them; the annotated set
tests/data/addresses.tsv measures them, ``python -m bench.location``):

* Buildings: ``3号楼 8栋 5幢 3座 1#楼 第三栋 十二号楼 二十三栋``, full-width digits, and ``5#502``;
  a letter with up to two digits before 座/栋/幢/号楼 is a building too (``B座`` -> ``B``,
  ``T2栋`` -> ``T2``). Counts are not: ``一栋楼都停电``, ``两栋楼``, ``一座桥``.
* ``N楼`` is a floor, except right before a unit (``5楼2单元``, Beijing's ``16楼2门``) and with
  three or four digits (``劲松八区805楼``: no floor has that number).
* ``N号`` alone is read by what comes before it. After a road, street or lane (路 街 大街 大道 巷
  道 胡同, a named 弄) it is the street number: never the building, it goes with the estate
  (``中山路12号2单元501`` -> 中山路12号, unit 2, room 501; ``邱山大街945号10栋`` -> building 10).
  After a numbered lane (``长乐路123弄5号``) or an estate's name (``幸福小区12号``, ``春风里7号``,
  ``潍坊新村189号``) it is the building. With nothing before it, only when a unit or room follows
  (``5号2单元``). After 月 it is a date (``3月15号``); before 线 门 电梯 柜 街坊 院 … it is none of
  these (``3号线``, ``1号门``, ``6号街坊``, ``12号院``).
* Units: ``N单元`` of any size (``181幢172单元442室``); after a building also ``N门`` (Beijing:
  ``5号楼3门``), ``N梯`` (Guangdong: ``3栋2梯``), ``N单`` (单元 cut short) and ``N-`` before a
  room (``3号楼2-501``).
* Rooms: right after a unit any number is the room, with or without 室/号/户/房 (``9单元1885``,
  ``3单元502``, ``1单元1号``, ``3单元2户``), unless a measure follows (``2单元 10点``);
  elsewhere a room has 3–4 digits or a room word (``12栋102``, ``B座1203``, ``5栋12号``), or
  stands alone with 室/房 (``502室``, ``501号房``), or is a neighbour's (``楼上1702往下渗水``).
* Floor-door is one room, floor × 100 + door: ``11单元7-4`` -> ``704``, ``1栋 23-5`` -> ``2305``,
  ``1楼1号`` -> ``101`` (the ledger keeps one form of a room number, the one on the door plate).
  A floor alone is no room (``2号楼3单元5楼``).
* Dashes: ``7-6-1046``, ``173-11-3``, ``3-2-501室`` are building-unit-room; ``98-4单元``
  building-unit; ``7-1046`` building-room (3–4 digits). Dates (``2026-11-26``: a 4-digit head),
  ranges (``3-5天``, ``1-3楼``), prices (``100-200元``) and times (``10:30-11:30``) stay out.
* Zones and phases before a building belong to the estate, not the building: ``东区3栋``,
  ``A区3栋``, ``3期5栋`` are buildings 3 and 5; ``碧桂园3区``, ``万科城二期`` are estates.
* ``院``: ``N号院`` (Beijing compound) and ``大院``/``家属院`` are estates; a bare ``院`` is not
  (医院, 法院, 院里).
* ``里``: an estate (``幸福里``) only when an address continues right after it (``幸福里3期``,
  ``幸福里5号楼``, ``幸福里小区``): 家里, 这里, 群里, 小区里, 公里 are never estates.
* ``弄`` only after a number (``长乐路123弄``); on its own it is a verb. ``道`` is a street only
  with its number (``南京道201号``): 楼道, 通道, 下水道 are not.
* The first place named wins, except that a 社区 yields to an estate after it, and a street to a
  place named right after it (``中山路幸福小区`` -> 幸福小区) or after a space (``天河北路 侨林苑``
  -> 侨林苑; another street only when it has the house number: ``龙津西路 逢源北街84号``).
* An estate without a place word (北城龙珠, 恒大御景半岛) is the name right before the address,
  if glued to it (``北城龙珠107栋``, ``李园路159号北城龙珠107栋``), followed by a phase or zone
  (``金科集美 1期 12栋``) or ending like estate names do (半岛, 港, 帝景), with nothing of a
  complaint in it and not a tag: ``空调外机 5栋``, ``#紧急 5号楼`` name no estate.
* An estate's name starts after the last leading word (``_CUT_WORDS``) or tag or alias of the
  catalogue in force in front of it: ``维修阳光花园`` -> 阳光花园, and with a CATEGORIES_FILE
  that adds ``电梯``, ``电梯阳光花园`` -> 阳光花园 too.

The location is looked for in the first ``_LOCATION_WINDOW`` characters; fields come out in ASCII
digits and capitals (the text is read through its scan copy, see bot.parsing.text).
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bot.categories import CategoryCatalog
from bot.parsing.contacts import sensitive_spans
from bot.parsing.text import PerCatalog, blank_spans, is_ascii_alnum, scan_copy, url_spans

__all__ = ["Location", "chinese_numeral_to_int", "parse_location"]


@dataclass(frozen=True)
class Location:
    estate: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None

    def is_empty(self) -> bool:
        return not (self.estate or self.building or self.unit or self.room)

    def display(self) -> str:
        """``北瑞小区 3号楼 2单元 501室``: only the parts present, ``''`` when empty."""
        parts = [
            self.estate or "",
            f"{self.building}号楼" if self.building else "",
            f"{self.unit}单元" if self.unit else "",
            f"{self.room}室" if self.room else "",
        ]
        return " ".join(p for p in parts if p)


def parse_location(text: str, catalog: CategoryCatalog) -> Location:
    """The first address mentioned: estate, building, unit, room (digits). See module notes.
    ``catalog``'s tags and aliases end the words in front of an estate's name."""
    scan = scan_copy(text)
    spans = [(f.start, f.end) for f in sensitive_spans(scan)] + url_spans(scan)
    return read_location(blank_spans(scan, spans), catalog)


_LOCATION_WINDOW = 4096  # Telegram's longest message; the first address is near the start


def read_location(
    scan: str, catalog: CategoryCatalog, labels: AbstractSet[int] = frozenset()
) -> Location:
    """``parse_location`` of a scan copy in which numbers, URLs and tags are already blanked;
    ``labels``: where the word of a tag that is no category starts (``#紧急 5号楼``: 紧急 is a
    label, not an estate)."""
    scan = scan[:_LOCATION_WINDOW]
    cut = _cut_reversed(catalog)
    (building, unit, room), at = _find_cluster(scan)
    place = _find_estate(scan, cut)
    estate = place.name if place else None
    if at is None and place is not None and not place.street:
        # 华侨大厦 1203, 华贸大厦12层1205 (but not 幸福小区 11-26, a date)
        room = _tail(scan, place.end, after_unit=False, floor_door=False)
    elif at is not None and (place is None or (place.street and place.end <= at)):
        estate = _bare_name(scan, place.end if place else 0, at, cut, labels) or estate
    return Location(estate=estate, building=building, unit=unit, room=room)


# --- building / unit / room ----------------------------------------------------------------

_CN = "零〇一二三四五六七八九十百两"
_CN_ROOM = _CN + "幺"
_HAO = "[号號]"
_LOU = "[楼樓]"
_UNIT_WORD = "(?:单元|單元)"
_DOOR = "(?:门洞|[门門](?![口卫前外内里禁岗面诊店市牌铃锁窗框票把]))"
_N_BUILDING = rf"(?:[0-9]{{1,4}}|[{_CN}]{{1,5}})"
_N_UNIT = rf"(?:[0-9]{{1,3}}|[{_CN}]{{1,4}})"
_N_FLOOR = rf"(?:[0-9]{{1,2}}|[{_CN}]{{1,3}}|底)"
# A number followed by one of these is a time, an amount or a count, not a room (楼 too, as a
# floor, except in 楼道, 楼梯, 楼顶, 楼上, 楼下: '502 楼道灯').
_MEASURE_WORDS = (
    "点時时分秒号號天日月年个人户岁元块米平层層度斤次辆台毫克吨升亩公千万多余来几级届周期"
    "栋棟幢座%:：."
)
_MEASURE = _MEASURE_WORDS + "楼樓"
# 号 before these belongs to something else: 3号线, 1号门, 3号电梯, 6号街坊, 12号院, 3号楼.
_NOT_AFTER_HAO = "楼樓院栋棟幢座门門线線机機柜櫃电電梯车車位码碼街坊地店铺鋪床窗"
_ROOM_WORD = rf"(?:室|房(?![子间間屋东租价产本])|{_HAO}(?![{_NOT_AFTER_HAO}])|户(?![口型主籍]))"
_ROOM_ALONE_WORD = "(?:[号號]?房(?![子间間屋东租价产本])|室)"

# Where an address may start: a number (or a letter: B座) right before an address word or a dash.
_START = re.compile(
    rf"(?:(?<![0-9A-Za-z])(?:[A-Za-z]?[0-9]{{1,5}}[A-Za-z]?|[A-Za-z])"
    rf"|(?<![{_CN_ROOM}])[{_CN_ROOM}]{{1,6}})"
    rf"(?=\s?[号號楼樓栋棟幢座#单單门門室房层層\-])"
    r"|(?:楼号|楼栋|栋号)(?=\s?[:：]?\s?[0-9A-Za-z])"  # 楼号：5 · 楼栋 3栋
    r"|(?<=楼上|楼下)[0-9]{3,4}(?![0-9])"  # 楼上1702往下渗水: the neighbour's flat
)
# Between the parts: '3号楼，2单元', '3号楼 - 2单元', '3号楼的2单元', '单元：2 房号：501',
# '二单元楼上1102'.
_SEP = re.compile(r"(?:[\s,，、/\-的:：.·()（）\[\]【】]|楼上|楼下|房号|房间号?|门牌号?|户号){0,4}")
_SEP_CHARS = r"[\s,，、/\-的]{0,3}"

# 3号楼 · 3#楼 · 8栋 · 5幢 · 3座 · B座 · T2栋 · 十二号楼
_MARKED = re.compile(
    rf"(?P<n>{_N_BUILDING}|[A-Za-z][0-9]{{0,2}})\s?"
    rf"(?P<mark>{_HAO}\s?(?:{_LOU}|[栋棟幢座])|#\s?(?:{_LOU}|[栋棟幢座])|[栋棟幢座])"
)
_HASH = re.compile(r"(?P<n>[0-9]{1,4})#")  # 5#502 · 3#2单元 · 12# 楼道
# 5楼2单元 · 16楼2门 (a building before a unit); 805楼 (Beijing: no floor is numbered so)
_LOU_BUILDING = re.compile(
    rf"(?P<n>{_N_BUILDING})\s?{_LOU}(?={_SEP_CHARS}{_N_UNIT}\s?(?:{_UNIT_WORD}|{_DOOR}))"
    rf"|(?P<big>[1-9][0-9]{{2,3}}){_LOU}(?![0-9层層道梯顶頂上下])"
)
_HAO_BUILDING = re.compile(rf"(?P<n>{_N_BUILDING})\s?{_HAO}(?![{_NOT_AFTER_HAO}房])")
# What comes before 'N号' says what it numbers.
_BEFORE_HAO = 12
_LANE_END = re.compile(r"[0-9]\s?弄\s*$")  # 长乐路123弄5号: a house of the lane
_STREET_END = re.compile(r"(?:路|街|巷|道|胡同|弄)\s*$")  # 中山路12号: a street number
_DATE_END = re.compile(r"月\s*$")  # 3月15号
_ESTATE_END = re.compile(
    r"(?:小区|花园|家园|新村|新邨|村|邨|苑|园|里|公寓|院|宿舍|大厦|公馆|山庄|城|府|湾|庭|期|区|坊)\s*$"
)
# 一栋楼都停电, 十栋楼: a count of buildings, not building number one.
_WHOLE_BUILDING = re.compile(rf"{_LOU}(?![道梯下上顶頂门口层前后里外])")

_UNIT = re.compile(rf"(?P<n>{_N_UNIT})\s?{_UNIT_WORD}")
# After a building only: 5号楼3门 (Beijing), 3栋2梯 (Guangdong's stairwell), 3栋2单501 (单元 cut
# short).
_UNIT_DOOR = re.compile(
    rf"(?P<n>{_N_UNIT})\s?(?:{_DOOR}|梯(?![子级度形田])|[单單](?=[\s0-9,，、/\-]|$))"
)
_LABELLED_BUILDING = re.compile(
    rf"(?:楼号|楼栋|栋号)\s?[:：]?\s?(?P<n>{_N_BUILDING}|[A-Za-z][0-9]{{0,2}})"
    rf"(?:\s?(?:{_HAO}{_LOU}|[栋棟幢座]|{_HAO}))?(?![0-9])"
)
_UNIT_LABEL = re.compile(  # 单元：2 · 单元3 (a form's label)
    rf"{_UNIT_WORD}\s?[:：]?\s?(?P<n>{_N_UNIT})(?:\s?{_UNIT_WORD}|(?![0-9]|\s?[楼樓层層]))"
)
_UNIT_DASH = re.compile(r"(?P<n>[0-9]{1,2})-(?=[A-Za-z]?[0-9]{3,4}(?![0-9]))")  # 3号楼2-501
_FLOOR = re.compile(rf"(?P<n>{_N_FLOOR})\s?(?:{_LOU}|层|層)(?![道梯下上顶頂门門房栋棟前后里外])")

_ROOM_FLOOR_DOOR = re.compile(  # 11单元7-4: floor 7, door 4
    rf"(?P<f>[1-9][0-9]?)-(?P<d>[0-9]{{1,2}})(?![0-9A-Za-z\-]|\s?[{_MEASURE}])"
)
_ROOM_CODED = re.compile(rf"(?P<r>[A-Za-z]?[0-9]{{1,5}}[A-Za-z]?)\s?{_ROOM_WORD}")
_NOT_A_ROOM = rf"\s?(?:[{_MEASURE_WORDS}]|{_LOU}(?![道梯顶頂上下]))"
_NOT_A_ROOM_AFTER = re.compile(_NOT_A_ROOM)
_ROOM_BARE = re.compile(
    rf"(?P<r>[A-Za-z]?[0-9]{{1,5}}[A-Za-z]?)(?![0-9A-Za-z]|-[0-9]{{1,2}}(?![0-9])|{_NOT_A_ROOM})"
)
_ROOM_CN_CODED = re.compile(rf"(?P<r>[{_CN_ROOM}]{{1,6}})\s?{_ROOM_WORD}")
_ROOM_CN_DIGITS = re.compile(  # 五零一: a room read out digit by digit
    rf"(?P<r>[零〇一二三四五六七八九幺]{{3,4}})(?![{_CN_ROOM}]|\s?[{_MEASURE}])"
)
_ROOM_ALONE = re.compile(  # 501室 · 一百零五室 on their own (not 3室2厅)
    rf"(?P<r>[A-Za-z]?[0-9]{{3,4}}[A-Za-z]?)\s?{_ROOM_ALONE_WORD}"
    rf"|(?P<c>[{_CN_ROOM}]{{3,6}}){_ROOM_ALONE_WORD}"
)

# 7-6-1046 · 173-11-3 (building-unit-room) · 98-4单元 · 7-1046 (building-room). Not a date
# (2026-11-26: a 4-digit head), a range (3-5天, 100-200元) or a time (10:30-11:30).
_DASHED = re.compile(
    r"(?P<b>[1-9][0-9]{0,2})-(?P<u>[1-9][0-9]{0,2})-(?P<r>[A-Za-z]?[0-9]{1,4}[A-Za-z]?)"
    r"(?P<w>\s?(?:室|房|[号號]|户))?(?![0-9A-Za-z\-])"
    rf"|(?P<bu>[1-9][0-9]{{0,3}})-(?P<uu>[1-9][0-9]{{0,2}})\s?{_UNIT_WORD}"
    r"|(?P<br>[1-9][0-9]{0,2})-(?P<rr>[1-9][0-9]{2,3}[A-Za-z]?)(?P<wr>\s?(?:室|房))?"
    r"(?![0-9A-Za-z\-.:：])"
)
_NOT_BEFORE_DASHED = "_/.#:：-"
_FLOOR_AFTER = re.compile(rf"\s?(?:{_LOU}(?![道梯顶頂上下])|层|層)")
_MAX_CANDIDATES = 64  # the first address is near the start; never loop over a 100 KB string

Parts = tuple[str | None, str | None, str | None]


def _find_cluster(scan: str) -> tuple[Parts, int | None]:
    """The first building / unit / room, and where it starts."""
    for i, m in enumerate(_START.finditer(scan)):
        if i >= _MAX_CANDIDATES:
            break
        found = _read_at(scan, m.start())
        if found is not None:
            return found, m.start()
    return (None, None, None), None


def _read_at(scan: str, pos: int) -> Parts | None:
    if pos >= 2 and scan.startswith(("楼上", "楼下"), pos - 2):
        neighbour = _ROOM_BARE.match(scan, pos)
        if neighbour is not None and len(neighbour["r"]) in (3, 4):
            return None, None, neighbour["r"]
    if pos == 0 or scan[pos - 1] not in _NOT_BEFORE_DASHED:
        dashed = _dashed(scan, pos)
        if dashed is not None:
            return dashed
    chain = _chain(scan, pos)
    if chain is not None:
        return chain
    alone = _ROOM_ALONE.match(scan, pos)
    if alone is None:
        return None
    room = alone["r"].upper() if alone["r"] else _cn_room(alone["c"])
    return (None, None, room) if room else None


def _dashed(scan: str, pos: int) -> Parts | None:
    m = _DASHED.match(scan, pos)
    if m is None:
        return None
    if m["b"]:
        if not m["w"] and _FLOOR_AFTER.match(scan, m.end()):
            return _number(m["b"]), _number(m["u"]), None  # 3-2-5楼: a floor
        if not m["w"] and _NOT_A_ROOM_AFTER.match(scan, m.end()):
            return None
        return _number(m["b"]), _number(m["u"]), m["r"].upper()
    if m["bu"]:
        return _number(m["bu"]), _number(m["uu"]), _tail(scan, m.end(), after_unit=True)
    if not m["wr"] and _NOT_A_ROOM_AFTER.match(scan, m.end()):
        return None
    return _number(m["br"]), None, m["rr"].upper()


def _chain(scan: str, pos: int) -> Parts | None:
    """Building, then a unit, a floor and a room, each optional; or a unit and what follows."""
    start = _building_at(scan, pos)
    if start is None:
        unit_match = _UNIT.match(scan, pos)
        unit = _number(unit_match["n"]) if unit_match else None
        if unit_match is None or unit is None:
            return None
        return None, unit, _tail(scan, unit_match.end(), after_unit=True)
    building, end, needs_more = start
    unit, end = _unit_after(scan, end)
    room = _tail(scan, end, after_unit=unit is not None)
    if (needs_more or building is None) and unit is None and room is None:
        return None
    return building, unit, room


def _building_at(scan: str, pos: int) -> tuple[str | None, int, bool] | None:
    """The building starting at ``pos``: its number (None for a street number), where it ends,
    and whether it counts only with a unit or a room after it (``5号2单元``)."""
    m = _LABELLED_BUILDING.match(scan, pos)
    if m is not None:
        building = m["n"].upper() if m["n"][0].isascii() and m["n"][0].isalpha() else None
        building = building or _number(m["n"])
        return (building, m.end(), False) if building else None
    m = _MARKED.match(scan, pos)
    if m is not None:
        building = _marked_building(m, scan)
        return (building, m.end(), False) if building else None
    m = _HASH.match(scan, pos) or _LOU_BUILDING.match(scan, pos)
    if m is not None:
        building = _number(m["n"] or m.groupdict().get("big"))
        return (building, m.end(), False) if building else None
    m = _HAO_BUILDING.match(scan, pos)
    if m is None:
        return None
    building = _number(m["n"])
    before = scan[max(0, pos - _BEFORE_HAO) : pos]
    if building is None or _DATE_END.search(before):
        return None
    if _LANE_END.search(before):
        return building, m.end(), False
    if _STREET_END.search(before):
        return None, m.end(), True  # 中山路12号: the street number, not a building
    return building, m.end(), not _ESTATE_END.search(before)


def _marked_building(m: re.Match[str], scan: str) -> str | None:
    raw, mark = m["n"], m["mark"]
    if raw[0].isascii() and raw[0].isalpha():
        return raw.upper()
    if not raw.isdigit():
        if raw.startswith("两"):
            return None  # 两栋楼: a count (building two is 二号楼)
        if mark == "座" or (mark in "栋棟幢" and _WHOLE_BUILDING.match(scan, m.end())):
            return None  # 一座桥, 一栋楼都停电
    return _number(raw)


def _past_separators(scan: str, pos: int) -> int:
    m = _SEP.match(scan, pos)
    return m.end() if m else pos


def _unit_after(scan: str, pos: int) -> tuple[str | None, int]:
    at = _past_separators(scan, pos)
    for pattern in (_UNIT, _UNIT_DOOR, _UNIT_LABEL):
        m = pattern.match(scan, at)
        if m is not None:
            unit = _number(m["n"])
            return (unit, m.end()) if unit else (None, pos)
    m = _UNIT_DASH.match(scan, at)
    if m is not None:
        return _number(m["n"]), m.end()
    return None, pos


def _tail(scan: str, pos: int, *, after_unit: bool, floor_door: bool = True) -> str | None:
    """The room after a building or unit, with or without a floor in between."""
    at = _past_separators(scan, pos)
    floor_match = _FLOOR.match(scan, at)
    floor: int | None = None
    if floor_match is not None:
        floor = int(_number(floor_match["n"]) or 0) or None
        at = _past_separators(scan, floor_match.end())
    return _room_at(
        scan,
        at,
        after_unit=after_unit and floor_match is None,
        floor=floor,
        floor_door=floor_door and floor is None,
    )


def _room_at(
    scan: str, pos: int, *, after_unit: bool, floor: int | None, floor_door: bool = False
) -> str | None:
    """A room at ``pos``. Right after a unit any number is the room (``9单元1885``,
    ``3单元2户``); elsewhere it has 3–4 digits or a word (室 房 号 户). Floor-door is one room:
    ``11单元7-4`` = 704, ``1栋 23-5`` = 2305, ``5楼2号`` = 502."""
    if floor_door:
        m = _ROOM_FLOOR_DOOR.match(scan, pos)
        if m is not None:
            return f"{int(m['f'])}{int(m['d']):02d}"
    m = _ROOM_CODED.match(scan, pos)
    if m is not None:
        return _with_floor(m["r"].upper(), floor)
    m = _ROOM_BARE.match(scan, pos)
    if m is not None:
        digits = sum(ch.isdigit() for ch in m["r"])
        if digits >= 3 or (after_unit and digits >= 1):
            return m["r"].upper() if after_unit or digits <= 4 else None
    m = _ROOM_CN_CODED.match(scan, pos)
    if m is not None and (after_unit or floor or len(m["r"]) >= 2):
        room = _cn_room(m["r"])
        return _with_floor(room, floor) if room else None
    m = _ROOM_CN_DIGITS.match(scan, pos)
    return _cn_room(m["r"]) if m is not None else None


def _with_floor(room: str, floor: int | None) -> str:
    if floor and room.isdigit() and len(room) <= 2 and int(room):
        return f"{floor}{int(room):02d}"
    return room


def _cn_room(raw: str | None) -> str | None:
    if not raw or raw.startswith("两"):
        return None
    value = chinese_numeral_to_int(raw)
    return str(value) if value else None


def _number(raw: str | None) -> str | None:
    """'03' -> '3', '十二' -> '12'; None for nothing, zero, or a count like 两."""
    if not raw:
        return None
    value = int(raw) if raw.isdigit() else chinese_numeral_to_int(raw)
    if value is None or value == 0 or raw == "两":
        return None
    return str(value)


# --- estate / place ------------------------------------------------------------------------

# suffix: (fewest name characters in front of it, characters that must not follow it)
_SUFFIX_RULES: dict[str, tuple[int, str]] = {
    "小区": (1, ""), "社区": (1, ""), "花园": (1, ""), "家园": (1, ""), "新村": (1, ""),
    "新邨": (1, ""),
    "新城": (1, "区"), "山庄": (1, ""), "公寓": (1, ""), "公馆": (1, ""), "大厦": (1, ""),
    "大楼": (1, "道梯下上顶"), "广场": (1, "舞"), "街坊": (1, "邻们"), "胡同": (1, ""),
    "大街": (1, "道"), "大道": (1, ""), "大院": (1, ""), "家属院": (1, ""), "家属楼": (1, "道梯"),
    "生活区": (1, ""), "宿舍": (1, ""), "苑": (1, ""),
    "园": (2, "区林艺丁长子地"), "庭": (2, "院审长"), "府": (2, "上"), "湾": (2, "区"),
    "城": (2, "管市区乡墙镇际建中内外郊关门里"), "村": (2, "委民里干长口头子庄落镇"),
    "巷": (1, "子道"), "路": (2, "面灯边段过人线况牌障基沿肩旁由费径程子数标途政"),
    "街": (2, "道头边面角心区景舞机坊上"), "里": (2, ""), "道": (2, ""),
}  # fmt: skip
_STREETS = ("大街", "大道", "胡同", "路", "街", "巷")
# 道 names a street only with a house number after it (南京道201号): 楼道, 通道, 下水道.
_NUMBERED_STREETS = frozenset((*_STREETS, "道"))
_STREET_LIKE = frozenset((*_STREETS, "里"))
# N号院 (a Beijing compound) and N弄 (a Shanghai lane) are places with a number as their name.
_NUMBERED = {"号院": _CN + "0123456789", "號院": _CN + "0123456789", "弄": "0123456789"}
# Literal alternatives only, so the regex engine jumps from one possible suffix to the next.
_ESTATE_SUFFIX = re.compile("|".join(sorted((*_SUFFIX_RULES, *_NUMBERED), key=len, reverse=True)))
# What may continue a street's name: its house number (建设路23号, 长乐路123弄, 解放大街88号2单元,
# 东四十条胡同3号院, 员村四横路 2号大院), but not a building (建设路3号楼).
_HOUSE_NUMBER = re.compile(
    rf"\s?(?:[0-9]{{1,4}}|[{_CN}]{{1,4}})"
    rf"(?:{_HAO}(?:院|大院|家属院)|弄|{_HAO}(?![楼樓栋棟幢座院街])(?:之[{_CN}]{{1,3}})?)"
)
_PHASE = re.compile(
    rf"[东西南北中]?(?:[0-9]{{1,2}}|[{_CN}]{{1,3}})[期区]|[A-Za-z][0-9]?区|[东西南北中]区"
)
_AFTER_LI = re.compile(
    rf"\s?(?:{_N_BUILDING}\s?(?:{_HAO}|[栋棟幢座#期区弄]"
    rf"|{_LOU}(?={_SEP_CHARS}{_N_UNIT}\s?(?:{_UNIT_WORD}|{_DOOR})))"
    rf"|[东西南北中][{_CN}]{{0,3}}[期区]|[{_CN}]{{1,3}}[期区]|小区|社区)"
)
# Between a street and the place it yields to: '天河北路 侨林苑', '广州大道北 金碧花园'.
_STREET_GAP = re.compile(r"[东西南北中]?\s*")
_NAME_MAX = 10  # characters in front of the suffix
_ESTATE_MAX = 16  # with a house number or phase after it


def _words(spaced: str) -> tuple[str, ...]:
    return tuple(spaced.split())


# The name starts after the last of these, or of the catalogue's tags and aliases:
# '我住在阳光花园' -> 阳光花园, '维修阳光花园' -> 阳光花园.
_CUT_WORDS = _words(
    """
    请处理 处理 麻烦 你好 您好 反映 反应 位于 住在 咨询 请问 举报 投诉 帮忙 求助 一下 老师
    书记 网格员 物业 业主 居民 领导 同志 大家 各位 邻居 现在 今天 昨天 明天 前天 早上 晚上
    上午 下午 中午 凌晨 刚才 刚刚 一直 已经 好几天 好久 发现 看到 看见 听说 附近 旁边 对面
    门口 隔壁 周边 周围 前面 后面 里面 外面 楼下 楼上 楼前 楼后 东边 西边 南边 北边 东侧
    西侧 南侧 北侧 路边 路口 街边 这边 那边 中间 之间 拐弯处 拐角 号楼 号樓 单元 小区 社区
    街道 什么 情况 问题 严重 破损
    的 在 是 住 了 着 过 到 从 往 跟 我 你 他 她 它 咱 们 这 那 哪 说 问 请 让 被 把 给 吗 呢 吧
    啊 呀 嘛 哦 噢 喂 就 也 又 还 很 区 个 些 去 与 及 或 但 栋 幢 室 层
    """
)
# A name made only of these says which kind of place, not which place: 老旧小区, 我们小区.
_GENERIC_TOKENS = tuple(
    sorted(
        _words(
            """
            这个 那个 各个 每个 整个 一个 两个 几个 多个 好几个 这些 那些 所有 其他 其它 别的
            同一 某个 老旧 无物业 有物业 安置 回迁 拆迁 商品房 保障房 棚改 公租房 廉租房 经适房
            高档 普通 封闭 开放 城中 十字 我们 咱们 你们 他们 别人 人家 小区 社区
            本 该 这 那 各 每 整 全 某 此 其 老 旧 新 小 大 高 低 前 后 上 下 中 内 外 里 院 楼
            家 屋 门 村 城 街 路 巷 条 座 栋 片 块 所 处
            """
        ),
        key=len,
        reverse=True,
    )
)
# Common nouns shaped like a place: 马路, 家庭, 政府. Real names end the same way (中山路 ends
# like 山路, a mountain road), so these count whole or behind a measure word (这条马路, 大马路).
_COMMON_PLACES = frozenset(
    _words(
        """
        马路 道路 公路 铁路 小路 大路 电路 线路 网路 水路 思路 山路 土路 新路 老路 旧路 后路
        套路 半路 夜路 陆路 一路 岔路 弯路 近路 条路 段路 小巷 深巷 街巷 陋巷 古巷 老巷 空巷
        条巷 小胡同 农村 乡村 山村 渔村 县城 省城 古城 京城 长城 老城 家庭 法庭 政府 官府
        小花园 后花园 大花园 小广场 大广场
        """
    )
)
_MEASURE_PREFIX = "条这那一每整此该本个各大小老新旧"
# Endings that never close a name: a verb and its object (堵路, 逛街, 进城) or a longer common
# word (邻里街坊, 城中村, 十字路, 美好家园, 市政府).
_NEVER_PLACES = _words(
    """
    走路 修路 堵路 挡路 占路 让路 带路 引路 绕路 拦路 开路 问路 迷路 上路 过路 出路 退路
    回路 断路 短路 进路 来路 去路 通路 赶路 跑路 上街 逛街 临街 沿街 当街 满街 过街 对街
    扫街 进城 全城 满城 全村 本村 老街坊 邻里街坊 好街坊 城中村 十字路 美好家园 共同家园
    精神家园 市政府 区政府 县政府 镇政府 乡政府 省政府
    """
)


def _build_cut_reversed(catalog: CategoryCatalog) -> re.Pattern[str]:
    """The cut words and the catalogue's tags and aliases, each reversed, longest first."""
    words = {*_CUT_WORDS, *(w for c in catalog for w in c.words)}
    return re.compile("|".join(re.escape(w[::-1]) for w in sorted(words, key=len, reverse=True)))


_cut_reversed = PerCatalog(_build_cut_reversed)

_GENERIC_NAME = re.compile("(?:" + "|".join(_GENERIC_TOKENS) + ")+")
_LEADING_NUMBER = re.compile(r"[0-9A-Za-z]+(?![0-9A-Za-z号號期区弄#])")


def _is_name_char(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or is_ascii_alnum(ch)


@dataclass(frozen=True)
class _Place:
    name: str
    start: int
    end: int
    street: bool


def _find_estate(scan: str, cut: re.Pattern[str]) -> _Place | None:
    """The first estate named. A 社区 (the community, an administrative area) counts only when
    no estate follows it ('通顺社区嘉盟小区3号楼' -> 嘉盟小区), and a street gives way to a place
    named right after it ('中山路幸福小区' -> 幸福小区, '天河北路 侨林苑' -> 侨林苑)."""
    community: _Place | None = None
    street: _Place | None = None
    for i, m in enumerate(_ESTATE_SUFFIX.finditer(scan)):
        if i >= _MAX_CANDIDATES:
            break
        place = _estate_at(scan, m, street.end if street else 0, cut)
        if place is None:
            continue
        if street is not None:
            return place if _yields(scan, street, place) else street
        if place.street:
            street = place
        elif m.group() == "社区":
            community = community or place
        else:
            return place
    return street or community


def _yields(scan: str, street: _Place, place: _Place) -> bool:
    """Whether ``street`` gives way to ``place`` after it: one named right after it, or after a
    space a place that is not a street ('天河北路 侨林苑') or a street with a house number when
    the first has none ('龙津西路 逢源北街84号'; not '多宝街23号 水浸街')."""
    if place.start == street.end:
        return True
    if not _STREET_GAP.fullmatch(scan, street.end, place.start):
        return False
    numbered = "号號弄院"
    return not place.street or (place.name[-1] in numbered and street.name[-1] not in numbered)


def _estate_at(scan: str, m: re.Match[str], floor: int, cut: re.Pattern[str]) -> _Place | None:
    """The estate whose suffix ``m`` found; its name does not reach left of ``floor``."""
    suffix, start, end = m.group(), m.start(), m.end()
    if suffix in _NUMBERED:
        digits = _NUMBERED[suffix]
        while start > 0 and m.start() - start < 4 and scan[start - 1] in digits:
            start -= 1
        if start == m.start():
            return None  # 弄坏了, 院 without a number
        suffix = scan[start:end]
    fewest, not_after = _SUFFIX_RULES.get(suffix, (0, ""))
    if end < len(scan) and scan[end] in not_after:
        return None  # 路面, 城管, 园区, 街坊邻居
    if suffix not in _STREET_LIKE and suffix not in ("小区", "社区") and _street_at(scan, end):
        return None  # 花园路: the street candidate that follows takes the whole name
    if suffix == "里" and not _AFTER_LI.match(scan, end):
        return None  # 家里, 这里, 群里: 里 is a place only with an address after it (幸福里3期)
    if suffix == "道" and not _HOUSE_NUMBER.match(scan, end):
        return None  # 楼道, 通道, 下水道: 道 is a street only with its number (南京道201号)
    name = _name_before(scan, start, floor, cut)
    if len(name) < fewest or _is_generic(name) or _is_common_noun(name + suffix):
        return None
    extra, after = _continuation(scan, end, suffix)
    estate = name + suffix + extra
    if len(estate) < 2 or len(estate) > _ESTATE_MAX:
        return None
    return _Place(estate, start - len(name), after, suffix in _NUMBERED_STREETS)


def _is_common_noun(place: str) -> bool:
    """马路, 这条马路, 有车堵路, 邻里街坊: a place word that names no place."""
    if place in _COMMON_PLACES or (place[1:] in _COMMON_PLACES and place[0] in _MEASURE_PREFIX):
        return True
    return place.endswith(_NEVER_PLACES)


def _street_at(scan: str, pos: int) -> bool:
    for street in _STREETS:
        if scan.startswith(street, pos):
            after = scan[pos + len(street) : pos + len(street) + 1]
            return not (after and after in _SUFFIX_RULES[street][1])
    return False


def _name_before(scan: str, start: int, floor: int, cut: re.Pattern[str]) -> str:
    """The place name in front of a suffix: name characters back to a boundary, cut after the
    last leading word ('请处理', '住在', '的' ...), without a stray leading number."""
    left = start
    while left > floor and start - left < _NAME_MAX and _is_name_char(scan[left - 1]):
        left -= 1
    name = scan[left:start]
    last = cut.search(name[::-1])  # the first hit from the right ends rightmost
    if last is not None:
        name = name[len(name) - last.start() :]
    lead = _LEADING_NUMBER.match(name)
    return name[lead.end() :] if lead else name


def _is_generic(name: str) -> bool:
    return bool(name) and _GENERIC_NAME.fullmatch(name) is not None


def _continuation(scan: str, end: int, suffix: str) -> tuple[str, int]:
    """长乐路 + 123弄, 中山路 + 12号, 幸福家园 + 小区, 碧桂园 + 二期, 天通苑 + 东一区; the text
    added (without spaces) and where it ends."""
    extra = ""
    if suffix in _NUMBERED_STREETS:
        house = _HOUSE_NUMBER.match(scan, end)
        if house:
            extra, end = house.group().strip(), house.end()
    if suffix not in ("小区", "社区") and scan.startswith(("小区", "社区"), end):
        extra, end = extra + scan[end : end + 2], end + 2
    phase = _PHASE.match(scan, end)
    if phase:
        extra, end = extra + phase.group(), phase.end()
    return extra, end


# A name without a place word right before the address: '北城龙珠107栋', '李园路159号北城龙珠107栋'
# (after a street's number), '金科集美 1期 12栋', '恒大御景半岛 5座'. A run of 2-8 Chinese
# characters standing on its own, with nothing of a complaint in it, that is glued to the address,
# or followed by a phase or zone ('劲松八区805楼' keeps it, '中海寰宇天下 B区 3栋' drops it), or
# ends the way estate names do (半岛, 港, 帝景): '空调外机 5栋', '厨房 5号楼' name no estate.
_BARE_NAME = re.compile(
    r"(?<![\u3400-\u4dbf\u4e00-\u9fff])(?P<name>[\u3400-\u4dbf\u4e00-\u9fff]{2,8})"
    rf"(?P<zone>\s+(?:{_PHASE.pattern}))?(?P<gap>\s*)$"
)
_NAME_ENDINGS = re.compile(
    f"(?:[岛港景庄邸居阁轩墅郡汇都峰岸堡畔镇]|中心|国际|天下|湖畔|[{_CN}壹]号)$"
)
_NOT_IN_NAMES = re.compile(
    "[坏漏堵修没不停吗呢啊呀吧灯脏臭吵响裂急谢]|电梯|楼道|水管|暖气|下水|楼顶|车库|地下|电话|手机|"
    "联系|地址|楼号|楼栋|房号|号码|师傅|业主|住户"
)
_BARE_WINDOW = 24
_ENDING_PHASE = re.compile(rf"(?:{_PHASE.pattern})$")


def _bare_name(
    scan: str, floor: int, start: int, cut: re.Pattern[str], labels: AbstractSet[int]
) -> str | None:
    left = max(floor, start - _BARE_WINDOW)
    m = _BARE_NAME.search(scan[left:start])
    if m is None:
        return None
    at = left + m.start()
    if at in labels or scan[at - 1 : at] == "#":
        return None  # a tag: #紧急 5号楼
    name = m["name"]
    phase = _ENDING_PHASE.search(name)
    stem = name[: phase.start()] if phase else name
    if len(stem) < 2 or cut.search(stem[::-1]) or _NOT_IN_NAMES.search(stem) or _is_generic(stem):
        return None
    standing = not m["gap"] or m["zone"] or phase or _NAME_ENDINGS.search(name)
    return name if standing else None


# --- Chinese numerals ------------------------------------------------------------------------

_CN_VALUE = {
    "零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "六": 6, "七": 7, "八": 8, "九": 9,
    "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9,
}  # fmt: skip
_CN_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_MAX_LEN = 20


def chinese_numeral_to_int(s: str) -> int | None:
    """``三`` -> 3, ``十二`` -> 12, ``二十一`` -> 21, ``一百零五`` -> 105, ``两`` -> 2, ``〇`` -> 0,
    ``一万二千`` -> 12000, ``一百五`` -> 150 (colloquial); a digit-by-digit reading
    (``五零一`` -> 501, ``二〇二六`` -> 2026, ``幺零幺`` -> 101) as room and year numbers are read
    aloud. None for anything else (ASCII digits included) and for more than 20 characters."""
    s = s.strip()
    if not s or len(s) > _CN_MAX_LEN:
        return None
    if all(ch in _CN_VALUE for ch in s):
        return int("".join(str(_CN_VALUE[ch]) for ch in s))
    if "幺" in s:
        return None  # 幺 is only said digit by digit
    high, sep, low = s.partition("万")
    if not sep:
        return _cn_section(s)
    head = _cn_section(high) if high else None
    if len(low) == 1 and low in _CN_VALUE and low not in "零〇":
        tail: int | None = _CN_VALUE[low] * 1000  # 一万二 = 12000 (colloquial)
    elif low[:1] in ("零", "〇"):
        tail = _cn_section(low[1:]) if low[1:] else None  # 一万零五 = 10005
        tail = tail if tail is not None and tail < 1000 else None
    else:
        tail = _cn_section(low) if low else 0
    if head is None or head == 0 or tail is None:
        return None
    return head * 10000 + tail


def _cn_section(s: str) -> int | None:
    """A numeral below 10000 with units: 十二, 二十一, 一百零五, 三千零五十, 一百五."""
    total = 0
    pending: int | None = None
    last_unit = 10000
    zero = False
    for i, ch in enumerate(s):
        if ch in ("零", "〇"):
            if pending is not None or last_unit == 10000:
                return None
            zero = True
        elif ch in _CN_VALUE:
            if pending is not None:
                return None
            pending = _CN_VALUE[ch]
        elif ch in _CN_UNIT:
            unit = _CN_UNIT[ch]
            if unit >= last_unit:
                return None
            if pending is None:
                if unit != 10 or i != 0:  # only a leading 十 may stand alone (十二 = 12)
                    return None
                pending = 1
            total += pending * unit
            pending, last_unit, zero = None, unit, False
        else:
            return None
    if pending is not None:
        # 一百五 = 150 (colloquial), but 一百零五 = 105
        total += pending * (
            last_unit // 10 if last_unit > 10 and last_unit != 10000 and not zero else 1
        )
    elif zero:
        return None
    return total
