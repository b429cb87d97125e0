"""bot.parsing.parse_report end to end: real resident messages, a loaded catalogue, and
properties of any text. Tags, locations and numbers have their own files (test_parsing_*.py)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings

from bot.parsing import (
    Location,
    ParsedReport,
    find_tags,
    mask_sensitive,
    parse_location,
    parse_report,
)
from tests.parsing_cases import (
    CATALOG,
    WITH_ELEVATOR,
    C,
    Case,
    any_text,
    as_case,
    case_ids,
    check_location,
)
from tests.test_parsing_location import LOCATION_CASES
from tests.test_parsing_tags import TAG_CASES

CASES = [
    # --- the examples from the issue and DESIGN.md ---
    C(
        "#报修 北瑞小区西巷路面破损严重，影响出行",
        "repair",
        "北瑞小区西巷路面破损严重，影响出行",
        "北瑞小区",
    ),
    C(
        "#报修北瑞小区西巷路面破损，影响出行",
        "repair",
        "北瑞小区西巷路面破损，影响出行",
        "北瑞小区",
    ),
    C("请处理＃积水 宝东6号街坊拐弯处", "water", "请处理 宝东6号街坊拐弯处", "宝东6号街坊"),
    C("#充电 5号楼有人从窗户拉线充电", "charging", "5号楼有人从窗户拉线充电", building="5"),
    C("#报修 3号楼2单元楼道灯不亮", "repair", "3号楼2单元楼道灯不亮", building="3", unit="2"),
    C(
        "【#报修】3号楼2单元501室水管爆了",
        "repair",
        "3号楼2单元501室水管爆了",
        None,
        "3",
        "2",
        "501",
    ),
    C("#报修#充电 5号楼下有人飞线", "repair", "5号楼下有人飞线", building="5", labels=("充电",)),
    C("#飞线充电5号楼2单元门口", "charging", "5号楼2单元门口", building="5", unit="2"),
    C("7-6-1046 卫生间漏水 #漏水", "water", "7-6-1046 卫生间漏水", None, "7", "6", "1046"),
    C("北瑞小区#报修 西巷路面坑洼", "repair", "北瑞小区 西巷路面坑洼", "北瑞小区"),
    C("请处理#报修 3号楼2单元楼道灯不亮", "repair", "请处理 3号楼2单元楼道灯不亮", None, "3", "2"),
    C("#积水 宝东6号街坊拐弯处积水严重", "water", "宝东6号街坊拐弯处积水严重", "宝东6号街坊"),
    C(
        "#路面 北瑞小区西巷路面破损严重影响出行",
        "road",
        "北瑞小区西巷路面破损严重影响出行",
        "北瑞小区",
    ),
    # --- every default category, by tag and by alias ---
    C(
        "#维修 阳光花园12栋3单元 电梯又坏了！！！",
        "repair",
        "阳光花园12栋3单元 电梯又坏了！！！",
        "阳光花园",
        "12",
        "3",
    ),
    C(
        "#修理 幸福家园二号楼一单元302 下水道堵了 急",
        "repair",
        "幸福家园二号楼一单元302 下水道堵了 急",
        "幸福家园",
        "2",
        "1",
        "302",
    ),
    C(
        "#飞线 宝东6号街坊7号楼 一楼窗户拉线充电",
        "charging",
        "宝东6号街坊7号楼 一楼窗户拉线充电",
        "宝东6号街坊",
        "7",
    ),
    C(
        "#飞线充电 北瑞小区西巷那边又有人飞线了",
        "charging",
        "北瑞小区西巷那边又有人飞线了",
        "北瑞小区",
    ),
    C(
        "#漏水 7-6-1046 卫生间漏水到楼下",
        "water",
        "7-6-1046 卫生间漏水到楼下",
        None,
        "7",
        "6",
        "1046",
    ),
    C("#停水 整个小区都停水了 什么时候来水", "water", "整个小区都停水了 什么时候来水"),
    C("#井盖 建设路与人民路交叉口井盖丢失", "road", "建设路与人民路交叉口井盖丢失", "建设路"),
    C("#路灯 幸福家园南门口路灯不亮", "road", "幸福家园南门口路灯不亮", "幸福家园"),
    C("#道路 东胜区天骄路中段有大坑", "road", "东胜区天骄路中段有大坑", "天骄路"),
    C(
        "#环境 3号楼下垃圾堆了好几天没人清",
        "sanitation",
        "3号楼下垃圾堆了好几天没人清",
        building="3",
    ),
    C("#卫生 宝东6号街坊垃圾桶满了", "sanitation", "宝东6号街坊垃圾桶满了", "宝东6号街坊"),
    C("#垃圾 小区东门垃圾站臭气熏天", "sanitation", "小区东门垃圾站臭气熏天"),
    C(
        "#噪音 11号楼3单元1102 每天晚上十二点还在剁肉",
        "noise",
        "11号楼3单元1102 每天晚上十二点还在剁肉",
        None,
        "11",
        "3",
        "1102",
    ),
    C(
        "#扰民 广场舞音响太大声了 每天晚上8点到10点",
        "noise",
        "广场舞音响太大声了 每天晚上8点到10点",
    ),
    C(
        "#隐患 嘉盟小区凉房年久失修 有孩子在里面玩",
        "safety",
        "嘉盟小区凉房年久失修 有孩子在里面玩",
        "嘉盟小区",
    ),
    C(
        "#安全 二中东楼小区凉房是危房 随时可能塌",
        "safety",
        "二中东楼小区凉房是危房 随时可能塌",
        "二中东楼小区",
    ),
    C(
        "#消防 5号楼楼道堆满纸箱 消防通道堵了",
        "safety",
        "5号楼楼道堆满纸箱 消防通道堵了",
        building="5",
    ),
    C(
        "#求助 独居老人曹大爷家里没人接电话 住8号楼1单元101",
        "help",
        "独居老人曹大爷家里没人接电话 住8号楼1单元101",
        None,
        "8",
        "1",
        "101",
    ),
    C(
        "#帮忙 我妈腿脚不便 能不能帮忙代买点菜 3栋2单元601",
        "help",
        "我妈腿脚不便 能不能帮忙代买点菜 3栋2单元601",
        None,
        "3",
        "2",
        "601",
    ),
    C("#咨询 老旧小区改造什么时候开始", "consult", "老旧小区改造什么时候开始"),
    C("#问询 管网改造要交钱吗", "consult", "管网改造要交钱吗"),
    C("#政策 疫苗接种在哪里登记", "consult", "疫苗接种在哪里登记"),
    C("#投诉 物业不作为 楼道三个月没打扫", "complaint", "物业不作为 楼道三个月没打扫"),
    C("#建议 小区门口能不能装个减速带", "suggestion", "小区门口能不能装个减速带"),
    C("#停车 消防通道被私家车占了 车牌蒙K12345", "parking", "消防通道被私家车占了 车牌蒙K12345"),
    C("#占道 幸福家园北门有人摆摊占道经营", "parking", "幸福家园北门有人摆摊占道经营", "幸福家园"),
    # --- a tag and nothing useful ---
    C("#报修", "repair", ""),
    C("#报修 。。。", "repair", ""),
    C("#报修😭😭😭", "repair", "😭😭😭"),
]


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_resident_messages(case: Case) -> None:
    report = parse_report(case.text, CATALOG)
    assert as_case(case.text, report) == case
    assert report.tag == (CATALOG[case.category].tag if case.category else None)


def test_the_table_is_large() -> None:
    assert len(CASES) + len(TAG_CASES) + len(LOCATION_CASES) >= 80


def test_report_collects_phones_and_ids() -> None:
    report = parse_report("#求助 3号楼 电话 139 1234 5678 身份证11010119900307123X", CATALOG)
    assert report.phones == ("13912345678",)
    assert report.id_numbers == ("11010119900307123X",)
    assert report.location.building == "3"


@pytest.mark.parametrize(
    ("default_text", "loaded_text"),
    [
        ("#报修 3号楼报修坏了", "#电梯 3号楼电梯坏了"),
        ("#报修 3号楼维修坏了", "#电梯 3号楼升降梯坏了"),
        ("#报修 报修阳光花园5号楼停了", "#电梯 电梯阳光花园5号楼停了"),
        ("#维修 维修阳光花园5号楼停了", "#升降梯 升降梯阳光花园5号楼停了"),
        ("#报修 维修", "#电梯 升降梯"),
        ("#报修 维修，请尽快处理", "#电梯 升降梯，请尽快处理"),
        ("【报修】报修！", "【电梯】电梯！"),
    ],
)
def test_a_loaded_category_reads_like_a_default_one(default_text: str, loaded_text: str) -> None:
    """A CATEGORIES_FILE that adds ``[categories.elevator] tag = "电梯"``: its words are
    filler and end the words before an estate's name just as the defaults' words do."""
    default = parse_report(default_text, CATALOG)
    loaded = parse_report(loaded_text, WITH_ELEVATOR)
    assert (loaded.category, loaded.tag) == ("elevator", "电梯")
    assert loaded.location == default.location
    assert loaded.needs_detail is default.needs_detail
    assert loaded.body.replace("电梯", "报修").replace("升降梯", "维修") == default.body


def test_a_loaded_category_names_the_building() -> None:
    report = parse_report("#电梯 3号楼电梯坏了", WITH_ELEVATOR)
    assert report.category == "elevator"
    assert report.body == "3号楼电梯坏了"
    assert report.location == Location(building="3")
    assert not report.needs_detail


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
@example("##报修报修")
@example("#【#报修】报修")
@example("#报修：【充电】x")
@example("【#报修】【报修】x")
def test_parse_report_never_raises_and_is_consistent(text: str) -> None:
    report = parse_report(text, CATALOG)
    assert isinstance(report, ParsedReport)
    # no tag survives in the body: removing tags never glues a new one together
    assert find_tags(report.body, CATALOG) == ()
    assert report.body == report.body.strip()
    hits = report.tags
    assert list(hits) == sorted(hits, key=lambda h: h.start)
    for before, after in itertools.pairwise(hits):
        assert before.end <= after.start
    for hit in hits:
        assert 0 <= hit.start < hit.end <= len(text)
        if text[hit.start] in "#＃":
            assert hit.end - hit.start == len(hit.word) + 1
    assert report.is_report == (report.category is not None)
    assert report.category is None or report.tag == CATALOG[report.category].tag
    if report.category is None:
        assert not report.needs_detail
    check_location(report.location)


# --------------------------------------------------------------------------------------------
# Pathological input: these would hang a backtracking regex. Not timed; they must just finish.
# --------------------------------------------------------------------------------------------

_HUGE = 100_000


@pytest.mark.parametrize(
    "text",
    [
        "#报修" * (_HUGE // 3),
        "#" * _HUGE,
        "＃" * _HUGE,
        "1" * _HUGE,
        "1-" * (_HUGE // 2),
        "1 " * (_HUGE // 2),
        "3号楼2单元" * (_HUGE // 6),
        "一" * _HUGE,
        "马路" * (_HUGE // 2),
        "里" * _HUGE,
        "【#报修】" * (_HUGE // 5),
        "#【" * (_HUGE // 4) + "#报修" + "】报修" * (_HUGE // 6),
        "#报修" + " " * _HUGE + "x",
        "http://" + "a#" * (_HUGE // 2),
        "138 1234 5678 " * (_HUGE // 14),
        "#" + "a" * _HUGE,
        "幺" * _HUGE + "室",
        "小区" * (_HUGE // 2),
    ],
    ids=lambda t: f"{t[:8]!r}x{len(t)}",
)
def test_huge_messages_finish(text: str) -> None:
    report = parse_report(text, CATALOG)
    assert isinstance(report.body, str)
    parse_location(text, CATALOG)
    mask_sensitive(text)
