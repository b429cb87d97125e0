"""Tags: ``#报修`` and its spellings, the category they select, labels, and the body without them.

Decisions on the ambiguous cases (tests/test_parsing_tags.py pins each of them):

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
* A body says nothing when it holds only courtesy words (``_FILLER``) and tags or aliases of the
  catalogue in force (a CATEGORIES_FILE's own words count; dropped defaults do not).

Every word list comes from the catalogue passed in, never from the defaults. At most
``_MAX_TAGS`` tags are read (the rest of a spam message stays in the body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.categories import CategoryCatalog
from bot.parsing.text import PerCatalog, blank_spans, is_ascii_alnum, scan_copy, url_spans

__all__ = ["TagHit", "find_tags"]


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
    return tags_in_scan(scan_copy(text), catalog)


def tags_in_scan(scan: str, catalog: CategoryCatalog) -> tuple[TagHit, ...]:
    hits = _marker_hits(scan, catalog)
    bare = _header_bare_hits(scan, hits, catalog)
    if bare:
        hits = sorted([*hits, *bare], key=lambda h: h.start)
    return tuple(hits)


_MAX_TAGS = 256  # more is spam, not a report: the rest of such a message is left as it is


def _build_tag_patterns(catalog: CategoryCatalog) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two regexes per catalogue, so that a '#' that is no tag costs nothing in Python.

    After a '#': the longest known tag or alias (a Latin one must end at a word boundary), else
    an unknown word that starts with a letter. The first pattern is for anywhere: right after
    an ASCII letter or a digit ('3#楼', 'C#', '501#报修') only a known tag that ends right there
    counts. The second is for a '#' right after another tag ('#A#B', '#报修#充电')."""
    words = sorted({w for c in catalog for w in c.words}, key=len, reverse=True)
    known = "|".join(
        re.escape(w) + ("(?![A-Za-z0-9])" if is_ascii_alnum(w[-1]) else "") for w in words
    )
    known = f"(?i:{known or '(?!)'})"
    tag = rf"(?P<k>{known})|(?P<u>[^\W\d_]\w*)"
    # The '#' comes first: the regex engine then jumps from one '#' to the next in C.
    anywhere = re.compile(rf"#(?:(?<![A-Za-z&_/=@\d]#)(?:{tag})|(?P<w>{known})(?!\w))")
    glued = re.compile(rf"#(?:{tag})")
    return anywhere, glued


_tag_patterns = PerCatalog(_build_tag_patterns)


def _marker_hits(scan: str, catalog: CategoryCatalog) -> list[TagHit]:
    hits: list[TagHit] = []
    if "#" not in scan:
        return hits
    urls = url_spans(scan)
    searched = blank_spans(scan, urls) if urls else scan  # 'http://x.com/a#b' is no tag
    anywhere, glued = _tag_patterns(catalog)
    m = anywhere.search(searched)
    while m is not None and len(hits) < _MAX_TAGS:
        word = m["k"] or m.groupdict().get("w") or m["u"] or ""
        category = catalog.by_word(word) if word != m["u"] else None
        hits.append(TagHit(word, category.key if category else None, m.start(), m.end()))
        end = m.end()
        m = glued.match(searched, end) or anywhere.search(searched, end)
    return hits


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


def body_of(text: str, scan: str, hits: tuple[TagHit, ...]) -> str:
    """``text`` without its tags (see the module notes), ``scan`` being its scan copy."""
    return _body(text, _removal_mask(scan, hits))


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


def _build_empty_words(catalog: CategoryCatalog) -> re.Pattern[str]:
    """The courtesy words and every tag and alias of the catalogue in force, longest first."""
    words = {w for c in catalog for w in c.words} | set(_FILLER)
    return re.compile(
        "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE
    )


_empty_words = PerCatalog(_build_empty_words)


def says_nothing(body: str, hits: tuple[TagHit, ...], catalog: CategoryCatalog) -> bool:
    """Whether ``body`` is empty, only punctuation/emoji, only the catalogue's tag words or
    courtesy words (``#报修 报修！``, ``#报修 请尽快处理，谢谢``)."""
    words = {h.word for h in hits if h.category is not None}
    return not _has_substance(body, words, _empty_words(catalog))


def _has_substance(body: str, words: set[str], empty_words: re.Pattern[str]) -> bool:
    rest = body
    for word in sorted(words, key=len, reverse=True):  # this catalogue's tags in the message
        rest = rest.replace(word, " ")
    rest = empty_words.sub(" ", rest)
    return any(ch.isalnum() for ch in rest)


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def labels_of(hits: tuple[TagHit, ...], decider: TagHit | None) -> tuple[str, ...]:
    """Every tag word but the deciding one's category, in order, without duplicates."""
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
