"""Resident message text -> tags, category, body, location, private numbers.

Pure functions: no telegram import, no I/O, and no function here raises on any ``str``. They run
on every group message, so they are built from linear regexes (no nested unbounded repeats) and
bounded scans: a 200-character message parses in about 0.08 ms, a full 4096-character one in
under 1 ms, and 100 KB of adversarial text in tens of milliseconds.

Everything works on a *scan copy* of the text in which full-width ASCII (``＃３号楼``), the
ideographic space, dash variants and ①–⑨ are folded to plain ASCII one character for one
character, so every index found in the scan copy is an index into the original text. The body
keeps the resident's own characters; location fields come out in ASCII digits.

Decisions on the ambiguous cases (the tests pin each of them):

* Tags. ``#``/``＃`` anywhere, followed by a run of letters/digits (Telegram's own rule). A known
  tag or alias is matched as the longest prefix of the run (``#报修北瑞小区`` -> 报修); a Latin
  tag must end at a word boundary (``#fixed`` is not ``#fix``). An unknown run is a label only if
  it starts with a letter: ``#3``, ``#3号楼``, ``#501`` are numbering, not tags. A ``#`` right
  after an ASCII letter/digit (``3#楼``, ``5#``, ``5#路灯坏了``, ``C#``) is the building mark,
  unless a known tag follows and ends right there (``501#报修``). ``#`` inside a URL is not a tag.
* Bare bracketed tag: ``【报修】``/``[报修]``/``（报修）`` without ``#`` counts only in the
  *header* of the message (before any other text; whitespace, dangling punctuation and other
  tags may precede it) and only when the bracket holds exactly a known tag or alias. Residents
  paste templates like that; ``通知【报修】`` in mid-text is not a tag. ``TagHit.start`` is then
  the index of the word (there is no marker).
* Labels: every other tag word in order, without duplicates, leaving out words that select the
  same category as the deciding tag (``#报修 #维修`` adds nothing).
* Body: known tags are removed with their marker. An unknown tag is removed too when it is
  label-sized (at most ``_LABEL_MAX`` characters); a longer run is the resident's sentence
  glued to a ``#`` (``#通知今天下午三点停水``), so only the marker goes and the words stay.
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

Limits, for messages no resident writes: at most ``_MAX_TAGS`` tags are read (the rest of the
text stays in the body) and the location is looked for in the first ``_LOCATION_WINDOW``
characters. Phones and ID numbers are found in the whole text, however long.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.categories import DEFAULT_CATEGORIES, CategoryCatalog

__all__ = [
    "Location",
    "ParsedReport",
    "TagHit",
    "chinese_numeral_to_int",
    "find_id_numbers",
    "find_phones",
    "find_tags",
    "mask_sensitive",
    "parse_location",
    "parse_report",
]


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagHit:
    word: str
    """What followed the marker, up to the matched tag/alias; an unknown tag's whole run."""
    category: str | None
    """Category key of a known tag or alias, None for an unknown tag."""
    start: int
    """Index of the ``#``/``＃`` (of the word itself for a bare ``【报修】``)."""
    end: int
    """Index just after the matched word."""


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


@dataclass(frozen=True)
class ParsedReport:
    category: str | None
    tag: str | None
    labels: tuple[str, ...]
    tags: tuple[TagHit, ...]
    body: str
    location: Location
    phones: tuple[str, ...]
    id_numbers: tuple[str, ...]

    @property
    def is_report(self) -> bool:
        return self.category is not None

    @property
    def needs_detail(self) -> bool:
        """A known tag, but the body says nothing: empty, only punctuation/emoji, only tag words
        or courtesy words (``#报修 报修！``, ``#报修 请尽快处理，谢谢``)."""
        if self.category is None:
            return False
        words = {h.word for h in self.tags if h.category is not None}
        return not _has_substance(self.body, words)


# --------------------------------------------------------------------------------------------
# The scan copy
# --------------------------------------------------------------------------------------------


def _scan_table() -> dict[int, str]:
    # Every mapping is one character to one character: indices stay valid in the original text.
    # Full-width ASCII folds, except the punctuation nearly every Chinese message has (the
    # patterns accept both forms), so that most messages need no translation at all.
    common = "，！？：；（）"
    table = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F) if chr(cp) not in common}
    table[0x3000] = " "  # ideographic space
    for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63):
        table[cp] = "-"
    for i in range(9):
        table[0x2460 + i] = str(i + 1)  # ①..⑨
    return table


_SCAN_TABLE = _scan_table()
_FOLDABLE = re.compile("[" + "".join(chr(cp) for cp in sorted(_SCAN_TABLE)) + "]")


def _scan(text: str) -> str:
    # translate() costs ~0.1 µs a character; most messages have nothing to fold.
    return text.translate(_SCAN_TABLE) if _FOLDABLE.search(text) else text


_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[!-~]+", re.IGNORECASE)


def _blank(scan: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return scan
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(scan[pos:start])
        out.append(" " * (end - start))
        pos = end
    out.append(scan[pos:])
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------------

_BRACKETS = {
    "【": "】", "[": "]", "(": ")", "（": "）", "〔": "〕", "「": "」", "『": "』", "《": "》",
    "〖": "〗",
}  # fmt: skip
# What may stand before a bare 【报修】 in the header, and what the body loses at its start.
_LEAD_JUNK = " \t\r\n\v\f：:，,、。.；;！!-—~～)）】]」』〕>》〗"
_HEADER_JUNK = re.compile(r"[\s：:，,、。.；;！!\-—~～)）】\]」』〕>》〗]*")
_TRAIL_JUNK = "：:，,、；;-—(（【[「『〔<《〖"
# Inside brackets emptied by removing the tags, these may remain: 【#报修，#充电】.
_GAP = frozenset(" \t\r\n\v\f,，、/|;；")
_LABEL_MAX = 6
_BARE_MAX = 12


def find_tags(text: str, catalog: CategoryCatalog) -> tuple[TagHit, ...]:
    """Every tag in ``text`` in order: ``#word``/``＃word`` anywhere, and bare ``【报修】`` in the
    header. Words come out with full-width letters/digits folded to ASCII."""
    return _find_tags(_scan(text), catalog)


def _find_tags(scan: str, catalog: CategoryCatalog) -> tuple[TagHit, ...]:
    hits = _marker_hits(scan, catalog)
    bare = _header_bare_hits(scan, hits, catalog)
    if bare:
        hits = sorted([*hits, *bare], key=lambda h: h.start)
    return tuple(hits)


_MAX_TAGS = 256  # more is spam, not a report: the rest of such a message is left as it is
_TAG_PATTERNS: dict[int, tuple[CategoryCatalog, re.Pattern[str], re.Pattern[str]]] = {}


def _tag_patterns(catalog: CategoryCatalog) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two regexes per catalogue, so that a '#' that is no tag costs nothing in Python.

    After a '#': the longest known tag or alias (a Latin one must end at a word boundary), else
    an unknown word that starts with a letter. The first pattern is for anywhere: right after
    an ASCII letter or a digit ('3#楼', 'C#', '501#报修') only a known tag that ends right there
    counts. The second is for a '#' right after another tag ('#A#B', '#报修#充电')."""
    cached = _TAG_PATTERNS.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1], cached[2]
    words = sorted({w for c in catalog for w in c.words}, key=len, reverse=True)
    known = "|".join(
        re.escape(w) + ("(?![A-Za-z0-9])" if _is_ascii_alnum(w[-1]) else "") for w in words
    )
    known = f"(?i:{known or '(?!)'})"
    tag = rf"(?P<k>{known})|(?P<u>[^\W\d_]\w*)"
    # The '#' comes first: the regex engine then jumps from one '#' to the next in C.
    anywhere = re.compile(rf"#(?:(?<![A-Za-z&_/=@\d]#)(?:{tag})|(?P<w>{known})(?!\w))")
    glued = re.compile(rf"#(?:{tag})")
    if len(_TAG_PATTERNS) > 32:
        _TAG_PATTERNS.clear()
    _TAG_PATTERNS[id(catalog)] = (catalog, anywhere, glued)
    return anywhere, glued


def _marker_hits(scan: str, catalog: CategoryCatalog) -> list[TagHit]:
    hits: list[TagHit] = []
    if "#" not in scan:
        return hits
    urls = _url_spans(scan)
    searched = _blank(scan, urls) if urls else scan  # 'http://x.com/a#b' is no tag
    anywhere, glued = _tag_patterns(catalog)
    m = anywhere.search(searched)
    while m is not None and len(hits) < _MAX_TAGS:
        word = m["k"] or m.groupdict().get("w") or m["u"] or ""
        category = catalog.by_word(word) if word != m["u"] else None
        hits.append(TagHit(word, category.key if category else None, m.start(), m.end()))
        end = m.end()
        m = glued.match(searched, end) or anywhere.search(searched, end)
    return hits


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


_MAX_HEADER_STEPS = 64


def _header_bare_hits(scan: str, hits: list[TagHit], catalog: CategoryCatalog) -> list[TagHit]:
    """Bare ``【报修】`` in the message header (see the module notes)."""
    by_start = {h.start: h for h in hits}
    found: list[TagHit] = []
    i = 0
    for _ in range(_MAX_HEADER_STEPS):
        junk = _HEADER_JUNK.match(scan, i)
        i = junk.end() if junk else i
        if i in by_start:
            i = by_start[i].end
            continue
        if i >= len(scan) or scan[i] not in _BRACKETS:
            break
        close = scan.find(_BRACKETS[scan[i]], i + 1, i + 2 + _BARE_MAX)
        if close < 0:
            break
        if not _only_hits(scan, i + 1, close, by_start):
            bare = _bare_word(scan, i + 1, close, catalog)
            if bare is None:
                break
            found.append(bare)
        i = close + 1
    return found


def _only_hits(scan: str, start: int, end: int, by_start: dict[int, TagHit]) -> bool:
    seen = False
    k = start
    while k < end:
        hit = by_start.get(k)
        if hit is not None and hit.end <= end:
            seen, k = True, hit.end
        elif scan[k] in _GAP:
            k += 1
        else:
            return False
    return seen


def _bare_word(scan: str, start: int, end: int, catalog: CategoryCatalog) -> TagHit | None:
    inner = scan[start:end]
    word = inner.strip()
    category = catalog.by_word(word) if word else None
    if category is None:
        return None
    offset = start + len(inner) - len(inner.lstrip())
    return TagHit(word, category.key, offset, offset + len(word))


# --------------------------------------------------------------------------------------------
# Body
# --------------------------------------------------------------------------------------------


def _removal_mask(scan: str, hits: tuple[TagHit, ...]) -> bytearray:
    """1 for every character the body drops: tags, brackets they leave empty, stray markers."""
    mask = bytearray(len(scan))
    for h in hits:
        if h.category is None and len(h.word) > _LABEL_MAX:
            mask[h.start] = 1  # a sentence glued to '#': keep the words
        else:
            mask[h.start : h.end] = b"\x01" * (h.end - h.start)
    n = len(scan)
    right = 0
    for h in hits:
        if h.start < right:
            continue  # already inside a processed cluster
        left = h.start
        while left > 0 and (mask[left - 1] or scan[left - 1] in _GAP):
            left -= 1
        right = h.end
        while right < n and (mask[right] or scan[right] in _GAP):
            right += 1
        if not any(mask[left:right]):
            continue
        before = left - 1
        if before >= 0 and right < n and _BRACKETS.get(scan[before]) == scan[right]:
            mask[before] = mask[right] = 1
            before -= 1
            right += 1
        # A '#' glued in front of a removed tag ('##报修', '#【#报修】') would otherwise meet
        # the text after it and read as a new tag in the body.
        while before >= 0 and scan[before] == "#":
            mask[before] = 1
            before -= 1
    return mask


_KEEP_RUN = re.compile(rb"\x00+")
# '3号楼漏水 #报修。' leaves a space before the full stop.
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[，。！？、；：）】」』])")


def _body(text: str, mask: bytearray) -> str:
    kept = "".join(text[m.start() : m.end()] for m in _KEEP_RUN.finditer(mask))
    collapsed = _SPACE_BEFORE_PUNCT.sub("", " ".join(kept.split()))
    stripped = collapsed.lstrip(_LEAD_JUNK)
    return stripped.rstrip(_TRAIL_JUNK + " ")


_FILLER = (
    "请尽快处理", "尽快处理", "请处理", "处理一下", "处理", "麻烦了", "麻烦", "谢谢了", "谢谢",
    "感谢", "辛苦了", "辛苦", "请尽快", "尽快", "急急急", "紧急", "着急", "急", "快点", "快",
    "速来", "在吗", "有人吗", "你好", "您好", "看一下", "看看", "一下", "网格员", "书记", "老师",
    "请", "帮", "啊", "呀", "吧", "了", "的",
)  # fmt: skip
_DEFAULT_TAG_WORDS = frozenset(w for c in DEFAULT_CATEGORIES for w in c.words)


_EMPTY_WORDS = re.compile(
    "|".join(sorted(_DEFAULT_TAG_WORDS | set(_FILLER), key=len, reverse=True)), re.IGNORECASE
)


def _has_substance(body: str, words: set[str]) -> bool:
    rest = body
    for word in sorted(words, key=len, reverse=True):  # this catalogue's tags in the message
        rest = rest.replace(word, " ")
    rest = _EMPTY_WORDS.sub(" ", rest)
    return any(ch.isalnum() for ch in rest)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def parse_report(text: str, catalog: CategoryCatalog) -> ParsedReport:
    scan = _scan(text)
    hits = _find_tags(scan, catalog)
    decider = next((h for h in hits if h.category is not None), None)
    category = catalog.get(decider.category) if decider and decider.category else None
    mask = _removal_mask(scan, hits)
    sensitive = _sensitive_spans(scan)
    # The location is read without the known tags, but an unknown tag may name the place:
    # '#北瑞小区 路灯坏了'.
    located = _blank(
        scan,
        [(h.start, h.end if h.category else h.start + 1) for h in hits]
        + [(f.start, f.end) for f in sensitive],
    )
    return ParsedReport(
        category=category.key if category else None,
        tag=category.tag if category else None,
        labels=_labels(hits, decider),
        tags=hits,
        body=_body(text, mask),
        location=_parse_location(_blank(located, _url_spans(located))),
        phones=_unique(f.value for f in sensitive if f.kind != _ID),
        id_numbers=_unique(f.value for f in sensitive if f.kind == _ID),
    )


def _labels(hits: tuple[TagHit, ...], decider: TagHit | None) -> tuple[str, ...]:
    seen: set[str] = set()
    labels: list[str] = []
    for h in hits:
        if h is decider or (decider is not None and h.category == decider.category):
            continue
        key = h.word.casefold()
        if key not in seen:
            seen.add(key)
            labels.append(h.word)
    return tuple(labels)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --------------------------------------------------------------------------------------------
# Chinese numerals
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Phones and ID numbers
# --------------------------------------------------------------------------------------------

_PHONE_SEP = r"[ \-\u00a0]?"
# A mobile: 1[3-9]x xxxx xxxx, optionally +86/0086/86 in front, grouped 3-4-4 by spaces/dashes.
_MOBILE = re.compile(
    r"(?<![0-9])(?P<cc>(?:\+|00)?86" + _PHONE_SEP + r"|[(（]\+?86[)）]" + _PHONE_SEP + r")?"
    r"(?P<a>1[3-9][0-9])" + _PHONE_SEP + r"(?P<b>[0-9]{4})" + _PHONE_SEP + r"(?P<c>[0-9]{4})"
    r"(?![0-9])"
)
# A landline: area code 0xx/0xxx, then 7-8 digits that never start with 0 or 1.
_LANDLINE = re.compile(
    r"(?<![0-9])[(（]?(?P<area>0[1-9][0-9]{1,2})[)）]?[ \-]?(?P<local>[2-9][0-9]{6,7})(?![0-9])"
)
_BIRTH = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID18 = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}" + _BIRTH + r"[0-9]{3}[0-9Xx](?![0-9])"
)
_ID15 = re.compile(r"(?<![0-9])[1-9][0-9]{5}[0-9]{2}" + _BIRTH + r"[0-9]{3}(?![0-9Xx])")


_ID, _MOBILE_KIND, _LANDLINE_KIND = "id", "mobile", "landline"


@dataclass(frozen=True)
class _Sensitive:
    start: int
    end: int
    kind: str
    value: str


# Where a phone or ID number can be: 10+ characters of digits and their separators. The
# detailed patterns start with a look-behind, which the regex engine tries at every position;
# this one starts with a character class, which it skips to directly.
_NUMBER_REGION = re.compile(r"[+(（0-9][0-9 \-()（）+\u00a0Xx]{9,}")


def _sensitive_spans(scan: str) -> list[_Sensitive]:
    """Every ID number, mobile and landline in order; an ID number wins where a phone-shaped
    part of it overlaps."""
    found: list[_Sensitive] = []
    for region in _NUMBER_REGION.finditer(scan):
        found += _sensitive_in(scan, region.start(), region.end())
    return found


def _sensitive_in(scan: str, start: int, end: int) -> list[_Sensitive]:
    ids = sorted(
        (
            _Sensitive(m.start(), m.end(), _ID, m.group().upper())
            for pattern in (_ID18, _ID15)
            for m in pattern.finditer(scan, start, end)
        ),
        key=lambda f: f.start,
    )
    mobiles = [
        _Sensitive(m.start(), m.end(), _MOBILE_KIND, _phone_value(m, _MOBILE_KIND))
        for m in _MOBILE.finditer(scan, start, end)
    ]
    taken = sorted(ids + _without_overlaps(mobiles, ids), key=lambda f: f.start)
    landlines = [
        _Sensitive(m.start(), m.end(), _LANDLINE_KIND, _phone_value(m, _LANDLINE_KIND))
        for m in _LANDLINE.finditer(scan, start, end)
    ]
    return sorted(taken + _without_overlaps(landlines, taken), key=lambda f: f.start)


def _without_overlaps(spans: list[_Sensitive], taken: list[_Sensitive]) -> list[_Sensitive]:
    """``spans`` that overlap none of ``taken`` (both sorted, neither overlapping itself)."""
    kept: list[_Sensitive] = []
    i = 0
    for f in spans:
        while i < len(taken) and taken[i].end <= f.start:
            i += 1
        if not (i < len(taken) and taken[i].start < f.end):
            kept.append(f)
    return kept


def _phone_value(m: re.Match[str], kind: str) -> str:
    if kind == _MOBILE_KIND:
        return m["a"] + m["b"] + m["c"]
    return f"{m['area']}-{m['local']}"


def find_phones(text: str) -> tuple[str, ...]:
    """Mobiles as 11 digits (``13812345678``, whatever +86/space/dash spelling), landlines as
    ``0471-1234567``; in order, without duplicates."""
    return _unique(f.value for f in _sensitive_spans(_scan(text)) if f.kind != _ID)


def find_id_numbers(text: str) -> tuple[str, ...]:
    """18-digit resident ID numbers (``X`` upper-cased) and old 15-digit ones; in order, unique."""
    return _unique(f.value for f in _sensitive_spans(_scan(text)) if f.kind == _ID)


def mask_sensitive(text: str) -> str:
    """Mask what identifies a person, the usual Chinese way: mobile ``138****5678`` (a +86 prefix
    is kept as written), landline ``0471-***4567``, ID ``110101********1234`` (15-digit:
    ``110101*****1234``). Rooms, dates, ``7-6-1046`` and ticket numbers are left alone.

    The digits a mask keeps can begin a new number with what follows ('0102000100-2000000'
    masks to '010***0100-2000000', and '0100-2000000' reads as a landline). Such leftovers get
    a second pass; what remains after that loses every digit of its run, so the result never
    holds a findable number and masking twice changes nothing."""
    for _ in range(_MASK_PASSES):
        scan = _scan(text)
        found = _sensitive_spans(scan)
        if not found:
            return text
        text = _mask_once(text, scan, found)
    scan = _scan(text)
    found = _sensitive_spans(scan)
    if not found:
        return text
    return _star_regions(text, scan, found)


_MASK_PASSES = 2


def _mask_once(text: str, scan: str, spans: list[_Sensitive]) -> str:
    out: list[str] = []
    pos = 0
    for found in spans:
        out.append(text[pos : found.start])
        out.append(_masked(found, scan, text))
        pos = found.end
    out.append(text[pos:])
    return "".join(out)


def _star_regions(text: str, scan: str, spans: list[_Sensitive]) -> str:
    """Every digit of each number-run holding one of ``spans`` becomes '*'. A run is bounded by
    characters no pattern uses, so no number can be found in or across it afterwards."""
    chars = list(text)
    starts = iter(sorted(f.start for f in spans))
    start = next(starts, None)
    for region in _NUMBER_REGION.finditer(scan):
        while start is not None and start < region.start():
            start = next(starts, None)
        if start is not None and start < region.end():
            for i in range(region.start(), region.end()):
                if scan[i] in "0123456789Xx":
                    chars[i] = "*"
    return "".join(chars)


def _masked(found: _Sensitive, scan: str, text: str) -> str:
    if found.kind == _ID:
        return found.value[:6] + "*" * (len(found.value) - 10) + found.value[-4:]
    pattern = _MOBILE if found.kind == _MOBILE_KIND else _LANDLINE
    m = pattern.match(scan, found.start, found.end)
    if m is None:  # cannot happen: the span came from this pattern
        return "*" * (found.end - found.start)
    if found.kind == _MOBILE_KIND:
        prefix = text[found.start : m.start("a")]  # '+86 ' as the resident wrote it
        return prefix + m["a"] + "****" + m["c"]
    local = m["local"]
    return text[found.start : m.start("local")] + "*" * (len(local) - 4) + local[-4:]


# --------------------------------------------------------------------------------------------
# Location
# --------------------------------------------------------------------------------------------


def parse_location(text: str) -> Location:
    """The first address mentioned: estate, building, unit, room (digits). See module notes."""
    scan = _scan(text)
    spans = [(f.start, f.end) for f in _sensitive_spans(scan)] + _url_spans(scan)
    return _parse_location(_blank(scan, spans))


def _url_spans(scan: str) -> list[tuple[int, int]]:
    if "://" not in scan and "www." not in scan.lower():
        return []  # the URL regex is slow to fail on every position of a long message
    return [m.span() for m in _URL.finditer(scan)]


_LOCATION_WINDOW = 4096  # Telegram's longest message; the first address is near the start


def _parse_location(scan: str) -> Location:
    scan = scan[:_LOCATION_WINDOW]
    building, unit, room = _find_cluster(scan)
    return Location(estate=_find_estate(scan), building=building, unit=unit, room=room)


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


# The name starts after the last of these: '我住在阳光花园' -> 阳光花园.
_CUT_WORDS = (
    *_words(
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
    ),
    *_DEFAULT_TAG_WORDS,
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
_CUT_REVERSED = re.compile(
    "|".join(re.escape(w[::-1]) for w in sorted(set(_CUT_WORDS), key=len, reverse=True))
)
_GENERIC_NAME = re.compile("(?:" + "|".join(_GENERIC_TOKENS) + ")+")
_LEADING_NUMBER = re.compile(r"[0-9A-Za-z]+(?![0-9A-Za-z号號期区弄#])")


def _is_name_char(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or _is_ascii_alnum(ch)


def _find_estate(scan: str) -> str | None:
    """The first estate named. A 社区 (the community, an administrative area) counts only when
    no estate follows it ('通顺社区嘉盟小区3号楼' -> 嘉盟小区), and a street gives way to an
    estate named right after it ('中山路幸福小区' -> 幸福小区)."""
    community: str | None = None
    street: tuple[str, int] | None = None  # the name and where it ends
    for i, m in enumerate(_ESTATE_SUFFIX.finditer(scan)):
        if i >= _MAX_CANDIDATES:
            break
        found = _estate_at(scan, m, street[1] if street else 0)
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


def _estate_at(scan: str, m: re.Match[str], floor: int) -> tuple[str, int, int] | None:
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
    name = _name_before(scan, start, floor)
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


def _name_before(scan: str, start: int, floor: int) -> str:
    """The place name in front of a suffix: name characters back to a boundary, cut after the
    last leading word ('请处理', '住在', '的' ...), without a stray leading number."""
    left = start
    while left > floor and start - left < _NAME_MAX and _is_name_char(scan[left - 1]):
        left -= 1
    name = scan[left:start]
    last = _CUT_REVERSED.search(name[::-1])  # the first hit from the right ends rightmost
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
