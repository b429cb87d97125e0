"""Phones, landlines and ID numbers in a resident's text, and masking them.

Found in the whole text, however long (about 0.1 s for 100 KB that is all digits and
separators, where every digit group may start a phone or ID number); pure, never raises.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.parsing.text import scan_copy, unique

__all__ = ["find_id_numbers", "find_phones", "mask_sensitive"]

# Residents put anything between the digits: 138-1234-5678, 138.1234.5678, (138)1234-5678,
# 138 / 1234 / 5678, 110105 19491231 002X, zero-width characters pasted from elsewhere, full-width
# digits and spaces (those the scan copy folds). A number is read from the digits of a *run*:
# digit groups joined by at most ``_MAX_GAP`` visible separators (invisible ones do not count).
# It is always made of whole groups, so it never starts or ends inside one: 138123456789 is no
# phone, and the 502 of '3号楼 502' cannot lend its digits to a neighbour. Commas, '、' and
# line breaks are not separators: they list numbers, they do not spell one.
_INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
_VISIBLE_SEP = " \t\u00a0\u1680\u2000-\u200a\u202f\u205f\\-./·・･‧()（）+"
_MAX_GAP = 4  # '138 - 1234', '(0471) 8123456', '(+86) 138'
_MAX_GAP_CHARS = 8  # with the invisible ones
# Where a number can be. It starts with a digit, which the regex engine jumps to directly; a
# separator run is bounded, so a run is found in linear time.
_SEPARATOR = f"[{_INVISIBLE}{_VISIBLE_SEP}]"
_NUMBER_REGION = re.compile(
    rf"[0-9](?:{_SEPARATOR}{{0,{_MAX_GAP_CHARS}}}[0-9])*"
    rf"(?:[Xx]|{_SEPARATOR}{{1,{_MAX_GAP_CHARS}}}[Xx](?![A-Za-z]))?"  # 'X' ends an ID number
)
_DIGIT_RUN = re.compile(r"[0-9]+")
_GAP_RUN = re.compile(r"[^0-9]+")
_NOT_DIGIT = re.compile(r"[^0-9]")
_LONG_GAP = re.compile(rf"{_SEPARATOR}{{{_MAX_GAP + 1},}}")
_INVISIBLE_CHAR = re.compile(f"[{_INVISIBLE}]")
_MIN_DIGITS = 10  # the shortest number: a landline 0xx + 7 digits

_BIRTH = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
# Whole-string patterns over a run's digits.
_ID18 = re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}" + _BIRTH + r"[0-9]{3}[0-9]")
_ID17 = re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}" + _BIRTH + r"[0-9]{3}")  # + 'X'
_ID15 = re.compile(r"[1-9][0-9]{5}[0-9]{2}" + _BIRTH + r"[0-9]{3}")
# A mobile 1[3-9]x xxxx xxxx, after +86 / 0086 / 86, or the 0 dialled from another city.
_MOBILE = re.compile(r"(?P<cc>0086|86|0)?1[3-9][0-9]{9}")
# A landline: area code 0xx / 0xxx, then 7-8 digits that do not start with 0.
_AREA = re.compile(r"0[1-9][0-9]{1,2}")
_LOCAL = re.compile(r"[1-9][0-9]{6,7}")
_LANDLINE = re.compile(r"0[1-9][0-9]{1,2}[1-9][0-9]{6,7}")
# 2024-05-06, 2024.5.6, 2024/05/06: a date (one separator, the same twice) standing alone or
# next to other dates is never part of a number ('2024-05-06 2024-05-07' has no landline in it).
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}([\-./])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12][0-9]|3[01])(?![0-9])"
)

_ID, _MOBILE_KIND, _LANDLINE_KIND = "id", "mobile", "landline"
# The lengths a mobile can have, longest first, by its first two digits.
_MOBILE_LENGTHS = {f"1{d}": (11,) for d in "3456789"} | {"00": (15,), "01": (12,), "86": (13,)}
_LANDLINE_LENGTHS = (12, 11, 10)


@dataclass(frozen=True)
class Sensitive:
    start: int
    end: int
    kind: str
    value: str
    """Mobiles as 11 digits, landlines as ``0471-8123456``, ID numbers with ``X`` upper-cased."""
    cut: int
    """The text from ``start`` to here is kept as written by the mask: '+86 ', '(0471)'."""


class _Run:
    """The digits of a run of digit groups and the separators between them, where each group
    starts among the digits and in the text."""

    def __init__(self, scan: str, start: int, end: int, x_at: int | None) -> None:
        lengths = map(len, _DIGIT_RUN.findall(scan, start, end))
        gaps = map(len, _GAP_RUN.findall(scan, start, end))
        self.digits = _NOT_DIGIT.sub("", scan[start:end])
        self.starts = list(itertools.accumulate(lengths, initial=0))  # and len(digits) last
        self.text_starts: list[int] = list(
            map(operator.add, self.starts, itertools.accumulate(gaps, initial=start))
        )
        self.bound = frozenset(self.starts)  # where a number may start or end
        self.free = bytearray(b"\x01") * len(self.digits)  # 0: taken by a number or a date
        self.x_at = x_at  # an 'X' right after the last digit

    def where(self, k: int) -> int:
        """Where the ``k``-th digit stands in the text."""
        group = bisect.bisect_right(self.starts, k) - 1
        return self.text_starts[group] + k - self.starts[group]


def sensitive_spans(scan: str) -> list[Sensitive]:
    """Every ID number, mobile and landline in order (see the notes above)."""
    found: list[Sensitive] = []
    for region in _NUMBER_REGION.finditer(scan):
        if region.end() - region.start() < _MIN_DIGITS:
            continue
        for run in _runs(scan, region.start(), region.end()):
            found += _numbers(scan, run)
    return found


def _runs(scan: str, start: int, end: int) -> list[_Run]:
    """The region's runs: it is cut where too many visible separators stand between two
    digits."""
    x_at = end - 1 if scan[end - 1] in "Xx" else None
    if x_at is not None:
        end = x_at
        while scan[end - 1] not in "0123456789":
            end -= 1
    pieces: list[tuple[int, int]] = []
    for gap in _LONG_GAP.finditer(scan, start, end):
        if len(gap.group()) - len(_INVISIBLE_CHAR.findall(gap.group())) > _MAX_GAP:
            pieces.append((start, gap.start()))
            start = gap.end()
    pieces.append((start, end))
    runs = [_Run(scan, a, b, x_at if b == end else None) for a, b in pieces]
    return [r for r in runs if len(r.digits) >= _MIN_DIGITS]


def _numbers(scan: str, run: _Run) -> list[Sensitive]:
    """ID numbers first; then, around dates standing alone, mobiles, landlines and old IDs."""
    found = _take(scan, run, ids=True)
    dates = _dates(scan, run)
    for o, e in _lone(run, dates):
        run.free[o:e] = bytes(e - o)
    # A number may hold a whole date ('138-2024-05-06') but never begin or end inside one:
    # '2024-05-06 7-6-1046' has no landline 050-6761046 in it.
    inside = frozenset(k for o, e in dates for k in run.starts if o < k < e)
    found += _take(scan, run, ids=False, inside=inside)
    return sorted(found, key=lambda f: f.start)


def _take(
    scan: str, run: _Run, *, ids: bool, inside: frozenset[int] = frozenset()
) -> list[Sensitive]:
    """Left to right, the number starting at each free group, made of whole groups: the first
    kind that fits, in its longest spelling. Its digits are then taken."""
    found: list[Sensitive] = []
    for o in run.starts[:-1]:
        if not run.free[o] or o in inside:
            continue
        hit = _id_at(run, o) if ids else _phone_at(run, o)
        if hit is not None and hit[1] not in inside:
            kind, e = hit
            found.append(_spelled(scan, run, kind, o, e))
            run.free[o:e] = bytes(e - o)
    return found


def _ends(run: _Run, o: int, length: int) -> bool:
    """Whether ``length`` digits from ``o`` end where a group ends and are all free."""
    e = o + length
    return e in run.bound and run.free.find(0, o, e) < 0


def _id_at(run: _Run, o: int) -> tuple[str, int] | None:
    digits = run.digits
    if digits[o] == "0" or digits[o + 6 : o + 8] not in ("18", "19", "20"):
        return None
    if _ends(run, o, 18) and _ID18.fullmatch(digits, o, o + 18):
        return _ID, o + 18
    x = run.x_at is not None and o + 17 == len(digits)
    if x and _ends(run, o, 17) and _ID17.fullmatch(digits, o, o + 17):
        return _ID, o + 17
    return None


def _phone_at(run: _Run, o: int) -> tuple[str, int] | None:
    """A mobile, else a landline, else an old ID number starting at digit ``o``."""
    digits = run.digits
    head = digits[o : o + 2]
    for length in _MOBILE_LENGTHS.get(head, ()):
        if _MOBILE.fullmatch(digits, o, o + length) and _ends(run, o, length):
            return _MOBILE_KIND, o + length
    if head[:1] == "0":
        for length in _LANDLINE_LENGTHS if head != "00" else ():
            if _LANDLINE.fullmatch(digits, o, o + length) and _ends(run, o, length):
                return _LANDLINE_KIND, o + length
        return None
    no_x = run.x_at is None or o + 15 < len(digits)
    if no_x and _ID15.fullmatch(digits, o, o + 15) and _ends(run, o, 15):
        return _ID, o + 15
    return None


def _area_lengths(digits: str) -> list[int]:
    return [
        k
        for k in (3, 4)
        if _AREA.fullmatch(digits, 0, k) is not None and _LOCAL.fullmatch(digits, k) is not None
    ]


_CLOSING = {"(": ")", "（": "）"}


def _spelled(scan: str, run: _Run, kind: str, o: int, e: int) -> Sensitive:
    """The number at digits ``o:e``: its span in the text, its value, what the mask keeps."""
    digits = run.digits[o:e]
    start, end = run.where(o), run.where(e - 1) + 1
    if kind == _ID and len(digits) == 17 and run.x_at is not None:
        digits, end = digits + "X", run.x_at + 1
    if start > 0 and scan[start - 1] in _CLOSING and _CLOSING[scan[start - 1]] in scan[start:end]:
        start -= 1  # '(0471)8123456', '(138)1234-5678': the bracket belongs to the number
    if kind == _ID:
        return Sensitive(start, end, kind, digits, start)
    if kind == _MOBILE_KIND:
        m = _MOBILE.fullmatch(digits)
        cc = (m["cc"] or "") if m else ""
        cut = run.where(o + len(cc)) if cc else start
        return Sensitive(start, end, kind, digits[len(cc) :], cut)
    area = _landline_area(run, o, digits)
    value = f"{digits[:area]}-{digits[area:]}"
    return Sensitive(start, end, kind, value, run.where(o + area))


def _landline_area(run: _Run, o: int, digits: str) -> int:
    """How many digits the area code has: where the resident split it off if she did, else
    010 and 02x have three and the rest four (the numbering plan)."""
    lengths = _area_lengths(digits)
    split = [k for k in lengths if o + k in run.bound]
    if split:
        return split[0]
    planned = 3 if digits[1] in "12" else 4
    return planned if planned in lengths else lengths[0]


def _dates(scan: str, run: _Run) -> list[tuple[int, int]]:
    """The digits of every date written with separators (three groups, the first of four)."""
    dates: list[tuple[int, int]] = []
    starts = run.starts
    for k in range(len(starts) - 3):
        o, e = starts[k], starts[k + 3]
        if starts[k + 1] - o != 4 or run.free.find(0, o, e) >= 0:
            continue
        m = _DATE.match(scan, run.text_starts[k])
        if m is not None and m.end() == run.where(e - 1) + 1:
            dates.append((o, e))
    return dates


def _lone(run: _Run, dates: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The dates whose neighbours, if digits, are dates too or already taken."""
    first = {o for o, _ in dates}
    after = {e for _, e in dates}
    n = len(run.digits)

    def alone_before(o: int) -> bool:
        return o == 0 or o in after or not run.free[o - 1]

    def alone_after(e: int) -> bool:
        return e == n or e in first or not run.free[e]

    return [(o, e) for o, e in dates if alone_before(o) and alone_after(e)]


def find_phones(text: str) -> tuple[str, ...]:
    """Mobiles as 11 digits (``13812345678``, however spelled), landlines as ``0471-1234567``;
    in order, without duplicates."""
    return phones_of(sensitive_spans(scan_copy(text)))


def find_id_numbers(text: str) -> tuple[str, ...]:
    """18-digit resident ID numbers (``X`` upper-cased) and old 15-digit ones; in order, unique."""
    return id_numbers_of(sensitive_spans(scan_copy(text)))


def phones_of(found: Iterable[Sensitive]) -> tuple[str, ...]:
    """The phones among ``found`` (from ``sensitive_spans``), in order, without duplicates."""
    return unique(f.value for f in found if f.kind != _ID)


def id_numbers_of(found: Iterable[Sensitive]) -> tuple[str, ...]:
    """The ID numbers among ``found`` (from ``sensitive_spans``), in order, without duplicates."""
    return unique(f.value for f in found if f.kind == _ID)


def mask_sensitive(text: str) -> str:
    """Mask what identifies a person, the usual Chinese way: mobile ``138****5678`` (a +86 prefix
    is kept as written), landline ``0471-***4567``, ID ``110101********1234`` (15-digit:
    ``110101*****1234``), whatever separators the resident put between the digits (they go
    with the hidden digits). Rooms, dates, ``7-6-1046`` and ticket numbers are left alone.

    The digits a mask keeps can begin a new number with what follows ('0102000100-2000000'
    masks to '010***0100-2000000', and '0100-2000000' reads as a landline). Such leftovers get
    a second pass; what remains after that loses every digit of its run, so the result never
    holds a findable number and masking twice changes nothing."""
    for _ in range(_MASK_PASSES):
        scan = scan_copy(text)
        found = sensitive_spans(scan)
        if not found:
            return text
        text = _mask_once(text, found)
    scan = scan_copy(text)
    found = sensitive_spans(scan)
    if not found:
        return text
    return _star_regions(text, scan, found)


_MASK_PASSES = 2


def _mask_once(text: str, spans: list[Sensitive]) -> str:
    out: list[str] = []
    pos = 0
    for found in spans:
        out.append(text[pos : found.start])
        out.append(_masked(found, text))
        pos = found.end
    out.append(text[pos:])
    return "".join(out)


def _star_regions(text: str, scan: str, spans: list[Sensitive]) -> str:
    """Every digit of each number-run holding one of ``spans`` becomes '*'. A run is bounded by
    characters no number uses, so no number can be found in or across it afterwards."""
    chars = list(text)
    spans = sorted(spans, key=lambda f: f.start)
    k = 0
    for region in _NUMBER_REGION.finditer(scan):
        while k < len(spans) and spans[k].end <= region.start():
            k += 1
        if k < len(spans) and spans[k].start < region.end():
            for i in range(region.start(), region.end()):
                if scan[i] in "0123456789Xx":
                    chars[i] = "*"
    return "".join(chars)


def _masked(found: Sensitive, text: str) -> str:
    value = found.value
    if found.kind == _ID:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    kept = text[found.start : found.cut]
    if found.kind == _MOBILE_KIND:
        return kept + value[:3] + "****" + value[-4:]
    local = value.partition("-")[2]
    return kept + "*" * (len(local) - 4) + local[-4:]
