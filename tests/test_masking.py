"""Masking residents' numbers however they spell them (bot.parsing.contacts: mask_sensitive,
find_phones, find_id_numbers): separators of every kind, zero-width characters, full-width digits,
brackets; and prose with rooms, dates, times and ticket numbers left as it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.parsing.contacts import find_id_numbers, find_phones, mask_sensitive

# --------------------------------------------------------------------------------------------
# Spellings residents really use
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked", "phones"),
    [
        ("电话138.1234.5678", "电话138****5678", ("13812345678",)),
        ("电话(138)1234-5678", "电话138****5678", ("13812345678",)),
        ("电话（138）1234-5678", "电话138****5678", ("13812345678",)),
        ("电话138 - 1234 - 5678谢谢", "电话138****5678谢谢", ("13812345678",)),
        ("电话138/1234/5678", "电话138****5678", ("13812345678",)),
        ("电话138\u200b1234\u200c5678", "电话138****5678", ("13812345678",)),
        ("电话1\u200d3\u20608\ufeff12345678", "电话138****5678", ("13812345678",)),
        ("电话138\u30001234\u30005678", "电话138****5678", ("13812345678",)),
        ("电话１３８－１２３４－５６７８", "电话138****5678", ("13812345678",)),
        ("电话１３８．１２３４．５６７８", "电话138****5678", ("13812345678",)),
        ("电话138·1234·5678", "电话138****5678", ("13812345678",)),
        ("（+86）138 1234 5678", "（+86）138****5678", ("13812345678",)),
        ("0138-1234-5678", "0138****5678", ("13812345678",)),
        ("座机010-12345678", "座机010-****5678", ("010-12345678",)),
        ("座机(0471)8123456", "座机(0471)***3456", ("0471-8123456",)),
        ("座机0477 - 8123456", "座机0477 - ***3456", ("0477-8123456",)),
        ("座机0471\u200b8123456", "座机0471\u200b***3456", ("0471-8123456",)),
        ("座机04718123456", "座机0471***3456", ("0471-8123456",)),
        ("座机01062345678", "座机010****5678", ("010-62345678",)),
        ("电话138-2024-05-06", "电话138****0506", ("13820240506",)),  # a date inside is fine
    ],
)
def test_phone_spellings(text: str, masked: str, phones: tuple[str, ...]) -> None:
    assert mask_sensitive(text) == masked
    assert find_phones(text) == phones


@pytest.mark.parametrize(
    ("text", "masked", "ids"),
    [
        ("身份证110105 19491231 002X", "身份证110105********002X", ("11010519491231002X",)),
        ("身份证110105-19491231-002x", "身份证110105********002X", ("11010519491231002X",)),
        ("身份证110105 1949 1231 0021", "身份证110105********0021", ("110105194912310021",)),
        ("身份证１１０１０５\u200b１９４９１２３１００２Ｘ", "身份证110105********002X", None),
        ("老证110105 491231 002", "老证110105*****1002", ("110105491231002",)),
    ],
)
def test_id_spellings(text: str, masked: str, ids: tuple[str, ...] | None) -> None:
    assert mask_sensitive(text) == masked
    assert find_id_numbers(text) == (ids or ("11010519491231002X",))


@pytest.mark.parametrize(
    "text",
    [
        "3号楼2单元502",
        "3号楼 2单元 502室，1203房",
        "2024-05-06 2024-05-07",
        "2024.05.06-2024.05.08 停水",
        "2024/5/6 2024/5/7 2024/5/8",
        "2024-05-06 10:30-11:30",
        "2024-05-06 7-6-1046，",  # no landline 050-6761046 begins inside the date
        "7-6-1046 2024.05.06",
        "工单 LT-20261126-0001 / 20261126001",
        "7-6-1046 7－6－1046",
        "第3期 5栋 2-501",
        "价格100-200元，3-5天",
        "#12 #13 工单12",
        "楼层 13 14 15 16 17 18",
        "房间 1301 1302 1303",
        "3.5 4.5 5.5",
        "2024年5月6日 13:00",
    ],
)
def test_prose_is_left_alone(text: str) -> None:
    assert mask_sensitive(text) == text
    assert find_phones(text) == ()
    assert find_id_numbers(text) == ()


def test_numbers_next_to_dates_and_each_other() -> None:
    text = "2024-05-06 13812345678/0471-8123456 110105 19491231 002X"
    assert mask_sensitive(text) == "2024-05-06 138****5678/0471-***3456 110105********002X"
    assert find_phones(text) == ("13812345678", "0471-8123456")


# --------------------------------------------------------------------------------------------
# Properties: a real-looking number, spelled at random, inside random Chinese text
# --------------------------------------------------------------------------------------------

_VISIBLE = [" ", "\u3000", "\u00a0", "-", "－", "–", "—", ".", "．", "·", "/", "／", "(", ")"]
_VISIBLE += ["（", "）"]
_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
_SEPARATORS = _VISIBLE + _INVISIBLE
_PROSE_CHARS = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5) | st.sampled_from(
    list("，。：！？、的了")
)
prose = st.text(_PROSE_CHARS, max_size=12)


@dataclass(frozen=True)
class Number:
    kind: str  # mobile | landline | id
    digits: str  # the number itself, 'X' upper-cased
    template: str  # how it is written before random separators ('d': a digit; '': plain)

    def kept(self) -> tuple[str, ...]:
        """What the digits-only projection of the masked number may be."""
        d = self.digits
        if self.kind == "mobile":
            return (d[:3] + d[-4:],)
        if self.kind == "landline":
            return (d[:3] + d[-4:], d[:4] + d[-4:])
        if len(d) == 15 and re.fullmatch("1[3-9].*", d):
            # an old ID number cut after its 11th digit reads as a mobile and a group of four:
            # the mobile wins (old IDs are rare), four digits are hidden all the same
            return (d[:6] + d[-4:], d[:3] + d[7:])
        return (d[:6] + d[-4:],)


def _digits(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


_D = "0123456789"
mobiles = st.builds(
    lambda second, rest, form: Number("mobile", "1" + second + rest, form),
    st.sampled_from("3456789"),
    _digits(_D, 9),
    st.sampled_from(["", "(ddd)dddd-dddd", "ddd - dddd - dddd", "ddd dddd dddd", "ddddddd dddd"]),
)
landlines = st.one_of(
    st.builds(
        lambda area, local, form: Number("landline", area + local, form),
        st.sampled_from(["010", "020", "021", "022", "025", "029"]),
        st.builds(lambda a, b: a + b, st.sampled_from("23456789"), _digits(_D, 7)),
        st.sampled_from(["", "ddd-dddddddd", "(ddd)dddddddd", "ddd - dddddddd"]),
    ),
    st.builds(
        lambda area, local, form: Number("landline", area + local, form),
        st.builds(lambda a, b: "0" + a + b, st.sampled_from("3456789"), _digits(_D, 2)),
        st.builds(lambda a, b: a + b, st.sampled_from("23456789"), _digits(_D, 6)),
        st.sampled_from(["", "dddd-ddddddd", "(dddd)ddddddd", "（dddd）ddddddd", "dddd - ddddddd"]),
    ),
)
ids = st.one_of(
    st.builds(
        lambda region, born, seq, check, form: Number(
            "id", region + born.strftime("%Y%m%d") + seq + check, form
        ),
        st.builds(lambda a, b: a + b, st.sampled_from("123456789"), _digits(_D, 5)),
        st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
        _digits(_D, 3),
        st.sampled_from(list(_D + "X")),
        st.sampled_from(["", "dddddd dddddddd dddd", "dddddd-dddddddd-dddd"]),
    ),
    st.builds(
        lambda region, born, seq: Number("id", region + born.strftime("%y%m%d") + seq, ""),
        st.builds(lambda a, b: a + b, st.sampled_from("123456789"), _digits(_D, 5)),
        st.dates(min_value=date(1920, 1, 1), max_value=date(1999, 12, 31)),
        _digits(_D, 3),
    ),
)


@st.composite
def spelled(draw: st.DrawFn, number: Number) -> str:
    """The number as a resident might write it: its template (or no separators at all),
    random separator runs of 0-2 between adjacent digits, digits full-width at random."""
    form = number.template or "d" * len(number.digits)
    assert form.count("d") == len(number.digits)
    out: list[str] = []
    digits = iter(number.digits)
    previous_digit = False
    for ch in form:
        if ch != "d":
            out.append(ch)
            previous_digit = False
            continue
        if previous_digit:
            out += draw(st.lists(st.sampled_from(_SEPARATORS), max_size=2))
        digit = next(digits)
        if draw(st.booleans()):
            digit = chr(ord(digit) + 0xFEE0) if digit != "X" else draw(st.sampled_from("Ｘx"))
        out.append(digit)
        previous_digit = True
    return "".join(out)


_FULL_WIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X", "x": "X"})


def projection(text: str) -> str:
    """The digits (and X) of a text, in order, full-width folded."""
    return re.sub(r"[^0-9X]", "", text.translate(_FULL_WIDTH))


@st.composite
def embedded(draw: st.DrawFn) -> tuple[Number, str, str, str]:
    number = draw(st.one_of(mobiles, landlines, ids))
    return number, draw(prose), draw(spelled(number)), draw(prose)


@settings(max_examples=600)
@given(embedded())
@example((Number("mobile", "13812345678", ""), "电话", "138 - 1234 - 5678", "谢谢"))
@example((Number("id", "11010519491231002X", ""), "证", "110105 19491231 002X", "。"))
@example((Number("landline", "04718123456", ""), "", "(0471)8123456", ""))
def test_a_spelled_number_is_masked(case: tuple[Number, str, str, str]) -> None:
    number, before, written, after = case
    out = mask_sensitive(before + written + after)
    # the text around the number is kept as it was
    assert out.startswith(before)
    assert out.endswith(after)
    masked = out[len(before) : len(out) - len(after)]
    # the number cannot be recovered: only the usual first and last digits stay
    assert projection(masked) in number.kept()
    assert number.digits not in projection(out)
    assert masked.count("*") >= 3  # a 7-digit local number keeps its last 4
    # and contact extraction reads it, whatever the spelling
    text = before + written + after
    found = [*find_id_numbers(text), *(p.replace("-", "") for p in find_phones(text))]
    assert found == [number.digits] or (number.kind == "id" and found == [number.digits[:11]])
    if number.kind == "id" and found == [number.digits]:
        assert find_id_numbers(text) == (number.digits,)
    assert mask_sensitive(out) == out


# Prose pieces with digits in them that are no phone or ID number.
_PIECES = [
    "3号楼", "2单元", "502", "501室", "1203房", "2024-05-06", "2024.5.6", "2024/05/06",
    "10:30", "10:30-11:30", "LT-20261126-0001", "工单12", "#12", "100元", "3室2厅",
    "7-6-1046", "第3期", "50平米", "2-3天", "13号", "3.5", "12月25日", "下午3点", "1/2",
]  # fmt: skip
_JOINERS = ["，", "。", "、", "\n", "的", "和", "在", "楼下", "：", " "]


@settings(max_examples=400)
@given(
    st.lists(
        st.tuples(st.sampled_from(_PIECES), st.sampled_from(_JOINERS), prose), max_size=12
    ).map(lambda parts: "".join(p + j + w for p, j, w in parts))
)
def test_prose_without_numbers_is_unchanged(text: str) -> None:
    assert mask_sensitive(text) == text
    assert find_phones(text) == ()
    assert find_id_numbers(text) == ()
