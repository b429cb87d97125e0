"""bot.parsing.tags: tags however residents write them, labels, the body, filler words."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from bot.categories import CategoryCatalog
from bot.parsing.report import parse_report
from bot.parsing.tags import TagHit, find_tags
from tests.parsing_cases import (
    CATALOG,
    ONLY_ELEVATOR,
    WITH_ELEVATOR,
    C,
    Case,
    any_text,
    as_case,
    case_ids,
)

TAG_CASES = [
    # --- where the tag stands and what surrounds it ---
    C(
        "麻烦处理一下＃积水 宝东6号街坊拐弯处",
        "water",
        "麻烦处理一下 宝东6号街坊拐弯处",
        "宝东6号街坊",
    ),
    C("[#报修]5号楼电梯困人", "repair", "5号楼电梯困人", building="5"),
    C("（#报修）8号楼2单元302 暖气不热", "repair", "8号楼2单元302 暖气不热", None, "8", "2", "302"),
    C("【报修】4号楼顶楼漏雨", "repair", "4号楼顶楼漏雨", building="4"),
    C("【报修】：4号楼顶楼漏雨", "repair", "4号楼顶楼漏雨", building="4"),
    C("(报修) 5号楼电梯坏了", "repair", "5号楼电梯坏了", building="5"),
    C("通知【报修】5号楼电梯坏了", None, "通知【报修】5号楼电梯坏了", building="5"),
    C(
        "#报修 #充电 7号楼有人飞线充电",
        "repair",
        "7号楼有人飞线充电",
        building="7",
        labels=("充电",),
    ),
    C(
        "#充电#报修 7号楼有人飞线充电",
        "charging",
        "7号楼有人飞线充电",
        building="7",
        labels=("报修",),
    ),
    C("#报修 #维修 7号楼灯坏了", "repair", "7号楼灯坏了", building="7"),
    C("#紧急 #报修 5号楼电梯困人了", "repair", "5号楼电梯困人了", building="5", labels=("紧急",)),
    C("#报修 #紧急 #3号楼 电梯困人", "repair", "#3号楼 电梯困人", building="3", labels=("紧急",)),
    C("#报修 #北瑞小区 路灯坏了", "repair", "路灯坏了", "北瑞小区", labels=("北瑞小区",)),
    C(
        "#报修 #紧急5号楼电梯困人了",
        "repair",
        "紧急5号楼电梯困人了",
        building="5",
        labels=("紧急5号楼电梯困人了",),
    ),
    C("#ABC #报修 测试", "repair", "测试", labels=("ABC",)),
    C("#通知 明天上午9点停水", None, "明天上午9点停水", labels=("通知",)),
    C("#abc 测试一下", None, "测试一下", labels=("abc",)),
    C("3号楼501#报修", "repair", "3号楼501", building="3", room="501"),
    C("abc#报修 漏水", "repair", "abc 漏水"),
    C("#报修😡3号楼漏水", "repair", "😡3号楼漏水", building="3"),
    C("😡#报修 3号楼漏水", "repair", "😡 3号楼漏水", building="3"),
    C("#报修\t3号楼\n2单元", "repair", "3号楼 2单元", building="3", unit="2"),
    C("#报修：北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修: 北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修，北瑞小区3号楼。", "repair", "北瑞小区3号楼。", "北瑞小区", "3"),
    C("#报修—北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修 北瑞小区3号楼，", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("3号楼漏水，#报修", "repair", "3号楼漏水", building="3"),
    C("3号楼漏水 #报修。", "repair", "3号楼漏水。", building="3"),
    C("##报修 3号楼", "repair", "3号楼", building="3"),
    # --- not tags ---
    C("# 报修 3号楼", None, "# 报修 3号楼", building="3"),
    C("#3号楼 漏水", None, "#3号楼 漏水", building="3"),
    C("#3 漏水", None, "#3 漏水"),
    C("3#楼 漏水", None, "3#楼 漏水", building="3"),
    C("5#路灯坏了", None, "5#路灯坏了", building="5"),
    C("C#语言", None, "C#语言"),
    C("http://x.com/a#b 链接", None, "http://x.com/a#b 链接"),
    C("看这个http://x.com/a#报修", None, "看这个http://x.com/a#报修"),
    C("#报修 http://x.com/p?a=1#top 照片", "repair", "http://x.com/p?a=1#top 照片"),
    C("&#12345; 漏水", None, "&#12345; 漏水"),
    C("#報修 3號樓2單元", None, "3號樓2單元", building="3", unit="2", labels=("報修",)),
]


@pytest.mark.parametrize("case", TAG_CASES, ids=case_ids(TAG_CASES))
def test_tags_in_resident_messages(case: Case) -> None:
    report = parse_report(case.text, CATALOG)
    assert as_case(case.text, report) == case
    assert report.tag == (CATALOG[case.category].tag if case.category else None)


def test_canonical_tag_and_hits() -> None:
    report = parse_report("#飞线充电5号楼…", CATALOG)
    assert (report.category, report.tag) == ("charging", "充电")
    assert report.tags == (TagHit("飞线充电", "charging", 0, 5),)
    assert report.body == "5号楼…"
    assert report.is_report


def test_hit_offsets_point_into_the_original_text() -> None:
    text = "请处理＃积水 宝东6号街坊【报修】"
    hits = find_tags(text, CATALOG)
    assert hits == (TagHit("积水", "water", 3, 6),)
    assert text[hits[0].start] == "＃"
    bare = find_tags("  【 报修 】3号楼", CATALOG)
    assert bare == (TagHit("报修", "repair", 4, 6),)


def test_latin_tags_match_whole_words_and_ignore_case() -> None:
    catalog = CategoryCatalog.from_mapping(
        {"categories": {"fix": {"tag": "fix", "aliases": ["SOS"], "response": "1h",
                                "resolution": "1d"}}}
    )  # fmt: skip
    assert parse_report("#FIX lamp", catalog).category == "fix"
    assert parse_report("#sos 3号楼", catalog).category == "fix"
    assert parse_report("#fixed lamp", catalog).category is None
    assert parse_report("#fixed lamp", catalog).labels == ("fixed",)
    assert parse_report("#fix修一下", catalog).tags[0].word == "fix"


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("#报修", True),
        ("#报修 报修", True),
        ("#报修 维修维修", True),
        ("#报修 #报修", True),
        ("#报修 ？？？", True),
        ("#报修 👍👍", True),
        ("#报修 请处理", True),
        ("#报修 请尽快处理，谢谢", True),
        ("#报修 快点来人啊！！！", False),
        ("#报修 3号楼", False),
        ("#报修 灯坏了", False),
        ("#通知", False),  # not a report, so no detail is asked for
        ("随便说说", False),
    ],
)
def test_needs_detail(text: str, needs: bool) -> None:
    assert parse_report(text, CATALOG).needs_detail is needs


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("#电梯 电梯", True),
        ("#电梯 升降梯", True),
        ("#升降梯 电梯！！", True),
        ("#电梯 升降梯，请尽快处理，谢谢", True),
        ("#电梯 3号楼电梯坏了", False),
        ("#电梯 困人了", False),
    ],
)
def test_a_loaded_category_words_say_nothing_like_a_default_one(text: str, needs: bool) -> None:
    """The words of a category the CATEGORIES_FILE adds are filler like 报修/维修 are: the old
    list was built from the defaults, so ``#电梯 升降梯`` passed as a detailed report."""
    assert parse_report(text, WITH_ELEVATOR).needs_detail is needs
    default_text = text.replace("升降梯", "维修").replace("电梯", "报修")
    assert parse_report(default_text, CATALOG).needs_detail is needs


def test_dropped_default_words_are_words_again() -> None:
    """With ``replace_defaults`` 漏水 is no tag, so ``#电梯 漏水`` says what is wrong (the old
    list, built from the defaults, asked this resident for detail)."""
    assert not parse_report("#电梯 漏水", ONLY_ELEVATOR).needs_detail
    assert parse_report("#电梯 升降梯", ONLY_ELEVATOR).needs_detail
    assert parse_report("#漏水 漏水", CATALOG).needs_detail


@settings(max_examples=300)
@given(any_text)
def test_find_tags_never_raises(text: str) -> None:
    hits = find_tags(text, CATALOG)
    assert all(0 <= h.start < h.end <= len(text) for h in hits)
