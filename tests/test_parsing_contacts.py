"""bot.parsing.contacts: phones, landlines and ID numbers found and masked (see also
tests/test_masking.py for the many spellings)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.parsing.contacts import find_id_numbers, find_phones, mask_sensitive
from tests.parsing_cases import any_text


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("电话13812345678", ("13812345678",)),
        ("+86 138 1234 5678", ("13812345678",)),
        ("+86-138-1234-5678", ("13812345678",)),
        ("8613812345678", ("13812345678",)),
        ("(+86)13812345678", ("13812345678",)),
        ("１３８１２３４５６７８", ("13812345678",)),
        ("0477-8123456 或 010 62345678", ("0477-8123456", "010-62345678")),
        ("（0471）8123456", ("0471-8123456",)),
        ("13812345678 和 13812345678", ("13812345678",)),
        ("12345678901", ()),
        ("138123456789", ()),
        ("2026-11-26 7-6-1046 3号楼501", ()),
    ],
)
def test_find_phones(text: str, phones: tuple[str, ...]) -> None:
    assert find_phones(text) == phones


def test_find_id_numbers() -> None:
    assert find_id_numbers("身份证110101199003071234") == ("110101199003071234",)
    assert find_id_numbers("11010119900307123x") == ("11010119900307123X",)
    assert find_id_numbers("老证 110101900307123 ") == ("110101900307123",)
    assert find_id_numbers("110101199013071234") == ()  # month 13
    assert find_phones("110101199003071234") == ()  # no phone inside an ID number


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("+86 138 1234 5678 找王阿姨", "+86 138****5678 找王阿姨"),
        ("+86-138-1234-5678", "+86-138****5678"),
        ("8613812345678", "86138****5678"),
        ("138-1234-5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("座机0477-8123456", "座机0477-***3456"),
        ("010 62345678", "010 ****5678"),
        ("身份证110101199003071234", "身份证110101********1234"),
        ("11010119900307123X", "110101********123X"),
        ("110101900307123", "110101*****7123"),
        ("3号楼2单元501室 1203房", "3号楼2单元501室 1203房"),
        ("2026-11-26 10:30-11:30", "2026-11-26 10:30-11:30"),
        ("7-6-1046 7－6－1046", "7-6-1046 7－6－1046"),
        ("工单 LT-20261126-0001 / 20261126001", "工单 LT-20261126-0001 / 20261126001"),
    ],
)
def test_mask_sensitive(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked


@settings(max_examples=300)
@given(any_text)
def test_finding_numbers_never_raises(text: str) -> None:
    for number in (*find_phones(text), *find_id_numbers(text)):
        assert number.isascii()


@settings(max_examples=400)
@given(any_text)
@example("+86 138 1234 5678 1234 5678")
@example("13812345678-13812345678")
@example("110101199003071234 13812345678")
def test_masking_hides_everything_and_is_idempotent(text: str) -> None:
    masked = mask_sensitive(text)
    assert find_phones(masked) == ()
    assert find_id_numbers(masked) == ()
    assert mask_sensitive(masked) == masked
    if not find_phones(text) and not find_id_numbers(text):
        assert masked == text


@given(st.text(alphabet="0123456789-－ +()（）Xx号楼单元室", max_size=60))
def test_masking_digit_soup(text: str) -> None:
    masked = mask_sensitive(text)
    assert find_phones(masked) == ()
    assert find_id_numbers(masked) == ()
    assert mask_sensitive(masked) == masked
