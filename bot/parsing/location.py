"""Where the report is: estate (小区), building (楼栋), unit (单元), room (房号); Chinese numerals.

Decisions on the ambiguous cases (tests/test_parsing_location.py pins each of them):

* ``N楼`` is a floor, not a building, except right before a unit (``5楼2单元`` is building 5).
  ``N号`` is a building only before a unit or a room (``5号2单元``, ``5号501室``).
* ``N门`` is a unit (Beijing usage: ``5号楼3门``) only directly after a building.
* ``7-6-1046`` is building-unit-room; ``7-1046`` is building-room (the room must be 3–4 digits,
  so dates ``11-26``, ranges ``3-5天`` and prices ``100-200元`` stay out); after a building
  ``2-501`` is unit-room.
* ``院``: ``N号院`` (Beijing compound) and ``大院``/``家属院`` are estates; a bare ``院`` is not
  (医院, 法院, 院里).
* ``里``: an estate (``幸福里``) only when an address continues right after it (``幸福里3期``,
  ``幸福里5号楼``, ``幸福里小区``): 家里, 这里, 群里, 小区里, 公里 are never estates.
* ``弄`` only after a number (``长乐路123弄``); on its own it is a verb.
* Buildings are digits only; ``A座`` is not read as a building.
* The first place named wins, except that a 社区 yields to an estate after it and a street to an
  estate named right after it (``中山路幸福小区`` -> 幸福小区).
* An estate's name starts after the last leading word (``_CUT_WORDS``) or tag or alias of the
  catalogue in force in front of it: ``维修阳光花园`` -> 阳光花园, and with a CATEGORIES_FILE
  that adds ``电梯``, ``电梯阳光花园`` -> 阳光花园 too.

The location is looked for in the first ``_LOCATION_WINDOW`` characters; fields come out in ASCII
digits (the text is read through its scan copy, see bot.parsing.text).
"""

from __future__ import annotations

import re
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


def read_location(scan: str, catalog: CategoryCatalog) -> Location:
    """``parse_location`` of a scan copy in which numbers, URLs and tags are already blanked."""
    scan = scan[:_LOCATION_WINDOW]
    building, unit, room = _find_cluster(scan)
    estate = _find_estate(scan, _cut_reversed(catalog))
    return Location(estate=estate, building=building, unit=unit, room=room)


# --- building / unit / room ----------------------------------------------------------------

_CN = "零〇一二三四五六七八九十百两"
_NB = rf"(?:[0-9]{{1,3}}|[{_CN}]{{1,4}})"  # a building number
_NU = rf"(?:[0-9]{{1,2}}|[{_CN}]{{1,3}})"  # a unit or floor number
_SEP = r"[\s,，、/\-的]{0,3}"  # between parts: '3号楼，2单元', '3号楼 - 2单元', '3号楼的2单元'
_HAO = "[号號]"
_LOU = "[楼樓]"
_MARK = rf"(?:{_HAO}{_LOU}|{_HAO}[栋棟座]|#{_LOU}|#[栋棟]|[栋棟幢座]|#)"
_UNIT_WORD = "(?:单元|單元)"
_DOOR = "(?:门洞|[门門](?![口卫前外内里禁岗面诊店市牌铃锁窗框票把]))"
_FLOOR = rf"(?:{_NU}\s?(?:{_LOU}|层|層)(?![道梯下上顶頂门房栋前后里外]))"
_ROOM_SUFFIX = rf"(?:室|房(?![子间屋东租价产本])|{_HAO}(?![楼樓院线门栋棟0-9]))"
# A number followed by one of these is a time, an amount or a count, not a room.
_MEASURE = (
    "点時时分秒号號天日月年个人户岁元块米平层楼樓度斤次辆台毫克吨升亩公千万多余来几级届周期栋%:：."
)


def _room(k: int) -> str:
    return (
        rf"(?:(?P<r{k}>[A-Za-z]?[0-9]{{1,5}}[A-Za-z]?)\s?{_ROOM_SUFFIX}"
        rf"|(?P<rb{k}>[A-Za-z]?[0-9]{{3,4}}[A-Za-z]?)(?![0-9A-Za-z]|\s?[{_MEASURE}])"
        rf"|(?P<rc{k}>[{_CN}幺]{{2,6}})\s?(?:室|房|{_HAO}(?![楼樓院]))"
        rf"|(?P<rd{k}>[零〇一二三四五六七八九幺]{{3,4}})(?![{_CN}幺]|\s?[{_MEASURE}]))"
    )


_NOT_AFTER_NUMBER = rf"(?<![0-9A-Za-z{_CN}])"
_NOT_AFTER_DASHED = r"(?<![0-9A-Za-z_/.#:：\-])"
_CLUSTER = re.compile(
    # 3号楼2单元501 · 三号楼二单元 · 3#楼 · 5#502 · 5号2单元 · 5楼2单元 · 3号楼2-501 · 5号楼3门
    rf"(?:第\s?)?{_NOT_AFTER_NUMBER}"
    rf"(?:(?P<b1>{_NB})\s?(?P<mark>{_MARK})"
    rf"|(?P<b2>{_NB})\s?{_HAO}(?={_SEP}(?:{_NU}\s?{_UNIT_WORD}|[A-Za-z]?[0-9]{{3,4}}\s?[室房]))"
    rf"|(?P<b3>{_NB})\s?{_LOU}(?={_SEP}{_NU}\s?{_UNIT_WORD})"
    # 愚园路1088弄12号: in a Shanghai lane the house number is the building
    rf"|(?<=弄)(?P<b4>[0-9]{{1,3}})\s?{_HAO}(?![楼樓院栋棟座]))"
    rf"(?:{_SEP}(?:(?P<u1>{_NU})\s?(?:{_UNIT_WORD}|{_DOOR})"
    rf"|(?P<ud1>[0-9]{{1,2}})-(?=[A-Za-z]?[0-9]{{3,4}}(?![0-9]))))?"
    rf"(?:{_SEP}{_FLOOR})?(?:{_SEP}{_room(1)})?"
    # 2单元501 (a unit without a building)
    rf"|{_NOT_AFTER_NUMBER}(?P<u2>{_NU})\s?{_UNIT_WORD}(?:{_SEP}{_FLOOR})?(?:{_SEP}{_room(2)})?"
    # 7-6-1046 · 7－6－1046 (building-unit-room); not a date 2026-11-26 (4-digit head)
    rf"|{_NOT_AFTER_DASHED}(?P<db>[1-9][0-9]{{0,2}})-(?P<du>[1-9][0-9]?)-"
    rf"(?P<dr>[A-Za-z]?[0-9]{{3,4}}[A-Za-z]?)(?![0-9A-Za-z\-])"
    # 7-1046 (building-room); the room has 3-4 digits and no unit of measure after it
    rf"|{_NOT_AFTER_DASHED}(?P<eb>[1-9][0-9]{{0,2}})-(?P<er>[1-9][0-9]{{2,3}}[A-Za-z]?)"
    rf"(?![0-9A-Za-z\-.:：]|\s?[{_MEASURE}])"
    # 501室 · 1203房 · 一百零五室 on their own (not 3室2厅: a room number has 3-4 digits)
    rf"|{_NOT_AFTER_NUMBER}(?P<rs>[A-Za-z]?[0-9]{{3,4}}[A-Za-z]?)\s?(?:室|房(?![子间屋东租价产本]))"
    rf"|{_NOT_AFTER_NUMBER}(?P<rsc>[{_CN}幺]{{3,6}})(?:室|房(?![子间屋东租价产本]))"
)
# 一栋楼都停电, 十栋楼: a count of buildings, not building number one.
_WHOLE_BUILDING = re.compile(rf"{_LOU}(?![道梯下上顶頂门口层前后里外])")
_MAX_CANDIDATES = 64  # the first address is near the start; never loop over a 100 KB string


def _find_cluster(scan: str) -> tuple[str | None, str | None, str | None]:
    for i, m in enumerate(_CLUSTER.finditer(scan)):
        if i >= _MAX_CANDIDATES:
            break
        found = _cluster_parts(m, scan)
        if found is not None:
            return found
    return None, None, None


def _cluster_parts(m: re.Match[str], scan: str) -> tuple[str | None, str | None, str | None] | None:
    if m["db"]:
        return _number(m["db"]), _number(m["du"]), m["dr"].upper()
    if m["eb"]:
        return _number(m["eb"]), None, m["er"].upper()
    if m["rs"] or m["rsc"]:
        room = _room_value(m["rs"], None, m["rsc"], None)
        return (None, None, room) if room else None
    building = _building(m, scan)
    if (m["b1"] or m["b2"] or m["b3"] or m["b4"]) and building is None:
        return None
    unit = _number(m["u1"] or m["ud1"] or m["u2"])
    room = _room_value(
        m["r1"] or m["r2"], m["rb1"] or m["rb2"], m["rc1"] or m["rc2"], m["rd1"] or m["rd2"]
    )
    if building is None and unit is None:
        return None
    return building, unit, room


def _building(m: re.Match[str], scan: str) -> str | None:
    raw = m["b1"] or m["b2"] or m["b3"] or m["b4"]
    if not raw:
        return None
    if not raw.isdigit():
        if raw.startswith("两"):
            return None  # 两栋楼: a count (building two is 二号楼)
        mark = m["mark"] or ""
        if mark == "座" or (mark in "栋棟幢" and _WHOLE_BUILDING.match(scan, m.end("mark"))):
            return None  # 一座桥, 一栋楼都停电
    return _number(raw)


def _number(raw: str | None) -> str | None:
    """'03' -> '3', '十二' -> '12'; None for nothing, zero, or a count like 两."""
    if not raw:
        return None
    value = int(raw) if raw.isdigit() else chinese_numeral_to_int(raw)
    if value is None or value == 0 or raw == "两":
        return None
    return str(value)


def _room_value(
    coded: str | None, bare: str | None, cn: str | None, spoken: str | None
) -> str | None:
    if coded or bare:
        return (coded or bare or "").upper()
    value = chinese_numeral_to_int(cn or spoken or "")
    return str(value) if value else None


# --- estate / place ------------------------------------------------------------------------

# suffix: (fewest name characters in front of it, characters that must not follow it)
_SUFFIX_RULES: dict[str, tuple[int, str]] = {
    "小区": (1, ""), "社区": (1, ""), "花园": (1, ""), "家园": (1, ""), "新村": (1, ""),
    "新城": (1, "区"), "山庄": (1, ""), "公寓": (1, ""), "公馆": (1, ""), "大厦": (1, ""),
    "大楼": (1, "道梯下上顶"), "广场": (1, "舞"), "街坊": (1, "邻们"), "胡同": (1, ""),
    "大街": (1, "道"), "大道": (1, ""), "大院": (1, ""), "家属院": (1, ""), "家属楼": (1, "道梯"),
    "生活区": (1, ""), "宿舍": (1, ""), "苑": (1, ""),
    "园": (2, "区林艺丁长子地"), "庭": (2, "院审长"), "府": (2, "上"), "湾": (2, "区"),
    "城": (2, "管市区乡墙镇际建中内外郊关门里"), "村": (2, "委民里干长口头子庄落镇"),
    "巷": (1, "子道"), "路": (2, "面灯边段过人线况牌障基沿肩旁由费径程子数标途政"),
    "街": (2, "道头边面角心区景舞机坊上"), "里": (2, ""),
}  # fmt: skip
_STREETS = ("大街", "大道", "胡同", "路", "街", "巷")
_STREET_LIKE = frozenset((*_STREETS, "里"))
# N号院 (a Beijing compound) and N弄 (a Shanghai lane) are places with a number as their name.
_NUMBERED = {"号院": _CN + "0123456789", "號院": _CN + "0123456789", "弄": "0123456789"}
# Literal alternatives only, so the regex engine jumps from one possible suffix to the next.
_ESTATE_SUFFIX = re.compile("|".join(sorted((*_SUFFIX_RULES, *_NUMBERED), key=len, reverse=True)))
# What may continue an estate name: a house number after a street (建设路23号, 长乐路123弄,
# 东四十条胡同3号院), but not a building (建设路3号楼, 建设路3号2单元).
_HOUSE_NUMBER = re.compile(
    rf"(?:[0-9]{{1,4}}|[{_CN}]{{1,4}})(?:{_HAO}院|弄|{_HAO}(?![楼樓栋棟座院]"
    rf"|{_SEP}(?:{_NU}\s?{_UNIT_WORD}|[A-Za-z]?[0-9]{{3,4}}\s?[室房])))"
)
_PHASE = re.compile(rf"(?:[0-9]{{1,2}}|[{_CN}]{{1,3}})[期区]|[A-Za-z]区|[东西南北中]区")
_AFTER_LI = re.compile(rf"\s?(?:{_NB}\s?(?:{_MARK}|{_HAO}|期|区|弄)|小区|社区)")
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


def _find_estate(scan: str, cut: re.Pattern[str]) -> str | None:
    """The first estate named. A 社区 (the community, an administrative area) counts only when
    no estate follows it ('通顺社区嘉盟小区3号楼' -> 嘉盟小区), and a street gives way to an
    estate named right after it ('中山路幸福小区' -> 幸福小区)."""
    community: str | None = None
    street: tuple[str, int] | None = None  # the name and where it ends
    for i, m in enumerate(_ESTATE_SUFFIX.finditer(scan)):
        if i >= _MAX_CANDIDATES:
            break
        found = _estate_at(scan, m, street[1] if street else 0, cut)
        if found is None:
            continue
        estate, start, end = found
        if street is not None:
            return estate if start == street[1] else street[0]
        if m.group() in _STREETS:
            street = estate, end
        elif m.group() == "社区":
            community = community or estate
        else:
            return estate
    return street[0] if street else community


def _estate_at(
    scan: str, m: re.Match[str], floor: int, cut: re.Pattern[str]
) -> tuple[str, int, int] | None:
    """The estate whose suffix ``m`` found, with where it starts and ends; its name does not
    reach left of ``floor``."""
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
    name = _name_before(scan, start, floor, cut)
    if len(name) < fewest or _is_generic(name) or _is_common_noun(name + suffix):
        return None
    extra = _continuation(scan, end, suffix)
    estate = name + suffix + extra
    if len(estate) < 2 or len(estate) > _ESTATE_MAX:
        return None
    return estate, start - len(name), end + len(extra)


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


def _continuation(scan: str, end: int, suffix: str) -> str:
    """幸福里 + 3期, 长乐路 + 123弄, 幸福家园 + 小区, 碧桂园 + 二期."""
    extra = ""
    if suffix in _STREET_LIKE:
        house = _HOUSE_NUMBER.match(scan, end)
        if house:
            extra, end = house.group(), house.end()
    if suffix not in ("小区", "社区") and scan.startswith(("小区", "社区"), end):
        extra, end = extra + scan[end : end + 2], end + 2
    phase = _PHASE.match(scan, end)
    if phase:
        extra += phase.group()
    return extra


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
